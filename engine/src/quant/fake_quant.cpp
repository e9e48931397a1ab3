// Quantization grid choice (with TFLite-style nudging), fake-quantization with its
// straight-through mask, and range estimators over a tensor of values.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "qat/quant.h"

namespace qat {

const char* estimatorName(RangeEstimator e) {
    switch (e) {
    case RangeEstimator::MinMax:
        return "minmax";
    case RangeEstimator::Ema:
        return "ema";
    case RangeEstimator::Percentile:
        return "percentile";
    case RangeEstimator::Mse:
        return "mse";
    }
    return "?";
}

Result<RangeEstimator> estimatorFromName(const std::string& name) {
    for (auto e : {RangeEstimator::MinMax, RangeEstimator::Ema, RangeEstimator::Percentile,
                   RangeEstimator::Mse})
        if (name == estimatorName(e))
            return e;
    return Status::error("unknown range estimator '" + name +
                         "' (use minmax, ema, percentile or mse)");
}

QuantParams chooseQuantParams(float lo, float hi, const QuantizerConfig& config) {
    QuantParams p;
    p.qmin = static_cast<int32_t>(config.qmin());
    p.qmax = static_cast<int32_t>(config.qmax());
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = 0.0f;
        hi = 0.0f;
    }
    lo = std::min(lo, 0.0f);
    hi = std::max(hi, 0.0f);
    constexpr float kMinScale = 1e-12f;
    if (config.symmetric) {
        const float absMax = std::max(-lo, hi);
        p.scale = absMax / static_cast<float>(p.qmax);
        p.zeroPoint = 0;
        if (!(p.scale > kMinScale))
            p.scale = 1.0f; // an all-zero tensor: any scale represents it exactly
        return p;
    }
    const float range = hi - lo;
    p.scale = range / static_cast<float>(p.qmax - p.qmin);
    if (!(p.scale > kMinScale)) {
        p.scale = 1.0f;
        p.zeroPoint = std::clamp<int32_t>(0, p.qmin, p.qmax);
        return p;
    }
    // Nudge: the zero point is the integer nearest to where 0.0 falls on the grid.
    const double zpReal = static_cast<double>(p.qmin) - static_cast<double>(lo) / p.scale;
    const double zp = std::round(zpReal);
    p.zeroPoint = static_cast<int32_t>(
        std::clamp(zp, static_cast<double>(p.qmin), static_cast<double>(p.qmax)));
    return p;
}

void fakeQuantize(const float* src, float* dst, int64_t outer, int64_t channels, int64_t inner,
                  const std::vector<QuantParams>& params, uint8_t* mask) {
    QAT_ASSERT(static_cast<int64_t>(params.size()) == channels);
    const int64_t total = outer * channels * inner;
    const bool parallel = total > (1 << 16);
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t c = 0; c < channels; ++c) {
            const QuantParams& p = params[static_cast<size_t>(c)];
            const float inv = 1.0f / p.scale;
            const float zp = static_cast<float>(p.zeroPoint);
            const float qlo = static_cast<float>(p.qmin);
            const float qhi = static_cast<float>(p.qmax);
            const float lo = p.min();
            const float hi = p.max();
            const int64_t base = (o * channels + c) * inner;
            const float* s = src + base;
            float* d = dst + base;
            if (mask) {
                uint8_t* m = mask + base;
                for (int64_t i = 0; i < inner; ++i)
                    m[i] = static_cast<uint8_t>(s[i] >= lo && s[i] <= hi);
            }
            for (int64_t i = 0; i < inner; ++i) {
                const float x = s[i] * inv;
                const float q = std::min(std::max(roundHalfAway(x) + zp, qlo), qhi);
                d[i] = (q - zp) * p.scale;
            }
        }
    }
}

AxisSplit splitAxis(const Shape& shape, int axis) {
    AxisSplit s;
    if (axis < 0) {
        s.inner = shapeSize(shape);
        return s;
    }
    QAT_ASSERT(static_cast<size_t>(axis) < shape.size());
    for (int i = 0; i < axis; ++i)
        s.outer *= shape[static_cast<size_t>(i)];
    s.channels = shape[static_cast<size_t>(axis)];
    for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i)
        s.inner *= shape[i];
    return s;
}

