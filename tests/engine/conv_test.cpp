// Conv2D (oneDNN): forward and backward against double-precision plain loops written
// from the TFLite definition (NHWC activations, OHWI weights, TF "same" padding with the
// odd pixel at the bottom/right), backward also against central finite differences.
// Cases cover stride, same/valid/explicit/asymmetric padding, dilation, groups, no bias,
// a single input channel (the first-layer path, which oneDNN runs in a blocked layout),
// odd sizes and batch > 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/onednn/introspection.h"
#include "qat/runtime.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

struct ConvCase {
    int64_t n = 2, h = 6, w = 6, cin = 3, cout = 4;
    int64_t kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1;
    std::string padding = "same";
    std::vector<int64_t> pads; // explicit: top, left, bottom, right
    int64_t groups = 1;
    bool bias = true;
};

// Padding as TensorFlow defines it, computed here independently of resolveGeometry().
struct Pads {
    int64_t top = 0, left = 0, bottom = 0, right = 0, outH = 0, outW = 0;
};

Pads padsFor(const ConvCase& c) {
    Pads p;
    const int64_t ekh = (c.kh - 1) * c.dh + 1, ekw = (c.kw - 1) * c.dw + 1;
    if (c.padding == "same") {
        p.outH = (c.h + c.sh - 1) / c.sh;
        p.outW = (c.w + c.sw - 1) / c.sw;
        const int64_t th = std::max<int64_t>(0, (p.outH - 1) * c.sh + ekh - c.h);
        const int64_t tw = std::max<int64_t>(0, (p.outW - 1) * c.sw + ekw - c.w);
        p.top = th / 2;
        p.bottom = th - p.top;
        p.left = tw / 2;
        p.right = tw - p.left;
        return p;
    }
    if (c.padding == "explicit") {
        p.top = c.pads[0];
        p.left = c.pads[1];
        p.bottom = c.pads[2];
        p.right = c.pads[3];
    }
    p.outH = (c.h + p.top + p.bottom - ekh) / c.sh + 1;
    p.outW = (c.w + p.left + p.right - ekw) / c.sw + 1;
    return p;
}

Node convNode(const ConvCase& c, uint32_t seed) {
    Node node;
    node.name = "conv";
    node.type = OpType::Conv2D;
    node.inputs = {"x"};
    node.attrs.set("filters", static_cast<int>(c.cout));
    node.attrs.set("kernel", std::vector<int64_t>{c.kh, c.kw});
    node.attrs.set("strides", std::vector<int64_t>{c.sh, c.sw});
    node.attrs.set("dilations", std::vector<int64_t>{c.dh, c.dw});
    node.attrs.set("padding", c.padding);
    if (!c.pads.empty())
        node.attrs.set("pads", c.pads);
    node.attrs.set("groups", static_cast<int>(c.groups));
    node.attrs.set("use_bias", c.bias ? 1 : 0);
    node.params["weights"] = randomTensor({c.cout, c.kh, c.kw, c.cin / c.groups}, seed);
    if (c.bias)
        node.params["bias"] = randomTensor({c.cout}, seed + 1);
    return node;
}

// Visits every (dst element, weight element, src element) triple of the convolution:
// fn(dstIndex, weightIndex, srcIndex).
template <typename Fn> void forEachTap(const ConvCase& c, const Pads& p, Fn&& fn) {
    const int64_t cinG = c.cin / c.groups, coutG = c.cout / c.groups;
    for (int64_t n = 0; n < c.n; ++n)
        for (int64_t y = 0; y < p.outH; ++y)
            for (int64_t x = 0; x < p.outW; ++x)
                for (int64_t o = 0; o < c.cout; ++o) {
                    const int64_t d = ((n * p.outH + y) * p.outW + x) * c.cout + o;
                    const int64_t g = o / coutG;
                    for (int64_t i = 0; i < c.kh; ++i)
                        for (int64_t j = 0; j < c.kw; ++j) {
                            const int64_t iy = y * c.sh - p.top + i * c.dh;
                            const int64_t ix = x * c.sw - p.left + j * c.dw;
                            if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w)
                                continue;
                            for (int64_t ci = 0; ci < cinG; ++ci) {
                                const int64_t s =
                                    ((n * c.h + iy) * c.w + ix) * c.cin + g * cinG + ci;
                                const int64_t wi = ((o * c.kh + i) * c.kw + j) * cinG + ci;
                                fn(d, wi, s);
                            }
                        }
                }
}

