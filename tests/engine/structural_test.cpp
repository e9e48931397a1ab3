// Structural layers (Add, Concat, Reshape, Flatten, ZeroPad): forward against plain
// index loops, backward against finite differences, and prepare() rejecting bad shapes
// and attributes with a message that names the problem. Shapes carry the batch first;
// axis/shape/pads attributes are per sample (graph.h).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "qat/runtime.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node makeNode(OpType type, size_t inputs = 1) {
    Node node;
    node.name = "op";
    node.type = type;
    for (size_t i = 0; i < inputs; ++i)
        node.inputs.push_back("in" + std::to_string(i));
    return node;
}

// prepare() must fail and its message must contain `needle`.
void expectRejected(Node& node, const std::vector<Shape>& shapes, const std::string& needle) {
    auto layer = makeLayer(node, 0);
    ASSERT_TRUE(layer.isOk()) << layer.message();
    Status st = layer.value()->prepare(shapes);
    ASSERT_FALSE(st.isOk()) << "prepare accepted bad input";
    EXPECT_NE(st.message().find(needle), std::string::npos)
        << "message '" << st.message() << "' lacks '" << needle << "'";
}

void withThreads(int threads, const std::function<void()>& body) {
    const int before = numThreads();
    setNumThreads(threads);
    body();
    setNumThreads(before);
}

// Row-major offset of index `idx` in `shape`.
int64_t offset(const Shape& shape, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < shape.size(); ++d)
        off = off * shape[d] + idx[d];
    return off;
}

// Plain reference for Concat on a 4-D tensor along tensor axis `axis`.
std::vector<double> concatRef(const std::vector<Tensor>& src, size_t axis, const Shape& dstShape) {
    std::vector<double> out(static_cast<size_t>(shapeSize(dstShape)));
    int64_t base = 0;
    for (const Tensor& t : src) {
        const Shape& s = t.shape();
        for (int64_t a = 0; a < s[0]; ++a)
            for (int64_t b = 0; b < s[1]; ++b)
                for (int64_t c = 0; c < s[2]; ++c)
                    for (int64_t d = 0; d < s[3]; ++d) {
                        std::vector<int64_t> idx{a, b, c, d};
                        const double v = t[offset(s, idx)];
                        idx[axis] += base;
                        out[static_cast<size_t>(offset(dstShape, idx))] = v;
                    }
        base += s[axis];
    }
    return out;
}

// ---- Add ----------------------------------------------------------------------------

TEST(AddLayer, TwoInputsForwardAndGradient) {
    Node node = makeNode(OpType::Add, 2);
    std::vector<Tensor> src = {randomTensor({2, 3, 3, 4}, 1), randomTensor({2, 3, 3, 4}, 2)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape()});
    ASSERT_TRUE(layer);
    EXPECT_EQ(layer->dstShape(), src[0].shape());
    Tensor dst = runForward(*layer, src);
    std::vector<double> want;
    for (int64_t i = 0; i < dst.size(); ++i)
        want.push_back(static_cast<double>(src[0][i]) + src[1][i]);
    expectClose(dst, want);
    checkGradients(node, src);
}

TEST(AddLayer, ThreeInputsForwardAndGradient) {
    Node node = makeNode(OpType::Add, 3);
    const Shape shape{3, 10};
    std::vector<Tensor> src = {randomTensor(shape, 3), randomTensor(shape, 4),
                               randomTensor(shape, 5)};
    auto layer = prepareLayer(node, {shape, shape, shape});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, src);
    std::vector<double> want;
    for (int64_t i = 0; i < dst.size(); ++i)
        want.push_back(static_cast<double>(src[0][i]) + src[1][i] + src[2][i]);
    expectClose(dst, want);

    Tensor diffDst = randomTensor(shape, 6);
    auto diffSrc = runBackward(*layer, src, dst, diffDst);
    for (const Tensor& d : diffSrc)
        EXPECT_EQ(d.vec(), diffDst.vec());
    checkGradients(node, src);
}

