// Loop kernels of the fast integer executor (int_fast_executor.cpp): the cheap ops
// oneDNN has no exact int8 primitive for. Each reproduces IntReferenceExecutor's
// arithmetic (int_reference.cpp, single rounding) bit for bit; element-wise integer ops
// go through tables the executor fills with the reference formulas once at creation.
// Activations are NHWC, `batch` samples back to back; int8 tensors hold TFLite's values
// (int8_t, any grid of 2-8 bits); tables are indexed by q + 128.
#pragma once

#include <cstdint>
#include <vector>

#include "qat/graph.h"
#include "qat/int_model.h"

namespace qat::onednn::intk {

// Element-wise: dst[i] = table[src[i] + 128] (requantize int8 -> int8, LUT activations).
void lookup(const int8_t* src, int8_t* dst, int64_t n, const int8_t* table);
// Element-wise: dst[i] = table[src[i] + 128] (dequantize).
void lookupFloat(const int8_t* src, float* dst, int64_t n, const float* table);
// QUANTIZE float -> int8 with quantizeValue's float arithmetic (round half away).
void quantize(const float* src, int8_t* dst, int64_t n, const QuantParams& p);
// ADD of two int8 tensors through a 256x256 table: dst = table[(a + 128) * 256 + b + 128].
void addTable(const int8_t* a, const int8_t* b, int8_t* dst, int64_t n, const int8_t* table);

// MEAN over H and W of src [batch, hw, c] -> dst [batch, c]:
//   v = MBQM(sum(q - zpIn), multiplier, shift); v = v / hw rounded half away; + zpOut.
struct MeanParams {
    int32_t zpIn = 0, multiplier = 0, zpOut = 0, actMin = -128, actMax = 127;
    int shift = 0;
};
void mean(const int8_t* src, int8_t* dst, int64_t batch, int64_t hw, int64_t c,
          const MeanParams& p);

// Integer SOFTMAX over rows of k: e = expTable[max - x] (expTable[d] = exp(-inScale * d)),
// q = round_half_away(e / (sum(e) * outScale)) + zpOut, clamped to [qmin, qmax].
void softmax(const int8_t* src, int8_t* dst, int64_t rows, int64_t k,
             const std::vector<float>& expTable, const QuantParams& out);

// AVERAGE_POOL_2D (padding excluded from the count) on src [batch, H, W, C].
// int8: TFLite's rounding (half away from zero), then clamped to [actMin, actMax];
// float: the sum in double divided by the count.
void avgPoolInt8(const int8_t* src, int8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                 const ConvGeometry& g, int32_t actMin, int32_t actMax);
void avgPoolFloat(const float* src, float* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                  const ConvGeometry& g);
// int8 MAX_POOL_2D (padding excluded), then clamped to [actMin, actMax], on the direct
// AVX-512 kernel (maxPoolAvx512): only when intk::directKernelsAvailable(). It replaces
// oneDNN's s8 pooling (jit_int), 3-4x slower on the zoo's shapes; without AVX-512 the
// executor keeps oneDNN.
void maxPoolInt8(const int8_t* src, int8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
                 const ConvGeometry& g, int32_t actMin, int32_t actMax);

// CONCATENATION: `rows` rows; input k contributes rowBytes[k] contiguous bytes per row.
void concat(const std::vector<const uint8_t*>& srcs, const std::vector<int64_t>& rowBytes,
            uint8_t* dst, int64_t rows);
// PAD: src [batch, H, W, C] into dst [batch, OH, OW, C] at (padTop, padLeft); dst is
// filled with `fill` (elemBytes bytes, the zero point or 0.0f) first.
void pad(const uint8_t* src, uint8_t* dst, int64_t batch, int64_t h, int64_t w, int64_t c,
         int64_t oh, int64_t ow, int64_t padTop, int64_t padLeft, int64_t elemBytes,
         const uint8_t* fill);

// Float ops of mixed-precision models, with the reference's float/double arithmetic.
void floatAdd(const std::vector<const float*>& srcs, float* dst, int64_t n,
              FusedActivation activation);
void floatActivation(const float* src, float* dst, int64_t n, OpType type, double alpha);
void floatSoftmax(const float* src, float* dst, int64_t rows, int64_t k);
void floatMean(const float* src, float* dst, int64_t batch, int64_t hw, int64_t c);

} // namespace qat::onednn::intk
