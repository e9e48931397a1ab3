// Fake-quant networks: simulated BatchNorm folding against an independent folded
// reference and against float conv+BN, gradients of the folded block by finite
// differences (inputs, BN beta) and by the straight-through rule (weights), PTQ
// calibration, and the BN/observer freeze schedule.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ops/layer.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "testing/op_harness.h"

namespace qat {
namespace {

using testing::randomTensor;

Node makeNode(const std::string& name, OpType type, std::vector<std::string> inputs) {
    Node n;
    n.name = name;
    n.type = type;
    n.inputs = std::move(inputs);
    return n;
}

// Input [6,6,3] -> Conv 3x3 same (4 filters, no bias) -> BN -> (output)
Graph convBnGraph(uint64_t seed) {
    Graph g;
    Node in = makeNode("input", OpType::Input, {});
    in.attrs.set("shape", std::vector<int64_t>{6, 6, 3});
    Node conv = makeNode("conv", OpType::Conv2D, {"input"});
    conv.attrs.set("filters", 4);
    conv.attrs.set("kernel", std::vector<int64_t>{3, 3});
    conv.attrs.set("padding", "same");
    conv.attrs.set("use_bias", 0);
    Node bn = makeNode("bn", OpType::BatchNorm, {"conv"});
    g.nodes = {in, conv, bn};
    EXPECT_TRUE(g.finalize().isOk());
    g.initializeParams(seed);
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::uniform_real_distribution<float> u(0.5f, 1.5f), v(-0.5f, 0.5f);
    Node* b = g.find("bn");
    for (int64_t c = 0; c < 4; ++c) {
        b->params["gamma"][c] = u(rng) * (c % 2 ? -1.0f : 1.0f);
        b->params["beta"][c] = v(rng);
        b->params["moving_mean"][c] = v(rng);
        b->params["moving_var"][c] = u(rng);
    }
    return g;
}

QuantPlan int8Plan(const Graph& g) {
    auto plan = makePlan(g, "int8");
    EXPECT_TRUE(plan.isOk()) << plan.message();
    return plan.value();
}

// Plain-loop conv (NHWC, OHWI weights, SAME 3x3 stride 1) used as the reference.
std::vector<double> convRef(const Tensor& x, const Tensor& w, const std::vector<float>& bias) {
    const int64_t n = x.dim(0), h = x.dim(1), wd = x.dim(2), ci = x.dim(3), co = w.dim(0);
    std::vector<double> y(static_cast<size_t>(n * h * wd * co));
    for (int64_t b = 0; b < n; ++b)
        for (int64_t oy = 0; oy < h; ++oy)
            for (int64_t ox = 0; ox < wd; ++ox)
                for (int64_t o = 0; o < co; ++o) {
                    double acc = bias[static_cast<size_t>(o)];
                    for (int64_t ky = 0; ky < 3; ++ky)
                        for (int64_t kx = 0; kx < 3; ++kx) {
                            const int64_t iy = oy + ky - 1, ix = ox + kx - 1;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                continue;
                            for (int64_t c = 0; c < ci; ++c)
                                acc += static_cast<double>(x[((b * h + iy) * wd + ix) * ci + c]) *
                                       w[((o * 3 + ky) * 3 + kx) * ci + c];
                        }
                    y[static_cast<size_t>(((b * h + oy) * wd + ox) * co + o)] = acc;
                }
    return y;
}

TEST(FoldedBatchNorm, EvalOutputIsTheFoldedQuantizedConv) {
    Graph g = convBnGraph(3);
    QuantPlan plan = int8Plan(g);
    Tensor x = randomTensor({2, 6, 6, 3}, 17);

    // Independent reference: fold by hand, quantize per output channel, plain conv.
    const Node* conv = g.find("conv");
    const Node* bn = g.find("bn");
    Tensor wf(conv->params.at("weights").shape());
    std::vector<float> bias(4);
    for (int64_t o = 0; o < 4; ++o) {
        const float s =
            bn->params.at("gamma")[o] / std::sqrt(bn->params.at("moving_var")[o] + 1e-5f);
        bias[static_cast<size_t>(o)] =
            -s * bn->params.at("moving_mean")[o] + bn->params.at("beta")[o];
        float absMax = 0;
        for (int64_t i = 0; i < 27; ++i)
            absMax = std::max(absMax, std::fabs(conv->params.at("weights")[o * 27 + i] * s));
        const float scale = absMax / 127.0f;
        for (int64_t i = 0; i < 27; ++i) {
            const float q = std::round(conv->params.at("weights")[o * 27 + i] * s / scale);
            wf[o * 27 + i] = std::clamp(q, -127.0f, 127.0f) * scale;
        }
    }
    const std::vector<double> ref = convRef(x, wf, bias);

    auto net = Network::create(g, plan, QatOptions{});
    ASSERT_TRUE(net.isOk()) << net.message();
    net.value()->forward(x, Phase::Eval);
    testing::expectClose(net.value()->preQuantActivation("bn"), ref, 1e-4, 1e-4);

    // And it approximates the float conv followed by BatchNorm (8-bit weight noise only).
    auto floatNet = Network::create(g);
    ASSERT_TRUE(floatNet.isOk());
    const Tensor& f = floatNet.value()->forward(x, Phase::Eval);
    const Tensor& q = net.value()->preQuantActivation("bn");
    EXPECT_GT(sqnrDb(f.data(), q.data(), f.size()), 30.0);
}

// Sum(out * r) for a fixed r, as a function of the network's input and parameters.
double weightedLoss(Network& net, const Tensor& x, const Tensor& r, Phase phase) {
    const Tensor& y = net.forward(x, phase);
    double s = 0;
    for (int64_t i = 0; i < y.size(); ++i)
        s += static_cast<double>(y[i]) * r[i];
    return s;
}

void checkFoldedGradients(bool frozen) {
    Graph g = convBnGraph(5);
    QuantPlan plan = int8Plan(g);
    QatOptions opt;
    opt.freezeBnAfter = frozen ? 0 : -1;
    auto made = Network::create(g, plan, opt);
    ASSERT_TRUE(made.isOk()) << made.message();
    Network& net = *made.value();
    net.setFakeQuantEnabled(false); // activation fq off: the loss is smooth in x and beta
    net.setComputeInputGradient(true);
    Tensor x = randomTensor({3, 6, 6, 3}, 23);
    Node* bn = g.find("bn");
    const Tensor saveMean = bn->params["moving_mean"], saveVar = bn->params["moving_var"];
    auto restoreStats = [&]() {
        bn->params["moving_mean"] = saveMean;
        bn->params["moving_var"] = saveVar;
    };
    const Tensor& y = net.forward(x, Phase::Train);
    Tensor r = randomTensor(y.shape(), 29);
    net.backward(r);
    const Tensor dx = net.inputGradient();
    Tensor dbeta;
    for (auto& p : net.params())
        if (p.name == "bn/beta")
            dbeta = *p.grad;
    ASSERT_EQ(dbeta.size(), 4);
    const double h = 1e-2;
    for (int64_t i : {0, 7, 50, 101, 200}) {
        restoreStats();
        Tensor xp = x, xm = x;
        xp[i] += static_cast<float>(h);
        xm[i] -= static_cast<float>(h);
        const double lp = weightedLoss(net, xp, r, Phase::Train);
        restoreStats();
        const double lm = weightedLoss(net, xm, r, Phase::Train);
        const double numeric = (lp - lm) / (2 * h);
        EXPECT_NEAR(dx[i], numeric, testing::kGradAbs + testing::kGradRel * std::fabs(numeric))
            << "input element " << i << (frozen ? " (frozen BN)" : " (batch statistics)");
    }
    for (int64_t c = 0; c < 4; ++c) {
        Tensor& beta = bn->params["beta"];
        const float orig = beta[c];
        restoreStats();
        beta[c] = orig + static_cast<float>(h);
        const double lp = weightedLoss(net, x, r, Phase::Train);
        restoreStats();
        beta[c] = orig - static_cast<float>(h);
        const double lm = weightedLoss(net, x, r, Phase::Train);
        beta[c] = orig;
        const double numeric = (lp - lm) / (2 * h);
        EXPECT_NEAR(dbeta[c], numeric, testing::kGradAbs + testing::kGradRel * std::fabs(numeric))
            << "beta " << c;
    }
}

TEST(FoldedBatchNorm, GradientsMatchFiniteDifferencesWithBatchStatistics) {
    checkFoldedGradients(false);
}

TEST(FoldedBatchNorm, GradientsMatchFiniteDifferencesWhenFrozen) {
    checkFoldedGradients(true);
}

TEST(FoldedBatchNorm, TrainingUsesBatchStatisticsUntilFrozen) {
    Graph g = convBnGraph(7);
    QuantPlan plan = int8Plan(g);
    QatOptions opt;
    opt.freezeBnAfter = 2;
    auto net = Network::create(g, plan, opt);
    ASSERT_TRUE(net.isOk());
    Tensor x = randomTensor({4, 6, 6, 3}, 31);
    const Tensor before = g.find("bn")->params["moving_mean"];
    net.value()->forward(x, Phase::Train); // step 1: statistics move
    const Tensor after1 = g.find("bn")->params["moving_mean"];
    EXPECT_NE(before, after1);
    // Batch-normalized output: per channel mean ~ beta.
    const Tensor& y = net.value()->preQuantActivation("bn");
    for (int64_t c = 0; c < 4; ++c) {
        double m = 0;
        for (int64_t i = c; i < y.size(); i += 4)
            m += y[i];
        EXPECT_NEAR(m / (y.size() / 4), g.find("bn")->params["beta"][c], 1e-3);
    }
    net.value()->forward(x, Phase::Train); // step 2: freezes after this one
    const Tensor after2 = g.find("bn")->params["moving_mean"];
    net.value()->forward(x, Phase::Train);
    EXPECT_EQ(after2, g.find("bn")->params["moving_mean"]) << "statistics must stay frozen";
}

// Input [5] -> Dense 3 -> output: the QAT weight gradient is the float gradient at the
// quantized weights, zeroed where a weight fell outside its grid (never, for min-max).
TEST(StraightThrough, DenseWeightGradientIsFloatGradientAtQuantizedWeights) {
    auto build = []() {
        Graph g;
        Node in = makeNode("input", OpType::Input, {});
        in.attrs.set("shape", std::vector<int64_t>{5});
        Node d = makeNode("dense", OpType::Dense, {"input"});
        d.attrs.set("units", 3);
        g.nodes = {in, d};
        EXPECT_TRUE(g.finalize().isOk());
        g.initializeParams(9);
        return g;
    };
    Graph g = build();
    auto plan = makePlan(g, "w4a8");
    ASSERT_TRUE(plan.isOk());
    auto q = Network::create(g, plan.value(), QatOptions{});
    ASSERT_TRUE(q.isOk());
    q.value()->setFakeQuantEnabled(false);
    Tensor x = randomTensor({4, 5}, 41);
    const Tensor& yq = q.value()->forward(x, Phase::Train);
    Tensor r = randomTensor(yq.shape(), 43);
    q.value()->backward(r);
    Tensor gq;
    for (auto& p : q.value()->params())
        if (p.name == "dense/weights")
            gq = *p.grad;

    // Reference: a float network whose weights are the 4-bit per-tensor quantized ones.
    Graph f = build();
    Tensor& w = f.find("dense")->params["weights"];
    float absMax = 0;
    for (int64_t i = 0; i < w.size(); ++i)
        absMax = std::max(absMax, std::fabs(w[i]));
    const float scale = absMax / 7.0f;
    for (int64_t i = 0; i < w.size(); ++i)
        w[i] = std::clamp(std::round(w[i] / scale), -7.0f, 7.0f) * scale;
    auto fn = Network::create(f);
    ASSERT_TRUE(fn.isOk());
    const Tensor& yf = fn.value()->forward(x, Phase::Train);
    for (int64_t i = 0; i < yf.size(); ++i)
        EXPECT_NEAR(yf[i], yq[i], 1e-5);
    fn.value()->backward(r);
    Tensor gf;
    for (auto& p : fn.value()->params())
        if (p.name == "dense/weights")
            gf = *p.grad;
    ASSERT_EQ(gf.size(), gq.size());
    for (int64_t i = 0; i < gf.size(); ++i)
        EXPECT_NEAR(gq[i], gf[i], 1e-5) << i;
}

TEST(StraightThrough, ClippedActivationsPassNoGradient) {
    Graph g;
    Node in = makeNode("input", OpType::Input, {});
    in.attrs.set("shape", std::vector<int64_t>{4});
    Node act = makeNode("act", OpType::Tanh, {"input"});
    g.nodes = {in, act};
    ASSERT_TRUE(g.finalize().isOk());
    auto plan = makePlan(g, "int8");
    ASSERT_TRUE(plan.isOk());
    auto net = Network::create(g, plan.value(), QatOptions{});
    ASSERT_TRUE(net.isOk());
    net.value()->setComputeInputGradient(true);
    // Calibrate the input range on [-1, 1], then feed values outside it.
    Tensor calib({1, 4}, std::vector<float>{-1.0f, -0.5f, 0.5f, 1.0f});
    net.value()->setFakeQuantEnabled(false);
    net.value()->setCalibrating(true);
    net.value()->forward(calib, Phase::Eval);
    net.value()->setCalibrating(false);
    net.value()->setFakeQuantEnabled(true);
    Tensor x({1, 4}, std::vector<float>{-3.0f, 0.2f, -0.3f, 3.0f});
    // A training forward with observers frozen keeps the calibrated ranges.
    QatOptions opt;
    opt.freezeObserversAfter = 0;
    auto net2 = Network::create(g, plan.value(), opt);
    ASSERT_TRUE(net2.isOk());
    ASSERT_TRUE(net2.value()->setQuantState(net.value()->quantState()).isOk());
    net2.value()->setComputeInputGradient(true);
    net2.value()->forward(x, Phase::Train);
    net2.value()->backward(Tensor({1, 4}, 1.0f));
    const Tensor& dx = net2.value()->inputGradient();
    EXPECT_EQ(dx[0], 0.0f);
    EXPECT_EQ(dx[3], 0.0f);
    EXPECT_NE(dx[1], 0.0f);
    EXPECT_NE(dx[2], 0.0f);
}

TEST(Calibration, InputRangeFollowsTheData) {
    Graph g = convBnGraph(13);
    QuantPlan plan = int8Plan(g);
    plan.input.estimator = RangeEstimator::MinMax;
    auto net = Network::create(g, plan, QatOptions{});
    ASSERT_TRUE(net.isOk());
    Dataset d;
    d.name = "synthetic";
    d.sampleShape = {6, 6, 3};
    d.numClasses = 4;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0f, 0.75f);
    for (int i = 0; i < 64; ++i) {
        for (int k = 0; k < 108; ++k)
            d.images.push_back(u(rng));
        d.labels.push_back(i % 4);
    }
    ASSERT_TRUE(calibrate(*net.value(), d, 4, 16).isOk());
    QuantState st = net.value()->quantState();
    ASSERT_FALSE(st.ranges.empty());
    EXPECT_EQ(st.ranges[0].owner, "input");
    EXPECT_TRUE(st.ranges[0].initialized);
    EXPECT_NEAR(st.ranges[0].lo, 0.0f, 0.01f);
    EXPECT_NEAR(st.ranges[0].hi, 0.75f, 0.01f);
    // Restoring the state into a fresh network reproduces the parameters.
    auto net2 = Network::create(g, plan, QatOptions{});
    ASSERT_TRUE(net2.value()->setQuantState(st).isOk());
    EXPECT_EQ(net2.value()->quantState(), st);
}

} // namespace
} // namespace qat

namespace qat {
namespace {

// Add(x, x) must receive twice the gradient (the operand is repeated within one node).
TEST(NetworkBackward, RepeatedOperandGetsBothGradients) {
    Graph g;
    Node in = makeNode("input", OpType::Input, {});
    in.attrs.set("shape", std::vector<int64_t>{3});
    Node add = makeNode("add", OpType::Add, {"input", "input"});
    g.nodes = {in, add};
    ASSERT_TRUE(g.finalize().isOk());
    auto net = Network::create(g);
    ASSERT_TRUE(net.isOk());
    net.value()->setComputeInputGradient(true);
    Tensor x({2, 3}, 0.5f);
    net.value()->forward(x, Phase::Train);
    Tensor r({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
    net.value()->backward(r);
    const Tensor& dx = net.value()->inputGradient();
    for (int64_t i = 0; i < 6; ++i)
        EXPECT_FLOAT_EQ(dx[i], 2.0f * r[i]);
}

} // namespace
} // namespace qat
