// Fast integer executor (oneDNN int8) against the reference executor, the ground truth
// for TFLite's integer arithmetic. Every zoo model (trained one epoch on the bundled
// Fashion-MNIST sample, PTQ int8) plus per-tensor, w4a8, mixed-precision and float-I/O
// variants, and a model built to hold every other op kind, run on the 300 test images at
// batch 1 and batch 64: integer outputs within 1 LSB on >= 99.9% of values and top-1
// agreement >= 99.5% (kWithin1LsbMin, kTop1AgreementMin). The fast executor's f32 output
// stage rounds half to even where the reference rounds half up, so exact equality is not
// expected on near-ties. Also: create() errors name the op it cannot run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "qat/int_fast.h"
#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/trainer.h"

namespace qat {
namespace {

constexpr double kWithin1LsbMin = 0.999;
constexpr double kTop1AgreementMin = 0.995;
// Float-output models (mixed precision ending in float ops): probabilities may move by
// this much when an upstream int8 value sits 1 LSB away.
constexpr double kFloatOutputTolerance = 0.005;

struct Trained {
    Graph graph;
    DatasetSplits data;
};

// Zoo model trained for one epoch on the sample (seed 1), cached per process.
const Trained& trainedZoo(const std::string& name) {
    static std::map<std::string, Trained> cache;
    if (auto it = cache.find(name); it != cache.end())
        return it->second;
    auto data = loadDataset("fashion-mnist-sample");
    EXPECT_TRUE(data.isOk()) << data.message();
    auto g = loadModelOrZoo(name, data->train.sampleShape, 1);
    EXPECT_TRUE(g.isOk()) << g.message();
    Trained t{std::move(g).value(), std::move(data).value()};
    auto net = Network::create(t.graph, 1);
    EXPECT_TRUE(net.isOk()) << net.message();
    TrainConfig cfg;
    cfg.epochs = 1;
    cfg.seed = 1;
    cfg.evaluateEachEpoch = false;
    auto r = train(*net.value(), t.data.train, t.data.test, cfg);
    EXPECT_TRUE(r.isOk()) << r.message();
    return cache.emplace(name, std::move(t)).first->second;
}

struct PlanEdit {
    std::vector<std::string> floatLayers; // layers the plan keeps float
};

// PTQ: calibrate 8 batches of 64 training images, convert.
Result<IntModel> quantizeGraph(Graph& graph, const Dataset& train, const std::string& preset,
                               const PlanEdit& edit = {}, IntConvertOptions options = {}) {
    auto plan = makePlan(graph, preset);
    if (!plan)
        return plan.status();
    for (const auto& layer : edit.floatLayers) {
        LayerQuantConfig* l = plan->find(layer);
        if (!l)
            return Status::error("no layer '" + layer + "' in the plan");
        l->enabled = false;
    }
    auto net = Network::create(graph, plan.value(), QatOptions{});
    if (!net)
        return net.status();
    QAT_RETURN_IF_ERROR(calibrate(*net.value(), train, 8, 64));
    return convertToIntModel(graph, plan.value(), net.value()->quantState(), options);
}

// The output as integers on the output grid: lastIntOutput() for int8 outputs; for float
// outputs that a DEQUANTIZE produced, the values mapped back to its input's grid.
std::vector<int32_t> outputCodes(const IntModel& model, const std::vector<int32_t>& ints,
                                 const float* values, int64_t n) {
    if (!ints.empty())
        return std::vector<int32_t>(ints.begin(), ints.begin() + n);
    for (const IntOp& op : model.ops)
        if (op.kind == IntOpKind::Dequantize && op.outputs[0] == model.output) {
            const QuantParams p = model.tensors[static_cast<size_t>(op.inputs[0])].params();
            std::vector<int32_t> q(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i)
                q[static_cast<size_t>(i)] =
                    static_cast<int32_t>(std::lround(values[i] / p.scale)) + p.zeroPoint;
            return q;
        }
    return {};
}

struct Agreement {
    double within1 = 0; // fraction of output values within 1 LSB (or the float tolerance)
    double exact = 0;   // fraction of output values equal
    double top1 = 0;    // fraction of samples with the same arg-max
    double worst = 0;   // largest difference (LSB, or absolute for float outputs)
    int64_t samples = 0;
};

// The reference executor's output for all test images, computed once per model.
struct ReferenceRun {
    Tensor out;
    std::vector<int32_t> ints;
};

ReferenceRun runReference(const IntModel& model, const Dataset& test) {
    Tensor all(withBatch(test.size(), test.sampleShape), test.images);
    IntReferenceExecutor ref(model);
    ReferenceRun r;
    r.out = ref.run(all);
    r.ints = ref.lastIntOutput();
    return r;
}

// Runs the test images through the fast executor `batch` at a time and compares.
Agreement compareWithReference(const IntModel& model, const Dataset& test, const ReferenceRun& ref,
                               int64_t batch) {
    const int64_t n = test.size();
    const int64_t sample = test.sampleSize();
    const int64_t k = ref.out.size() / n;
    const Shape outShape(ref.out.shape().begin() + 1, ref.out.shape().end());

    auto fast = IntFastExecutor::create(model, batch);
    EXPECT_TRUE(fast.isOk()) << fast.message();
    if (!fast)
        return {};
    EXPECT_EQ(fast.value()->batch(), batch);
    std::vector<float> fastOut(static_cast<size_t>(n * k));
    std::vector<int32_t> fastInts;
    Tensor x(withBatch(batch, test.sampleShape));
    for (int64_t b = 0; b < n; b += batch) {
        const int64_t m = std::min(batch, n - b);
        x.fill(0.0f); // the last partial batch is padded with blank images
        std::copy(test.image(b), test.image(b) + m * sample, x.data());
        const Tensor& y = fast.value()->run(x);
        EXPECT_EQ(y.shape(), withBatch(batch, outShape));
        std::copy(y.data(), y.data() + m * k, fastOut.begin() + b * k);
        const auto& q = fast.value()->lastIntOutput();
        EXPECT_EQ(q.size(), ref.ints.empty() ? 0u : static_cast<size_t>(batch * k));
        if (!q.empty())
            fastInts.insert(fastInts.end(), q.begin(), q.begin() + m * k);
    }

    Agreement a;
    a.samples = n;
    const std::vector<int32_t> refQ = outputCodes(model, ref.ints, ref.out.data(), n * k);
    const std::vector<int32_t> fastQ = outputCodes(model, fastInts, fastOut.data(), n * k);
    int64_t within = 0, exact = 0;
    for (int64_t i = 0; i < n * k; ++i) {
        double d;
        bool ok;
        if (!refQ.empty()) {
            d = std::abs(refQ[static_cast<size_t>(i)] - fastQ[static_cast<size_t>(i)]);
            ok = d <= 1;
        } else {
            d = std::fabs(ref.out[i] - fastOut[static_cast<size_t>(i)]);
            ok = d <= kFloatOutputTolerance;
        }
        a.worst = std::max(a.worst, d);
        within += ok;
        exact += d == 0;
    }
    int64_t agree = 0;
    for (int64_t s = 0; s < n; ++s) {
        const float* r = ref.out.data() + s * k;
        const float* f = fastOut.data() + s * k;
        agree += (std::max_element(r, r + k) - r) == (std::max_element(f, f + k) - f);
    }
    a.within1 = static_cast<double>(within) / static_cast<double>(n * k);
    a.exact = static_cast<double>(exact) / static_cast<double>(n * k);
    a.top1 = static_cast<double>(agree) / static_cast<double>(n);
    return a;
}

void expectAgreesWithReference(const IntModel& model, const Dataset& test,
                               const std::string& label) {
    const ReferenceRun ref = runReference(model, test);
    for (int64_t batch : {int64_t{1}, int64_t{64}}) {
        const Agreement a = compareWithReference(model, test, ref, batch);
        EXPECT_EQ(a.samples, test.size());
        EXPECT_GE(a.within1, kWithin1LsbMin)
            << label << " batch " << batch << ": worst difference " << a.worst;
        EXPECT_GE(a.top1, kTop1AgreementMin) << label << " batch " << batch;
        std::printf("[ fast/ref ] %s batch %lld: %.4f%% exact, %.4f%% within tolerance, worst "
                    "%g, top-1 agreement %.2f%%\n",
                    label.c_str(), static_cast<long long>(batch), 100 * a.exact, 100 * a.within1,
                    a.worst, 100 * a.top1);
    }
}

bool hasOp(const IntModel& model, IntOpKind kind) {
    return std::any_of(model.ops.begin(), model.ops.end(),
                       [&](const IntOp& op) { return op.kind == kind; });
}

void checkZoo(const std::string& name, const std::string& preset, const PlanEdit& edit = {},
              IntConvertOptions options = {}) {
    const Trained& t = trainedZoo(name);
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, preset, edit, options);
    ASSERT_TRUE(model.isOk()) << model.message();
    expectAgreesWithReference(model.value(), t.data.test, name + " " + preset);
}

TEST(IntFastExecutor, MnistCnnInt8MatchesReference) {
    checkZoo("mnist-cnn", "int8");
}
TEST(IntFastExecutor, CnnBnInt8MatchesReference) {
    checkZoo("cnn-bn", "int8");
}
TEST(IntFastExecutor, MobilenetTinyInt8MatchesReference) {
    checkZoo("mobilenet-tiny", "int8");
}
TEST(IntFastExecutor, ResnetTinyInt8MatchesReference) {
    checkZoo("resnet-tiny", "int8");
}
TEST(IntFastExecutor, InceptionTinyInt8MatchesReference) {
    checkZoo("inception-tiny", "int8");
}
TEST(IntFastExecutor, CnnBnPerTensorMatchesReference) {
    checkZoo("cnn-bn", "int8-per-tensor");
}
TEST(IntFastExecutor, CnnBnW4A8MatchesReference) {
    checkZoo("cnn-bn", "w4a8");
}
TEST(IntFastExecutor, MobilenetTinyW4A4MatchesReference) {
    checkZoo("mobilenet-tiny", "w4a4"); // 4-bit activation grids in int8 containers
}

TEST(IntFastExecutor, CnnBnMixedPrecisionMatchesReference) {
    const Trained& t = trainedZoo("cnn-bn");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8", PlanEdit{{"conv2"}});
    ASSERT_TRUE(model.isOk()) << model.message();
    EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatConv2D));
    EXPECT_TRUE(hasOp(model.value(), IntOpKind::Dequantize));
    expectAgreesWithReference(model.value(), t.data.test, "cnn-bn mixed (conv2 float)");
}

