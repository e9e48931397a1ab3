// Reference integer executor: plain loops over one sample at a time, reproducing
// TFLite's integer kernels (reference_integer_ops) line by line:
//   conv/depthwise/FC: acc = sum (x - zpIn) * w + bias;  y = MBQM(acc, m_c, s_c) + zpOut
//   add: TFLite's two-input scheme with left shift 20 (15 for 16-bit)
//   mean: MBQM(sum(x - zpIn), m, s) then divide by the count with rounding
//   softmax: exp table of in_scale * (max - x), 1 / (sum * out_scale), round
// MBQM = MultiplyByQuantizedMultiplier with the selected rounding.
#include <cmath>
#include <limits>

#include "qat/int_model.h"
#include "qat/network.h"

namespace qat {

namespace {

__extension__ typedef __int128 Int128; // exact acc * multiplier for any shift

int32_t saturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
    const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
    const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    const int32_t high = static_cast<int32_t>((ab + nudge) / (1LL << 31));
    return overflow ? std::numeric_limits<int32_t>::max() : high;
}

int32_t roundingDivideByPot(int32_t x, int exponent) {
    const int32_t mask = static_cast<int32_t>((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t saturate32(int64_t v) {
    return static_cast<int32_t>(std::clamp<int64_t>(v, std::numeric_limits<int32_t>::min(),
                                                    std::numeric_limits<int32_t>::max()));
}

inline float roundAway(float x) {
    return std::copysign(std::floor(std::fabs(x) + 0.5f), x);
}

} // namespace

int32_t multiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift, Rounding rounding) {
    if (rounding == Rounding::Single || x > std::numeric_limits<int32_t>::max() ||
        x < std::numeric_limits<int32_t>::min()) {
        const int total = 31 - shift;
        const Int128 prod = static_cast<Int128>(x) * multiplier;
        const Int128 round = static_cast<Int128>(1) << (total - 1);
        const Int128 r = (prod + round) >> total;
        return static_cast<int32_t>(std::clamp<Int128>(r, std::numeric_limits<int32_t>::min(),
                                                       std::numeric_limits<int32_t>::max()));
    }
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t shifted = saturate32(x * (int64_t{1} << left));
    return roundingDivideByPot(saturatingRoundingDoublingHighMul(shifted, multiplier), right);
}

namespace {

// Accumulates a conv/depthwise/FC over one sample. T is int64 (integer, input offset by
// -zpIn) or double (float ops). Output layout [OH, OW, Cout] or [Cout].
template <typename T, typename GetIn, typename GetW>
void convAccumulate(const IntOp& op, IntOpKind kind, const Shape& inShape, int64_t cout, GetIn in,
                    GetW w, std::vector<T>& acc) {
    if (kind == IntOpKind::FullyConnected || kind == IntOpKind::FloatFullyConnected) {
        const int64_t k = inShape[0];
        acc.assign(static_cast<size_t>(cout), T{});
        for (int64_t o = 0; o < cout; ++o) {
            T s{};
            for (int64_t i = 0; i < k; ++i)
                s += in(i)*w(o * k + i);
            acc[static_cast<size_t>(o)] = s;
        }
        return;
    }
    const ConvGeometry& g = op.geom;
    const int64_t h = inShape[0], wd = inShape[1], cin = inShape[2];
    const bool depthwise =
        kind == IntOpKind::DepthwiseConv2D || kind == IntOpKind::FloatDepthwiseConv2D;
    acc.assign(static_cast<size_t>(g.outH * g.outW * cout), T{});
    for (int64_t oy = 0; oy < g.outH; ++oy)
        for (int64_t ox = 0; ox < g.outW; ++ox)
            for (int64_t ky = 0; ky < g.kh; ++ky) {
                const int64_t iy = oy * g.sh - g.padTop + ky * g.dh;
                if (iy < 0 || iy >= h)
                    continue; // padding contributes (zpIn - zpIn) = 0
                for (int64_t kx = 0; kx < g.kw; ++kx) {
                    const int64_t ix = ox * g.sw - g.padLeft + kx * g.dw;
                    if (ix < 0 || ix >= wd)
                        continue;
                    T* a = acc.data() + (oy * g.outW + ox) * cout;
                    const int64_t base = (iy * wd + ix) * cin;
                    if (depthwise) {
                        // weights [1, kh, kw, Cout]; output c = ic * mult + m reads input ic
                        for (int64_t c = 0; c < cout; ++c)
                            a[c] +=
                                in(base + c / op.depthMultiplier) * w((ky * g.kw + kx) * cout + c);
                    } else {
                        // weights [Cout, kh, kw, Cin]
                        for (int64_t c = 0; c < cout; ++c) {
                            T s{};
                            const int64_t wb = ((c * g.kh + ky) * g.kw + kx) * cin;
                            for (int64_t i = 0; i < cin; ++i)
                                s += in(base + i) * w(wb + i);
                            a[c] += s;
                        }
                    }
                }
            }
}

float applyFloatActivation(OpType t, float x, double alpha) {
    switch (t) {
    case OpType::ReLU:
        return std::max(0.0f, x);
    case OpType::ReLU6:
        return std::min(6.0f, std::max(0.0f, x));
    case OpType::LeakyReLU:
        return x >= 0 ? x : static_cast<float>(alpha) * x;
    case OpType::HardSwish:
        return x * std::min(6.0f, std::max(0.0f, x + 3.0f)) / 6.0f;
    case OpType::Sigmoid:
        return 1.0f / (1.0f + std::exp(-x));
    case OpType::Tanh:
        return std::tanh(x);
    default:
        return x;
    }
}

float fusedFloat(FusedActivation a, float x) {
    if (a == FusedActivation::Relu)
        return std::max(0.0f, x);
    if (a == FusedActivation::Relu6)
        return std::min(6.0f, std::max(0.0f, x));
    return x;
}

} // namespace

void IntReferenceExecutor::runSample(const float* input, float* output, int32_t* intOutput) {
    const auto& tensors = m_model.tensors;
    m_ints.resize(tensors.size());
    m_floats.resize(tensors.size());
    const IntTensor& inT = tensors[static_cast<size_t>(m_model.input)];
    const int64_t inSize = shapeSize(inT.shape);
    if (inT.type == IntDType::Float32) {
        m_floats[static_cast<size_t>(m_model.input)].assign(input, input + inSize);
    } else {
        auto& q = m_ints[static_cast<size_t>(m_model.input)];
        q.resize(static_cast<size_t>(inSize));
        const QuantParams p = inT.params();
        for (int64_t i = 0; i < inSize; ++i)
            q[static_cast<size_t>(i)] = quantizeValue(input[i], p);
    }

    for (const IntOp& op : m_model.ops) {
        const size_t o = static_cast<size_t>(op.outputs[0]);
        const IntTensor& outT = tensors[o];
        const int64_t outSize = shapeSize(outT.shape);
        const size_t i0 = static_cast<size_t>(op.inputs[0]);
        const IntTensor& inT0 = tensors[i0];
        auto& dst = m_ints[o];
        auto& dstF = m_floats[o];
        switch (op.kind) {
        case IntOpKind::Quantize: {
            dst.resize(static_cast<size_t>(outSize));
            const QuantParams p = outT.params();
            if (inT0.type == IntDType::Float32) {
                for (int64_t i = 0; i < outSize; ++i)
                    dst[static_cast<size_t>(i)] =
                        quantizeValue(m_floats[i0][static_cast<size_t>(i)], p);
            } else { // requantize: MBQM(x - zpIn) + zpOut
                for (int64_t i = 0; i < outSize; ++i) {
                    const int32_t v = multiplyByQuantizedMultiplier(
                        m_ints[i0][static_cast<size_t>(i)] - inT0.zeroPoints[0], op.multiplier[0],
                        op.shift[0], m_rounding);
                    dst[static_cast<size_t>(i)] = std::clamp(v + p.zeroPoint, p.qmin, p.qmax);
                }
            }
            break;
        }
        case IntOpKind::Dequantize: {
            dstF.resize(static_cast<size_t>(outSize));
            const QuantParams p = inT0.params();
            for (int64_t i = 0; i < outSize; ++i)
                dstF[static_cast<size_t>(i)] =
                    dequantizeValue(m_ints[i0][static_cast<size_t>(i)], p);
            break;
        }
        case IntOpKind::Conv2D:
        case IntOpKind::DepthwiseConv2D:
        case IntOpKind::FullyConnected: {
            const IntTensor& w = tensors[static_cast<size_t>(op.inputs[1])];
            const IntTensor& b = tensors[static_cast<size_t>(op.inputs[2])];
            const int64_t cout = static_cast<int64_t>(b.ints.size() + b.ints64.size());
            const int32_t zpIn = inT0.zeroPoints[0];
            const auto& x = m_ints[i0];
            std::vector<int64_t> acc;
            convAccumulate<int64_t>(
                op, op.kind, inT0.shape, cout,
                [&](int64_t k) { return static_cast<int64_t>(x[static_cast<size_t>(k)] - zpIn); },
                [&](int64_t k) { return static_cast<int64_t>(w.ints[static_cast<size_t>(k)]); },
                acc);
            dst.resize(static_cast<size_t>(outSize));
            const int32_t zpOut = outT.zeroPoints[0];
            const bool perChannel = op.multiplier.size() > 1;
            for (size_t k = 0; k < acc.size(); ++k) {
                const size_t c = k % static_cast<size_t>(cout);
                const size_t mc = perChannel ? c : 0;
                const int64_t bias = b.ints.empty() ? b.ints64[c] : b.ints[c];
                const int32_t v = multiplyByQuantizedMultiplier(acc[k] + bias, op.multiplier[mc],
                                                                op.shift[mc], m_rounding);
                dst[k] = std::clamp(v + zpOut, op.actMin, op.actMax);
            }
            break;
        }
        case IntOpKind::FloatConv2D:
        case IntOpKind::FloatDepthwiseConv2D:
        case IntOpKind::FloatFullyConnected: {
            const IntTensor& w = tensors[static_cast<size_t>(op.inputs[1])];
            const IntTensor& b = tensors[static_cast<size_t>(op.inputs[2])];
            const int64_t cout = static_cast<int64_t>(b.floats.size());
            const auto& x = m_floats[i0];
            std::vector<double> acc;
            convAccumulate<double>(
                op, op.kind, inT0.shape, cout,
                [&](int64_t k) { return static_cast<double>(x[static_cast<size_t>(k)]); },
                [&](int64_t k) { return static_cast<double>(w.floats[static_cast<size_t>(k)]); },
                acc);
            dstF.resize(acc.size());
            for (size_t k = 0; k < acc.size(); ++k)
                dstF[k] = fusedFloat(
                    op.activation,
                    static_cast<float>(acc[k] + b.floats[k % static_cast<size_t>(cout)]));
            break;
        }
        case IntOpKind::Add: {
            const size_t i1 = static_cast<size_t>(op.inputs[1]);
            const IntTensor& inT1 = tensors[i1];
            dst.resize(static_cast<size_t>(outSize));
            const int32_t off0 = -inT0.zeroPoints[0], off1 = -inT1.zeroPoints[0];
            for (int64_t i = 0; i < outSize; ++i) {
                const int32_t a = (m_ints[i0][static_cast<size_t>(i)] + off0) * (1 << op.leftShift);
                const int32_t c = (m_ints[i1][static_cast<size_t>(i)] + off1) * (1 << op.leftShift);
                const int32_t sa = multiplyByQuantizedMultiplier(a, op.inputMultiplier[0],
                                                                 op.inputShift[0], m_rounding);
                const int32_t sc = multiplyByQuantizedMultiplier(c, op.inputMultiplier[1],
                                                                 op.inputShift[1], m_rounding);
                const int32_t raw =
                    multiplyByQuantizedMultiplier(static_cast<int64_t>(sa) + sc, op.multiplier[0],
                                                  op.shift[0], m_rounding) +
                    outT.zeroPoints[0];
                dst[static_cast<size_t>(i)] = std::clamp(raw, op.actMin, op.actMax);
            }
            break;
        }
        case IntOpKind::FloatAdd: {
            dstF.assign(static_cast<size_t>(outSize), 0.0f);
            for (int t : op.inputs)
                for (int64_t i = 0; i < outSize; ++i)
                    dstF[static_cast<size_t>(i)] +=
                        m_floats[static_cast<size_t>(t)][static_cast<size_t>(i)];
            for (auto& v : dstF)
                v = fusedFloat(op.activation, v);
            break;
        }
        case IntOpKind::Concat:
        case IntOpKind::FloatConcat: {
            const bool integer = op.kind == IntOpKind::Concat;
            const Shape& os = outT.shape;
            const size_t axis = static_cast<size_t>(op.axis);
            int64_t outer = 1, inner = 1;
            for (size_t d = 0; d < axis; ++d)
                outer *= os[d];
            for (size_t d = axis + 1; d < os.size(); ++d)
                inner *= os[d];
            if (integer)
                dst.resize(static_cast<size_t>(outSize));
            else
                dstF.resize(static_cast<size_t>(outSize));
            int64_t offset = 0;
            for (int t : op.inputs) {
                const int64_t len = tensors[static_cast<size_t>(t)].shape[axis] * inner;
                for (int64_t r = 0; r < outer; ++r)
                    for (int64_t k = 0; k < len; ++k) {
                        const size_t d = static_cast<size_t>(r * os[axis] * inner + offset + k);
                        const size_t s = static_cast<size_t>(r * len + k);
                        if (integer)
                            dst[d] = m_ints[static_cast<size_t>(t)][s];
                        else
                            dstF[d] = m_floats[static_cast<size_t>(t)][s];
                    }
                offset += len;
            }
            break;
        }
        case IntOpKind::MaxPool:
        case IntOpKind::AvgPool:
        case IntOpKind::FloatMaxPool:
        case IntOpKind::FloatAvgPool: {
            const ConvGeometry& g = op.geom;
            const int64_t h = inT0.shape[0], wd = inT0.shape[1], c = inT0.shape[2];
            const bool integer = op.kind == IntOpKind::MaxPool || op.kind == IntOpKind::AvgPool;
            const bool isMax = op.kind == IntOpKind::MaxPool || op.kind == IntOpKind::FloatMaxPool;
            if (integer)
                dst.resize(static_cast<size_t>(outSize));
            else
                dstF.resize(static_cast<size_t>(outSize));
            for (int64_t oy = 0; oy < g.outH; ++oy)
                for (int64_t ox = 0; ox < g.outW; ++ox)
                    for (int64_t ch = 0; ch < c; ++ch) {
                        int64_t accI = isMax ? std::numeric_limits<int32_t>::min() : 0;
                        double accF = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
                        int64_t count = 0;
                        for (int64_t ky = 0; ky < g.kh; ++ky)
                            for (int64_t kx = 0; kx < g.kw; ++kx) {
                                const int64_t iy = oy * g.sh - g.padTop + ky;
                                const int64_t ix = ox * g.sw - g.padLeft + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                    continue;
                                const size_t k = static_cast<size_t>((iy * wd + ix) * c + ch);
                                ++count;
                                if (integer) {
                                    const int64_t v = m_ints[i0][k];
                                    accI = isMax ? std::max(accI, v) : accI + v;
                                } else {
                                    const double v = m_floats[i0][k];
                                    accF = isMax ? std::max(accF, v) : accF + v;
                                }
                            }
                        const size_t d = static_cast<size_t>((oy * g.outW + ox) * c + ch);
                        if (integer) {
                            if (!isMax) // TFLite: round half away from zero
                                accI = accI > 0 ? (accI + count / 2) / count
                                                : (accI - count / 2) / count;
                            dst[d] = std::clamp(static_cast<int32_t>(accI), op.actMin, op.actMax);
                        } else {
                            dstF[d] = static_cast<float>(isMax ? accF
                                                               : accF / static_cast<double>(count));
                        }
                    }
            break;
        }
        case IntOpKind::Mean:
        case IntOpKind::FloatMean: {
            const int64_t hw = inT0.shape[0] * inT0.shape[1], c = inT0.shape[2];
            if (op.kind == IntOpKind::FloatMean) {
                dstF.assign(static_cast<size_t>(c), 0.0f);
                for (int64_t ch = 0; ch < c; ++ch) {
                    double s = 0;
                    for (int64_t k = 0; k < hw; ++k)
                        s += m_floats[i0][static_cast<size_t>(k * c + ch)];
                    dstF[static_cast<size_t>(ch)] = static_cast<float>(s / static_cast<double>(hw));
                }
                break;
            }
            dst.resize(static_cast<size_t>(c));
            const int32_t zpIn = inT0.zeroPoints[0];
            for (int64_t ch = 0; ch < c; ++ch) {
                int64_t acc = 0;
                for (int64_t k = 0; k < hw; ++k)
                    acc += m_ints[i0][static_cast<size_t>(k * c + ch)] - zpIn;
                int64_t v =
                    multiplyByQuantizedMultiplier(acc, op.multiplier[0], op.shift[0], m_rounding);
                v = v > 0 ? (v + hw / 2) / hw : (v - hw / 2) / hw;
                dst[static_cast<size_t>(ch)] =
                    std::clamp(static_cast<int32_t>(v) + outT.zeroPoints[0], op.actMin, op.actMax);
            }
            break;
        }
        case IntOpKind::Reshape:
            if (inT0.type == IntDType::Float32)
                dstF = m_floats[i0];
            else
                dst = m_ints[i0];
            break;
        case IntOpKind::Pad: {
            const ConvGeometry& g = op.geom;
            const int64_t h = inT0.shape[0], wd = inT0.shape[1], c = inT0.shape[2];
            const int64_t ow = outT.shape[1];
            const bool integer = inT0.type != IntDType::Float32;
            if (integer)
                dst.assign(static_cast<size_t>(outSize), inT0.zeroPoints[0]);
            else
                dstF.assign(static_cast<size_t>(outSize), 0.0f);
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < wd; ++x)
                    for (int64_t ch = 0; ch < c; ++ch) {
                        const size_t s = static_cast<size_t>((y * wd + x) * c + ch);
                        const size_t d =
                            static_cast<size_t>(((y + g.padTop) * ow + x + g.padLeft) * c + ch);
                        if (integer)
                            dst[d] = m_ints[i0][s];
                        else
                            dstF[d] = m_floats[i0][s];
                    }
            break;
        }
        case IntOpKind::Softmax: {
            const int64_t k = outT.shape.back();
            const int64_t rows = outSize / k;
            const QuantParams ip = inT0.params();
            const QuantParams op2 = outT.params();
            std::vector<float> table(static_cast<size_t>(ip.qmax - ip.qmin + 1));
            for (size_t d = 0; d < table.size(); ++d)
                table[d] = std::exp(-ip.scale * static_cast<float>(d));
            dst.resize(static_cast<size_t>(outSize));
            for (int64_t r = 0; r < rows; ++r) {
                const int32_t* row = m_ints[i0].data() + r * k;
                const int32_t mx = *std::max_element(row, row + k);
                float sum = 0.0f;
                for (int64_t j = 0; j < k; ++j)
                    sum += table[static_cast<size_t>(mx - row[j])];
                const float inv = 1.0f / (sum * op2.scale);
                for (int64_t j = 0; j < k; ++j) {
                    const float q = roundAway(table[static_cast<size_t>(mx - row[j])] * inv);
                    dst[static_cast<size_t>(r * k + j)] =
                        std::clamp(static_cast<int32_t>(q) + op2.zeroPoint, op2.qmin, op2.qmax);
                }
            }
            break;
        }
        case IntOpKind::Lut: {
            dst.resize(static_cast<size_t>(outSize));
            for (int64_t i = 0; i < outSize; ++i)
                dst[static_cast<size_t>(i)] =
                    op.table[static_cast<size_t>(m_ints[i0][static_cast<size_t>(i)] - inT0.qmin)];
            break;
        }
        case IntOpKind::FloatActivation: {
            dstF.resize(static_cast<size_t>(outSize));
            for (int64_t i = 0; i < outSize; ++i)
                dstF[static_cast<size_t>(i)] = applyFloatActivation(
                    op.floatActivation, m_floats[i0][static_cast<size_t>(i)], op.leakyAlpha);
            break;
        }
        case IntOpKind::FloatSoftmax: {
            const int64_t k = outT.shape.back();
            dstF.resize(static_cast<size_t>(outSize));
            for (int64_t r = 0; r < outSize / k; ++r) {
                const float* row = m_floats[i0].data() + r * k;
                const float mx = *std::max_element(row, row + k);
                double sum = 0;
                for (int64_t j = 0; j < k; ++j)
                    sum += std::exp(static_cast<double>(row[j] - mx));
                for (int64_t j = 0; j < k; ++j)
                    dstF[static_cast<size_t>(r * k + j)] =
                        static_cast<float>(std::exp(static_cast<double>(row[j] - mx)) / sum);
            }
            break;
        }
        }
    }

    const IntTensor& outT = tensors[static_cast<size_t>(m_model.output)];
    const int64_t n = shapeSize(outT.shape);
    if (outT.type == IntDType::Float32) {
        std::copy(m_floats[static_cast<size_t>(m_model.output)].begin(),
                  m_floats[static_cast<size_t>(m_model.output)].end(), output);
    } else {
        const QuantParams p = outT.params();
        const auto& q = m_ints[static_cast<size_t>(m_model.output)];
        for (int64_t i = 0; i < n; ++i) {
            output[i] = dequantizeValue(q[static_cast<size_t>(i)], p);
            if (intOutput)
                intOutput[i] = q[static_cast<size_t>(i)];
        }
    }
}

Tensor IntReferenceExecutor::run(const Tensor& input) {
    const int64_t n = input.dim(0);
    const IntTensor& outT = m_model.tensors[static_cast<size_t>(m_model.output)];
    const int64_t outSize = shapeSize(outT.shape);
    const int64_t inSize = shapeSize(m_model.inputShape);
    QAT_ASSERT(input.size() == n * inSize);
    Tensor out(withBatch(n, outT.shape));
    const bool intOut = outT.type != IntDType::Float32;
    m_intOut.assign(intOut ? static_cast<size_t>(n * outSize) : 0, 0);
    for (int64_t b = 0; b < n; ++b)
        runSample(input.data() + b * inSize, out.data() + b * outSize,
                  intOut ? m_intOut.data() + b * outSize : nullptr);
    return out;
}

Result<double> integerAccuracy(const IntModel& model, const Dataset& data, int64_t limit,
                               Rounding rounding, const CancelToken* cancel) {
    if (data.sampleShape != model.inputShape)
        return Status::error("dataset '" + data.name + "' has " + shapeToString(data.sampleShape) +
                             " samples but the integer model expects " +
                             shapeToString(model.inputShape));
    const int64_t n = limit > 0 ? std::min(limit, data.size()) : data.size();
    IntReferenceExecutor exec(model, rounding);
    int64_t correct = 0;
    constexpr int64_t kBatch = 64;
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        idx[static_cast<size_t>(i)] = i;
    Tensor batch;
    std::vector<int32_t> labels;
    for (int64_t b = 0; b < n; b += kBatch) {
        if (cancel && cancel->isCancelled())
            return Status::error("cancelled");
        const int64_t e = std::min(n, b + kBatch);
        data.gather(idx, b, e, batch, labels);
        Tensor out = exec.run(batch);
        correct +=
            static_cast<int64_t>(std::llround(top1Accuracy(out, labels.data(), e - b) * (e - b)));
    }
    return n == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(n);
}

} // namespace qat
