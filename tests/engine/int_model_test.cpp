// Integer model: TFLite's QuantizeMultiplier / MultiplyByQuantizedMultiplier known
// answers (both rounding modes), a hand-computed FULLY_CONNECTED, and conversion of
// trained zoo models whose integer outputs must match the fake-quant simulation.
#include <gtest/gtest.h>

#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/trainer.h"

namespace qat {
namespace {

TEST(QuantizeMultiplier, KnownAnswers) {
    int32_t m;
    int s;
    quantizeMultiplier(0.125, m, s); // 0.5 * 2^-2
    EXPECT_EQ(m, 1 << 30);
    EXPECT_EQ(s, -2);
    quantizeMultiplier(0.1, m, s); // 0.8 * 2^-3, round(0.8 * 2^31)
    EXPECT_EQ(m, 1717986918);
    EXPECT_EQ(s, -3);
    quantizeMultiplier(1.5, m, s); // 0.75 * 2^1
    EXPECT_EQ(m, 1610612736);
    EXPECT_EQ(s, 1);
    quantizeMultiplier(0.0, m, s);
    EXPECT_EQ(m, 0);
    EXPECT_EQ(s, 0);
}

TEST(MultiplyByQuantizedMultiplier, SingleAndDoubleRounding) {
    int32_t m;
    int s;
    quantizeMultiplier(0.125, m, s);
    EXPECT_EQ(multiplyByQuantizedMultiplier(122, m, s, Rounding::Single), 15); // 15.25
    EXPECT_EQ(multiplyByQuantizedMultiplier(122, m, s, Rounding::Double), 15);
    EXPECT_EQ(multiplyByQuantizedMultiplier(-124, m, s, Rounding::Single), -15); // -15.5 -> up
    quantizeMultiplier(0.1, m, s);
    // 5 * 0.1 (as 1717986918 * 2^-34) = 0.49999999988: one rounding gives 0; TFLite's
    // builtin kernels round to 4 (of 8) first, then 0.5 rounds away to 1.
    EXPECT_EQ(multiplyByQuantizedMultiplier(5, m, s, Rounding::Single), 0);
    EXPECT_EQ(multiplyByQuantizedMultiplier(5, m, s, Rounding::Double), 1);
    quantizeMultiplier(1.5, m, s);
    EXPECT_EQ(multiplyByQuantizedMultiplier(7, m, s, Rounding::Single), 11); // 10.5 -> 11
    EXPECT_EQ(multiplyByQuantizedMultiplier(7, m, s, Rounding::Double), 11);
}

// One FULLY_CONNECTED by hand: x = [10, -20] (zp 5, scale 0.5), w = [3, -4] (scale 0.25),
// bias 7 (scale 0.125). acc = 5*3 + (-25)*(-4) + 7 = 122; m = 0.125 -> 15; zpOut -3 -> 12.
TEST(IntReference, FullyConnectedByHand) {
    IntModel model;
    IntTensor in;
    in.name = "in";
    in.shape = {2};
    in.scales = {0.5f};
    in.zeroPoints = {5};
    IntTensor w;
    w.name = "w";
    w.shape = {1, 2};
    w.isConstant = true;
    w.scales = {0.25f};
    w.zeroPoints = {0};
    w.ints = {3, -4};
    IntTensor b;
    b.name = "b";
    b.shape = {1};
    b.type = IntDType::Int32;
    b.isConstant = true;
    b.scales = {0.125f};
    b.zeroPoints = {0};
    b.ints = {7};
    IntTensor out;
    out.name = "out";
    out.shape = {1};
    out.scales = {1.0f};
    out.zeroPoints = {-3};
    model.tensors = {in, w, b, out};
    IntOp op;
    op.kind = IntOpKind::FullyConnected;
    op.inputs = {0, 1, 2};
    op.outputs = {3};
    op.multiplier.resize(1);
    op.shift.resize(1);
    quantizeMultiplier(0.5 * 0.25 / 1.0, op.multiplier[0], op.shift[0]);
    model.ops = {op};
    model.input = 0;
    model.output = 3;
    model.inputShape = {2};
    IntReferenceExecutor exec(model);
    // Float input that quantizes to [10, -20]: (q - 5) * 0.5.
    Tensor x({1, 2}, std::vector<float>{2.5f, -12.5f});
    Tensor y = exec.run(x);
    ASSERT_EQ(exec.lastIntOutput().size(), 1u);
    EXPECT_EQ(exec.lastIntOutput()[0], 12);
    EXPECT_FLOAT_EQ(y[0], 15.0f); // (12 - (-3)) * 1.0
}

struct Trained {
    Graph graph;
    DatasetSplits data;
};

Trained trainZoo(const std::string& name, int epochs) {
    auto data = loadDataset("fashion-mnist-sample");
    EXPECT_TRUE(data.isOk()) << data.message();
    auto g = loadModelOrZoo(name, data->train.sampleShape, 1);
    EXPECT_TRUE(g.isOk()) << g.message();
    Trained t{std::move(g).value(), std::move(data).value()};
    auto net = Network::create(t.graph, 1);
    EXPECT_TRUE(net.isOk()) << net.message();
    TrainConfig cfg;
    cfg.epochs = epochs;
    cfg.seed = 1;
    cfg.evaluateEachEpoch = false;
    auto r = train(*net.value(), t.data.train, t.data.test, cfg);
    EXPECT_TRUE(r.isOk()) << r.message();
    return t;
}

// PTQ on a trained zoo model; the integer model must reproduce the fake-quant network.
void checkIntegerMatchesFakeQuant(const std::string& name, const std::string& preset) {
    Trained t = trainZoo(name, 2);
    auto plan = makePlan(t.graph, preset);
    ASSERT_TRUE(plan.isOk());
    auto qnet = Network::create(t.graph, plan.value(), QatOptions{});
    ASSERT_TRUE(qnet.isOk()) << qnet.message();
    ASSERT_TRUE(calibrate(*qnet.value(), t.data.train, 8, 64).isOk());
    auto model = convertToIntModel(t.graph, plan.value(), qnet.value()->quantState());
    ASSERT_TRUE(model.isOk()) << model.message();

    const Dataset& test = t.data.test;
    std::vector<int64_t> idx(static_cast<size_t>(test.size()));
    for (int64_t i = 0; i < test.size(); ++i)
        idx[static_cast<size_t>(i)] = i;
    Tensor batch;
    std::vector<int32_t> labels;
    test.gather(idx, 0, test.size(), batch, labels);
    const Tensor fq = qnet.value()->forward(batch, Phase::Eval);
    IntReferenceExecutor exec(model.value());
    const Tensor iq = exec.run(batch);
    ASSERT_EQ(fq.shape(), iq.shape());

    // The logits (input of the integer SOFTMAX) against the simulation's fake-quantized
    // logits, in units of their grid: at most 1 LSB apart nearly everywhere.
    const IntOp* softmax = nullptr;
    for (const auto& op : model->ops)
        if (op.kind == IntOpKind::Softmax)
            softmax = &op;
    ASSERT_NE(softmax, nullptr);
    const int logitsTensor = softmax->inputs[0];
    const IntTensor& lt = model->tensors[static_cast<size_t>(logitsTensor)];
    const std::string logitsNode = t.graph.find(t.graph.outputNode().inputs[0])->name;
    const Tensor& fqLogits = qnet.value()->activation(logitsNode);
    const int64_t k = lt.shape.back();
    int64_t within1 = 0, total = 0, worst = 0;
    Tensor one({1, t.graph.inputShape()[0], t.graph.inputShape()[1], t.graph.inputShape()[2]});
    for (int64_t r = 0; r < test.size(); ++r) {
        std::copy(test.image(r), test.image(r) + test.sampleSize(), one.data());
        exec.run(one);
        const auto& q = exec.lastIntTensors()[static_cast<size_t>(logitsTensor)];
        for (int64_t j = 0; j < k; ++j) {
            const double simQ = std::round(fqLogits[r * k + j] / lt.scales[0]) + lt.zeroPoints[0];
            const int64_t d = std::llabs(static_cast<int64_t>(simQ) - q[static_cast<size_t>(j)]);
            worst = std::max(worst, d);
            within1 += d <= 1;
            ++total;
        }
    }
    const double fracWithin = static_cast<double>(within1) / static_cast<double>(total);
    EXPECT_GT(fracWithin, 0.99) << name << " " << preset << ": worst logit difference " << worst
                                << " LSB";
    int64_t agree = 0;
    for (int64_t r = 0; r < fq.dim(0); ++r) {
        const float* a = fq.data() + r * k;
        const float* b = iq.data() + r * k;
        agree += (std::max_element(a, a + k) - a) == (std::max_element(b, b + k) - b);
    }
    EXPECT_GT(static_cast<double>(agree) / static_cast<double>(fq.dim(0)), 0.97)
        << name << " " << preset;
    const double fqAcc = top1Accuracy(fq, labels.data(), test.size());
    const double intAcc = top1Accuracy(iq, labels.data(), test.size());
    EXPECT_NEAR(intAcc, fqAcc, 0.02) << name << " fake-quant " << fqAcc << " integer " << intAcc;
}

TEST(IntConversion, MnistCnnInt8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("mnist-cnn", "int8");
}
TEST(IntConversion, CnnBnInt8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("cnn-bn", "int8");
}
TEST(IntConversion, MobilenetTinyInt8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("mobilenet-tiny", "int8");
}
TEST(IntConversion, ResnetTinyInt8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("resnet-tiny", "int8");
}
TEST(IntConversion, InceptionTinyInt8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("inception-tiny", "int8");
}
TEST(IntConversion, CnnBnPerTensorMatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("cnn-bn", "int8-per-tensor");
}
TEST(IntConversion, CnnBnW4A8MatchesFakeQuant) {
    checkIntegerMatchesFakeQuant("cnn-bn", "w4a8");
}

TEST(IntConversion, MixedPrecisionKeepsFloatLayers) {
    Trained t = trainZoo("cnn-bn", 1);
    auto plan = makePlan(t.graph, "int8");
    ASSERT_TRUE(plan.isOk());
    plan->find("conv2")->enabled = false;
    auto qnet = Network::create(t.graph, plan.value(), QatOptions{});
    ASSERT_TRUE(qnet.isOk());
    ASSERT_TRUE(calibrate(*qnet.value(), t.data.train, 4, 64).isOk());
    auto model = convertToIntModel(t.graph, plan.value(), qnet.value()->quantState());
    ASSERT_TRUE(model.isOk()) << model.message();
    int floatConvs = 0, dequant = 0, quant = 0;
    for (const auto& op : model->ops) {
        floatConvs += op.kind == IntOpKind::FloatConv2D;
        dequant += op.kind == IntOpKind::Dequantize;
        quant += op.kind == IntOpKind::Quantize;
    }
    EXPECT_EQ(floatConvs, 1);
    EXPECT_EQ(dequant, 1);
    EXPECT_EQ(quant, 1);
    auto acc = integerAccuracy(model.value(), t.data.test);
    ASSERT_TRUE(acc.isOk());
    auto fqEval = evaluate(*qnet.value(), t.data.test);
    ASSERT_TRUE(fqEval.isOk());
    EXPECT_NEAR(acc.value(), fqEval->accuracy, 0.02);
}

TEST(IntConversion, UncalibratedRangeIsAClearError) {
    Trained t = trainZoo("mnist-cnn", 1);
    auto plan = makePlan(t.graph, "int8");
    ASSERT_TRUE(plan.isOk());
    auto model = convertToIntModel(t.graph, plan.value(), QuantState{});
    ASSERT_FALSE(model.isOk());
    EXPECT_NE(model.message().find("calibrate"), std::string::npos) << model.message();
}

} // namespace
} // namespace qat
