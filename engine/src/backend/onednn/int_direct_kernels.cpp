// Direct int8 convolutions (see int_direct_kernels.h). The kernels carry an AVX-512 target
// attribute and only run after create() has seen the CPU support it; the rest of this
// file is compiled for the project's baseline.
#include "backend/onednn/int_direct_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wuninitialized
// and -Wmaybe-uninitialized report wherever they are inlined (a false positive, GCC bug
// 105593); off for this file, whose other code is small.
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__ // GCC's name; clang (clang-tidy) has no such group
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#define QAT_DIRECT_CONV 1
#define QAT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#endif

namespace qat::onednn::intk {

#ifdef QAT_DIRECT_CONV

namespace {

__extension__ typedef __int128 Int128;
using Layout = DirectConv::Layout;
using Requant = DirectConv::Requant;
using Kind = DirectConv::Kind;

// Pixels one kernel call accumulates at once (independent FMA chains).
constexpr int kWindowPixels = 8;

// AVX-512 present and the direct kernels not switched off with QATLAB_INT8_DIRECT=0 (the
// oneDNN-only executor, for comparisons).
bool cpuHasAvx512() {
    static const bool ok =
        [] {
            const char* env = std::getenv("QATLAB_INT8_DIRECT");
            return !(env && std::string(env) == "0");
        }() &&
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma");
    return ok;
}

QAT_AVX512 inline __m512i load(const void* p) {
    return _mm512_load_si512(p);
}

// acc: 16 exact integer sums in fp32 lanes, the bias included. Writes
// clamp(MBQM(acc) + zpOut, actMin, actMax) as int8 to the channels `mask` selects.
// With a' = acc * 2^L and t' = t + L >= 32 (L = max(0, 32 - t), which keeps the result:
// (a' M + 2^(t'-1)) / 2^t' = (acc M + 2^(t-1)) / 2^t), the 64-bit p = a' M + 2^(t'-1) +
// zpOut 2^t' gives MBQM(acc) + zpOut = floor(p / 2^t') = floor(hi32(p) / 2^(t'-32)):
// the high dwords of the products, then one 32-bit arithmetic shift. vpmuldq multiplies
// the even dwords, so the odd channels go through a second one.
QAT_AVX512 inline void requantStore(__m512 acc, const Requant& q, __m512i lo, __m512i hi,
                                    int8_t* dst, __mmask16 mask) {
    const __m512i a = _mm512_sllv_epi32(_mm512_cvtps_epi32(acc), load(q.left));
    const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, load(q.me)), load(q.re));
    const __m512i po =
        _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), load(q.mo)), load(q.ro));
    __m512i r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
    r = _mm512_srav_epi32(r, load(q.right));
    r = _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8(dst, mask, r);
}

// The sample's input into the interior of its padded buffer, as floats.
QAT_AVX512 void convertSample(const Layout& l, const int8_t* src, float* buf) {
    const int64_t cols = std::min(l.w, l.wp - l.g.padLeft);
    if (cols <= 0)
        return;
    for (int64_t iy = 0; iy < l.h; ++iy) {
        const int64_t py = iy + l.g.padTop;
        if (py >= l.hp)
            break;
        const int8_t* s = src + iy * l.w * l.cin;
        float* row = buf + (py * l.wp + l.g.padLeft) * l.cb;
        if (l.cb == l.cin && l.mult == 1) {
            // Contiguous in both: cols * Cin values.
            const int64_t n = cols * l.cin;
            int64_t i = 0;
            for (; i + 16 <= n; i += 16) {
                const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
                _mm512_storeu_ps(row + i, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)));
            }
            if (i < n) {
                const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
                const __m128i v = _mm_maskz_loadu_epi8(m, s + i);
                _mm512_mask_storeu_ps(row + i, m, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)));
            }
        } else {
            // Depthwise with a multiplier or channels off the 16-channel grid: output
            // channel c reads input channel c / multiplier.
            for (int64_t ix = 0; ix < cols; ++ix)
                for (int64_t c = 0; c < l.cout; ++c) {
                    const int64_t ic = c / l.mult;
                    row[ix * l.cb + c] = static_cast<float>(s[ix * l.cin + ic]);
                }
        }
    }
}

