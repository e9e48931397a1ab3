// MaxPool, AvgPool and GlobalAvgPool (oneDNN pooling): forward and backward against
// double-precision plain loops (TFLite semantics: "same" padding never wins a max and is
// excluded from an average's count), and backward against central finite differences.
// Max-pool inputs are distinct values spaced wider than the finite-difference step, so
// no window has a tie and no perturbation changes an argmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "testing/op_harness.h"

namespace qat::testing {
namespace {

struct PoolCase {
    OpType type = OpType::MaxPool;
    int64_t n = 2, h = 6, w = 6, c = 3;
    int64_t ph = 2, pw = 2, sh = 2, sw = 2;
    std::string padding = "valid";
};

struct Window {
    int64_t top = 0, left = 0, outH = 0, outW = 0;
};

Window windowFor(const PoolCase& c) {
    Window win;
    if (c.padding == "same") {
        win.outH = (c.h + c.sh - 1) / c.sh;
        win.outW = (c.w + c.sw - 1) / c.sw;
        win.top = std::max<int64_t>(0, (win.outH - 1) * c.sh + c.ph - c.h) / 2;
        win.left = std::max<int64_t>(0, (win.outW - 1) * c.sw + c.pw - c.w) / 2;
    } else {
        win.outH = (c.h - c.ph) / c.sh + 1;
        win.outW = (c.w - c.pw) / c.sw + 1;
    }
    return win;
}

Node poolNode(const PoolCase& c) {
    Node node;
    node.name = "pool";
    node.type = c.type;
    node.inputs = {"x"};
    node.attrs.set("pool", std::vector<int64_t>{c.ph, c.pw});
    node.attrs.set("strides", std::vector<int64_t>{c.sh, c.sw});
    node.attrs.set("padding", c.padding);
    return node;
}

// Distinct values 0.05 apart in a random order over [-|n|*0.025, |n|*0.025).
Tensor distinctTensor(const Shape& shape, uint32_t seed) {
    Tensor t(shape);
    std::vector<int64_t> order(static_cast<size_t>(t.size()));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = 0.05f * static_cast<float>(order[static_cast<size_t>(i)] - t.size() / 2);
    return t;
}

struct PoolRef {
    std::vector<double> dst, diffSrc;
};

// Forward and backward (for diffDst) of max/avg pooling over in-bounds window elements.
PoolRef poolRef(const PoolCase& c, const Tensor& src, const Tensor& diffDst) {
    const Window win = windowFor(c);
    PoolRef r;
    r.dst.assign(static_cast<size_t>(c.n * win.outH * win.outW * c.c), 0.0);
    r.diffSrc.assign(static_cast<size_t>(src.size()), 0.0);
    for (int64_t n = 0; n < c.n; ++n)
        for (int64_t y = 0; y < win.outH; ++y)
            for (int64_t x = 0; x < win.outW; ++x)
                for (int64_t ch = 0; ch < c.c; ++ch) {
                    const int64_t d = ((n * win.outH + y) * win.outW + x) * c.c + ch;
                    std::vector<int64_t> taps;
                    for (int64_t i = 0; i < c.ph; ++i)
                        for (int64_t j = 0; j < c.pw; ++j) {
                            const int64_t iy = y * c.sh - win.top + i;
                            const int64_t ix = x * c.sw - win.left + j;
                            if (iy >= 0 && iy < c.h && ix >= 0 && ix < c.w)
                                taps.push_back(((n * c.h + iy) * c.w + ix) * c.c + ch);
                        }
                    if (c.type == OpType::MaxPool) {
                        int64_t best = taps[0];
                        for (int64_t s : taps)
                            if (src[s] > src[best])
                                best = s;
                        r.dst[static_cast<size_t>(d)] = src[best];
                        r.diffSrc[static_cast<size_t>(best)] += diffDst[d];
                    } else {
                        const double count = static_cast<double>(taps.size());
                        double sum = 0;
                        for (int64_t s : taps) {
                            sum += src[s];
                            r.diffSrc[static_cast<size_t>(s)] += diffDst[d] / count;
                        }
                        r.dst[static_cast<size_t>(d)] = sum / count;
                    }
                }
    return r;
}

void checkPool(const PoolCase& c, uint32_t seed = 41) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Node node = poolNode(c);
    const Tensor src = distinctTensor({c.n, c.h, c.w, c.c}, seed);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Window win = windowFor(c);
    ASSERT_EQ(layer->dstShape(), (Shape{c.n, win.outH, win.outW, c.c}));
    const Tensor dst = runForward(*layer, {src});
    const Tensor diffDst = randomTensor(dst.shape(), seed + 1);
    const PoolRef ref = poolRef(c, src, diffDst);
    expectClose(dst, ref.dst);
    expectClose(runForward(*layer, {src}, Phase::Eval), ref.dst);
    // Backward after an Eval forward must still use the Train forward's argmax: redo it.
    const Tensor dstTrain = runForward(*layer, {src});
    const auto diffSrc = runBackward(*layer, {src}, dstTrain, diffDst);
    expectClose(diffSrc[0], ref.diffSrc);
    EXPECT_TRUE(layer->params().empty());
}

TEST(MaxPool, ForwardBackwardValid2x2) {
    checkPool({});
}

TEST(MaxPool, ForwardBackwardValidOddSizeDropsTail) {
    PoolCase c;
    c.n = 3, c.h = 7, c.w = 5, c.c = 5;
    checkPool(c);
}

TEST(MaxPool, ForwardBackwardSameOddSizeAsymmetric) {
    PoolCase c;
    c.h = 7, c.w = 5, c.ph = 3, c.pw = 3, c.sh = 2, c.sw = 2, c.padding = "same";
    checkPool(c);
}

TEST(MaxPool, ForwardBackwardOverlappingWindows) {
    PoolCase c;
    c.h = 8, c.w = 9, c.ph = 3, c.pw = 2, c.sh = 1, c.sw = 1;
    checkPool(c);
}

TEST(MaxPool, ForwardBackwardCnnBnShape) {
    PoolCase c;
    c.n = 4, c.h = 28, c.w = 28, c.c = 32;
    checkPool(c);
}

TEST(MaxPool, DefaultStridesEqualThePool) {
    PoolCase c;
    c.h = 9, c.w = 9, c.ph = 3, c.pw = 3, c.sh = 3, c.sw = 3;
    Node node = poolNode(c);
    Attrs attrs;
    attrs.set("pool", std::vector<int64_t>{3, 3});
    node.attrs = attrs;
    auto layer = prepareLayer(node, {{c.n, c.h, c.w, c.c}});
    ASSERT_TRUE(layer);
    EXPECT_EQ(layer->dstShape(), (Shape{c.n, 3, 3, c.c}));
}

TEST(MaxPool, Gradients) {
    PoolCase c;
    c.h = 5, c.w = 6, c.ph = 3, c.pw = 2, c.sh = 2, c.sw = 2, c.padding = "same";
    Node node = poolNode(c);
    checkGradients(node, {distinctTensor({c.n, c.h, c.w, c.c}, 3)}, 3, 40);
}

TEST(AvgPool, ForwardBackwardValid2x2) {
    PoolCase c;
    c.type = OpType::AvgPool;
    checkPool(c);
}

TEST(AvgPool, ForwardBackwardSameExcludesPadding) {
    PoolCase c;
    c.type = OpType::AvgPool;
    c.h = 5, c.w = 7, c.ph = 2, c.pw = 2, c.sh = 2, c.sw = 2, c.padding = "same";
    checkPool(c);
}

TEST(AvgPool, ForwardBackwardSameStride1Overlapping) {
    PoolCase c;
    c.type = OpType::AvgPool;
    c.n = 3, c.h = 6, c.w = 5, c.ph = 3, c.pw = 3, c.sh = 1, c.sw = 1, c.padding = "same";
    checkPool(c);
}

TEST(AvgPool, SamePaddedCornerAveragesOnlyRealPixels) {
    // A 3x3 same pool at the corner of a 2x2 all-ones-and-a-four image: the window holds
    // 4 real pixels, so the mean is (1+1+1+4)/4, not /9.
    PoolCase c;
    c.type = OpType::AvgPool;
    c.n = 1, c.h = 2, c.w = 2, c.c = 1, c.ph = 3, c.pw = 3, c.sh = 1, c.sw = 1;
    c.padding = "same";
    Node node = poolNode(c);
    auto layer = prepareLayer(node, {{1, 2, 2, 1}});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {Tensor({1, 2, 2, 1}, {1, 1, 1, 4})});
    expectClose(dst, {1.75, 1.75, 1.75, 1.75});
}

