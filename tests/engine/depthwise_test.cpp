// DepthwiseConv2D (oneDNN grouped convolution): forward and backward against a
// double-precision plain loop written from TFLite's definition -- weights
// [1,kh,kw,C*mult], output channel c*mult+m reads input channel c -- and backward against
// central finite differences. Cases cover depth multipliers 1-3, stride, same (with
// asymmetric padding)/valid/explicit padding, dilation, odd sizes and batch > 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "testing/op_harness.h"

namespace qat::testing {
namespace {

struct DwCase {
    int64_t n = 2, h = 7, w = 6, c = 3, mult = 1;
    int64_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1;
    std::string padding = "same";
    std::vector<int64_t> pads;
    bool bias = true;
};

struct Pads {
    int64_t top = 0, left = 0, outH = 0, outW = 0;
};

Pads padsFor(const DwCase& c) {
    Pads p;
    const int64_t ekh = (c.kh - 1) * c.dh + 1, ekw = (c.kw - 1) * c.dw + 1;
    if (c.padding == "same") {
        p.outH = (c.h + c.sh - 1) / c.sh;
        p.outW = (c.w + c.sw - 1) / c.sw;
        p.top = std::max<int64_t>(0, (p.outH - 1) * c.sh + ekh - c.h) / 2;
        p.left = std::max<int64_t>(0, (p.outW - 1) * c.sw + ekw - c.w) / 2;
        return p;
    }
    int64_t bottom = 0, right = 0;
    if (c.padding == "explicit") {
        p.top = c.pads[0];
        p.left = c.pads[1];
        bottom = c.pads[2];
        right = c.pads[3];
    }
    p.outH = (c.h + p.top + bottom - ekh) / c.sh + 1;
    p.outW = (c.w + p.left + right - ekw) / c.sw + 1;
    return p;
}

Node dwNode(const DwCase& c, uint32_t seed) {
    Node node;
    node.name = "dw";
    node.type = OpType::DepthwiseConv2D;
    node.inputs = {"x"};
    node.attrs.set("kernel", std::vector<int64_t>{c.kh, c.kw});
    node.attrs.set("strides", std::vector<int64_t>{c.sh, c.sw});
    node.attrs.set("dilations", std::vector<int64_t>{c.dh, c.dw});
    node.attrs.set("padding", c.padding);
    if (!c.pads.empty())
        node.attrs.set("pads", c.pads);
    node.attrs.set("depth_multiplier", static_cast<int>(c.mult));
    node.attrs.set("use_bias", c.bias ? 1 : 0);
    node.params["weights"] = randomTensor({1, c.kh, c.kw, c.c * c.mult}, seed);
    if (c.bias)
        node.params["bias"] = randomTensor({c.c * c.mult}, seed + 1);
    return node;
}

// fn(dstIndex, weightIndex, srcIndex) for every tap of the depthwise convolution.
template <typename Fn> void forEachTap(const DwCase& c, const Pads& p, Fn&& fn) {
    const int64_t cout = c.c * c.mult;
    for (int64_t n = 0; n < c.n; ++n)
        for (int64_t y = 0; y < p.outH; ++y)
            for (int64_t x = 0; x < p.outW; ++x)
                for (int64_t ci = 0; ci < c.c; ++ci)
                    for (int64_t m = 0; m < c.mult; ++m) {
                        const int64_t o = ci * c.mult + m;
                        const int64_t d = ((n * p.outH + y) * p.outW + x) * cout + o;
                        for (int64_t i = 0; i < c.kh; ++i)
                            for (int64_t j = 0; j < c.kw; ++j) {
                                const int64_t iy = y * c.sh - p.top + i * c.dh;
                                const int64_t ix = x * c.sw - p.left + j * c.dw;
                                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w)
                                    continue;
                                fn(d, (i * c.kw + j) * cout + o,
                                   ((n * c.h + iy) * c.w + ix) * c.c + ci);
                            }
                    }
}

void checkDepthwise(const DwCase& c, uint32_t seed = 21) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Node node = dwNode(c, seed);
    const Tensor src = randomTensor({c.n, c.h, c.w, c.c}, seed + 2);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Pads p = padsFor(c);
    const int64_t cout = c.c * c.mult;
    ASSERT_EQ(layer->dstShape(), (Shape{c.n, p.outH, p.outW, cout}));
    const Tensor& w = node.params.at("weights");