void channelMinMax(const float* src, const AxisSplit& split, std::vector<float>& lo,
                   std::vector<float>& hi) {
    lo.assign(static_cast<size_t>(split.channels), std::numeric_limits<float>::infinity());
    hi.assign(static_cast<size_t>(split.channels), -std::numeric_limits<float>::infinity());
    for (int64_t o = 0; o < split.outer; ++o)
        for (int64_t c = 0; c < split.channels; ++c) {
            const float* s = src + (o * split.channels + c) * split.inner;
            float mn = lo[static_cast<size_t>(c)], mx = hi[static_cast<size_t>(c)];
            for (int64_t i = 0; i < split.inner; ++i) {
                mn = std::min(mn, s[i]);
                mx = std::max(mx, s[i]);
            }
            lo[static_cast<size_t>(c)] = mn;
            hi[static_cast<size_t>(c)] = mx;
        }
}

namespace {

// A deterministic strided subsample, so estimators cost O(kMaxSamples) per call.
std::vector<float> subsample(const float* values, int64_t n) {
    constexpr int64_t kMaxSamples = 1 << 16;
    std::vector<float> out;
    const int64_t stride = std::max<int64_t>(1, n / kMaxSamples);
    out.reserve(static_cast<size_t>(std::min(n, kMaxSamples + 1)));
    for (int64_t i = 0; i < n; i += stride)
        out.push_back(values[i]);
    return out;
}

double fakeQuantMse(const std::vector<float>& v, const QuantParams& p) {
    double err = 0;
    for (float x : v) {
        const double d = static_cast<double>(fakeQuantValue(x, p)) - x;
        err += d * d;
    }
    return err / static_cast<double>(std::max<size_t>(1, v.size()));
}

} // namespace

std::pair<float, float> estimateRange(const float* values, int64_t n,
                                      const QuantizerConfig& config) {
    if (n <= 0)
        return {0.0f, 0.0f};
    const auto [mnIt, mxIt] = std::minmax_element(values, values + n);
    const float mn = *mnIt, mx = *mxIt;
    switch (config.estimator) {
    case RangeEstimator::MinMax:
    case RangeEstimator::Ema:
        return {mn, mx};
    case RangeEstimator::Percentile: {
        std::vector<float> v = subsample(values, n);
        const double keep = std::clamp(config.percentile, 50.0, 100.0) / 100.0;
        auto at = [&](double q) {
            const size_t k =
                static_cast<size_t>(std::llround(q * static_cast<double>(v.size() - 1)));
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
            return v[k];
        };
        if (config.symmetric) {
            for (float& x : v)
                x = std::fabs(x);
            const float a = at(keep);
            return {-a, a};
        }
        const float hi = at(keep);
        const float lo = at(1.0 - keep);
        return {std::min(lo, 0.0f), std::max(hi, 0.0f)};
    }
    case RangeEstimator::Mse: {
        const std::vector<float> v = subsample(values, n);
        // Shrink the min/max range by a factor alpha; keep the alpha with least error.
        constexpr int kSteps = 100;
        float bestLo = mn, bestHi = mx;
        double bestErr = std::numeric_limits<double>::infinity();
        for (int i = kSteps; i >= 1; --i) {
            const float alpha = static_cast<float>(i) / kSteps;
            const float lo = std::min(mn, 0.0f) * alpha;
            const float hi = std::max(mx, 0.0f) * alpha;
            const double err = fakeQuantMse(v, chooseQuantParams(lo, hi, config));
            if (err < bestErr) {
                bestErr = err;
                bestLo = lo;
                bestHi = hi;
            }
        }
        return {bestLo, bestHi};
    }
    }
    return {mn, mx};
}

double sqnrDb(const float* ref, const float* approx, int64_t n) {
    double signal = 0, noise = 0;
    for (int64_t i = 0; i < n; ++i) {
        signal += static_cast<double>(ref[i]) * ref[i];
        const double d = static_cast<double>(ref[i]) - approx[i];
        noise += d * d;
    }
    if (noise == 0)
        return std::numeric_limits<double>::infinity();
    if (signal == 0)
        return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

} // namespace qat
