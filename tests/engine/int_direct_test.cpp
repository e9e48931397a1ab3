// The fast integer executor's direct kernels (engine/src/backend/onednn/
// int_direct_kernels.h) against the reference executor, bit for bit (not within 1 LSB):
// single-op models with random shapes, strides, dilations, paddings, depth multipliers,
// channel counts off the 16-lane grid, zero points, per-channel and per-tensor
// multipliers (shifts on both sides of 0), fused clamps, 8- and 4-bit weight grids, and
// a multiplier that makes every other accumulator a tie. Each case also checks that a
// direct kernel, not oneDNN, ran it (opKernels()); on a CPU without AVX-512 the executor
// keeps oneDNN and these tests skip. Cases the exactness checks refuse (a bias near
// 2^31) must fall back to oneDNN and stay within 1 LSB. MEAN and int8 MAX_POOL_2D (AVX-512
// or loop) are checked bit for bit on any CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "backend/onednn/int_direct_kernels.h"
#include "qat/int_fast.h"
#include "qat/int_model.h"

namespace qat {
namespace {

struct Case {
    IntOpKind kind = IntOpKind::DepthwiseConv2D;
    int64_t h = 7, w = 7, cin = 16, cout = 16; // FC: cin = K
    ConvGeometry g;
    int64_t mult = 1;
    int32_t zpIn = 0, zpOut = 0, actMin = -128, actMax = 127;
    int weightBits = 8;
    bool perChannel = true;
    bool ties = false;     // multiplier 2^30, shift -1: acc / 4, half the values ties
    bool hugeBias = false; // a bias the exactness checks refuse
    int64_t batch = 1;
};

IntTensor activation(const std::string& name, Shape shape, int32_t zp) {
    IntTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.scales = {1.0f}; // so that the float input (q - zp) quantizes back to q exactly
    t.zeroPoints = {zp};
    return t;
}

IntModel buildModel(const Case& c, std::mt19937& rng) {
    IntModel m;
    const bool fc = c.kind == IntOpKind::FullyConnected;
    const bool dw = c.kind == IntOpKind::DepthwiseConv2D;
    const Shape inShape = fc ? Shape{c.cin} : Shape{c.h, c.w, c.cin};
    const Shape outShape = fc ? Shape{c.cout} : Shape{c.g.outH, c.g.outW, c.cout};
    const int32_t wmax = (1 << (c.weightBits - 1)) - 1;
    std::uniform_int_distribution<int32_t> wdist(-wmax, wmax);
    std::uniform_int_distribution<int32_t> bdist(-3000, 3000);

    IntTensor w;
    w.name = "w";
    w.isConstant = true;
    w.bits = c.weightBits;
    w.qmin = -wmax;
    w.qmax = wmax;
    w.shape = fc   ? Shape{c.cout, c.cin}
              : dw ? Shape{1, c.g.kh, c.g.kw, c.cout}
                   : Shape{c.cout, c.g.kh, c.g.kw, c.cin};
    for (int64_t i = 0; i < shapeSize(w.shape); ++i)
        w.ints.push_back(wdist(rng));
    w.scales.assign(static_cast<size_t>(c.cout), 0.01f);
    w.zeroPoints.assign(static_cast<size_t>(c.cout), 0);
    w.axis = dw ? 3 : 0;
    IntTensor b;
    b.name = "b";
    b.type = IntDType::Int32;
    b.isConstant = true;
    b.shape = {c.cout};
    for (int64_t i = 0; i < c.cout; ++i)
        b.ints.push_back(c.hugeBias && i == 0 ? (1 << 30) + 12345 : bdist(rng));
    b.scales.assign(static_cast<size_t>(c.cout), 0.01f);
    b.zeroPoints.assign(static_cast<size_t>(c.cout), 0);

    m.tensors = {activation("in", inShape, c.zpIn), w, b, activation("out", outShape, c.zpOut)};
    IntOp op;
    op.kind = c.kind;
    op.node = "op";
    op.inputs = {0, 1, 2};
    op.outputs = {3};
    op.geom = c.g;
    op.depthMultiplier = c.mult;
    op.actMin = c.actMin;
    op.actMax = c.actMax;
    std::uniform_int_distribution<int32_t> mdist(1 << 30, std::numeric_limits<int32_t>::max());
    std::uniform_int_distribution<int> sdist(-14, 1);
    const int64_t n = c.perChannel ? c.cout : 1;
    for (int64_t i = 0; i < n; ++i) {
        op.multiplier.push_back(c.ties ? 1 << 30 : mdist(rng));
        op.shift.push_back(c.ties ? -1 : sdist(rng));
    }
    m.ops = {op};
    m.input = 0;
    m.output = 3;
    m.inputShape = inShape;
    return m;
}

// Runs `c` on random inputs through both executors; returns the fast executor's kernel.
std::string runCase(const Case& c, uint32_t seed, bool expectExact) {
    std::mt19937 rng(seed);
    const IntModel model = buildModel(c, rng);
    auto fast = IntFastExecutor::create(model, c.batch);
    EXPECT_TRUE(fast.isOk()) << fast.message();
    if (!fast)
        return {};
    Tensor x(withBatch(c.batch, model.inputShape));
    std::uniform_int_distribution<int32_t> qdist(-128, 127);
    for (int64_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(qdist(rng) - c.zpIn); // (q - zp) * scale 1
    IntReferenceExecutor ref(model);
    ref.run(x);
    fast.value()->run(x);
    const auto& want = ref.lastIntOutput();
    const auto& got = fast.value()->lastIntOutput();
    EXPECT_EQ(got.size(), want.size());
    int64_t mismatches = 0, worst = 0;
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        const int64_t d = std::abs(int64_t{got[i]} - want[i]);
        mismatches += d != 0;
        worst = std::max(worst, d);
    }
    const std::string kernel = fast.value()->opKernels().at(0);
    if (expectExact)
        EXPECT_EQ(mismatches, 0) << kernel << ": " << mismatches << " of " << want.size()
                                 << " values differ (worst " << worst << "), seed " << seed;
    else
        EXPECT_LE(worst, 1) << kernel << ", seed " << seed;
    return kernel;
}

bool isDirect(const std::string& kernel) {
    return kernel.rfind("direct", 0) == 0;
}

// Within the sizes the executor gives the direct kernels (above, oneDNN is faster).
bool directSize(const Case& c) {
    const bool fc = c.kind == IntOpKind::FullyConnected;
    const int64_t outputs = c.batch * (fc ? c.cout : c.g.outH * c.g.outW * c.cout);
    const int64_t window = fc ? c.cin : c.g.kh * c.g.kw * (c.kind == IntOpKind::Conv2D ? c.cin : 1);
    return outputs <= onednn::intk::kMaxDirectOutputs &&
           outputs * window <= onednn::intk::kMaxDirectMacs;
}

// 'same' (TF) padding for one axis: total pad split with the extra at the end.
void samePad(int64_t in, int64_t k, int64_t s, int64_t d, int64_t& out, int64_t& lo, int64_t& hi) {
    out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
    lo = total / 2;
    hi = total - lo;
}

ConvGeometry geometry(int64_t h, int64_t w, int64_t k, int64_t s, int64_t d, bool same) {
    ConvGeometry g;
    g.kh = g.kw = k;
    g.sh = g.sw = s;
    g.dh = g.dw = d;
    g.inH = h;
    g.inW = w;
    if (same) {
        samePad(h, k, s, d, g.outH, g.padTop, g.padBottom);
        samePad(w, k, s, d, g.outW, g.padLeft, g.padRight);
    } else {
        g.outH = (h - ((k - 1) * d + 1)) / s + 1;
        g.outW = (w - ((k - 1) * d + 1)) / s + 1;
    }
    return g;
}

bool haveDirectKernels() {
    Case c;
    c.g = geometry(c.h, c.w, 3, 1, 1, true);
    std::mt19937 rng(1);
    auto fast = IntFastExecutor::create(buildModel(c, rng), 1);
    return fast && isDirect(fast.value()->opKernels().at(0));
}

TEST(IntDirectKernels, DepthwiseMatchesReferenceBitForBit) {
    if (!haveDirectKernels())
        GTEST_SKIP() << "no AVX-512: the executor runs oneDNN only";
    std::mt19937 pick(7);
    int cases = 0;
    for (int i = 0; i < 200; ++i) {
        Case c;
        c.kind = IntOpKind::DepthwiseConv2D;
        c.h = 1 + static_cast<int64_t>(pick() % 12);
        c.w = 1 + static_cast<int64_t>(pick() % 12);
        c.cin = std::vector<int64_t>{1, 3, 16, 17, 24, 33, 64}[pick() % 7];
        c.mult = pick() % 4 == 0 ? 2 : 1;
        c.cout = c.cin * c.mult;
        const int64_t k = std::vector<int64_t>{1, 3, 3, 5}[pick() % 4];
        const int64_t s = 1 + static_cast<int64_t>(pick() % 2);
        const int64_t d = pick() % 5 == 0 ? 2 : 1;
        const bool same = pick() % 3 != 0;
        if (!same && (c.h < (k - 1) * d + 1 || c.w < (k - 1) * d + 1))
            continue;
        c.g = geometry(c.h, c.w, k, s, d, same);
        c.zpIn = static_cast<int32_t>(pick() % 256) - 128;
        c.zpOut = static_cast<int32_t>(pick() % 256) - 128;
        if (pick() % 2) { // a fused ReLU6-like clamp
            c.actMin = c.zpOut;
            c.actMax = std::min(127, c.zpOut + 60);
        }
        c.weightBits = pick() % 3 == 0 ? 4 : 8;
        c.perChannel = pick() % 4 != 0;
        c.ties = pick() % 6 == 0;
        c.batch = pick() % 3 == 0 ? 3 : 1;
        if (!directSize(c))
            continue;
        EXPECT_TRUE(isDirect(runCase(c, 100 + i, true))) << "case " << i;
        ++cases;
    }
    EXPECT_GE(cases, 100);
}

TEST(IntDirectKernels, SmallWindowConvMatchesReferenceBitForBit) {
    if (!haveDirectKernels())
        GTEST_SKIP() << "no AVX-512: the executor runs oneDNN only";
    std::mt19937 pick(11);
    for (int i = 0; i < 60; ++i) {
        Case c;
        c.kind = IntOpKind::Conv2D;
        c.h = 2 + static_cast<int64_t>(pick() % 14);
        c.w = 2 + static_cast<int64_t>(pick() % 14);
        c.cin = 1 + static_cast<int64_t>(pick() % 4);
        c.cout = std::vector<int64_t>{1, 8, 16, 20, 32}[pick() % 5];
        const int64_t k = c.cin > 2 ? 3 : std::vector<int64_t>{1, 3, 5}[pick() % 3];
        c.g = geometry(c.h, c.w, k, 1 + static_cast<int64_t>(pick() % 2), 1, true);
        c.zpIn = static_cast<int32_t>(pick() % 256) - 128;
        c.zpOut = static_cast<int32_t>(pick() % 256) - 128;
        c.perChannel = pick() % 3 != 0;
        c.ties = pick() % 6 == 0;
        c.weightBits = pick() % 3 == 0 ? 4 : 8;
        if (directSize(c)) {
            EXPECT_TRUE(isDirect(runCase(c, 500 + i, true))) << "case " << i;
        }
    }
}

TEST(IntDirectKernels, FullyConnectedMatchesReferenceBitForBit) {
    if (!haveDirectKernels())
        GTEST_SKIP() << "no AVX-512: the executor runs oneDNN only";
    std::mt19937 pick(13);
    for (int i = 0; i < 40; ++i) {
        Case c;
        c.kind = IntOpKind::FullyConnected;
        c.cin = std::vector<int64_t>{1, 7, 64, 128, 300}[pick() % 5];
        c.cout = std::vector<int64_t>{1, 10, 16, 17, 40}[pick() % 5];
        c.zpIn = static_cast<int32_t>(pick() % 256) - 128;
        c.zpOut = static_cast<int32_t>(pick() % 256) - 128;
        c.perChannel = pick() % 2 != 0;
        c.ties = pick() % 5 == 0;
        c.batch = std::vector<int64_t>{1, 2, 8}[pick() % 3];
        ASSERT_TRUE(directSize(c));
        EXPECT_TRUE(isDirect(runCase(c, 900 + i, true))) << "case " << i;
    }
}

// The exactness checks refuse a bias near 2^31 (the int32 accumulator could overflow):
// that op runs on oneDNN, within its usual 1 LSB.
TEST(IntDirectKernels, RefusedCasesFallBackToOneDnn) {
    if (!haveDirectKernels())
        GTEST_SKIP() << "no AVX-512: the executor runs oneDNN only";
    Case c;
    c.g = geometry(c.h, c.w, 3, 1, 1, true);
    c.hugeBias = true;
    EXPECT_FALSE(isDirect(runCase(c, 3, false)));
    // Above kMaxDirectOutputs: oneDNN's kernels are faster there.
    Case big;
    big.h = big.w = 32;
    big.cin = big.cout = 16;
    big.g = geometry(32, 32, 3, 1, 1, true);
    EXPECT_FALSE(isDirect(runCase(big, 4, false)));
}

// A model of `op` alone, reading tensor 0 and writing tensor 1.
IntModel singleOp(IntOp op, IntTensor in, IntTensor out) {
    IntModel m;
    m.inputShape = in.shape;
    m.tensors = {std::move(in), std::move(out)};
    op.inputs = {0};
    op.outputs = {1};
    m.ops = {std::move(op)};
    m.input = 0;
    m.output = 1;
    return m;
}

// Random int8 inputs (drawn from `rng`) through the fast and the reference executor:
// equal integer outputs.
void expectSameAsReference(const IntModel& m, int64_t batch, std::mt19937& rng,
                           const std::string& label) {
    auto fast = IntFastExecutor::create(m, batch);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    Tensor x(withBatch(batch, m.inputShape));
    std::uniform_int_distribution<int32_t> qdist(-128, 127);
    const int32_t zpIn = m.tensors[0].zeroPoints[0];
    for (int64_t k = 0; k < x.size(); ++k)
        x[k] = static_cast<float>(qdist(rng) - zpIn); // (q - zp) * scale 1
    IntReferenceExecutor ref(m);
    ref.run(x);
    fast.value()->run(x);
    EXPECT_EQ(fast.value()->lastIntOutput(), ref.lastIntOutput()) << label;
}

// MEAN (global average pool) through the AVX-512 path of the loop kernel, bit for bit.
TEST(IntDirectKernels, MeanMatchesReferenceBitForBit) {
    std::mt19937 pick(17);
    for (int i = 0; i < 40; ++i) {
        const int64_t h = 1 + static_cast<int64_t>(pick() % 9), w = 1 + pick() % 9;
        const int64_t ch = std::vector<int64_t>{1, 5, 16, 33, 130}[pick() % 5];
        IntTensor in = activation("in", {h, w, ch}, static_cast<int32_t>(pick() % 256) - 128);
        IntTensor out = activation("out", {ch}, static_cast<int32_t>(pick() % 256) - 128);
        IntOp op;
        op.kind = IntOpKind::Mean;
        op.node = "gap";
        op.multiplier = {static_cast<int32_t>((1u << 30) + pick() % (1u << 30))};
        op.shift = {static_cast<int>(pick() % 4) - 2};
        if (pick() % 4 == 0) {
            op.multiplier = {1 << 30};
            op.shift = {1}; // exactly 1: the division's half-way cases
        }
        const IntModel m = singleOp(op, in, out);
        const int64_t batch = pick() % 2 ? 1 : 4;
        expectSameAsReference(m, batch, pick, "case " + std::to_string(i));
    }
}

// int8 MAX_POOL_2D (AVX-512 when present, else the loop), bit for bit: random windows,
// strides, 'same' padding (windows partly outside the image), channel counts around the
// 64-byte vector, a fused clamp.
TEST(IntDirectKernels, MaxPoolMatchesReferenceBitForBit) {
    std::mt19937 pick(19);
    for (int i = 0; i < 60; ++i) {
        const int64_t h = 1 + static_cast<int64_t>(pick() % 11), w = 1 + pick() % 11;
        const int64_t ch = std::vector<int64_t>{1, 16, 32, 63, 64, 65, 130}[pick() % 7];
        const int64_t k = 1 + static_cast<int64_t>(pick() % 3), s = 1 + pick() % 2;
        const bool same = pick() % 2 != 0;
        if (!same && (h < k || w < k))
            continue;
        const ConvGeometry g = geometry(h, w, k, s, 1, same);
        const int32_t zp = static_cast<int32_t>(pick() % 256) - 128;
        IntOp op;
        op.kind = IntOpKind::MaxPool;
        op.node = "pool";
        op.geom = g;
        if (pick() % 2) {
            op.actMin = zp;
            op.actMax = std::min(127, zp + 50);
        }
        const IntModel m = singleOp(op, activation("in", {h, w, ch}, zp),
                                    activation("out", {g.outH, g.outW, ch}, zp));
        const int64_t batch = pick() % 2 ? 1 : 3;
        expectSameAsReference(m, batch, pick, "case " + std::to_string(i));
    }
}

} // namespace
} // namespace qat