// P output pixels from p0 of one 16-channel group: the sum over the window's `window`
// entries at buffer offsets off[k] from each pixel's origin, times weight row k at
// w + k * cp. Depthwise: each entry is the tap's 16 channels; small conv: one input value,
// broadcast.
template <int P, bool Depthwise>
QAT_AVX512 inline void windowPixels(const Layout& l, const float* buf, const int32_t* origins,
                                    const int64_t* off, int64_t window, const float* w,
                                    const Requant& q, int8_t* dst, int64_t p0, int64_t c0,
                                    __mmask16 mask) {
    const float* base[P];
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j)
        base[j] = buf + origins[p0 + j] + (Depthwise ? c0 : 0);
    __m512 acc[P];
    const __m512 bias = _mm512_load_ps(q.bias);
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j)
        acc[j] = bias;
    for (int64_t k = 0; k < window; ++k) {
        const __m512 wv = _mm512_load_ps(w + k * l.cp + c0);
        const int64_t o = off[k];
#pragma GCC unroll 16
        for (int j = 0; j < P; ++j) {
            const __m512 x = Depthwise ? _mm512_load_ps(base[j] + o) : _mm512_set1_ps(base[j][o]);
            acc[j] = _mm512_fmadd_ps(x, wv, acc[j]);
        }
    }
    const __m512i lo = _mm512_set1_epi32(l.actMin), hi = _mm512_set1_epi32(l.actMax);
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j)
        requantStore(acc[j], q, lo, hi, dst + (p0 + j) * l.cout + c0, mask);
}

// A depthwise or small-window conv of one sample (buf: its padded input), 16 output
// channels at a time, kWindowPixels pixels per call, then 4, then 1.
template <bool Depthwise>
QAT_AVX512 void windowSample(const Layout& l, const float* buf, const float* w,
                             const Requant* requant, const int32_t* origins, const int64_t* off,
                             int8_t* dst) {
    const int64_t pixels = l.g.outH * l.g.outW;
    const int64_t window = l.g.kh * l.g.kw * (Depthwise ? 1 : l.cin);
    for (int64_t c0 = 0; c0 < l.cp; c0 += 16) {
        const Requant& q = requant[c0 / 16];
        const int64_t n = std::min<int64_t>(16, l.cout - c0);
        const auto mask = static_cast<__mmask16>((1u << n) - 1);
        int64_t p = 0;
        for (; p + kWindowPixels <= pixels; p += kWindowPixels)
            windowPixels<kWindowPixels, Depthwise>(l, buf, origins, off, window, w, q, dst, p, c0,
                                                   mask);
        for (; p + 4 <= pixels; p += 4)
            windowPixels<4, Depthwise>(l, buf, origins, off, window, w, q, dst, p, c0, mask);
        for (; p < pixels; ++p)
            windowPixels<1, Depthwise>(l, buf, origins, off, window, w, q, dst, p, c0, mask);
    }
}

// FULLY_CONNECTED of one sample (buf: its K inputs): 16 output channels at a time, the K
// products split over kFcChains independent FMA chains and summed at the end (the sums
// are exact integers, so the order does not matter).
QAT_AVX512 void fullyConnectedSample(const Layout& l, const float* buf, const float* w,
                                     const Requant* requant, int8_t* dst) {
    constexpr int kFcChains = 8;
    const int64_t k = l.cin;
    const __m512i lo = _mm512_set1_epi32(l.actMin), hi = _mm512_set1_epi32(l.actMax);
    for (int64_t c0 = 0; c0 < l.cp; c0 += 16) {
        __m512 acc[kFcChains];
        acc[0] = _mm512_load_ps(requant[c0 / 16].bias);
#pragma GCC unroll 8
        for (int j = 1; j < kFcChains; ++j)
            acc[j] = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + kFcChains <= k; i += kFcChains) {
#pragma GCC unroll 8
            for (int j = 0; j < kFcChains; ++j)
                acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(buf[i + j]),
                                         _mm512_load_ps(w + (i + j) * l.cp + c0), acc[j]);
        }
        for (; i < k; ++i)
            acc[0] =
                _mm512_fmadd_ps(_mm512_set1_ps(buf[i]), _mm512_load_ps(w + i * l.cp + c0), acc[0]);
#pragma GCC unroll 8
        for (int j = 1; j < kFcChains; ++j)
            acc[0] = _mm512_add_ps(acc[0], acc[j]);
        const int64_t n = std::min<int64_t>(16, l.cout - c0);
        requantStore(acc[0], requant[c0 / 16], lo, hi, dst + c0,
                     static_cast<__mmask16>((1u << n) - 1));
    }
}

} // namespace