TEST(IntFastExecutor, CnnBnFloatIoMatchesReference) {
    const Trained& t = trainedZoo("cnn-bn");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8", {}, IntConvertOptions{.floatIo = true});
    ASSERT_TRUE(model.isOk()) << model.message();
    ASSERT_EQ(model->tensors[static_cast<size_t>(model->input)].type, IntDType::Float32);
    ASSERT_EQ(model->tensors[static_cast<size_t>(model->output)].type, IntDType::Float32);
    expectAgreesWithReference(model.value(), t.data.test, "cnn-bn float I/O");
}

// Mixed precision across the zoo's other topologies: float depthwise, dense, add,
// concat, mean and softmax next to integer ops.
TEST(IntFastExecutor, MobilenetTinyMixedPrecisionMatchesReference) {
    const Trained& t = trainedZoo("mobilenet-tiny");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8",
                               PlanEdit{{"block2_dw", "block3_pw", "gap", "dense1"}});
    ASSERT_TRUE(model.isOk()) << model.message();
    EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatDepthwiseConv2D));
    EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatMean));
    EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatFullyConnected));
    expectAgreesWithReference(model.value(), t.data.test, "mobilenet-tiny mixed");
}

TEST(IntFastExecutor, ResnetAndInceptionMixedPrecisionMatchReference) {
    {
        const Trained& t = trainedZoo("resnet-tiny");
        Graph graph = t.graph;
        auto model = quantizeGraph(graph, t.data.train, "int8", PlanEdit{{"block1_add"}});
        ASSERT_TRUE(model.isOk()) << model.message();
        EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatAdd));
        expectAgreesWithReference(model.value(), t.data.test, "resnet-tiny mixed");
    }
    {
        const Trained& t = trainedZoo("inception-tiny");
        Graph graph = t.graph;
        auto model =
            quantizeGraph(graph, t.data.train, "int8", PlanEdit{{"block1_concat", "softmax"}});
        ASSERT_TRUE(model.isOk()) << model.message();
        EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatConcat));
        EXPECT_TRUE(hasOp(model.value(), IntOpKind::FloatSoftmax));
        expectAgreesWithReference(model.value(), t.data.test, "inception-tiny mixed");
    }
}