// 4 inputs of 70,000 elements: parallel chunks, and blocks past the first L1 block.
TEST(AddLayer, LargeFourInputsOnTwoThreads) {
    Node node = makeNode(OpType::Add, 4);
    const Shape shape{7, 10000};
    std::vector<Tensor> src;
    for (uint32_t s = 0; s < 4; ++s)
        src.push_back(randomTensor(shape, 10 + s));
    withThreads(2, [&] {
        auto layer = prepareLayer(node, {shape, shape, shape, shape});
        ASSERT_TRUE(layer);
        Tensor dst = runForward(*layer, src);
        std::vector<double> want;
        for (int64_t i = 0; i < dst.size(); ++i)
            want.push_back(static_cast<double>(src[0][i]) + src[1][i] + src[2][i] + src[3][i]);
        expectClose(dst, want);
    });
}

TEST(AddLayer, BackwardSkipsMissingGradients) {
    Node node = makeNode(OpType::Add, 2);
    std::vector<Tensor> src = {randomTensor({2, 5}, 1), randomTensor({2, 5}, 2)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, src);
    Tensor diffDst = randomTensor({2, 5}, 3);
    auto diffSrc = runBackward(*layer, src, dst, diffDst, {false, true});
    EXPECT_TRUE(diffSrc[0].empty());
    EXPECT_EQ(diffSrc[1].vec(), diffDst.vec());
}

TEST(AddLayer, RejectsMismatchedShapes) {
    Node node = makeNode(OpType::Add, 2);
    expectRejected(node, {{2, 4, 4, 3}, {2, 4, 4, 2}}, "input 1 is [2x4x4x2]");
}

TEST(AddLayer, RejectsSingleInput) {
    Node node = makeNode(OpType::Add, 1);
    expectRejected(node, {{2, 4}}, "at least 2 inputs");
}

// ---- Concat -------------------------------------------------------------------------

TEST(ConcatLayer, ChannelAxisByDefault) {
    Node node = makeNode(OpType::Concat, 2);
    std::vector<Tensor> src = {randomTensor({2, 3, 4, 2}, 1), randomTensor({2, 3, 4, 5}, 2)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{2, 3, 4, 7}));
    Tensor dst = runForward(*layer, src);
    expectClose(dst, concatRef(src, 3, dst.shape()));
    checkGradients(node, src);
}

TEST(ConcatLayer, HeightAxisWithDifferentSizes) {
    Node node = makeNode(OpType::Concat, 3);
    node.attrs.set("axis", 0); // per-sample H = tensor axis 1
    std::vector<Tensor> src = {randomTensor({2, 2, 3, 4}, 1), randomTensor({2, 5, 3, 4}, 2),
                               randomTensor({2, 1, 3, 4}, 3)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape(), src[2].shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{2, 8, 3, 4}));
    Tensor dst = runForward(*layer, src);
    expectClose(dst, concatRef(src, 1, dst.shape()));
    checkGradients(node, src, 7, 40);
}

TEST(ConcatLayer, NegativeAxisCountsFromTheEnd) {
    Node node = makeNode(OpType::Concat, 2);
    node.attrs.set("axis", -2); // per-sample W = tensor axis 2
    std::vector<Tensor> src = {randomTensor({3, 2, 4, 3}, 4), randomTensor({3, 2, 1, 3}, 5)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{3, 2, 5, 3}));
    Tensor dst = runForward(*layer, src);
    expectClose(dst, concatRef(src, 2, dst.shape()));
    checkGradients(node, src);
}

TEST(ConcatLayer, LargeOnTwoThreads) {
    Node node = makeNode(OpType::Concat, 2);
    std::vector<Tensor> src = {randomTensor({4, 32, 32, 16}, 6), randomTensor({4, 32, 32, 24}, 7)};
    withThreads(2, [&] {
        auto layer = prepareLayer(node, {src[0].shape(), src[1].shape()});
        ASSERT_TRUE(layer);
        Tensor dst = runForward(*layer, src);
        expectClose(dst, concatRef(src, 3, dst.shape()));
        Tensor diffDst = randomTensor(dst.shape(), 8);
        auto diffSrc = runBackward(*layer, src, dst, diffDst);
        // Concatenating the input gradients gives back diffDst.
        expectClose(diffDst, concatRef(diffSrc, 3, dst.shape()));
    });
}

