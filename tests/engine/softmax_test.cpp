// Softmax over the last axis: forward against a double-precision max-shifted reference,
// rows summing to 1, stability for logits of +-1000, and backward against both the
// explicit Jacobian (J = diag(y) - y y^T) and central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "qat/runtime.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node softmaxNode() {
    Node node;
    node.name = "softmax";
    node.type = OpType::Softmax;
    node.inputs = {"logits"};
    return node;
}

std::vector<double> softmaxRef(const Tensor& x) {
    const int64_t k = x.shape().back();
    std::vector<double> out(static_cast<size_t>(x.size()));
    for (int64_t r = 0; r < x.size() / k; ++r) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < k; ++j)
            mx = std::max(mx, static_cast<double>(x[r * k + j]));
        double sum = 0;
        for (int64_t j = 0; j < k; ++j)
            sum += std::exp(x[r * k + j] - mx);
        for (int64_t j = 0; j < k; ++j)
            out[static_cast<size_t>(r * k + j)] = std::exp(x[r * k + j] - mx) / sum;
    }
    return out;
}

// dx_i = sum_j J_ji dy_j with J_ji = y_j (delta_ji - y_i), from the reference y.
std::vector<double> softmaxBackwardRef(const Tensor& x, const Tensor& dy) {
    const int64_t k = x.shape().back();
    const auto y = softmaxRef(x);
    std::vector<double> dx(y.size(), 0.0);
    for (int64_t r = 0; r < x.size() / k; ++r)
        for (int64_t i = 0; i < k; ++i)
            for (int64_t j = 0; j < k; ++j) {
                const size_t yi = static_cast<size_t>(r * k + i);
                const size_t yj = static_cast<size_t>(r * k + j);
                const double jac = y[yj] * ((i == j ? 1.0 : 0.0) - y[yi]);
                dx[yi] += jac * dy[r * k + j];
            }
    return dx;
}

void expectMatchesReference(const Tensor& x) {
    Node node = softmaxNode();
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), x.shape());
    Tensor dst = runForward(*layer, {x});
    expectClose(dst, softmaxRef(x));
    Tensor dy = randomTensor(x.shape(), 77);
    auto dx = runBackward(*layer, {x}, dst, dy);
    expectClose(dx[0], softmaxBackwardRef(x, dy));
}

TEST(SoftmaxLayer, MatchesReference) {
    expectMatchesReference(randomTensor({4, 10}, 1, -5.0f, 5.0f));
}

TEST(SoftmaxLayer, LastAxisOfRankFourTensor) {
    expectMatchesReference(randomTensor({2, 3, 4, 5}, 2, -3.0f, 3.0f));
}

TEST(SoftmaxLayer, SingleClassIsOne) {
    Node node = softmaxNode();
    Tensor x({3, 1}, std::vector<float>{-7.0f, 0.0f, 42.0f});
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    EXPECT_EQ(runForward(*layer, {x}).vec(), (std::vector<float>{1.0f, 1.0f, 1.0f}));
}

TEST(SoftmaxLayer, RowsSumToOne) {
    Node node = softmaxNode();
    Tensor x = randomTensor({16, 37}, 3, -20.0f, 20.0f);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    for (int64_t r = 0; r < 16; ++r) {
        double sum = 0;
        for (int64_t j = 0; j < 37; ++j) {
            EXPECT_GE(dst[r * 37 + j], 0.0f);
            sum += dst[r * 37 + j];
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
    }
}

TEST(SoftmaxLayer, StableForLargeLogits) {
    Tensor x({3, 4}, std::vector<float>{1000.0f, 999.0f, 998.0f, -1000.0f,  //
                                        1000.0f, 1000.0f, 1000.0f, 1000.0f, //
                                        -1000.0f, -1001.0f, -999.0f, -1000.0f});
    Node node = softmaxNode();
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    for (int64_t i = 0; i < dst.size(); ++i)
        ASSERT_TRUE(std::isfinite(dst[i])) << "element " << i;
    expectMatchesReference(x);
    EXPECT_NEAR(dst[4], 0.25f, 1e-6);
}

TEST(SoftmaxLayer, GradientMatchesFiniteDifferences) {
    Node node = softmaxNode();
    checkGradients(node, {randomTensor({3, 7}, 4, -2.0f, 2.0f)}, 7, 21);
    checkGradients(node, {randomTensor({2, 2, 2, 6}, 5, -2.0f, 2.0f)}, 9, 48);
}

// 4096 rows of 33: over the parallel threshold, with a row length that is not a
// multiple of the SIMD width.
TEST(SoftmaxLayer, LargeOnTwoThreads) {
    const int before = numThreads();
    setNumThreads(2);
    expectMatchesReference(randomTensor({4096, 33}, 6, -8.0f, 8.0f));
    setNumThreads(before);
}

TEST(SoftmaxLayer, BackwardSkipsMissingGradient) {
    Node node = softmaxNode();
    Tensor x = randomTensor({2, 5}, 7);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    auto dx = runBackward(*layer, {x}, dst, Tensor(dst.shape(), 1.0f), {false});
    EXPECT_TRUE(dx[0].empty());
}

TEST(SoftmaxLayer, RejectsInputWithoutClassAxis) {
    Node node = softmaxNode();
    auto layer = makeLayer(node, 0);
    ASSERT_TRUE(layer.isOk()) << layer.message();
    Status st = layer.value()->prepare({{8}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("got [8]"), std::string::npos) << st.message();
    st = layer.value()->prepare({{8, 10}, {8, 10}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("expects 1 input"), std::string::npos) << st.message();
}

} // namespace
} // namespace qat::testing