TEST(AvgPool, Gradients) {
    PoolCase c;
    c.type = OpType::AvgPool;
    c.h = 5, c.w = 5, c.ph = 3, c.pw = 3, c.sh = 2, c.sw = 2, c.padding = "same";
    Node node = poolNode(c);
    checkGradients(node, {randomTensor({c.n, c.h, c.w, c.c}, 3)}, 3, 40);
}

Node globalNode() {
    Node node;
    node.name = "gap";
    node.type = OpType::GlobalAvgPool;
    node.inputs = {"x"};
    return node;
}

TEST(GlobalAvgPool, ForwardBackward) {
    const int64_t n = 3, h = 5, w = 7, c = 6;
    Node node = globalNode();
    const Tensor src = randomTensor({n, h, w, c}, 51);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{n, c}));
    std::vector<double> dstRef(static_cast<size_t>(n * c), 0.0);
    for (int64_t i = 0; i < src.size(); ++i)
        dstRef[static_cast<size_t>((i / (h * w * c)) * c + i % c)] += src[i] / double(h * w);
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, dstRef);

    const Tensor diffDst = randomTensor(dst.shape(), 52);
    std::vector<double> diffSrcRef(static_cast<size_t>(src.size()));
    for (int64_t i = 0; i < src.size(); ++i)
        diffSrcRef[static_cast<size_t>(i)] = diffDst[(i / (h * w * c)) * c + i % c] / double(h * w);
    const auto diffSrc = runBackward(*layer, {src}, dst, diffDst);
    expectClose(diffSrc[0], diffSrcRef);
}

