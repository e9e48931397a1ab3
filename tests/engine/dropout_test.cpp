// Dropout: identity in Eval; in Train it zeroes about `rate` of the elements and scales
// the rest by 1/(1-rate); masks are reproducible from the seed and the per-layer call
// counter, independent of the thread count; backward applies the forward's mask.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "qat/runtime.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node dropoutNode(double rate) {
    Node node;
    node.name = "dropout";
    node.type = OpType::Dropout;
    node.inputs = {"x"};
    node.attrs.set("rate", AttrValue{rate}); // a plain double would bind to set(int)
    return node;
}

// Inputs bounded away from 0, so a zero output always means "dropped".
Tensor positiveInput(const Shape& shape, uint32_t seed) {
    return randomTensor(shape, seed, 0.5f, 1.5f);
}

int64_t countZeros(const Tensor& t) {
    int64_t zeros = 0;
    for (int64_t i = 0; i < t.size(); ++i)
        zeros += t[i] == 0.0f;
    return zeros;
}

TEST(DropoutLayer, EvalIsIdentity) {
    Node node = dropoutNode(0.5);
    Tensor x = positiveInput({4, 8, 8, 3}, 1);
    auto layer = prepareLayer(node, {x.shape()}, 42);
    ASSERT_TRUE(layer);
    runForward(*layer, {x}, Phase::Train); // its mask must not leak into Eval
    Tensor dst = runForward(*layer, {x}, Phase::Eval);
    EXPECT_EQ(dst.vec(), x.vec());
    Tensor dy = randomTensor(x.shape(), 2);
    EXPECT_EQ(runBackward(*layer, {x}, dst, dy)[0].vec(), dy.vec());
}

TEST(DropoutLayer, TrainDropsAboutRateAndScalesTheRest) {
    for (double rate : {0.1, 0.3, 0.75}) {
        SCOPED_TRACE("rate " + std::to_string(rate));
        Node node = dropoutNode(rate);
        // 200,000 elements: the drop fraction's standard deviation is below 0.001.
        const Shape shape{8, 50, 500};
        Tensor x = positiveInput(shape, 3);
        auto layer = prepareLayer(node, {shape}, 42);
        ASSERT_TRUE(layer);
        Tensor dst = runForward(*layer, {x}, Phase::Train);
        const double dropped = static_cast<double>(countZeros(dst)) / static_cast<double>(x.size());
        EXPECT_NEAR(dropped, rate, 0.01);
        const float scale = static_cast<float>(1.0 / (1.0 - rate));
        int bad = 0;
        for (int64_t i = 0; i < x.size(); ++i)
            if (dst[i] != 0.0f && std::abs(dst[i] - x[i] * scale) > 1e-6f * std::abs(dst[i]))
                ++bad;
        EXPECT_EQ(bad, 0) << "kept elements not scaled by 1/(1-rate)";
        // The expected value is preserved.
        double sumX = 0, sumDst = 0;
        for (int64_t i = 0; i < x.size(); ++i) {
            sumX += x[i];
            sumDst += dst[i];
        }
        EXPECT_NEAR(sumDst / sumX, 1.0, 0.02);
    }
}

// Catches a hash whose decisions correlate with position: every block of 10,000
// consecutive elements must drop close to `rate`.
TEST(DropoutLayer, DropsEvenlyAcrossTheTensor) {
    Node node = dropoutNode(0.5);
    const Shape shape{20, 10000};
    Tensor x = positiveInput(shape, 4);
    auto layer = prepareLayer(node, {shape}, 7);
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x}, Phase::Train);
    for (int64_t b = 0; b < 20; ++b) {
        int64_t zeros = 0;
        for (int64_t i = 0; i < 10000; ++i)
            zeros += dst[b * 10000 + i] == 0.0f;
        EXPECT_NEAR(static_cast<double>(zeros) / 10000.0, 0.5, 0.03) << "block " << b;
    }
}

// Decisions must look independent: for neighbours at several distances, and for the
// same element in consecutive calls, P(both dropped) must be close to rate^2.
TEST(DropoutLayer, DecisionsAreIndependent) {
    const double rate = 0.5;
    Node node = dropoutNode(rate);
    const Shape shape{4, 50000};
    Tensor x = positiveInput(shape, 4);
    auto layer = prepareLayer(node, {shape}, 3);
    ASSERT_TRUE(layer);
    Tensor first = runForward(*layer, {x}, Phase::Train);
    Tensor second = runForward(*layer, {x}, Phase::Train);
    const int64_t n = x.size();
    for (int64_t lag : {1, 2, 3, 8, 16, 1000}) {
        int64_t both = 0;
        for (int64_t i = 0; i + lag < n; ++i)
            both += first[i] == 0.0f && first[i + lag] == 0.0f;
        EXPECT_NEAR(static_cast<double>(both) / static_cast<double>(n - lag), rate * rate, 0.01)
            << "lag " << lag;
    }
    int64_t both = 0;
    for (int64_t i = 0; i < n; ++i)
        both += first[i] == 0.0f && second[i] == 0.0f;
    EXPECT_NEAR(static_cast<double>(both) / static_cast<double>(n), rate * rate, 0.01)
        << "consecutive calls";
}

