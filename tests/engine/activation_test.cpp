// Activation layers (ReLU, ReLU6, LeakyReLU, HardSwish, Sigmoid, Tanh): forward and
// backward against double-precision plain loops, backward also against central finite
// differences. Finite differences straddle kinks, so gradient checks skip inputs within
// a margin of them. Large-tensor cases run on 2 threads to cover the chunked path.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "qat/runtime.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

// Wider than kFiniteDiffStep so that x +- step never crosses a kink.
constexpr double kKinkMargin = 0.05;

Node activationNode(OpType type) {
    Node node;
    node.name = "act";
    node.type = type;
    node.inputs = {"x"};
    return node;
}

struct Reference {
    std::function<double(double)> f;
    std::function<double(double)> df;
    std::vector<double> kinks;
};

double relu6(double x) {
    return std::min(std::max(x, 0.0), 6.0);
}

Reference reluRef() {
    return {[](double x) { return x > 0 ? x : 0.0; },
            [](double x) { return x > 0 ? 1.0 : 0.0; },
            {0.0}};
}
Reference relu6Ref() {
    return {relu6, [](double x) { return x > 0 && x < 6 ? 1.0 : 0.0; }, {0.0, 6.0}};
}
Reference leakyRef(double alpha) {
    return {[alpha](double x) { return x > 0 ? x : alpha * x; },
            [alpha](double x) { return x > 0 ? 1.0 : alpha; },
            {0.0}};
}
Reference hardSwishRef() {
    return {[](double x) { return x * relu6(x + 3) / 6; },
            [](double x) { return x < -3 ? 0.0 : (x <= 3 ? (2 * x + 3) / 6 : 1.0); },
            {-3.0, 3.0}};
}
Reference sigmoidRef() {
    return {[](double x) { return 1 / (1 + std::exp(-x)); },
            [](double x) {
                double s = 1 / (1 + std::exp(-x));
                return s * (1 - s);
            },
            {}};
}
Reference tanhRef() {
    return {[](double x) { return std::tanh(x); },
            [](double x) { return 1 - std::tanh(x) * std::tanh(x); },
            {}};
}

// Forward against ref.f, and backward (with a random diffDst) against diffDst * ref.df.
void expectMatchesReference(Node& node, const Tensor& x, const Reference& ref) {
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    EXPECT_EQ(layer->dstShape(), x.shape());
    Tensor dst = runForward(*layer, {x});
    std::vector<double> want(static_cast<size_t>(x.size()));
    for (int64_t i = 0; i < x.size(); ++i)
        want[static_cast<size_t>(i)] = ref.f(x[i]);
    expectClose(dst, want);

    Tensor diffDst = randomTensor(x.shape(), 99);
    auto diffSrc = runBackward(*layer, {x}, dst, diffDst);
    for (int64_t i = 0; i < x.size(); ++i)
        want[static_cast<size_t>(i)] = diffDst[i] * ref.df(x[i]);
    expectClose(diffSrc[0], want);
}

void expectGradientsMatch(Node& node, const Tensor& x, const Reference& ref) {
    auto nearKink = [&](size_t, int64_t i) {
        for (double k : ref.kinks)
            if (std::abs(x[i] - k) < kKinkMargin)
                return true;
        return false;
    };
    checkGradients(node, {x}, 7, 48, nearKink);
}

// Runs `body` with OpenMP using `threads` threads, restoring the previous count.
void withThreads(int threads, const std::function<void()>& body) {
    const int before = numThreads();
    setNumThreads(threads);
    body();
    setNumThreads(before);
}

TEST(ActivationLayers, ReluMatchesReference) {
    Node node = activationNode(OpType::ReLU);
    Tensor x = randomTensor({2, 5, 4, 3}, 1, -2.0f, 2.0f);
    expectMatchesReference(node, x, reluRef());
    expectGradientsMatch(node, x, reluRef());
}

TEST(ActivationLayers, Relu6MatchesReference) {
    Node node = activationNode(OpType::ReLU6);
    Tensor x = randomTensor({3, 40}, 2, -3.0f, 9.0f);
    expectMatchesReference(node, x, relu6Ref());
    expectGradientsMatch(node, x, relu6Ref());
}

TEST(ActivationLayers, Relu6ClampsAtSix) {
    Node node = activationNode(OpType::ReLU6);
    Tensor x({1, 5}, std::vector<float>{-1.0f, 0.0f, 5.5f, 6.0f, 100.0f});
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    EXPECT_EQ(dst.vec(), (std::vector<float>{0.0f, 0.0f, 5.5f, 6.0f, 6.0f}));
}