    std::vector<double> dstRef(static_cast<size_t>(c.n * p.outH * p.outW * cout), 0.0);
    if (c.bias)
        for (size_t d = 0; d < dstRef.size(); ++d)
            dstRef[d] = node.params.at("bias")[static_cast<int64_t>(d) % cout];
    forEachTap(c, p, [&](int64_t d, int64_t wi, int64_t s) {
        dstRef[static_cast<size_t>(d)] += static_cast<double>(src[s]) * w[wi];
    });
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, dstRef);

    const Tensor diffDst = randomTensor(dst.shape(), seed + 3);
    std::vector<double> diffSrcRef(static_cast<size_t>(src.size()), 0.0);
    std::vector<double> diffWRef(static_cast<size_t>(w.size()), 0.0);
    std::vector<double> diffBRef(static_cast<size_t>(cout), 0.0);
    for (int64_t d = 0; d < diffDst.size(); ++d)
        diffBRef[static_cast<size_t>(d % cout)] += diffDst[d];
    forEachTap(c, p, [&](int64_t d, int64_t wi, int64_t s) {
        diffSrcRef[static_cast<size_t>(s)] += static_cast<double>(diffDst[d]) * w[wi];
        diffWRef[static_cast<size_t>(wi)] += static_cast<double>(diffDst[d]) * src[s];
    });
    const auto diffSrc = runBackward(*layer, {src}, dst, diffDst);
    expectClose(diffSrc[0], diffSrcRef);
    auto params = layer->params();
    ASSERT_EQ(params.size(), c.bias ? 2u : 1u);
    EXPECT_EQ(params[0].name, "dw/weights");
    expectClose(*params[0].grad, diffWRef);
    if (c.bias) {
        EXPECT_EQ(params[1].name, "dw/bias");
        EXPECT_FALSE(params[1].decay);
        expectClose(*params[1].grad, diffBRef);
    }
}

TEST(DepthwiseConv2D, ForwardBackwardMultiplierOneSame) {
    checkDepthwise({});
}

TEST(DepthwiseConv2D, ForwardBackwardMultiplierTwo) {
    DwCase c;
    c.mult = 2;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, ForwardBackwardMultiplierThreeStride2SameAsymmetric) {
    DwCase c;
    c.mult = 3, c.h = 8, c.w = 9, c.sh = 2, c.sw = 2, c.c = 4;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, ForwardBackwardValidOddKernel) {
    DwCase c;
    c.n = 3, c.h = 9, c.w = 5, c.kh = 5, c.kw = 3, c.padding = "valid", c.c = 5;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, ForwardBackwardExplicitPadsDilation) {
    DwCase c;
    c.h = 9, c.w = 8, c.dh = 2, c.dw = 2, c.padding = "explicit", c.pads = {2, 1, 1, 3};
    c.mult = 2;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, ForwardBackwardManyChannelsNoBias) {
    // 32 channels: the vectorized depthwise kernels' natural width.
    DwCase c;
    c.n = 2, c.h = 10, c.w = 10, c.c = 32, c.bias = false;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, ForwardBackwardSingleChannelMultiplier) {
    DwCase c;
    c.c = 1, c.mult = 4;
    checkDepthwise(c);
}

TEST(DepthwiseConv2D, GradientsMultiplierOne) {
    DwCase c;
    Node node = dwNode(c, 4);
    checkGradients(node, {randomTensor({c.n, c.h, c.w, c.c}, 5)}, 4);
}

TEST(DepthwiseConv2D, GradientsMultiplierTwoStride2) {
    DwCase c;
    c.mult = 2, c.sh = 2, c.sw = 2, c.h = 8, c.w = 7;
    Node node = dwNode(c, 6);
    checkGradients(node, {randomTensor({c.n, c.h, c.w, c.c}, 7)}, 6);
}

TEST(DepthwiseConv2D, PrepareRejectsConvStyleWeights) {
    DwCase c;
    c.mult = 2;
    Node node = dwNode(c, 1);
    node.params["weights"] = Tensor({c.c * c.mult, c.kh, c.kw, 1}); // OHWI, not [1,kh,kw,C*m]
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{c.n, c.h, c.w, c.c}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("weights"), std::string::npos) << st.message();
}

TEST(DepthwiseConv2D, PrepareRejectsBadMultiplier) {
    DwCase c;
    Node node = dwNode(c, 1);
    node.attrs.set("depth_multiplier", 0);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{c.n, c.h, c.w, c.c}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("depth_multiplier"), std::string::npos) << st.message();
}

} // namespace
} // namespace qat::testing