// A model holding the op kinds and geometries the zoo lacks: PAD (asymmetric), a strided
// conv with bias, a depthwise conv with depth multiplier 2, a dilated conv, table
// activations (LeakyReLU, HardSwish, Sigmoid, Tanh), AVERAGE_POOL with 'same' padding
// (padding excluded from the count), ADD + ReLU, CONCATENATION of an input on another
// grid (an int8 -> int8 QUANTIZE), a stride-1 'same' MAX_POOL.
constexpr const char* kOpCoverageModel = R"({"output": "softmax", "nodes": [
  {"name": "input", "type": "Input", "inputs": [], "attrs": {"shape": [28, 28, 1]}},
  {"name": "pad1", "type": "ZeroPad", "inputs": ["input"], "attrs": {"pads": [1, 2, 1, 0]}},
  {"name": "c1", "type": "Conv2D", "inputs": ["pad1"],
   "attrs": {"filters": 8, "kernel": [3, 3], "strides": [2, 2], "padding": "valid", "use_bias": 1}},
  {"name": "lrelu", "type": "LeakyReLU", "inputs": ["c1"], "attrs": {"alpha": 0.1}},
  {"name": "dw", "type": "DepthwiseConv2D", "inputs": ["lrelu"],
   "attrs": {"kernel": [3, 3], "depth_multiplier": 2, "padding": "same", "use_bias": 1}},
  {"name": "hs", "type": "HardSwish", "inputs": ["dw"], "attrs": {}},
  {"name": "pad2", "type": "ZeroPad", "inputs": ["hs"], "attrs": {"pads": [1, 1, 0, 0]}},
  {"name": "ap", "type": "AvgPool", "inputs": ["pad2"],
   "attrs": {"pool": [3, 3], "strides": [2, 2], "padding": "same"}},
  {"name": "c2", "type": "Conv2D", "inputs": ["ap"],
   "attrs": {"filters": 16, "kernel": [3, 3], "dilations": [2, 2], "padding": "same", "use_bias": 1}},
  {"name": "r6", "type": "ReLU6", "inputs": ["c2"], "attrs": {}},
  {"name": "c3", "type": "Conv2D", "inputs": ["ap"],
   "attrs": {"filters": 16, "kernel": [1, 1], "padding": "same", "use_bias": 1}},
  {"name": "add", "type": "Add", "inputs": ["r6", "c3"], "attrs": {}},
  {"name": "relu", "type": "ReLU", "inputs": ["add"], "attrs": {}},
  {"name": "sig", "type": "Sigmoid", "inputs": ["relu"], "attrs": {}},
  {"name": "tanh", "type": "Tanh", "inputs": ["c3"], "attrs": {}},
  {"name": "cat", "type": "Concat", "inputs": ["sig", "tanh", "ap"], "attrs": {"axis": -1}},
  {"name": "mp", "type": "MaxPool", "inputs": ["cat"],
   "attrs": {"pool": [2, 2], "strides": [1, 1], "padding": "same"}},
  {"name": "gap", "type": "GlobalAvgPool", "inputs": ["mp"], "attrs": {}},
  {"name": "dense", "type": "Dense", "inputs": ["gap"], "attrs": {"units": 10}},
  {"name": "softmax", "type": "Softmax", "inputs": ["dense"], "attrs": {}}]})";