TEST(DropoutLayer, SameSeedSameMasks) {
    Node node = dropoutNode(0.5);
    Tensor x = positiveInput({4, 256}, 5);
    auto a = prepareLayer(node, {x.shape()}, 42);
    auto b = prepareLayer(node, {x.shape()}, 42);
    auto c = prepareLayer(node, {x.shape()}, 43);
    ASSERT_TRUE(a && b && c);
    Tensor a1 = runForward(*a, {x});
    Tensor a2 = runForward(*a, {x});
    Tensor b1 = runForward(*b, {x});
    Tensor b2 = runForward(*b, {x});
    Tensor c1 = runForward(*c, {x});
    EXPECT_EQ(a1.vec(), b1.vec()) << "same seed, first call";
    EXPECT_EQ(a2.vec(), b2.vec()) << "same seed, second call";
    EXPECT_NE(a1.vec(), a2.vec()) << "the call counter must change the mask";
    EXPECT_NE(a1.vec(), c1.vec()) << "another seed must give another mask";
}

TEST(DropoutLayer, EvalCallsDoNotAdvanceTheMask) {
    Node node = dropoutNode(0.5);
    Tensor x = positiveInput({4, 256}, 6);
    auto a = prepareLayer(node, {x.shape()}, 9);
    auto b = prepareLayer(node, {x.shape()}, 9);
    ASSERT_TRUE(a && b);
    runForward(*a, {x}, Phase::Eval);
    EXPECT_EQ(runForward(*a, {x}, Phase::Train).vec(), runForward(*b, {x}, Phase::Train).vec());
}

TEST(DropoutLayer, CounterSurvivesPrepare) {
    Node node = dropoutNode(0.5);
    Tensor x = positiveInput({4, 256}, 7);
    auto a = prepareLayer(node, {x.shape()}, 9);
    auto b = prepareLayer(node, {x.shape()}, 9);
    ASSERT_TRUE(a && b);
    Tensor first = runForward(*a, {x});
    // A batch-size change re-prepares the layer; it must not replay the first mask.
    Tensor small = positiveInput({2, 256}, 8);
    ASSERT_TRUE(a->prepare({small.shape()}).isOk());
    runForward(*a, {small});
    ASSERT_TRUE(a->prepare({x.shape()}).isOk());
    Tensor third = runForward(*a, {x});
    runForward(*b, {x});
    runForward(*b, {x});
    EXPECT_NE(third.vec(), first.vec());
    EXPECT_EQ(third.vec(), runForward(*b, {x}).vec()) << "the third call's mask is the same";
}

TEST(DropoutLayer, MaskIndependentOfThreadCount) {
    Node node = dropoutNode(0.4);
    Tensor x = positiveInput({16, 28, 28, 8}, 9); // 100,352 elements: chunked on 2 threads
    const int before = numThreads();
    setNumThreads(1);
    auto one = prepareLayer(node, {x.shape()}, 5);
    ASSERT_TRUE(one);
    Tensor dstOne = runForward(*one, {x});
    setNumThreads(2);
    auto two = prepareLayer(node, {x.shape()}, 5);
    ASSERT_TRUE(two);
    Tensor dstTwo = runForward(*two, {x});
    setNumThreads(before);
    EXPECT_EQ(dstOne.vec(), dstTwo.vec());
}

TEST(DropoutLayer, BackwardUsesTheForwardMask) {
    Node node = dropoutNode(0.3);
    Tensor x = positiveInput({16, 28, 28, 8}, 10);
    const int before = numThreads();
    setNumThreads(2);
    auto layer = prepareLayer(node, {x.shape()}, 11);
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x});
    Tensor dy = randomTensor(x.shape(), 12);
    Tensor dx = runBackward(*layer, {x}, dst, dy)[0];
    setNumThreads(before);
    const float scale = static_cast<float>(1.0 / 0.7);
    int bad = 0;
    for (int64_t i = 0; i < x.size(); ++i) {
        const float want = dst[i] == 0.0f ? 0.0f : dy[i] * scale;
        if (std::abs(dx[i] - want) > 1e-6f * std::abs(want) && bad++ < 5)
            ADD_FAILURE() << "element " << i << ": dx " << dx[i] << " want " << want;
    }
    EXPECT_EQ(bad, 0);
}

// Fresh layers with one seed replay one mask, so finite differences see the same
// function as the analytic gradient.
TEST(DropoutLayer, GradientMatchesFiniteDifferences) {
    Node node = dropoutNode(0.5);
    checkGradients(node, {randomTensor({3, 40}, 13)}, 7, 60);
}

TEST(DropoutLayer, ZeroRateIsIdentityInTrain) {
    Node node = dropoutNode(0.0);
    Tensor x = randomTensor({4, 64}, 14);
    auto layer = prepareLayer(node, {x.shape()}, 1);
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, {x}, Phase::Train);
    EXPECT_EQ(dst.vec(), x.vec());
    Tensor dy = randomTensor(x.shape(), 15);
    EXPECT_EQ(runBackward(*layer, {x}, dst, dy)[0].vec(), dy.vec());
}

TEST(DropoutLayer, RejectsRateOutsideZeroToOne) {
    for (double rate : {1.0, 1.5, -0.1}) {
        Node node = dropoutNode(rate);
        auto layer = makeLayer(node, 0);
        ASSERT_TRUE(layer.isOk()) << layer.message();
        Status st = layer.value()->prepare({{2, 8}});
        ASSERT_FALSE(st.isOk()) << "rate " << rate;
        EXPECT_NE(st.message().find("must be in [0, 1)"), std::string::npos) << st.message();
    }
}

} // namespace
} // namespace qat::testing
