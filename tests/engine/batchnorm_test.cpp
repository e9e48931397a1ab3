// BatchNorm (oneDNN): train and eval forward and backward against double-precision plain
// loops, the moving-statistics update (momentum, unbiased batch variance), and train-mode
// gradients against central finite differences. Normalization is over the last axis of
// [N,H,W,C], [N,F] and [N,L,C] inputs.
//   train: y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta   (var_B biased)
//          moving = (1 - momentum) * moving + momentum * batch  (var: unbiased)
//   eval:  y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node bnNode(int64_t c, uint32_t seed, double epsilon = 1e-5, double momentum = 0.1) {
    Node node;
    node.name = "bn";
    node.type = OpType::BatchNorm;
    node.inputs = {"x"};
    node.attrs.set("epsilon", AttrValue{epsilon});
    node.attrs.set("momentum", AttrValue{momentum});
    node.params["gamma"] = randomTensor({c}, seed, 0.5f, 1.5f);
    node.params["beta"] = randomTensor({c}, seed + 1);
    node.params["moving_mean"] = randomTensor({c}, seed + 2);
    node.params["moving_var"] = randomTensor({c}, seed + 3, 0.5f, 2.0f);
    return node;
}

struct Stats {
    std::vector<double> mean, var; // var biased
};

Stats batchStats(const Tensor& x, int64_t c) {
    const int64_t m = x.size() / c;
    Stats s{std::vector<double>(static_cast<size_t>(c), 0.0),
            std::vector<double>(static_cast<size_t>(c), 0.0)};
    for (int64_t i = 0; i < x.size(); ++i)
        s.mean[static_cast<size_t>(i % c)] += x[i] / static_cast<double>(m);
    for (int64_t i = 0; i < x.size(); ++i) {
        const double d = x[i] - s.mean[static_cast<size_t>(i % c)];
        s.var[static_cast<size_t>(i % c)] += d * d / static_cast<double>(m);
    }
    return s;
}

Stats movingStats(const Node& node) {
    const Tensor& mm = node.params.at("moving_mean");
    const Tensor& mv = node.params.at("moving_var");
    return {std::vector<double>(mm.vec().begin(), mm.vec().end()),
            std::vector<double>(mv.vec().begin(), mv.vec().end())};
}

struct BnRef {
    std::vector<double> dst, diffSrc, diffGamma, diffBeta;
};

// Forward with the given statistics and backward for diffDst. With batch statistics the
// gradient flows through mean and variance too; with constant (moving) ones it does not.
BnRef bnRef(const Tensor& x, const Node& node, const Stats& s, bool batchStatistics,
            const Tensor& diffDst, double eps) {
    const int64_t c = node.params.at("gamma").size();
    const int64_t m = x.size() / c;
    const Tensor& gamma = node.params.at("gamma");
    const Tensor& beta = node.params.at("beta");
    BnRef r;
    r.dst.resize(static_cast<size_t>(x.size()));
    r.diffSrc.resize(static_cast<size_t>(x.size()));
    r.diffGamma.assign(static_cast<size_t>(c), 0.0);
    r.diffBeta.assign(static_cast<size_t>(c), 0.0);
    std::vector<double> xhat(static_cast<size_t>(x.size()));
    for (int64_t i = 0; i < x.size(); ++i) {
        const size_t ch = static_cast<size_t>(i % c);
        xhat[static_cast<size_t>(i)] = (x[i] - s.mean[ch]) / std::sqrt(s.var[ch] + eps);
        r.dst[static_cast<size_t>(i)] = gamma[i % c] * xhat[static_cast<size_t>(i)] + beta[i % c];
        r.diffBeta[ch] += diffDst[i];
        r.diffGamma[ch] += diffDst[i] * xhat[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < x.size(); ++i) {
        const size_t ch = static_cast<size_t>(i % c);
        const double k = gamma[i % c] / std::sqrt(s.var[ch] + eps);
        double g = diffDst[i];
        if (batchStatistics)
            g -= (r.diffBeta[ch] + xhat[static_cast<size_t>(i)] * r.diffGamma[ch]) /
                 static_cast<double>(m);
        r.diffSrc[static_cast<size_t>(i)] = k * g;
    }
    return r;
}

void checkBatchNorm(const Shape& shape, Phase phase, double eps = 1e-5, uint32_t seed = 61) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const int64_t c = shape.back();
    Node node = bnNode(c, seed, eps);
    // An offset and scale per tensor so that normalization has work to do.
    Tensor x = randomTensor(shape, seed + 4);
    for (int64_t i = 0; i < x.size(); ++i)
        x[i] = 2.0f * x[i] + 0.5f;
    const Stats stats = phase == Phase::Train ? batchStats(x, c) : movingStats(node);
    auto layer = prepareLayer(node, {shape});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), shape);
    const Tensor dst = runForward(*layer, {x}, phase);
    const Tensor diffDst = randomTensor(shape, seed + 5);
    const BnRef ref = bnRef(x, node, stats, phase == Phase::Train, diffDst, eps);
    expectClose(dst, ref.dst);
    const auto diffSrc = runBackward(*layer, {x}, dst, diffDst);
    expectClose(diffSrc[0], ref.diffSrc);
    auto params = layer->params();
    ASSERT_EQ(params.size(), 2u);
    expectClose(*params[0].grad, ref.diffGamma);
    expectClose(*params[1].grad, ref.diffBeta);
}