Graph opCoverageGraph() {
    auto g = graphFromJson(kOpCoverageModel, "op-coverage");
    EXPECT_TRUE(g.isOk()) << g.message();
    Graph graph = std::move(g).value();
    graph.initializeParams(7);
    return graph;
}

TEST(IntFastExecutor, EveryIntegerOpKindMatchesReference) {
    const Trained& t = trainedZoo("mnist-cnn"); // for its data splits
    Graph graph = opCoverageGraph();
    auto model = quantizeGraph(graph, t.data.train, "int8");
    ASSERT_TRUE(model.isOk()) << model.message();
    for (IntOpKind k :
         {IntOpKind::Quantize, IntOpKind::Pad, IntOpKind::Conv2D, IntOpKind::DepthwiseConv2D,
          IntOpKind::Lut, IntOpKind::AvgPool, IntOpKind::Add, IntOpKind::Concat, IntOpKind::MaxPool,
          IntOpKind::Mean, IntOpKind::FullyConnected, IntOpKind::Softmax})
        EXPECT_TRUE(hasOp(model.value(), k)) << intOpKindName(k);
    EXPECT_TRUE(std::any_of(model->ops.begin(), model->ops.end(), [&](const IntOp& op) {
        return op.kind == IntOpKind::Quantize &&
               model->tensors[static_cast<size_t>(op.inputs[0])].type == IntDType::Int8;
    })) << "no int8 -> int8 QUANTIZE";
    expectAgreesWithReference(model.value(), t.data.test, "op-coverage int8");
}