std::vector<double> convForwardRef(const ConvCase& c, const Tensor& src, const Node& node) {
    const Pads p = padsFor(c);
    std::vector<double> dst(static_cast<size_t>(c.n * p.outH * p.outW * c.cout), 0.0);
    if (c.bias)
        for (size_t d = 0; d < dst.size(); ++d)
            dst[d] = node.params.at("bias")[static_cast<int64_t>(d) % c.cout];
    const Tensor& w = node.params.at("weights");
    forEachTap(c, p, [&](int64_t d, int64_t wi, int64_t s) {
        dst[static_cast<size_t>(d)] += static_cast<double>(src[s]) * w[wi];
    });
    return dst;
}

struct ConvGradsRef {
    std::vector<double> diffSrc, diffWeights, diffBias;
};

ConvGradsRef convBackwardRef(const ConvCase& c, const Tensor& src, const Node& node,
                             const Tensor& diffDst) {
    const Pads p = padsFor(c);
    const Tensor& w = node.params.at("weights");
    ConvGradsRef g;
    g.diffSrc.assign(static_cast<size_t>(src.size()), 0.0);
    g.diffWeights.assign(static_cast<size_t>(w.size()), 0.0);
    g.diffBias.assign(static_cast<size_t>(c.cout), 0.0);
    for (int64_t d = 0; d < diffDst.size(); ++d)
        g.diffBias[static_cast<size_t>(d % c.cout)] += diffDst[d];
    forEachTap(c, p, [&](int64_t d, int64_t wi, int64_t s) {
        g.diffSrc[static_cast<size_t>(s)] += static_cast<double>(diffDst[d]) * w[wi];
        g.diffWeights[static_cast<size_t>(wi)] += static_cast<double>(diffDst[d]) * src[s];
    });
    return g;
}

// Forward parity, output shape, and exact backward parity (data, weights, bias).
void checkConv(const ConvCase& c, uint32_t seed = 11) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Node node = convNode(c, seed);
    const Tensor src = randomTensor({c.n, c.h, c.w, c.cin}, seed + 2);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Pads p = padsFor(c);
    ASSERT_EQ(layer->dstShape(), (Shape{c.n, p.outH, p.outW, c.cout}));
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, convForwardRef(c, src, node));

    const Tensor diffDst = randomTensor(dst.shape(), seed + 3);
    const std::vector<Tensor> diffSrc = runBackward(*layer, {src}, dst, diffDst);
    const ConvGradsRef ref = convBackwardRef(c, src, node, diffDst);
    expectClose(diffSrc[0], ref.diffSrc);
    auto params = layer->params();
    ASSERT_EQ(params.size(), c.bias ? 2u : 1u);
    expectClose(*params[0].grad, ref.diffWeights);
    if (c.bias)
        expectClose(*params[1].grad, ref.diffBias);
}

void checkConvGradients(const ConvCase& c, uint32_t seed = 5) {
    Node node = convNode(c, seed);
    checkGradients(node, {randomTensor({c.n, c.h, c.w, c.cin}, seed + 2)}, seed);
}

TEST(Conv2D, ForwardBackwardSame3x3) {
    checkConv({});
}

TEST(Conv2D, ForwardBackwardValidOddSizesStride) {
    ConvCase c;
    c.n = 3, c.h = 9, c.w = 7, c.cin = 5, c.cout = 7, c.kh = 3, c.kw = 2, c.sh = 2, c.sw = 3;
    c.padding = "valid";
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardSameStride2PadsBottomRight) {
    // 8 / 2 with a 3x3 kernel pads one row/column, all of it at the bottom/right.
    ConvCase c;
    c.h = 8, c.w = 8, c.sh = 2, c.sw = 2;
    ASSERT_EQ(padsFor(c).top, 0);
    ASSERT_EQ(padsFor(c).bottom, 1);
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardSameEvenKernel) {
    ConvCase c;
    c.h = 5, c.w = 6, c.kh = 2, c.kw = 4, c.cin = 2, c.cout = 3;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardSameOddSizeStride3) {
    ConvCase c;
    c.n = 1, c.h = 11, c.w = 10, c.kh = 5, c.kw = 3, c.sh = 3, c.sw = 2, c.cin = 4, c.cout = 5;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardExplicitAsymmetricPads) {
    ConvCase c;
    c.h = 7, c.w = 6, c.padding = "explicit", c.pads = {1, 0, 2, 1};
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardExplicitPadsWithUnusedTail) {
    // (6 + 1 + 0 - 3) / 2 + 1 = 3 rows: the last input row is never read.
    ConvCase c;
    c.h = 6, c.w = 6, c.sh = 2, c.sw = 2, c.padding = "explicit", c.pads = {1, 1, 0, 0};
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardDilationSame) {
    ConvCase c;
    c.h = 9, c.w = 8, c.dh = 2, c.dw = 3;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardDilationValidStride) {
    ConvCase c;
    c.h = 10, c.w = 9, c.dh = 2, c.dw = 2, c.sh = 2, c.sw = 1, c.padding = "valid";
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardGroups) {
    ConvCase c;
    c.cin = 6, c.cout = 4, c.groups = 2;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardGroupsStrideValid) {
    ConvCase c;
    c.h = 7, c.w = 9, c.cin = 8, c.cout = 12, c.groups = 4, c.sh = 2, c.sw = 2;
    c.padding = "valid";
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardNoBias) {
    ConvCase c;
    c.bias = false;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardSingleInputChannel) {
    // The cnn first layer: Cin = 1, where oneDNN's NHWC path is a reference kernel and the
    // layer runs a blocked dst with reorders.
    ConvCase c;
    c.n = 3, c.h = 10, c.w = 10, c.cin = 1, c.cout = 16, c.bias = false;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardSingleOutputChannel) {
    ConvCase c;
    c.cin = 5, c.cout = 1;
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardOneByOne) {
    ConvCase c;
    c.kh = 1, c.kw = 1, c.cin = 16, c.cout = 8, c.padding = "valid";
    checkConv(c);
}