TEST(GlobalAvgPool, ForwardSinglePixel) {
    Node node = globalNode();
    const Tensor src = randomTensor({2, 1, 1, 5}, 53);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, std::vector<double>(src.vec().begin(), src.vec().end()));
}

TEST(GlobalAvgPool, Gradients) {
    Node node = globalNode();
    checkGradients(node, {randomTensor({2, 3, 4, 5}, 54)}, 54);
}

TEST(Pool, BackwardWithoutDiffSrcIsANoOp) {
    PoolCase c;
    Node node = poolNode(c);
    const Tensor src = distinctTensor({c.n, c.h, c.w, c.c}, 3);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {src});
    const auto diffSrc = runBackward(*layer, {src}, dst, randomTensor(dst.shape(), 4), {false});
    EXPECT_TRUE(diffSrc[0].empty());
}

TEST(Pool, PrepareRejectsBadInputs) {
    PoolCase c;
    Node node = poolNode(c);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    EXPECT_FALSE(layer.value()->prepare({{2, 36}}).isOk());
    Status tooSmall = layer.value()->prepare({{2, 1, 1, 3}});
    ASSERT_FALSE(tooSmall.isOk());
    EXPECT_NE(tooSmall.message().find("'pool'"), std::string::npos) << tooSmall.message();
    Node gap = globalNode();
    auto gapLayer = makeLayer(gap, 1);
    ASSERT_TRUE(gapLayer.isOk());
    EXPECT_FALSE(gapLayer.value()->prepare({{2, 5}}).isOk());
}

} // namespace
} // namespace qat::testing