TEST(IntFastExecutor, EveryFloatOpKindMatchesReference) {
    const Trained& t = trainedZoo("mnist-cnn");
    Graph graph = opCoverageGraph();
    auto model =
        quantizeGraph(graph, t.data.train, "int8",
                      PlanEdit{{"dw", "hs", "c2", "add", "cat", "gap", "dense", "softmax"}});
    ASSERT_TRUE(model.isOk()) << model.message();
    for (IntOpKind k :
         {IntOpKind::FloatDepthwiseConv2D, IntOpKind::FloatActivation, IntOpKind::Pad,
          IntOpKind::FloatAvgPool, IntOpKind::FloatConv2D, IntOpKind::FloatAdd,
          IntOpKind::FloatConcat, IntOpKind::FloatMaxPool, IntOpKind::FloatMean,
          IntOpKind::FloatFullyConnected, IntOpKind::FloatSoftmax, IntOpKind::Dequantize})
        EXPECT_TRUE(hasOp(model.value(), k)) << intOpKindName(k);
    expectAgreesWithReference(model.value(), t.data.test, "op-coverage mixed");
}

// Op by op: every integer op with one data input, run alone on the fast executor and fed
// the reference's own input tensor (64 test images), reproduces the reference's output
// within 1 LSB on every value; all but CONV/DEPTHWISE/FULLY_CONNECTED (whose f32 output
// stage rounds differently on near-ties) bit for bit.
void expectEveryOpWithinOneLsb(const IntModel& model, const Dataset& test,
                               const std::string& label) {
    constexpr int64_t kSamples = 64;
    IntReferenceExecutor ref(model);
    std::vector<std::vector<std::vector<int32_t>>> tensors; // [sample][tensor][value]
    Tensor one(withBatch(1, test.sampleShape));
    for (int64_t s = 0; s < kSamples; ++s) {
        std::copy(test.image(s), test.image(s + 1), one.data());
        ref.run(one);
        tensors.push_back(ref.lastIntTensors());
    }
    int checked = 0;
    for (size_t i = 0; i < model.ops.size(); ++i) {
        const IntOp& op = model.ops[i];
        const bool weighted = op.kind == IntOpKind::Conv2D ||
                              op.kind == IntOpKind::DepthwiseConv2D ||
                              op.kind == IntOpKind::FullyConnected;
        const bool single = weighted || op.kind == IntOpKind::MaxPool ||
                            op.kind == IntOpKind::AvgPool || op.kind == IntOpKind::Mean ||
                            op.kind == IntOpKind::Pad || op.kind == IntOpKind::Softmax ||
                            op.kind == IntOpKind::Lut || op.kind == IntOpKind::Quantize;
        const IntTensor& inT = model.tensors[static_cast<size_t>(op.inputs[0])];
        if (!single || inT.type != IntDType::Int8)
            continue;
        // The op alone: its input as the model input (fed dequantized, which quantizes
        // back to the same codes), its constants, its output as the model output.
        IntModel alone;
        IntOp o = op;
        o.inputs.clear();
        for (int t : op.inputs) {
            o.inputs.push_back(static_cast<int>(alone.tensors.size()));
            alone.tensors.push_back(model.tensors[static_cast<size_t>(t)]);
        }
        o.outputs = {static_cast<int>(alone.tensors.size())};
        alone.tensors.push_back(model.tensors[static_cast<size_t>(op.outputs[0])]);
        alone.ops = {o};
        alone.input = 0;
        alone.output = o.outputs[0];
        alone.inputShape = inT.shape;
        auto fast = IntFastExecutor::create(alone, kSamples);
        ASSERT_TRUE(fast.isOk()) << fast.message();
        const int64_t inSize = shapeSize(inT.shape);
        Tensor x(withBatch(kSamples, inT.shape));
        const QuantParams p = inT.params();
        for (int64_t s = 0; s < kSamples; ++s)
            for (int64_t k = 0; k < inSize; ++k)
                x[s * inSize + k] = dequantizeValue(
                    tensors[static_cast<size_t>(s)][static_cast<size_t>(op.inputs[0])]
                           [static_cast<size_t>(k)],
                    p);
        fast.value()->run(x);
        const auto& got = fast.value()->lastIntOutput();
        const int64_t outSize = shapeSize(alone.tensors.back().shape);
        ASSERT_EQ(static_cast<int64_t>(got.size()), kSamples * outSize);
        int64_t worst = 0, differing = 0;
        for (int64_t s = 0; s < kSamples; ++s)
            for (int64_t k = 0; k < outSize; ++k) {
                const int64_t d =
                    std::abs(got[static_cast<size_t>(s * outSize + k)] -
                             tensors[static_cast<size_t>(s)][static_cast<size_t>(op.outputs[0])]
                                    [static_cast<size_t>(k)]);
                worst = std::max(worst, d);
                differing += d != 0;
            }
        EXPECT_LE(worst, weighted ? 1 : 0)
            << label << " " << intOpKindName(op.kind) << " '" << op.node << "': " << differing
            << " of " << kSamples * outSize << " values differ";
        ++checked;
    }
    EXPECT_GT(checked, 0) << label;
}

