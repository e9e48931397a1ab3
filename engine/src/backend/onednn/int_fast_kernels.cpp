// Loop kernels of the fast integer executor (see int_fast_kernels.h). Every formula is
// the reference executor's (int_reference.cpp), written so that the compiler vectorizes
// the element-wise loops; loops over large batches split across OpenMP threads (small
// ones never enter an OpenMP region: batch-1 latency).
#include "backend/onednn/int_fast_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/onednn/int_direct_kernels.h"

namespace qat::onednn::intk {

namespace {

// Below this many elements a loop runs on the calling thread: waking the OpenMP team
// costs more than the work (batch-1 latency).
constexpr int64_t kParallelMin = int64_t{1} << 16;
// Per-channel accumulators live on the stack in blocks of this many channels, so that
// run() never allocates.
constexpr int64_t kChannelBlock = 256;

// Runs body(i) for i in [0, n): on the calling thread when `work` is below
// kParallelMin, without entering an OpenMP region at all (even a region whose if()
// clause is false costs a team setup per call, about as much as a small loop's work),
// split across OpenMP threads otherwise.
template <typename Body> inline void forEach(int64_t n, int64_t work, const Body& body) {
    if (work < kParallelMin) {
        // A local copy: its captures live in registers, not behind a pointer the
        // loop's stores might alias, so the loop vectorizes.
        const Body local = body;
        for (int64_t i = 0; i < n; ++i)
            local(i);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        body(i);
}

inline int idx(int8_t q) {
    return static_cast<int>(q) + 128;
}

inline float roundAway(float x) {
    return std::copysign(std::floor(std::fabs(x) + 0.5f), x);
}

float fusedFloat(FusedActivation a, float x) {
    if (a == FusedActivation::Relu)
        return std::max(0.0f, x);
    if (a == FusedActivation::Relu6)
        return std::min(6.0f, std::max(0.0f, x));
    return x;
}

} // namespace

void lookup(const int8_t* src, int8_t* dst, int64_t n, const int8_t* table) {
    forEach(n, n, [=](int64_t i) { dst[i] = table[idx(src[i])]; });
}

void lookupFloat(const int8_t* src, float* dst, int64_t n, const float* table) {
    forEach(n, n, [=](int64_t i) { dst[i] = table[idx(src[i])]; });
}

namespace {

// quantizeValue on [begin, end), written so that the loop vectorizes (std::floor and a
// third min/max keep GCC from it): clamping x / scale to [lo, hi] = [qmin - zp,
// qmax - zp] (integers) before rounding equals clamping after, as rounding is monotonic
// and leaves integers alone; then roundHalfAway (quant.h) and the zero point give the
// integer (a -0 result plus the zero point is the same integer). roundHalfAway's floor
// is written as the int32 conversion, which truncates: the same on |v| + 0.49999997f
// >= 0 (below 2^31 after the clamp), and GCC vectorizes it where it leaves std::floor
// scalar (measured: 784 inputs ~1 us scalar, a step of its own at batch 1).
void quantizeRange(const float* __restrict src, int8_t* __restrict dst, int64_t begin, int64_t end,
                   float scale, float zp, float lo, float hi) {
    for (int64_t i = begin; i < end; ++i) {
        const float v = std::min(std::max(src[i] / scale, lo), hi);
        const auto floorAbs = static_cast<float>(static_cast<int32_t>(std::fabs(v) + 0.49999997f));
        dst[i] = static_cast<int8_t>(static_cast<int32_t>(std::copysign(floorAbs, v) + zp));
    }
}

} // namespace

void quantize(const float* src, int8_t* dst, int64_t n, const QuantParams& p) {
    const float scale = p.scale, zp = static_cast<float>(p.zeroPoint);
    const float lo = static_cast<float>(p.qmin - p.zeroPoint);
    const float hi = static_cast<float>(p.qmax - p.zeroPoint);
    constexpr int64_t kBlock = int64_t{1} << 14;
    forEach((n + kBlock - 1) / kBlock, n, [=](int64_t b) {
        quantizeRange(src, dst, b * kBlock, std::min(n, (b + 1) * kBlock), scale, zp, lo, hi);
    });
}

void addTable(const int8_t* a, const int8_t* b, int8_t* dst, int64_t n, const int8_t* table) {
    forEach(n, n, [=](int64_t i) { dst[i] = table[idx(a[i]) * 256 + idx(b[i])]; });
}

void mean(const int8_t* src, int8_t* dst, int64_t batch, int64_t hw, int64_t c,
          const MeanParams& p) {
    // The parameters in registers: dst may alias p as far as the compiler knows.
    const int64_t zpIn = p.zpIn, multiplier = p.multiplier;
    const int32_t zpOut = p.zpOut, actMin = p.actMin, actMax = p.actMax;
    const int shift = p.shift, total = 31 - shift;
    // multiplyByQuantizedMultiplier (single rounding) in int64 arithmetic when that is
    // exact: |q|, |zpIn| <= 128 give |acc| <= 256 * hw < 2^31, so with 1 <= total <= 62
    // acc * multiplier plus the rounding term stays below 2^63. The rounded division by
    // hw then goes through double: |v +- hw/2| < 2^53, so truncating the correctly
    // rounded quotient is the integer quotient. Both avoid a call and a 64-bit idiv per
    // channel.
    const bool fast =
        hw <= (int64_t{1} << 22) && zpIn >= -128 && zpIn <= 128 && total >= 1 && total <= 62;
    const int64_t round = fast ? int64_t{1} << (total - 1) : 0;
    const double hwD = static_cast<double>(hw);
    forEach(batch, batch * hw * c, [&](int64_t n) {
        const int8_t* s = src + n * hw * c;
        if (fast && meanAvx512(s, hw, c, p, dst + n * c))
            return;
        for (int64_t c0 = 0; c0 < c; c0 += kChannelBlock) {
            const int64_t cb = std::min(kChannelBlock, c - c0);
            // Column sums in int32: |q| <= 128, so hw up to 16M pixels cannot overflow.
            int32_t sum[kChannelBlock] = {};
            for (int64_t k = 0; k < hw; ++k)
                for (int64_t ch = 0; ch < cb; ++ch)
                    sum[ch] += s[k * c + c0 + ch];
            for (int64_t ch = 0; ch < cb; ++ch) {
                const int64_t acc = static_cast<int64_t>(sum[ch]) - zpIn * hw;
                int64_t v;
                if (fast) {
                    const int64_t r = (acc * multiplier + round) >> total;
                    v = std::clamp<int64_t>(r, std::numeric_limits<int32_t>::min(),
                                            std::numeric_limits<int32_t>::max());
                    v = static_cast<int64_t>(static_cast<double>(v > 0 ? v + hw / 2 : v - hw / 2) /
                                             hwD);
                } else {
                    v = multiplyByQuantizedMultiplier(acc, p.multiplier, shift, Rounding::Single);
                    v = v > 0 ? (v + hw / 2) / hw : (v - hw / 2) / hw;
                }
                dst[n * c + c0 + ch] = static_cast<int8_t>(
                    std::clamp(static_cast<int32_t>(v) + zpOut, actMin, actMax));
            }
        }
    });
}

void softmax(const int8_t* src, int8_t* dst, int64_t rows, int64_t k,
             const std::vector<float>& expTable, const QuantParams& out) {
    for (int64_t r = 0; r < rows; ++r) {
        const int8_t* row = src + r * k;
        const int32_t mx = *std::max_element(row, row + k);
        // Summed in order, in float, exactly as the reference does.
        float sum = 0.0f;
        for (int64_t j = 0; j < k; ++j)
            sum += expTable[static_cast<size_t>(mx - row[j])];
        const float inv = 1.0f / (sum * out.scale);
        for (int64_t j = 0; j < k; ++j) {
            const float q = roundAway(expTable[static_cast<size_t>(mx - row[j])] * inv);
            dst[r * k + j] = static_cast<int8_t>(
                std::clamp(static_cast<int32_t>(q) + out.zeroPoint, out.qmin, out.qmax));
        }
    }
}

namespace {

// The window walk shared by the average pools: sums each output pixel's window per
// channel (in the reference's ky, kx order) in blocks of kChannelBlock channels on the
// stack, then hands the sums and the count of valid input pixels to finish().
template <typename Src, typename Acc, typename Finish>
void avgPool(const Src* src, int64_t batch, int64_t h, int64_t w, int64_t c, const ConvGeometry& g,
             Finish&& finish) {
    const int64_t rows = batch * g.outH;
    forEach(rows, rows * g.outW * c * g.kh * g.kw, [&](int64_t r) {
        const int64_t n = r / g.outH, oy = r % g.outH;
        for (int64_t ox = 0; ox < g.outW; ++ox)
            for (int64_t c0 = 0; c0 < c; c0 += kChannelBlock) {
                const int64_t cb = std::min(kChannelBlock, c - c0);
                Acc acc[kChannelBlock] = {};
                int64_t count = 0;
                for (int64_t ky = 0; ky < g.kh; ++ky) {
                    const int64_t iy = oy * g.sh - g.padTop + ky;
                    if (iy < 0 || iy >= h)
                        continue;
                    for (int64_t kx = 0; kx < g.kw; ++kx) {
                        const int64_t ix = ox * g.sw - g.padLeft + kx;
                        if (ix < 0 || ix >= w)
                            continue;
                        ++count;
                        const Src* s = src + ((n * h + iy) * w + ix) * c + c0;
                        for (int64_t ch = 0; ch < cb; ++ch)
                            acc[ch] += static_cast<Acc>(s[ch]);
                    }
                }
                // A window entirely in the padding has no pixels; it averages to 0.
                finish(((n * g.outH + oy) * g.outW + ox) * c + c0, acc, cb,
                       std::max<int64_t>(count, 1));
            }
    });
}

} // namespace

void avgPoolInt8(const int8_t* src, int8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                 const ConvGeometry& g, int32_t actMin, int32_t actMax) {
    avgPool<int8_t, int64_t>(
        src, batch, h, w, c, g, [&](int64_t d, const int64_t* acc, int64_t cb, int64_t count) {
            for (int64_t ch = 0; ch < cb; ++ch) {
                const int64_t a = acc[ch];
                const int64_t v = a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
                dst[d + ch] =
                    static_cast<int8_t>(std::clamp(static_cast<int32_t>(v), actMin, actMax));
            }
        });
}

void maxPoolInt8(const int8_t* src, int8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                 const ConvGeometry& g, int32_t actMin, int32_t actMax) {
    const int64_t inSize = h * w * c, outSize = g.outH * g.outW * c;
    forEach(batch, batch * outSize * g.kh * g.kw, [=, &g](int64_t n) {
        const bool done =
            maxPoolAvx512(src + n * inSize, dst + n * outSize, h, w, c, g, actMin, actMax);
        QAT_ASSERT(done); // the executor calls this only when directKernelsAvailable()
    });
}

void avgPoolFloat(const float* src, float* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                  const ConvGeometry& g) {
    avgPool<float, double>(
        src, batch, h, w, c, g, [&](int64_t d, const double* acc, int64_t cb, int64_t count) {
            for (int64_t ch = 0; ch < cb; ++ch)
                dst[d + ch] = static_cast<float>(acc[ch] / static_cast<double>(count));
        });
}

void concat(const std::vector<const uint8_t*>& srcs, const std::vector<int64_t>& rowBytes,
            uint8_t* dst, int64_t rows) {
    int64_t outRow = 0;
    for (int64_t b : rowBytes)
        outRow += b;
    forEach(rows, rows * outRow / 4, [&](int64_t r) {
        uint8_t* d = dst + r * outRow;
        for (size_t k = 0; k < srcs.size(); ++k) {
            std::memcpy(d, srcs[k] + r * rowBytes[k], static_cast<size_t>(rowBytes[k]));
            d += rowBytes[k];
        }
    });
}

void pad(const uint8_t* src, uint8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
         int64_t oh, int64_t ow, int64_t padTop, int64_t padLeft, int64_t elemBytes,
         const uint8_t* fill) {
    const int64_t total = batch * oh * ow * c;
    for (int64_t i = 0; i < total; ++i)
        std::memcpy(dst + i * elemBytes, fill, static_cast<size_t>(elemBytes));
    const int64_t rowBytes = w * c * elemBytes;
    for (int64_t n = 0; n < batch; ++n)
        for (int64_t y = 0; y < h; ++y)
            std::memcpy(dst + (((n * oh) + y + padTop) * ow + padLeft) * c * elemBytes,
                        src + ((n * h) + y) * rowBytes, static_cast<size_t>(rowBytes));
}

void floatAdd(const std::vector<const float*>& srcs, float* dst, int64_t n,
              FusedActivation activation) {
    forEach(n, n, [&](int64_t i) {
        float s = 0.0f;
        for (const float* p : srcs)
            s += p[i];
        dst[i] = fusedFloat(activation, s);
    });
}

void floatActivation(const float* src, float* dst, int64_t n, OpType type, double alpha) {
    const float a = static_cast<float>(alpha);
    forEach(n, n, [=](int64_t i) {
        const float x = src[i];
        float y = x;
        switch (type) {
        case OpType::ReLU:
            y = std::max(0.0f, x);
            break;
        case OpType::ReLU6:
            y = std::min(6.0f, std::max(0.0f, x));
            break;
        case OpType::LeakyReLU:
            y = x >= 0 ? x : a * x;
            break;
        case OpType::HardSwish:
            y = x * std::min(6.0f, std::max(0.0f, x + 3.0f)) / 6.0f;
            break;
        case OpType::Sigmoid:
            y = 1.0f / (1.0f + std::exp(-x));
            break;
        case OpType::Tanh:
            y = std::tanh(x);
            break;
        default:
            break;
        }
        dst[i] = y;
    });
}

void floatSoftmax(const float* src, float* dst, int64_t rows, int64_t k) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = src + r * k;
        const float mx = *std::max_element(row, row + k);
        double sum = 0;
        for (int64_t j = 0; j < k; ++j)
            sum += std::exp(static_cast<double>(row[j] - mx));
        for (int64_t j = 0; j < k; ++j)
            dst[r * k + j] = static_cast<float>(std::exp(static_cast<double>(row[j] - mx)) / sum);
    }
}

void floatMean(const float* src, float* dst, int64_t batch, int64_t hw, int64_t c) {
    forEach(batch, batch * hw * c, [=](int64_t n) {
        const float* s = src + n * hw * c;
        for (int64_t c0 = 0; c0 < c; c0 += kChannelBlock) {
            const int64_t cb = std::min(kChannelBlock, c - c0);
            double sum[kChannelBlock] = {};
            for (int64_t k = 0; k < hw; ++k)
                for (int64_t ch = 0; ch < cb; ++ch)
                    sum[ch] += s[k * c + c0 + ch];
            for (int64_t ch = 0; ch < cb; ++ch)
                dst[n * c + c0 + ch] = static_cast<float>(sum[ch] / static_cast<double>(hw));
        }
    });
}

} // namespace qat::onednn::intk
