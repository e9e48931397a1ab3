// Quantization semantics shared by fake-quant training, the integer model and export.
//   real = scale * (q - zeroPoint),  q in [qmin, qmax]
// Signed integer grids: bits b gives [-2^(b-1), 2^(b-1)-1]; narrow range drops the
// lowest code (int8 weights: [-127, 127]). Symmetric quantizers have zeroPoint 0;
// asymmetric ranges are widened to include 0 and nudged so 0.0 is exactly representable
// (TFLite / tfmot behaviour). Rounding is half away from zero, as TFLite's QUANTIZE.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

// Serialized by name; append only.
enum class RangeEstimator { MinMax, Ema, Percentile, Mse };
const char* estimatorName(RangeEstimator e);
Result<RangeEstimator> estimatorFromName(const std::string& name);

struct QuantizerConfig {
    int bits = 8;
    bool symmetric = false;
    bool narrowRange = false;
    bool perAxis = false; // weights only
    RangeEstimator estimator = RangeEstimator::MinMax;
    double emaDecay = 0.999;
    double percentile = 99.99; // for Percentile: keep this percentage of |values| / each tail

    int64_t qmin() const { return -(int64_t{1} << (bits - 1)) + (narrowRange ? 1 : 0); }
    int64_t qmax() const { return (int64_t{1} << (bits - 1)) - 1; }
    bool operator==(const QuantizerConfig&) const = default;
};

// Parameters of one quantization grid (one channel, or the whole tensor).
struct QuantParams {
    float scale = 1.0f;
    int32_t zeroPoint = 0;
    int32_t qmin = -128;
    int32_t qmax = 127;
    float min() const { return scale * static_cast<float>(qmin - zeroPoint); }
    float max() const { return scale * static_cast<float>(qmax - zeroPoint); }
    bool operator==(const QuantParams&) const = default;
};

// Grid parameters for an observed range [lo, hi] under `config` (nudged, 0 exact).
QuantParams chooseQuantParams(float lo, float hi, const QuantizerConfig& config);

// Round half away from zero (TFLite's TfLiteRound), exact for every float, as cheap as
// floor: floor(|x| + 0.49999997f) equals std::round(|x|) on every non-negative float
// (checked exhaustively). Not floor(|x| + 0.5f): for |x| = 0.49999997f that sum rounds to
// 1.0 and gives 1 instead of 0. inf and NaN pass through.
inline float roundHalfAway(float x) {
    return std::copysign(std::floor(std::fabs(x) + 0.49999997f), x);
}

inline int32_t quantizeValue(float x, const QuantParams& p) {
    float q = roundHalfAway(x / p.scale) + static_cast<float>(p.zeroPoint);
    q = std::min(std::max(q, static_cast<float>(p.qmin)), static_cast<float>(p.qmax));
    return static_cast<int32_t>(q);
}
inline float dequantizeValue(int32_t q, const QuantParams& p) {
    return p.scale * static_cast<float>(q - p.zeroPoint);
}
inline float fakeQuantValue(float x, const QuantParams& p) {
    return dequantizeValue(quantizeValue(x, p), p);
}

// Fake-quantizes n values laid out as [outer, channels, inner] with per-channel params
// (params.size() == channels, or 1 for per-tensor with channels == 1). When `mask` is
// non-null it receives 1 where the straight-through gradient passes (x inside
// [min, max] of its grid) and 0 where the value was clipped.
void fakeQuantize(const float* src, float* dst, int64_t outer, int64_t channels, int64_t inner,
                  const std::vector<QuantParams>& params, uint8_t* mask);

// Axis layout helper: how a weight tensor splits around its quantization axis.
struct AxisSplit {
    int64_t outer = 1, channels = 1, inner = 1;
};
AxisSplit splitAxis(const Shape& shape, int axis);

// Per-channel (or whole-tensor) min/max along an AxisSplit.
void channelMinMax(const float* src, const AxisSplit& split, std::vector<float>& lo,
                   std::vector<float>& hi);

// Range choice for a tensor of values by an estimator that looks at the values
// themselves (weights, or one calibration batch): MinMax/Ema -> min/max; Percentile ->
// the given percentile of each tail; Mse -> the clipping range minimizing the
// fake-quant mean squared error. Returns [lo, hi].
std::pair<float, float> estimateRange(const float* values, int64_t n,
                                      const QuantizerConfig& config);

// Signal-to-quantization-noise ratio in dB of `approx` against `ref`.
double sqnrDb(const float* ref, const float* approx, int64_t n);

} // namespace qat