TEST(IntFastExecutor, EveryOpOfCnnBnWithinOneLsb) {
    const Trained& t = trainedZoo("cnn-bn");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8");
    ASSERT_TRUE(model.isOk()) << model.message();
    expectEveryOpWithinOneLsb(model.value(), t.data.test, "cnn-bn int8");
}

TEST(IntFastExecutor, EveryOpOfMobilenetTinyWithinOneLsb) {
    const Trained& t = trainedZoo("mobilenet-tiny");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8");
    ASSERT_TRUE(model.isOk()) << model.message();
    expectEveryOpWithinOneLsb(model.value(), t.data.test, "mobilenet-tiny int8");
}

TEST(IntFastExecutor, EveryOpOfOpCoverageModelWithinOneLsb) {
    const Trained& t = trainedZoo("mnist-cnn");
    Graph graph = opCoverageGraph();
    auto model = quantizeGraph(graph, t.data.train, "int8");
    ASSERT_TRUE(model.isOk()) << model.message();
    expectEveryOpWithinOneLsb(model.value(), t.data.test, "op-coverage int8");
}

// Runs reuse the executor's buffers: a second run of other inputs in between must not
// leak into the results.
TEST(IntFastExecutor, RepeatedRunsAreIndependent) {
    const Trained& t = trainedZoo("mnist-cnn");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "int8");
    ASSERT_TRUE(model.isOk()) << model.message();
    auto fast = IntFastExecutor::create(model.value(), 4);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    const int64_t sample = t.data.test.sampleSize();
    Tensor a(withBatch(4, t.data.test.sampleShape)), b(a.shape());
    std::copy(t.data.test.image(0), t.data.test.image(4), a.data());
    std::copy(t.data.test.image(100), t.data.test.image(104), b.data());
    ASSERT_EQ(a.size(), 4 * sample);
    fast.value()->run(a);
    const std::vector<int32_t> first = fast.value()->lastIntOutput();
    fast.value()->run(b);
    const std::vector<int32_t> other = fast.value()->lastIntOutput();
    fast.value()->run(a);
    EXPECT_EQ(fast.value()->lastIntOutput(), first);
    EXPECT_NE(other, first);
}