TEST(ActivationLayers, LeakyReluDefaultAlpha) {
    Node node = activationNode(OpType::LeakyReLU);
    Tensor x = randomTensor({4, 3, 3, 2}, 3, -2.0f, 2.0f);
    expectMatchesReference(node, x, leakyRef(0.01));
    expectGradientsMatch(node, x, leakyRef(0.01));
}

TEST(ActivationLayers, LeakyReluCustomAlpha) {
    Node node = activationNode(OpType::LeakyReLU);
    node.attrs.set("alpha", AttrValue{0.2}); // a plain double would bind to set(int)
    Tensor x = randomTensor({4, 17}, 4, -2.0f, 2.0f);
    expectMatchesReference(node, x, leakyRef(0.2));
    expectGradientsMatch(node, x, leakyRef(0.2));
}

TEST(ActivationLayers, LeakyReluRejectsNonFiniteAlpha) {
    Node node = activationNode(OpType::LeakyReLU);
    node.attrs.set("alpha", AttrValue{std::nan("")});
    auto layer = makeLayer(node, 0);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{2, 3}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("alpha"), std::string::npos) << st.message();
}

TEST(ActivationLayers, HardSwishMatchesReference) {
    Node node = activationNode(OpType::HardSwish);
    Tensor x = randomTensor({2, 6, 6, 3}, 5, -5.0f, 5.0f);
    expectMatchesReference(node, x, hardSwishRef());
    expectGradientsMatch(node, x, hardSwishRef());
}

TEST(ActivationLayers, SigmoidMatchesReference) {
    Node node = activationNode(OpType::Sigmoid);
    Tensor x = randomTensor({3, 50}, 6, -6.0f, 6.0f);
    expectMatchesReference(node, x, sigmoidRef());
    expectGradientsMatch(node, x, sigmoidRef());
}

TEST(ActivationLayers, SigmoidSaturatesWithoutNaN) {
    Node node = activationNode(OpType::Sigmoid);
    Tensor x({1, 6}, std::vector<float>{-1000.0f, -30.0f, -9.5f, 20.0f, 88.0f, 1000.0f});
    expectMatchesReference(node, x, sigmoidRef());
}

TEST(ActivationLayers, TanhMatchesReference) {
    Node node = activationNode(OpType::Tanh);
    Tensor x = randomTensor({5, 2, 2, 7}, 7, -4.0f, 4.0f);
    expectMatchesReference(node, x, tanhRef());
    expectGradientsMatch(node, x, tanhRef());
}

TEST(ActivationLayers, TanhSaturatesWithoutNaN) {
    Node node = activationNode(OpType::Tanh);
    Tensor x({1, 4}, std::vector<float>{-1000.0f, -12.0f, 12.0f, 1000.0f});
    expectMatchesReference(node, x, tanhRef());
}

// 208,437 elements: above the parallel threshold; odd, so the last chunk is short.
TEST(ActivationLayers, LargeTensorsMatchReferenceOnTwoThreads) {
    const Shape shape{3, 61, 67, 17};
    struct Case {
        OpType type;
        Reference ref;
    };
    const std::vector<Case> cases = {
        {OpType::ReLU, reluRef()},           {OpType::ReLU6, relu6Ref()},
        {OpType::LeakyReLU, leakyRef(0.01)}, {OpType::HardSwish, hardSwishRef()},
        {OpType::Sigmoid, sigmoidRef()},     {OpType::Tanh, tanhRef()},
    };
    withThreads(2, [&] {
        for (const auto& c : cases) {
            SCOPED_TRACE(opTypeName(c.type));
            Node node = activationNode(c.type);
            expectMatchesReference(node, randomTensor(shape, 11, -8.0f, 8.0f), c.ref);
        }
    });
}

TEST(ActivationLayers, BackwardSkipsMissingGradient) {
    Node node = activationNode(OpType::ReLU);
    Tensor x = randomTensor({2, 8}, 8);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    auto diffSrc = runBackward(*layer, {x}, dst, Tensor(dst.shape(), 1.0f), {false});
    EXPECT_TRUE(diffSrc[0].empty());
}

TEST(ActivationLayers, RejectWrongInputCount) {
    for (OpType type : {OpType::ReLU, OpType::ReLU6, OpType::LeakyReLU, OpType::HardSwish,
                        OpType::Sigmoid, OpType::Tanh}) {
        SCOPED_TRACE(opTypeName(type));
        Node node = activationNode(type);
        auto layer = makeLayer(node, 0);
        ASSERT_TRUE(layer.isOk()) << layer.message();
        Status st = layer.value()->prepare({{2, 3}, {2, 3}});
        ASSERT_FALSE(st.isOk());
        EXPECT_NE(st.message().find("expects 1 input, got 2"), std::string::npos) << st.message();
    }
}

} // namespace
} // namespace qat::testing