TEST(Conv2D, ForwardBackwardCnnBnSecondLayerShape) {
    ConvCase c;
    c.n = 4, c.h = 14, c.w = 14, c.cin = 32, c.cout = 64, c.bias = false;
    checkConv(c);
}

TEST(Conv2D, GradientsSameStride1) {
    checkConvGradients({});
}

TEST(Conv2D, GradientsSameStride2Asymmetric) {
    ConvCase c;
    c.h = 7, c.w = 8, c.sh = 2, c.sw = 2;
    checkConvGradients(c);
}

TEST(Conv2D, GradientsExplicitDilation) {
    ConvCase c;
    c.h = 8, c.w = 7, c.dh = 2, c.dw = 2, c.padding = "explicit", c.pads = {2, 1, 0, 3};
    checkConvGradients(c);
}

TEST(Conv2D, GradientsGroups) {
    ConvCase c;
    c.cin = 4, c.cout = 6, c.groups = 2;
    checkConvGradients(c);
}

TEST(Conv2D, GradientsSingleInputChannelNoBias) {
    ConvCase c;
    c.cin = 1, c.cout = 8, c.bias = false;
    checkConvGradients(c);
}

TEST(Conv2D, BackwardWithoutDiffSrcStillComputesParameterGradients) {
    ConvCase c;
    Node node = convNode(c, 3);
    const Tensor src = randomTensor({c.n, c.h, c.w, c.cin}, 4);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {src});
    const Tensor diffDst = randomTensor(dst.shape(), 5);
    const auto skipped = runBackward(*layer, {src}, dst, diffDst, {false});
    EXPECT_TRUE(skipped[0].empty());
    const ConvGradsRef ref = convBackwardRef(c, src, node, diffDst);
    auto params = layer->params();
    expectClose(*params[0].grad, ref.diffWeights);
    expectClose(*params[1].grad, ref.diffBias);
}

TEST(Conv2D, GradientsAreOverwrittenNotAccumulated) {
    ConvCase c;
    Node node = convNode(c, 3);
    const Tensor src = randomTensor({c.n, c.h, c.w, c.cin}, 4);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    const Tensor dst = runForward(*layer, {src});
    const Tensor diffDst = randomTensor(dst.shape(), 5);
    auto params = layer->params();
    params[0].grad->fill(100.0f);
    params[1].grad->fill(100.0f);
    runBackward(*layer, {src}, dst, diffDst);
    runBackward(*layer, {src}, dst, diffDst);
    const ConvGradsRef ref = convBackwardRef(c, src, node, diffDst);
    expectClose(*params[0].grad, ref.diffWeights);
    expectClose(*params[1].grad, ref.diffBias);
}

TEST(Conv2D, ReadsUpdatedWeightsEveryForward) {
    // Weights are reordered into oneDNN's layout each step; an optimizer update in place
    // must be visible to the next forward and backward.
    ConvCase c;
    Node node = convNode(c, 8);
    const Tensor src = randomTensor({c.n, c.h, c.w, c.cin}, 9);
    auto layer = prepareLayer(node, {src.shape()});
    ASSERT_TRUE(layer);
    runForward(*layer, {src});
    Tensor& w = node.params.at("weights");
    for (int64_t i = 0; i < w.size(); ++i)
        w[i] = 0.5f * w[i] + 0.1f;
    const Tensor dst = runForward(*layer, {src});
    expectClose(dst, convForwardRef(c, src, node));
    const Tensor diffDst = randomTensor(dst.shape(), 10);
    const auto diffSrc = runBackward(*layer, {src}, dst, diffDst);
    expectClose(diffSrc[0], convBackwardRef(c, src, node, diffDst).diffSrc);
}