TEST(ConcatLayer, BackwardSkipsMissingGradients) {
    Node node = makeNode(OpType::Concat, 3);
    std::vector<Tensor> src = {randomTensor({2, 3}, 1), randomTensor({2, 2}, 2),
                               randomTensor({2, 4}, 3)};
    auto layer = prepareLayer(node, {src[0].shape(), src[1].shape(), src[2].shape()});
    ASSERT_TRUE(layer);
    Tensor dst = runForward(*layer, src);
    Tensor diffDst = randomTensor(dst.shape(), 4);
    auto diffSrc = runBackward(*layer, src, dst, diffDst, {true, false, true});
    EXPECT_TRUE(diffSrc[1].empty());
    for (int64_t n = 0; n < 2; ++n) {
        for (int64_t j = 0; j < 3; ++j)
            EXPECT_EQ(diffSrc[0][n * 3 + j], diffDst[n * 9 + j]);
        for (int64_t j = 0; j < 4; ++j)
            EXPECT_EQ(diffSrc[2][n * 4 + j], diffDst[n * 9 + 5 + j]);
    }
}

TEST(ConcatLayer, RejectsMismatchedShapes) {
    Node node = makeNode(OpType::Concat, 2);
    expectRejected(node, {{2, 4, 4, 3}, {2, 4, 5, 3}}, "input 1 has shape [2x4x5x3]");
}

TEST(ConcatLayer, RejectsDifferentRanks) {
    Node node = makeNode(OpType::Concat, 2);
    expectRejected(node, {{2, 4, 4, 3}, {2, 4, 3}}, "must match");
}

TEST(ConcatLayer, RejectsAxisOutOfRange) {
    Node node = makeNode(OpType::Concat, 2);
    node.attrs.set("axis", 3); // per-sample rank is 3: valid axes are -3..2
    expectRejected(node, {{2, 4, 4, 3}, {2, 4, 4, 3}}, "'axis' = 3 is out of range");
    node.attrs.set("axis", -4);
    expectRejected(node, {{2, 4, 4, 3}, {2, 4, 4, 3}}, "'axis' = -4 is out of range");
}

// ---- Reshape / Flatten ----------------------------------------------------------------

TEST(ReshapeLayer, InfersMinusOne) {
    Node node = makeNode(OpType::Reshape);
    node.attrs.set("shape", std::vector<int64_t>{-1, 6});
    Tensor x = randomTensor({2, 4, 3, 2}, 1);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{2, 4, 6}));
    Tensor dst = runForward(*layer, {x});
    EXPECT_EQ(dst.vec(), x.vec());
    checkGradients(node, {x});
}

TEST(ReshapeLayer, ExplicitShape) {
    Node node = makeNode(OpType::Reshape);
    node.attrs.set("shape", std::vector<int64_t>{3, 2, 4});
    Tensor x = randomTensor({3, 24}, 2);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{3, 3, 2, 4}));
    Tensor dst = runForward(*layer, {x});
    EXPECT_EQ(dst.vec(), x.vec());
    Tensor diffDst = randomTensor(dst.shape(), 3);
    auto diffSrc = runBackward(*layer, {x}, dst, diffDst);
    EXPECT_EQ(diffSrc[0].shape(), x.shape());
    EXPECT_EQ(diffSrc[0].vec(), diffDst.vec());
}

TEST(ReshapeLayer, RejectsBadShapes) {
    Node node = makeNode(OpType::Reshape);
    expectRejected(node, {{2, 12}}, "'shape'");
    node.attrs.set("shape", std::vector<int64_t>{5, 3});
    expectRejected(node, {{2, 12}}, "cannot reshape [12]");
    node.attrs.set("shape", std::vector<int64_t>{-1, 5});
    expectRejected(node, {{2, 12}}, "not a multiple of 5");
    node.attrs.set("shape", std::vector<int64_t>{-1, -1});
    expectRejected(node, {{2, 12}}, "more than one -1");
    node.attrs.set("shape", std::vector<int64_t>{0, 12});
    expectRejected(node, {{2, 12}}, "neither positive nor -1");
}

TEST(FlattenLayer, ForwardAndGradient) {
    Node node = makeNode(OpType::Flatten);
    Tensor x = randomTensor({2, 3, 4, 5}, 4);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{2, 60}));
    Tensor dst = runForward(*layer, {x});
    EXPECT_EQ(dst.vec(), x.vec());
    checkGradients(node, {x});
}