std::unique_ptr<DirectConv> DirectConv::create(const IntOp& op, const IntTensor& in,
                                               const IntTensor& w, const IntTensor& b,
                                               const IntTensor& out, int64_t batch) {
    const bool depthwise = op.kind == IntOpKind::DepthwiseConv2D;
    const bool fc = op.kind == IntOpKind::FullyConnected;
    if (!cpuHasAvx512() || (!depthwise && !fc && op.kind != IntOpKind::Conv2D) || batch < 1 ||
        in.zeroPoints.size() != 1 || out.zeroPoints.size() != 1)
        return nullptr;
    ConvGeometry g = op.geom;
    int64_t h = 1, wd = 1, cin = 0, cout = 0;
    if (fc) {
        if (batch > kMaxDirectFcBatch)
            return nullptr;
        cin = shapeSize(in.shape);
        cout = shapeSize(out.shape);
        g = ConvGeometry{};
        g.inH = g.inW = g.outH = g.outW = 1;
    } else {
        if (in.shape.size() != 3 || out.shape.size() != 3 || g.padTop < 0 || g.padLeft < 0 ||
            g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
            return nullptr;
        h = in.shape[0];
        wd = in.shape[1];
        cin = in.shape[2];
        cout = out.shape[2];
    }
    const int64_t window = g.kh * g.kw * (depthwise ? 1 : cin);
    const int64_t outputs = batch * g.outH * g.outW * cout;
    if (outputs > kMaxDirectOutputs || outputs * window > kMaxDirectMacs)
        return nullptr;
    if (op.kind == IntOpKind::Conv2D &&
        (cin > kMaxSmallConvChannels || window > kMaxSmallConvWindow))
        return nullptr;
    std::unique_ptr<DirectConv> d(new DirectConv());
    Layout& l = d->m_l;
    l.kind = depthwise ? Kind::Depthwise : fc ? Kind::FullyConnected : Kind::SmallConv;
    l.g = g;
    l.batch = batch;
    l.h = h;
    l.w = wd;
    l.cin = cin;
    l.cout = cout;
    l.mult = depthwise ? op.depthMultiplier : 1;
    l.cp = (cout + 15) / 16 * 16;
    l.hp = (g.outH - 1) * g.sh + (g.kh - 1) * g.dh + 1;
    l.wp = (g.outW - 1) * g.sw + (g.kw - 1) * g.dw + 1;
    l.cb = depthwise ? l.cp : cin;
    l.bufFloats = (l.hp * l.wp * l.cb + 15) / 16 * 16;
    l.actMin = op.actMin;
    l.actMax = op.actMax;
    const int32_t zpIn = in.zeroPoints[0];
    const int64_t cp = l.cp;

    // Float weights, zero in the padding channels; per channel sum(w) and sum|w|.
    d->m_weights.resize(static_cast<size_t>(window * cp) * sizeof(float));
    auto* wf = static_cast<float*>(d->m_weights.data());
    std::fill(wf, wf + window * cp, 0.0f);
    std::vector<int64_t> sum(static_cast<size_t>(cout)), sumAbs(static_cast<size_t>(cout));
    for (int64_t c = 0; c < cout; ++c)
        for (int64_t k = 0; k < window; ++k) {
            // depthwise weights [1, kh, kw, Cout]; conv weights [Cout, kh, kw, Cin] (FC:
            // [Cout, K]), whose row c is k = (ky * kw + kx) * Cin + ci, the order of the
            // float rows
            const int32_t v =
                w.ints[static_cast<size_t>(depthwise ? k * cout + c : c * window + k)];
            wf[k * cp + c] = static_cast<float>(v);
            sum[static_cast<size_t>(c)] += v;
            sumAbs[static_cast<size_t>(c)] += std::abs(v);
        }

    // Requantization per channel (see requantStore), with the checks that make every
    // step exact: the fp32 sums with the bias (|x| <= 128) below 2^24, the shifted
    // accumulator in int32, t' <= 54 so that the 64-bit p cannot overflow, and the
    // result below 2^30.
    const bool perChannel = op.multiplier.size() > 1;
    d->m_requant.assign(static_cast<size_t>(cp / 16), Requant{});
    for (int64_t c = 0; c < cp; ++c) {
        Requant& q = d->m_requant[static_cast<size_t>(c / 16)];
        const int64_t lane = c % 16, half = lane / 2;
        int64_t multiplier = 0, t = 32, bias = 0, left = 0;
        int32_t zpOut = 0;
        if (c < cout) {
            const size_t m = perChannel ? static_cast<size_t>(c) : 0;
            multiplier = op.multiplier[m];
            t = 31 - op.shift[m];
            if (t < 1)
                return nullptr;
            bias = int64_t{b.ints[static_cast<size_t>(c)]} -
                   int64_t{zpIn} * sum[static_cast<size_t>(c)];
            const int64_t maxAcc = 128 * sumAbs[static_cast<size_t>(c)] + std::abs(bias);
            left = std::max<int64_t>(0, 32 - t);
            t += left;
            if (t > 54 || multiplier < 0 || maxAcc >= (int64_t{1} << 24) ||
                (maxAcc << left) > std::numeric_limits<int32_t>::max() ||
                ((static_cast<Int128>(maxAcc) * multiplier) >> (t - left)) >= (int64_t{1} << 30))
                return nullptr;
            zpOut = out.zeroPoints[0];
        }
        q.bias[lane] = static_cast<float>(bias);
        q.left[lane] = static_cast<int32_t>(left);
        q.right[lane] = static_cast<int32_t>(t - 32);
        const bool even = lane % 2 == 0;
        (even ? q.me : q.mo)[half] = multiplier;
        (even ? q.re : q.ro)[half] = (int64_t{1} << (t - 1)) + int64_t{zpOut} * (int64_t{1} << t);
    }

    // Window offsets from a pixel's origin: per tap (depthwise) or per value (ky, kx, ci:
    // the order of the weight rows).
    for (int64_t ky = 0; ky < g.kh && !fc; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx)
            for (int64_t ci = 0; ci < (depthwise ? 1 : cin); ++ci)
                d->m_offsets.push_back((ky * g.dh * l.wp + kx * g.dw) * l.cb + ci);
    // Where each output pixel's window starts in the padded buffer.
    for (int64_t oy = 0; oy < g.outH; ++oy)
        for (int64_t ox = 0; ox < g.outW; ++ox)
            d->m_origins.push_back(static_cast<int32_t>((oy * g.sh * l.wp + ox * g.sw) * l.cb));
    if (l.hp * l.wp * l.cb > std::numeric_limits<int32_t>::max())
        return nullptr;

    // The padded buffer: the border holds the input zero point for good, run() overwrites
    // the interior only.
    d->m_buffer.resize(static_cast<size_t>(l.bufFloats) * sizeof(float));
    auto* buf = static_cast<float*>(d->m_buffer.data());
    std::fill(buf, buf + l.bufFloats, static_cast<float>(zpIn));
    return d;
}

void DirectConv::run(const int8_t* src, int8_t* dst) {
    const Layout& l = m_l;
    const int64_t inSize = l.h * l.w * l.cin, outSize = l.g.outH * l.g.outW * l.cout;
    const auto* w = static_cast<const float*>(m_weights.data());
    const Requant* requant = m_requant.data();
    const int32_t* origins = m_origins.data();
    const int64_t* off = m_offsets.data();
    // The work is at most kMaxDirectMacs: one thread, no OpenMP team to wake.
    auto* buf = static_cast<float*>(m_buffer.data());
    for (int64_t n = 0; n < l.batch; ++n) {
        convertSample(l, src + n * inSize, buf);
        if (l.kind == Kind::Depthwise)
            windowSample<true>(l, buf, w, requant, origins, off, dst + n * outSize);
        else if (l.kind == Kind::SmallConv)
            windowSample<false>(l, buf, w, requant, origins, off, dst + n * outSize);
        else
            fullyConnectedSample(l, buf, w, requant, dst + n * outSize);
    }
}

namespace {

// 8 channel sums (int64 lanes) of MEAN over hw pixels to its int32 results, see
// meanAvx512.
QAT_AVX512 inline __m256i meanFinish8(__m512i sum, const MeanParams& p, int64_t hw) {
    const int64_t total = 31 - p.shift;
    const __m512i acc = _mm512_sub_epi64(sum, _mm512_set1_epi64(int64_t{p.zpIn} * hw));
    __m512i v = _mm512_mul_epi32(acc, _mm512_set1_epi64(p.multiplier)); // |acc| < 2^31
    v = _mm512_add_epi64(v, _mm512_set1_epi64(int64_t{1} << (total - 1)));
    v = _mm512_sra_epi64(v, _mm_cvtsi64_si128(total));
    v = _mm512_max_epi64(v, _mm512_set1_epi64(std::numeric_limits<int32_t>::min()));
    v = _mm512_min_epi64(v, _mm512_set1_epi64(std::numeric_limits<int32_t>::max()));
    // v +- hw/2 (half away from zero), divided in double: |v +- hw/2| < 2^53, so the
    // truncated, correctly rounded quotient is the integer quotient.
    const __m512i half = _mm512_set1_epi64(hw / 2);
    const __mmask8 positive = _mm512_cmpgt_epi64_mask(v, _mm512_setzero_si512());
    v = _mm512_mask_add_epi64(_mm512_sub_epi64(v, half), positive, v, half);
    const __m512d q = _mm512_div_pd(_mm512_cvtepi64_pd(v), _mm512_set1_pd(static_cast<double>(hw)));
    return _mm512_cvttpd_epi32(q);
}

QAT_AVX512 void meanImpl(const int8_t* src, int64_t hw, int64_t n, const MeanParams& p,
                         int8_t* dst) {
    const __m512i zp = _mm512_set1_epi32(p.zpOut);
    const __m512i lo = _mm512_set1_epi32(p.actMin), hi = _mm512_set1_epi32(p.actMax);
    for (int64_t c = 0; c < n; c += 16) {
        const int64_t m = std::min<int64_t>(16, n - c);
        const auto mask = static_cast<__mmask16>((1u << m) - 1);
        // Column sums of 16 channels in int32 lanes (|q| <= 128, hw <= 2^22).
        __m512i s = _mm512_setzero_si512();
        for (int64_t k = 0; k < hw; ++k)
            s = _mm512_add_epi32(s,
                                 _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, src + k * n + c)));
        const __m256i a = meanFinish8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(s)), p, hw);
        const __m256i b =
            meanFinish8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(s, 1)), p, hw);
        __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
        r = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(r, zp), lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(dst + c, mask, r);
    }
}