TEST(BatchNorm, TrainForwardBackwardNhwc) {
    checkBatchNorm({2, 3, 5, 4}, Phase::Train);
}

TEST(BatchNorm, TrainForwardBackwardDense) {
    checkBatchNorm({6, 7}, Phase::Train);
}

TEST(BatchNorm, TrainForwardBackwardRank3) {
    checkBatchNorm({2, 5, 3}, Phase::Train);
}

TEST(BatchNorm, TrainForwardBackwardSingleChannel) {
    checkBatchNorm({3, 4, 4, 1}, Phase::Train);
}

TEST(BatchNorm, TrainForwardBackwardCnnBnShape) {
    checkBatchNorm({4, 14, 14, 64}, Phase::Train, 1e-3);
}

TEST(BatchNorm, TrainUsesTheEpsilonAttribute) {
    // With eps comparable to the variance, a wrong epsilon changes every output.
    checkBatchNorm({4, 3, 3, 5}, Phase::Train, 0.5);
}

TEST(BatchNorm, EvalForwardBackwardNhwc) {
    checkBatchNorm({2, 3, 5, 4}, Phase::Eval);
}

TEST(BatchNorm, EvalForwardBackwardDenseWithEpsilon) {
    checkBatchNorm({5, 9}, Phase::Eval, 0.25);
}

TEST(BatchNorm, TrainUpdatesMovingStatistics) {
    const int64_t c = 3;
    const double momentum = 0.3;
    Node node = bnNode(c, 71, 1e-5, momentum);
    auto layer = prepareLayer(node, {{4, 2, 3, c}});
    ASSERT_TRUE(layer);
    Stats expected = movingStats(node);
    for (uint32_t step = 0; step < 3; ++step) {
        const Tensor x = randomTensor({4, 2, 3, c}, 72 + step, -1.0f, 3.0f);
        const Stats batch = batchStats(x, c);
        const double unbias = 24.0 / 23.0; // 4*2*3 samples per channel
        for (size_t ch = 0; ch < static_cast<size_t>(c); ++ch) {
            expected.mean[ch] = (1 - momentum) * expected.mean[ch] + momentum * batch.mean[ch];
            expected.var[ch] =
                (1 - momentum) * expected.var[ch] + momentum * batch.var[ch] * unbias;
        }
        runForward(*layer, {x}, Phase::Train);
        expectClose(node.params.at("moving_mean"), expected.mean);
        expectClose(node.params.at("moving_var"), expected.var);
    }
}

