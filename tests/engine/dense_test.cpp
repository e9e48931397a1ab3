// Dense (oneDNN inner product): forward and backward against double-precision plain
// loops (dst[n,u] = bias[u] + sum_i src[n,i] * weights[u,i], weights [units,in]), and
// backward against central finite differences. Includes the cnn-bn dense1 shape.
#include <gtest/gtest.h>

#include <string>

#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node denseNode(int64_t in, int64_t units, bool bias, uint32_t seed) {
    Node node;
    node.name = "fc";
    node.type = OpType::Dense;
    node.inputs = {"x"};
    node.attrs.set("units", static_cast<int>(units));
    node.attrs.set("use_bias", bias ? 1 : 0);
    node.params["weights"] = randomTensor({units, in}, seed);
    if (bias)
        node.params["bias"] = randomTensor({units}, seed + 1);
    return node;
}

void checkDense(int64_t n, int64_t in, int64_t units, bool bias, uint32_t seed = 31) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Node node = denseNode(in, units, bias, seed);
    const Tensor src = randomTensor({n, in}, seed + 2);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{n, units}));
    const Tensor& w = node.params.at("weights");

    std::vector<double> dstRef(static_cast<size_t>(n * units));
    for (int64_t b = 0; b < n; ++b)
        for (int64_t u = 0; u < units; ++u) {
            double acc = bias ? node.params.at("bias")[u] : 0.0;
            for (int64_t i = 0; i < in; ++i)
                acc += static_cast<double>(src[b * in + i]) * w[u * in + i];
            dstRef[static_cast<size_t>(b * units + u)] = acc;
        }
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, dstRef);

    const Tensor diffDst = randomTensor(dst.shape(), seed + 3);
    std::vector<double> diffSrcRef(static_cast<size_t>(n * in), 0.0);
    std::vector<double> diffWRef(static_cast<size_t>(units * in), 0.0);
    std::vector<double> diffBRef(static_cast<size_t>(units), 0.0);
    for (int64_t b = 0; b < n; ++b)
        for (int64_t u = 0; u < units; ++u) {
            const double g = diffDst[b * units + u];
            diffBRef[static_cast<size_t>(u)] += g;
            for (int64_t i = 0; i < in; ++i) {
                diffSrcRef[static_cast<size_t>(b * in + i)] += g * w[u * in + i];
                diffWRef[static_cast<size_t>(u * in + i)] += g * src[b * in + i];
            }
        }
    const auto diffSrc = runBackward(*layer, {src}, dst, diffDst);
    expectClose(diffSrc[0], diffSrcRef);
    auto params = layer->params();
    ASSERT_EQ(params.size(), bias ? 2u : 1u);
    expectClose(*params[0].grad, diffWRef);
    if (bias)
        expectClose(*params[1].grad, diffBRef);
}

TEST(Dense, ForwardBackwardSmall) {
    checkDense(3, 7, 5, true);
}

TEST(Dense, ForwardBackwardBatchOne) {
    checkDense(1, 16, 10, true);
}

TEST(Dense, ForwardBackwardNoBias) {
    checkDense(4, 9, 3, false);
}

TEST(Dense, ForwardBackwardSingleUnit) {
    checkDense(5, 12, 1, true);
}

TEST(Dense, ForwardBackwardCnnBnDense1Shape) {
    checkDense(8, 3136, 128, true);
}

TEST(Dense, Gradients) {
    Node node = denseNode(6, 4, true, 3);
    checkGradients(node, {randomTensor({3, 6}, 4)}, 3);
}

TEST(Dense, GradientsNoBias) {
    Node node = denseNode(5, 7, false, 8);
    checkGradients(node, {randomTensor({2, 5}, 9)}, 8);
}

TEST(Dense, BackwardWithoutDiffSrcStillComputesParameterGradients) {
    Node node = denseNode(6, 4, true, 3);
    const Tensor src = randomTensor({3, 6}, 4);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {src});
    const Tensor diffDst = randomTensor(dst.shape(), 5);
    runBackward(*layer, {src}, dst, diffDst);
    auto params = layer->params();
    const Tensor gradW = *params[0].grad, gradB = *params[1].grad;
    params[0].grad->fill(7.0f);
    params[1].grad->fill(7.0f);
    const auto skipped = runBackward(*layer, {src}, dst, diffDst, {false});
    EXPECT_TRUE(skipped[0].empty());
    EXPECT_EQ(*params[0].grad, gradW);
    EXPECT_EQ(*params[1].grad, gradB);
}

TEST(Dense, ParamsAreNamedByNodeAndBiasHasNoDecay) {
    Node node = denseNode(6, 4, true, 3);
    auto layer = prepareLayer(node, {{2, 6}});
    ASSERT_TRUE(layer);
    auto params = layer->params();
    ASSERT_EQ(params.size(), 2u);
    EXPECT_EQ(params[0].name, "fc/weights");
    EXPECT_TRUE(params[0].decay);
    EXPECT_EQ(params[0].value, &node.params.at("weights"));
    EXPECT_EQ(params[1].name, "fc/bias");
    EXPECT_FALSE(params[1].decay);
}

TEST(Dense, PrepareRejectsUnflattenedInput) {
    Node node = denseNode(12, 4, true, 3);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{2, 2, 2, 3}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("'fc'"), std::string::npos) << st.message();
}

TEST(Dense, PrepareRejectsFeatureMismatch) {
    Node node = denseNode(12, 4, true, 3);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{2, 11}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("weights"), std::string::npos) << st.message();
}

} // namespace
} // namespace qat::testing
