// Direct int8 kernels of the fast integer executor for the small layers where a oneDNN
// 2.6 primitive spends more on each call than on the work (batch-1 latency): up to
// kMaxDirectOutputs outputs and kMaxDirectMacs multiply-adds per run. Above that oneDNN
// wins (measured per output, these cost about 1.2-1.4x oneDNN's VNNI kernels, mostly the
// exact requantization, where oneDNN's is an fp32 multiply that rounds half to even):
//   DEPTHWISE_CONV_2D: any kernel, stride, dilation, padding and depth multiplier;
//   CONV_2D with at most kMaxSmallConvChannels input channels and a window of at most
//     kMaxSmallConvWindow values (the first layer of an image model);
//   FULLY_CONNECTED at batch <= kMaxDirectFcBatch (the classifier head);
//   MEAN over H and W and int8 MAX_POOL_2D (meanAvx512, maxPoolAvx512, called by the
//     loop kernels).
// AVX-512 only (16 channels per vector, masked tails): AVX2 versions were slower than
// oneDNN's AVX-512 VNNI kernels, so without AVX-512 the executor keeps oneDNN. The
// environment variable QATLAB_INT8_DIRECT=0 switches them off (for comparisons).
// Bit-exact with IntReferenceExecutor (single rounding), not within 1 LSB:
//   - each sample is copied once into a float buffer with the padding around it, the
//     border holding the input zero point; the window sums bias + sum(x * w) over every
//     tap in fp32 FMAs, exact because create() checks |bias| + 128 * sum|w| < 2^24 for
//     every channel; the zero point is folded into the bias, bias - zpIn * sum(w) (the
//     border then contributes zpIn * w - zpIn * w = 0, as the reference's skipped taps
//     do);
//   - the requantization acc * multiplier + 2^(t-1) >> t, t = 31 - shift, runs in 64-bit
//     lanes with the output zero point folded into the rounding term; create() checks
//     that every intermediate fits, so the reference's int32 clamp never applies.
// create() returns nullptr (the executor then uses oneDNN) when a check fails, when the
// op is not one of the above or too large, or when the CPU lacks AVX-512 (F, BW, VL, DQ).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/onednn/context.h"
#include "backend/onednn/int_fast_kernels.h"
#include "qat/int_model.h"

namespace qat::onednn::intk {

// AVX-512 present and the kernels not switched off (QATLAB_INT8_DIRECT=0).
bool directKernelsAvailable();

constexpr int64_t kMaxSmallConvChannels = 4;
constexpr int64_t kMaxSmallConvWindow = 64;
constexpr int64_t kMaxDirectFcBatch = 8;
constexpr int64_t kMaxDirectOutputs = 8192;
constexpr int64_t kMaxDirectMacs = int64_t{1} << 17;

class DirectConv {
public:
    // op: an int8 CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED the executor validated;
    // in, w, b, out: its tensors; batch: samples per run().
    static std::unique_ptr<DirectConv> create(const IntOp& op, const IntTensor& in,
                                              const IntTensor& w, const IntTensor& b,
                                              const IntTensor& out, int64_t batch);

    // src [batch, H, W, Cin] -> dst [batch, OH, OW, Cout], NHWC int8 ([batch, K] ->
    // [batch, Cout] for FULLY_CONNECTED).
    void run(const int8_t* src, int8_t* dst);

    enum class Kind { Depthwise, SmallConv, FullyConnected };

    const char* name() const {
        switch (m_l.kind) {
        case Kind::Depthwise:
            return "direct depthwise (AVX-512)";
        case Kind::SmallConv:
            return "direct small-window conv (AVX-512)";
        default:
            return "direct fully connected (AVX-512)";
        }
    }

    // The requantization of 16 channels (requantStore in the .cpp), laid out for the
    // 64-bit lanes: even channels (0, 2, ..., 14) in *e, odd ones in *o.
    struct alignas(64) Requant {
        float bias[16];       // bias - zpIn * sum(w): where the fp32 sums start
        int32_t left[16];     // L = max(0, 32 - t), t = 31 - shift
        int32_t right[16];    // t + L - 32
        int64_t me[8], mo[8]; // multipliers
        int64_t re[8], ro[8]; // 2^(t+L-1) + zpOut * 2^(t+L)
    };

    // Sizes and geometry, all the kernels need besides the weights and requantization.
    struct Layout {
        Kind kind = Kind::Depthwise;
        ConvGeometry g; // FULLY_CONNECTED: a 1x1 conv on a 1x1 image with K channels
        int64_t batch = 1, h = 0, w = 0, cin = 0, cout = 0, mult = 1;
        int64_t cp = 0;                 // output channels rounded up to 16
        int64_t hp = 0, wp = 0, cb = 0; // padded buffer: rows, columns, channels
        int64_t bufFloats = 0;          // one padded buffer, rounded up to 64 bytes
        int32_t actMin = -128, actMax = 127;
    };

private:
    DirectConv() = default;

    Layout m_l;
    AlignedBuffer m_weights;        // float, [kh][kw][Cp] or [kh][kw][Cin][Cp] ([K][Cp])
    std::vector<Requant> m_requant; // one per 16 output channels
    std::vector<int32_t> m_origins; // per output pixel: its window's start in the buffer
    std::vector<int64_t> m_offsets; // per window entry: its offset from a pixel's origin
    AlignedBuffer m_buffer;         // the padded input of one sample
};

// MEAN (int_fast_kernels.h, mean()) of one sample, src [hw, c] -> dst [c]. The caller
// guarantees hw <= 2^22, |zpIn| <= 128 and 1 <= 31 - shift <= 62 (so the 64-bit product
// cannot overflow). Returns false, writing nothing, without AVX-512.
bool meanAvx512(const int8_t* src, int64_t hw, int64_t c, const MeanParams& p, int8_t* dst);

// int8 MAX_POOL_2D of one sample, src [h, w, c] -> dst [outH, outW, c] (padding excluded,
// then clamped to [actMin, actMax], both in [-128, 127]). Returns false, writing nothing,
// without AVX-512.
bool maxPoolAvx512(const int8_t* src, int8_t* dst, int64_t h, int64_t w, int64_t c,
                   const ConvGeometry& g, int32_t actMin, int32_t actMax);

} // namespace qat::onednn::intk