// A one-op model for error checks: FULLY_CONNECTED 'fc' [2] -> [1].
IntModel fullyConnectedModel() {
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
    op.node = "fc";
    op.inputs = {0, 1, 2};
    op.outputs = {3};
    op.multiplier.resize(1);
    op.shift.resize(1);
    quantizeMultiplier(0.5 * 0.25 / 1.0, op.multiplier[0], op.shift[0]);
    model.ops = {op};
    model.input = 0;
    model.output = 3;
    model.inputShape = {2};
    return model;
}

// The hand-computed FULLY_CONNECTED of int_model_test: x = [10, -20] (zp 5), w = [3, -4],
// bias 7, m = 0.125, zpOut -3 -> 12.
TEST(IntFastExecutor, FullyConnectedByHand) {
    const IntModel model = fullyConnectedModel();
    auto fast = IntFastExecutor::create(model, 1);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    Tensor x({1, 2}, std::vector<float>{2.5f, -12.5f});
    const Tensor& y = fast.value()->run(x);
    ASSERT_EQ(fast.value()->lastIntOutput().size(), 1u);
    EXPECT_EQ(fast.value()->lastIntOutput()[0], 12);
    EXPECT_FLOAT_EQ(y[0], 15.0f);
}

void expectCreateError(const IntModel& model, int64_t batch, const std::string& needle) {
    auto fast = IntFastExecutor::create(model, batch);
    ASSERT_FALSE(fast.isOk()) << "create() accepted a model it cannot run";
    EXPECT_NE(fast.message().find(needle), std::string::npos)
        << "message '" << fast.message() << "' lacks '" << needle << "'";
}

TEST(IntFastExecutor, ErrorsNameTheOp) {
    {
        IntModel model = fullyConnectedModel();
        model.tensors[0].type = IntDType::Int16; // 16-bit activations
        model.tensors[0].qmin = -32768;
        model.tensors[0].qmax = 32767;
        expectCreateError(model, 1, "FULLY_CONNECTED 'fc'");
        expectCreateError(model, 1, "int16");
    }
    {
        IntModel model = fullyConnectedModel();
        model.tensors[1].shape = {1, 3};
        expectCreateError(model, 1, "FULLY_CONNECTED 'fc'");
    }
    {
        IntModel model = fullyConnectedModel();
        model.tensors[2].type = IntDType::Int64;
        model.tensors[2].ints64 = {7};
        model.tensors[2].ints.clear();
        expectCreateError(model, 1, "FULLY_CONNECTED 'fc'");
    }
    {
        IntModel model = fullyConnectedModel();
        model.ops[0].multiplier = {1, 2, 3};
        expectCreateError(model, 1, "FULLY_CONNECTED 'fc'");
    }
    expectCreateError(fullyConnectedModel(), 0, "batch");
}

// A real w8a16 conversion: its int16 tensors have no oneDNN int8 kernel, and the error
// names the first op that reads one.
TEST(IntFastExecutor, Int16ModelIsAClearError) {
    const Trained& t = trainedZoo("mnist-cnn");
    Graph graph = t.graph;
    auto model = quantizeGraph(graph, t.data.train, "w8a16");
    ASSERT_TRUE(model.isOk()) << model.message();
    auto fast = IntFastExecutor::create(model.value(), 1);
    ASSERT_FALSE(fast.isOk());
    EXPECT_NE(fast.message().find("CONV_2D 'conv1'"), std::string::npos) << fast.message();
    EXPECT_NE(fast.message().find("int16"), std::string::npos) << fast.message();
}

} // namespace
} // namespace qat