TEST(Conv2D, ReprepareAcrossBatchSizesKeepsResultsRight) {
    ConvCase c;
    Node node = convNode(c, 12);
    auto layer = prepareLayer(node, {{4, c.h, c.w, c.cin}});
    ASSERT_TRUE(layer);
    for (int64_t n : {4, 1, 3, 4, 1}) {
        SCOPED_TRACE("batch " + std::to_string(n));
        ConvCase cn = c;
        cn.n = n;
        ASSERT_TRUE(layer->prepare({{n, c.h, c.w, c.cin}}).isOk());
        const Tensor src = randomTensor({n, c.h, c.w, c.cin}, static_cast<uint32_t>(20 + n));
        expectClose(runForward(*layer, {src}), convForwardRef(cn, src, node));
    }
}

TEST(Conv2D, ParamsAreNamedByNodeAndBiasHasNoDecay) {
    ConvCase c;
    Node node = convNode(c, 1);
    auto layer = prepareLayer(node, {{c.n, c.h, c.w, c.cin}});
    ASSERT_TRUE(layer);
    auto params = layer->params();
    ASSERT_EQ(params.size(), 2u);
    EXPECT_EQ(params[0].name, "conv/weights");
    EXPECT_TRUE(params[0].decay);
    EXPECT_EQ(params[0].value, &node.params.at("weights"));
    EXPECT_EQ(params[0].grad->shape(), node.params.at("weights").shape());
    EXPECT_EQ(params[1].name, "conv/bias");
    EXPECT_FALSE(params[1].decay);
    EXPECT_EQ(params[1].grad->shape(), (Shape{c.cout}));
}

TEST(Conv2D, PrepareRejectsWrongWeightShape) {
    ConvCase c;
    Node node = convNode(c, 1);
    node.params["weights"] = Tensor({c.cout, c.kh, c.kw, c.cin + 1});
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{c.n, c.h, c.w, c.cin}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("'conv'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("weights"), std::string::npos) << st.message();
}

TEST(Conv2D, PrepareRejectsMissingBias) {
    ConvCase c;
    Node node = convNode(c, 1);
    node.params.erase("bias");
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    Status st = layer.value()->prepare({{c.n, c.h, c.w, c.cin}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("bias"), std::string::npos) << st.message();
}

TEST(Conv2D, PrepareRejectsBadInputRankAndGroups) {
    ConvCase c;
    Node node = convNode(c, 1);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    EXPECT_FALSE(layer.value()->prepare({{c.n, c.h * c.w * c.cin}}).isOk());
    ConvCase g;
    g.cin = 3, g.cout = 4, g.groups = 2; // 3 input channels do not split into 2 groups
    Node grouped = convNode(g, 1);
    grouped.params["weights"] = Tensor({4, 3, 3, 1});
    auto groupedLayer = makeLayer(grouped, 1);
    ASSERT_TRUE(groupedLayer.isOk());
    Status st = groupedLayer.value()->prepare({{g.n, g.h, g.w, g.cin}});
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("groups"), std::string::npos) << st.message();
}

TEST(Conv2D, PrepareRejectsKernelLargerThanInput) {
    ConvCase c;
    c.padding = "valid";
    Node node = convNode(c, 1);
    auto layer = makeLayer(node, 1);
    ASSERT_TRUE(layer.isOk());
    EXPECT_FALSE(layer.value()->prepare({{1, 2, 2, c.cin}}).isOk());
}

TEST(Conv2D, CnnBnShapesRunOptimizedKernels) {
    // The product model's convolutions must not fall back to oneDNN's reference loops
    // (an order of magnitude slower); the Cin=1 layer gets there through a blocked dst.
    ConvCase first;
    first.n = 64, first.h = 28, first.w = 28, first.cin = 1, first.cout = 32, first.bias = false;
    ConvCase second;
    second.n = 64, second.h = 14, second.w = 14, second.cin = 32, second.cout = 64;
    second.bias = false;
    for (const ConvCase& c : {first, second}) {
        Node node = convNode(c, 1);
        auto layer = prepareLayer(node, {{c.n, c.h, c.w, c.cin}});
        ASSERT_TRUE(layer);
        const std::string info = onednn::implementationInfo(*layer);
        EXPECT_NE(info.find("fwd="), std::string::npos) << info;
        EXPECT_EQ(info.find("=ref"), std::string::npos) << info;
    }
}

TEST(OneDnn, ReportsTheIsa) {
    const std::string isa = oneDnnIsa();
    EXPECT_FALSE(isa.empty());
    EXPECT_NE(isa, "unknown");
}

} // namespace
} // namespace qat::testing