TEST(BatchNorm, DefaultMomentumIsPointOne) {
    Node node = bnNode(2, 73);
    node.attrs = Attrs();
    node.params["moving_mean"] = Tensor({2}, 0.0f);
    node.params["moving_var"] = Tensor({2}, 1.0f);
    auto layer = prepareLayer(node, {{2, 2}});
    ASSERT_TRUE(layer);
    // Channel 0: {1, 3} -> mean 2, unbiased var 2; channel 1: {0, 0} -> mean 0, var 0.
    runForward(*layer, {Tensor({2, 2}, {1, 0, 3, 0})}, Phase::Train);
    expectClose(node.params.at("moving_mean"), {0.2, 0.0});
    expectClose(node.params.at("moving_var"), {0.9 + 0.1 * 2.0, 0.9});
}

TEST(BatchNorm, EvalLeavesMovingStatisticsAlone) {
    Node node = bnNode(4, 74);
    const Tensor meanBefore = node.params.at("moving_mean");
    const Tensor varBefore = node.params.at("moving_var");
    auto layer = prepareLayer(node, {{3, 4}});
    ASSERT_TRUE(layer);
    runForward(*layer, {randomTensor({3, 4}, 75)}, Phase::Eval);
    EXPECT_EQ(node.params.at("moving_mean"), meanBefore);
    EXPECT_EQ(node.params.at("moving_var"), varBefore);
}

TEST(BatchNorm, TrainAndEvalDiffer) {
    Node node = bnNode(4, 76);
    auto layer = prepareLayer(node, {{8, 4}});
    ASSERT_TRUE(layer);
    const Tensor x = randomTensor({8, 4}, 77, 2.0f, 5.0f); // far from the moving mean
    const Tensor train = runForward(*layer, {x}, Phase::Train);
    const Tensor eval = runForward(*layer, {x}, Phase::Eval);
    double maxDiff = 0;
    for (int64_t i = 0; i < x.size(); ++i)
        maxDiff = std::max(maxDiff, static_cast<double>(std::abs(train[i] - eval[i])));
    EXPECT_GT(maxDiff, 0.5);
}

TEST(BatchNorm, GradientsTrainNhwc) {
    Node node = bnNode(3, 81, 1e-3);
    checkGradients(node, {randomTensor({2, 3, 4, 3}, 82)}, 81);
}

TEST(BatchNorm, GradientsTrainDense) {
    Node node = bnNode(5, 83);
    checkGradients(node, {randomTensor({8, 5}, 84)}, 83);
}

TEST(BatchNorm, BackwardWithoutDiffSrcStillComputesParameterGradients) {
    Node node = bnNode(4, 85);
    const Tensor x = randomTensor({6, 4}, 86);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {x});
    const Tensor diffDst = randomTensor(dst.shape(), 87);
    const auto skipped = runBackward(*layer, {x}, dst, diffDst, {false});
    EXPECT_TRUE(skipped[0].empty());
    const BnRef ref = bnRef(x, node, batchStats(x, 4), true, diffDst, 1e-5);
    auto params = layer->params();
    expectClose(*params[0].grad, ref.diffGamma);
    expectClose(*params[1].grad, ref.diffBeta);
}

TEST(BatchNorm, ParamsAreGammaAndBetaWithoutDecay) {
    Node node = bnNode(4, 88);
    auto layer = prepareLayer(node, {{2, 4}});
    ASSERT_TRUE(layer);
    auto params = layer->params();
    ASSERT_EQ(params.size(), 2u); // moving statistics are not trainable
    EXPECT_EQ(params[0].name, "bn/gamma");
    EXPECT_EQ(params[0].value, &node.params.at("gamma"));
    EXPECT_FALSE(params[0].decay);
    EXPECT_EQ(params[1].name, "bn/beta");
    EXPECT_FALSE(params[1].decay);
    EXPECT_EQ(params[1].grad->shape(), (Shape{4}));
}

TEST(BatchNorm, PrepareRejectsWrongParameters) {
    Node node = bnNode(4, 89);
    node.params["moving_var"] = Tensor({5}, 1.0f);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{2, 4}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("moving_var"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("'bn'"), std::string::npos) << st.message();

    node.params.erase("beta");
    EXPECT_FALSE(layer.value()->prepare({{2, 4}}).isOk());
    EXPECT_FALSE(layer.value()->prepare({{4}}).isOk()); // rank 1: no batch axis
}

} // namespace
} // namespace qat::testing
