// Quantization grid choice, nudging, fake-quant and its straight-through mask, range
// estimators and per-axis vs per-tensor error. Expected values are computed by hand from
// real = scale * (q - zero_point) and TFLite's nudging rule.
#include <gtest/gtest.h>

#include <cmath>

#include <random>

#include "qat/quant.h"
#include "quant/observer.h"

namespace qat {
namespace {

QuantizerConfig asym(int bits) {
    QuantizerConfig c;
    c.bits = bits;
    return c;
}

QuantizerConfig symNarrow(int bits) {
    QuantizerConfig c;
    c.bits = bits;
    c.symmetric = true;
    c.narrowRange = true;
    return c;
}

// Half away from zero on ties, exact just below them: 0.49999997f (the largest float below
// 0.5) rounds to 0, which floor(x + 0.5f) gets wrong (the float sum rounds up to 1.0).
TEST(RoundHalfAway, TiesAwayAndExactBelowTies) {
    const float belowHalf = std::nextafter(0.5f, 0.0f);
    EXPECT_EQ(belowHalf, 0.49999997f);
    EXPECT_EQ(roundHalfAway(belowHalf), 0.0f);
    EXPECT_EQ(roundHalfAway(-belowHalf), 0.0f);
    EXPECT_EQ(roundHalfAway(0.5f), 1.0f);
    EXPECT_EQ(roundHalfAway(-0.5f), -1.0f);
    EXPECT_EQ(roundHalfAway(2.5f), 3.0f);
    EXPECT_EQ(roundHalfAway(-2.5f), -3.0f);
    EXPECT_EQ(roundHalfAway(std::nextafter(2.5f, 0.0f)), 2.0f);
    EXPECT_EQ(roundHalfAway(8388609.0f), 8388609.0f); // odd integer above 2^23
    EXPECT_EQ(roundHalfAway(INFINITY), INFINITY);
    EXPECT_TRUE(std::isnan(roundHalfAway(NAN)));
    QuantParams p;
    p.scale = 1.0f;
    p.zeroPoint = -3;
    p.qmin = -128;
    p.qmax = 127;
    EXPECT_EQ(quantizeValue(belowHalf, p), -3);
    EXPECT_EQ(quantizeValue(0.5f, p), -2);
}

TEST(QuantParams, AsymmetricUnitRange) {
    QuantParams p = chooseQuantParams(0.0f, 1.0f, asym(8));
    EXPECT_FLOAT_EQ(p.scale, 1.0f / 255.0f);
    EXPECT_EQ(p.zeroPoint, -128);
    EXPECT_EQ(p.qmin, -128);
    EXPECT_EQ(p.qmax, 127);
}

TEST(QuantParams, AsymmetricNudgesZeroPointHalfAwayFromZero) {
    // [-1, 1]: scale 2/255, zero point from min = -128 + 127.5 = -0.5 -> -1.
    QuantParams p = chooseQuantParams(-1.0f, 1.0f, asym(8));
    EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
    EXPECT_EQ(p.zeroPoint, -1);
    EXPECT_EQ(fakeQuantValue(0.0f, p), 0.0f);
}

TEST(QuantParams, FourBitNudgedRangeRepresentsZero) {
    // [-0.3, 0.7] at 4 bits: qmin -8, qmax 7, scale 1/15, zp = -8 + 4.5 = -3.5 -> -4.
    QuantParams p = chooseQuantParams(-0.3f, 0.7f, asym(4));
    EXPECT_EQ(p.qmin, -8);
    EXPECT_EQ(p.qmax, 7);
    EXPECT_NEAR(p.scale, 1.0 / 15.0, 1e-7);
    EXPECT_EQ(p.zeroPoint, -4);
    EXPECT_NEAR(p.min(), -4.0 / 15.0, 1e-6);
    EXPECT_NEAR(p.max(), 11.0 / 15.0, 1e-6);
    EXPECT_EQ(fakeQuantValue(0.0f, p), 0.0f);
}

TEST(QuantParams, RangeWidenedToIncludeZero) {
    QuantParams pos = chooseQuantParams(0.1f, 1.0f, asym(8));
    EXPECT_EQ(pos.zeroPoint, -128);
    EXPECT_FLOAT_EQ(pos.scale, 1.0f / 255.0f);
    QuantParams neg = chooseQuantParams(-3.0f, -1.0f, asym(8));
    EXPECT_EQ(neg.zeroPoint, 127);
    EXPECT_FLOAT_EQ(neg.scale, 3.0f / 255.0f);
}

TEST(QuantParams, SymmetricNarrowRange) {
    QuantParams p = chooseQuantParams(-0.5f, 2.0f, symNarrow(8));
    EXPECT_EQ(p.zeroPoint, 0);
    EXPECT_EQ(p.qmin, -127);
    EXPECT_EQ(p.qmax, 127);
    EXPECT_FLOAT_EQ(p.scale, 2.0f / 127.0f);
    QuantParams p4 = chooseQuantParams(-0.7f, 0.35f, symNarrow(4));
    EXPECT_EQ(p4.qmin, -7);
    EXPECT_EQ(p4.qmax, 7);
    EXPECT_FLOAT_EQ(p4.scale, 0.1f);
}

TEST(QuantParams, SixteenBitSymmetric) {
    QuantizerConfig c;
    c.bits = 16;
    c.symmetric = true;
    QuantParams p = chooseQuantParams(-2.0f, 1.0f, c);
    EXPECT_EQ(p.qmin, -32768);
    EXPECT_EQ(p.qmax, 32767);
    EXPECT_EQ(p.zeroPoint, 0);
    EXPECT_FLOAT_EQ(p.scale, 2.0f / 32767.0f);
}

TEST(QuantParams, DegenerateRangeIsUsable) {
    QuantParams p = chooseQuantParams(0.0f, 0.0f, asym(8));
    EXPECT_GT(p.scale, 0.0f);
    EXPECT_EQ(fakeQuantValue(0.0f, p), 0.0f);
}

TEST(FakeQuant, RoundsHalfAwayFromZeroAndClamps) {
    QuantParams p;
    p.scale = 0.5f;
    p.zeroPoint = 0;
    p.qmin = -4;
    p.qmax = 3;
    const float src[] = {0.25f, -0.25f, 0.74f, 1.6f, -5.0f, 7.0f};
    // x/s = 0.5 -> 1; -0.5 -> -1; 1.48 -> 1; 3.2 -> 3; -10 -> -4 (clamped); 14 -> 3.
    const float want[] = {0.5f, -0.5f, 0.5f, 1.5f, -2.0f, 1.5f};
    const uint8_t wantMask[] = {1, 1, 1, 0, 0, 0};
    float dst[6];
    uint8_t mask[6];
    fakeQuantize(src, dst, 1, 1, 6, {p}, mask);
    for (int i = 0; i < 6; ++i) {
        EXPECT_FLOAT_EQ(dst[i], want[i]) << i;
        EXPECT_EQ(mask[i], wantMask[i]) << i;
    }
}

TEST(FakeQuant, PerAxisUsesTheRightAxis) {
    // Shape [2, 3] quantized along axis 1 (3 channels), values of very different size.
    Tensor w({2, 3}, std::vector<float>{0.01f, 1.0f, 100.0f, -0.02f, -2.0f, 50.0f});
    QuantizerConfig c = symNarrow(8);
    c.perAxis = true;
    auto params = weightQuantParams(w, 1, c);
    ASSERT_EQ(params.size(), 3u);
    EXPECT_FLOAT_EQ(params[0].scale, 0.02f / 127.0f);
    EXPECT_FLOAT_EQ(params[1].scale, 2.0f / 127.0f);
    EXPECT_FLOAT_EQ(params[2].scale, 100.0f / 127.0f);
    const AxisSplit s = splitAxis(w.shape(), 1);
    EXPECT_EQ(s.outer, 2);
    EXPECT_EQ(s.channels, 3);
    EXPECT_EQ(s.inner, 1);
}

TEST(FakeQuant, PerAxisBeatsPerTensorOnUnevenChannels) {
    // A conv weight [Cout=8, 3, 3, 4] whose output channels span four orders of magnitude.
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    Tensor w({8, 3, 3, 4});
    for (int64_t c = 0; c < 8; ++c)
        for (int64_t i = 0; i < 36; ++i)
            w[c * 36 + i] = nd(rng) * std::pow(10.0f, static_cast<float>(c % 4) - 2.0f);
    QuantizerConfig perTensor = symNarrow(8);
    QuantizerConfig perAxis = perTensor;
    perAxis.perAxis = true;
    auto sqnr = [&](const QuantizerConfig& c) {
        auto params = weightQuantParams(w, 0, c);
        const AxisSplit s = c.perAxis ? splitAxis(w.shape(), 0) : AxisSplit{1, 1, w.size()};
        Tensor q(w.shape());
        fakeQuantize(w.data(), q.data(), s.outer, s.channels, s.inner, params, nullptr);
        // Each output channel is its own signal downstream: report the worst channel.
        double worst = 1e9;
        for (int64_t ch = 0; ch < 8; ++ch)
            worst = std::min(worst, sqnrDb(w.data() + ch * 36, q.data() + ch * 36, 36));
        return worst;
    };
    const double tensorDb = sqnr(perTensor);
    const double axisDb = sqnr(perAxis);
    // Per tensor, the grid step is set by the largest channel and the smallest channels
    // round to zero (0 dB); per axis every channel gets its own step (~40 dB at 8 bits).
    EXPECT_GT(axisDb, tensorDb + 30.0) << "per-axis " << axisDb << " dB, per-tensor " << tensorDb;
    EXPECT_GT(axisDb, 30.0);
    EXPECT_LT(tensorDb, 5.0);
}

TEST(Observer, EmaConvergesToTheStableRange) {
    QuantizerConfig c = asym(8);
    c.estimator = RangeEstimator::Ema;
    c.emaDecay = 0.9;
    Observer obs(c);
    const float first[] = {-10.0f, 10.0f};
    obs.observe(first, 2);
    EXPECT_FLOAT_EQ(obs.lo(), -10.0f); // initialized with the first batch
    const float steady[] = {-1.0f, 2.0f};
    for (int i = 0; i < 200; ++i)
        obs.observe(steady, 2);
    EXPECT_NEAR(obs.lo(), -1.0f, 1e-3);
    EXPECT_NEAR(obs.hi(), 2.0f, 1e-3);
}

TEST(Observer, MinMaxAccumulatesAcrossBatches) {
    Observer obs(asym(8));
    const float a[] = {-1.0f, 0.5f};
    const float b[] = {-0.5f, 3.0f};
    obs.observe(a, 2);
    obs.observe(b, 2);
    EXPECT_FLOAT_EQ(obs.lo(), -1.0f);
    EXPECT_FLOAT_EQ(obs.hi(), 3.0f);
}

TEST(Observer, IgnoresNonFiniteBatches) {
    Observer obs(asym(8));
    const float good[] = {-1.0f, 1.0f};
    const float bad[] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
    obs.observe(good, 2);
    obs.observe(bad, 2);
    EXPECT_FLOAT_EQ(obs.hi(), 1.0f);
}

TEST(Estimators, PercentileClipsOutliers) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(20000);
    for (auto& x : v)
        x = nd(rng);
    v[123] = 1000.0f;
    QuantizerConfig c = asym(8);
    c.estimator = RangeEstimator::Percentile;
    c.percentile = 99.9;
    auto [lo, hi] = estimateRange(v.data(), static_cast<int64_t>(v.size()), c);
    EXPECT_LT(hi, 5.0f);
    EXPECT_GT(hi, 2.5f);
    EXPECT_LT(lo, -2.5f);
    QuantizerConfig mm = asym(8);
    EXPECT_FLOAT_EQ(estimateRange(v.data(), static_cast<int64_t>(v.size()), mm).second, 1000.0f);
}

TEST(Estimators, MseBeatsMinMaxOnHeavyTails) {
    std::mt19937 rng(11);
    std::exponential_distribution<float> ed(1.0f);
    std::bernoulli_distribution sign(0.5);
    std::vector<float> v(30000); // Laplace: heavier tails than a Gaussian, finite variance
    for (auto& x : v)
        x = sign(rng) ? ed(rng) : -ed(rng);
    auto mse = [&](const QuantizerConfig& c) {
        auto [lo, hi] = estimateRange(v.data(), static_cast<int64_t>(v.size()), c);
        QuantParams p = chooseQuantParams(lo, hi, c);
        double e = 0;
        for (float x : v)
            e += (fakeQuantValue(x, p) - x) * (fakeQuantValue(x, p) - x);
        return e / static_cast<double>(v.size());
    };
    QuantizerConfig minmax = symNarrow(4);
    QuantizerConfig opt = minmax;
    opt.estimator = RangeEstimator::Mse;
    const double eMinMax = mse(minmax);
    const double eOpt = mse(opt);
    EXPECT_LT(eOpt, 0.5 * eMinMax) << "mse-optimal " << eOpt << " vs min-max " << eMinMax;
}

TEST(Estimators, SqnrKnownAnswer) {
    const float ref[] = {1.0f, -1.0f};
    const float approx[] = {1.1f, -1.1f};
    // signal 2, noise 0.02 -> 10*log10(100) = 20 dB.
    EXPECT_NEAR(sqnrDb(ref, approx, 2), 20.0, 1e-4);
}

} // namespace
} // namespace qat