TEST(FlattenLayer, LargeOnTwoThreads) {
    Node node = makeNode(OpType::Flatten);
    Tensor x = randomTensor({8, 28, 28, 16}, 5);
    withThreads(2, [&] {
        auto layer = prepareLayer(node, {x.shape()});
        ASSERT_TRUE(layer);
        Tensor dst = runForward(*layer, {x});
        EXPECT_EQ(dst.vec(), x.vec());
        Tensor diffDst = randomTensor(dst.shape(), 6);
        auto diffSrc = runBackward(*layer, {x}, dst, diffDst);
        EXPECT_EQ(diffSrc[0].vec(), diffDst.vec());
    });
}

// ---- ZeroPad --------------------------------------------------------------------------

std::vector<double> zeroPadRef(const Tensor& x, int64_t top, int64_t left, const Shape& outShape) {
    std::vector<double> out(static_cast<size_t>(shapeSize(outShape)), 0.0);
    const Shape& s = x.shape();
    for (int64_t n = 0; n < s[0]; ++n)
        for (int64_t h = 0; h < s[1]; ++h)
            for (int64_t w = 0; w < s[2]; ++w)
                for (int64_t c = 0; c < s[3]; ++c)
                    out[static_cast<size_t>(offset(outShape, {n, h + top, w + left, c}))] =
                        x[offset(s, {n, h, w, c})];
    return out;
}

TEST(ZeroPadLayer, ForwardAndGradient) {
    Node node = makeNode(OpType::ZeroPad);
    node.attrs.set("pads", std::vector<int64_t>{1, 2, 0, 3}); // top, left, bottom, right
    Tensor x = randomTensor({2, 3, 4, 2}, 1);
    auto layer = prepareLayer(node, {x.shape()});
    ASSERT_TRUE(layer);
    ASSERT_EQ(layer->dstShape(), (Shape{2, 4, 9, 2}));
    Tensor dst(layer->dstShape(), std::nanf("")); // every element must be written
    layer->forward({&x}, dst, Phase::Train);
    expectClose(dst, zeroPadRef(x, 1, 2, dst.shape()));
    checkGradients(node, {x}, 7, 24);
}

TEST(ZeroPadLayer, LargeOnTwoThreads) {
    Node node = makeNode(OpType::ZeroPad);
    node.attrs.set("pads", std::vector<int64_t>{2, 1, 3, 2});
    Tensor x = randomTensor({4, 30, 30, 24}, 2);
    withThreads(2, [&] {
        auto layer = prepareLayer(node, {x.shape()});
        ASSERT_TRUE(layer);
        Tensor dst = runForward(*layer, {x});
        expectClose(dst, zeroPadRef(x, 2, 1, dst.shape()));
        // The gradient is diffDst cropped back to the input window.
        Tensor diffDst = randomTensor(dst.shape(), 3);
        auto diffSrc = runBackward(*layer, {x}, dst, diffDst);
        std::vector<double> want;
        const Shape& s = x.shape();
        for (int64_t n = 0; n < s[0]; ++n)
            for (int64_t h = 0; h < s[1]; ++h)
                for (int64_t w = 0; w < s[2]; ++w)
                    for (int64_t c = 0; c < s[3]; ++c)
                        want.push_back(diffDst[offset(dst.shape(), {n, h + 2, w + 1, c})]);
        expectClose(diffSrc[0], want);
    });
}

TEST(ZeroPadLayer, RejectsBadInput) {
    Node node = makeNode(OpType::ZeroPad);
    expectRejected(node, {{2, 4, 4, 3}}, "'pads'");
    node.attrs.set("pads", std::vector<int64_t>{1, 1});
    expectRejected(node, {{2, 4, 4, 3}}, "'pads' must be [top,left,bottom,right]");
    node.attrs.set("pads", std::vector<int64_t>{1, -1, 0, 0});
    expectRejected(node, {{2, 4, 4, 3}}, ">= 0");
    node.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    expectRejected(node, {{2, 16}}, "expects an [N,H,W,C] input, got [2x16]");
}

} // namespace
} // namespace qat::testing