// MAX_POOL_2D of one sample, see maxPoolAvx512.
QAT_AVX512 void maxPoolImpl(const int8_t* src, int8_t* dst, int64_t h, int64_t w, int64_t c,
                            const ConvGeometry& g, int32_t actMin, int32_t actMax) {
    const __m512i lo = _mm512_set1_epi8(static_cast<char>(actMin));
    const __m512i hi = _mm512_set1_epi8(static_cast<char>(actMax));
    for (int64_t oy = 0; oy < g.outH; ++oy) {
        const int64_t y0 = std::max<int64_t>(0, oy * g.sh - g.padTop);
        const int64_t y1 = std::min<int64_t>(h, oy * g.sh - g.padTop + g.kh);
        for (int64_t ox = 0; ox < g.outW; ++ox) {
            const int64_t x0 = std::max<int64_t>(0, ox * g.sw - g.padLeft);
            const int64_t x1 = std::min<int64_t>(w, ox * g.sw - g.padLeft + g.kw);
            int8_t* d = dst + (oy * g.outW + ox) * c;
            for (int64_t c0 = 0; c0 < c; c0 += 64) {
                const int64_t n = std::min<int64_t>(64, c - c0);
                const __mmask64 mask = n == 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
                __m512i v = lo; // the clamp from below; a window without pixels gives actMin
                for (int64_t iy = y0; iy < y1; ++iy)
                    for (int64_t ix = x0; ix < x1; ++ix)
                        v = _mm512_max_epi8(
                            v, _mm512_maskz_loadu_epi8(mask, src + (iy * w + ix) * c + c0));
                _mm512_mask_storeu_epi8(d + c0, mask, _mm512_min_epi8(v, hi));
            }
        }
    }
}

} // namespace

bool directKernelsAvailable() {
    return cpuHasAvx512();
}

bool maxPoolAvx512(const int8_t* src, int8_t* dst, int64_t h, int64_t w, int64_t c,
                   const ConvGeometry& g, int32_t actMin, int32_t actMax) {
    if (!cpuHasAvx512())
        return false;
    maxPoolImpl(src, dst, h, w, c, g, actMin, actMax);
    return true;
}

bool meanAvx512(const int8_t* src, int64_t hw, int64_t c, const MeanParams& p, int8_t* dst) {
    if (!cpuHasAvx512())
        return false;
    meanImpl(src, hw, c, p, dst);
    return true;
}

#else // not x86-64 with GCC/Clang: the executor always uses oneDNN

std::unique_ptr<DirectConv> DirectConv::create(const IntOp&, const IntTensor&, const IntTensor&,
                                               const IntTensor&, const IntTensor&, int64_t) {
    return nullptr;
}
void DirectConv::run(const int8_t*, int8_t*) {}
bool meanAvx512(const int8_t*, int64_t, int64_t, const MeanParams&, int8_t*) {
    return false;
}
bool maxPoolAvx512(const int8_t*, int8_t*, int64_t, int64_t, int64_t, const ConvGeometry&, int32_t,
                   int32_t) {
    return false;
}
bool directKernelsAvailable() {
    return false;
}

#endif

} // namespace qat::onednn::intk
