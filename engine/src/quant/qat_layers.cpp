// See qat_layers.h for the math. Tensors are NHWC/[N,F]: the output channel is the
// last axis, so per-channel work walks rows of length C.
#include "quant/qat_layers.h"

#include <omp.h>

#include <cmath>
#include <cstring>

#include "quant/observer.h"

namespace qat {

namespace {

AxisSplit weightSplit(const Tensor& w, int axis, bool perAxis) {
    if (perAxis)
        return splitAxis(w.shape(), axis);
    AxisSplit s;
    s.inner = w.size();
    return s;
}

// Multiplies w[o, c, i] by f[c] (layout from splitAxis).
void scaleAlongAxis(const float* src, float* dst, const AxisSplit& s, const std::vector<float>& f) {
    for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t c = 0; c < s.channels; ++c) {
            const int64_t base = (o * s.channels + c) * s.inner;
            const float k = f[static_cast<size_t>(c)];
            for (int64_t i = 0; i < s.inner; ++i)
                dst[base + i] = src[base + i] * k;
        }
}

ParamSlot* findSlot(std::vector<ParamSlot>& slots, const char* suffix) {
    const std::string want = std::string("/") + suffix;
    for (auto& s : slots)
        if (s.name.size() >= want.size() &&
            s.name.compare(s.name.size() - want.size(), want.size(), want) == 0)
            return &s;
    return nullptr;
}

// Per-channel sums over rows: out[c] = sum_r f(r, c), rows of length C, in parallel.
template <typename F>
void channelReduce(int64_t rows, int64_t channels, std::vector<double>& out, F f) {
    out.assign(static_cast<size_t>(channels), 0.0);
    const int threads = rows * channels > (1 << 15) ? omp_get_max_threads() : 1;
    std::vector<std::vector<double>> partial(static_cast<size_t>(threads),
                                             std::vector<double>(static_cast<size_t>(channels)));
#pragma omp parallel num_threads(threads)
    {
        auto& acc = partial[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < channels; ++c)
                acc[static_cast<size_t>(c)] += f(r, c);
    }
    for (const auto& p : partial)
        for (size_t c = 0; c < out.size(); ++c)
            out[c] += p[c];
}

} // namespace

// ---------------------------------------------------------------------------------------
QatWeightLayer::QatWeightLayer(Node& node, int axis, const QuantizerConfig& cfg)
    : m_node(node), m_shadow(node), m_axis(axis), m_cfg(cfg),
      m_hasBias(node.params.count("bias") != 0) {}

Result<std::unique_ptr<Layer>> QatWeightLayer::create(Node& node, int axis,
                                                      const QuantizerConfig& cfg, uint64_t seed) {
    std::unique_ptr<QatWeightLayer> layer(new QatWeightLayer(node, axis, cfg));
    auto inner = makeLayer(layer->m_shadow, seed);
    if (!inner)
        return inner.status();
    layer->m_inner = std::move(inner.value());
    return std::unique_ptr<Layer>(std::move(layer));
}

Status QatWeightLayer::prepare(const std::vector<Shape>& srcShapes) {
    QAT_RETURN_IF_ERROR(m_inner->prepare(srcShapes));
    m_dstShape = m_inner->dstShape();
    return Status::ok();
}

void QatWeightLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) {
    const Tensor& w = m_node.params.at("weights");
    Tensor& wq = m_shadow.params.at("weights");
    m_params = weightQuantParams(w, m_axis, m_cfg);
    const AxisSplit s = weightSplit(w, m_axis, m_cfg.perAxis);
    m_mask.resize(static_cast<size_t>(w.size()));
    fakeQuantize(w.data(), wq.data(), s.outer, s.channels, s.inner, m_params, m_mask.data());
    if (m_hasBias)
        m_shadow.params.at("bias") = m_node.params.at("bias");
    m_inner->forward(src, dst, phase);
}

void QatWeightLayer::backward(const std::vector<const Tensor*>& src, const Tensor& dst,
                              const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    m_inner->backward(src, dst, diffDst, diffSrc);
    auto slots = m_inner->params();
    const Tensor& gw = *findSlot(slots, "weights")->grad;
    m_gradW.resize(gw.shape());
    for (int64_t i = 0; i < gw.size(); ++i)
        m_gradW[i] = m_mask[static_cast<size_t>(i)] ? gw[i] : 0.0f;
    if (m_hasBias)
        m_gradB = *findSlot(slots, "bias")->grad;
}

std::vector<ParamSlot> QatWeightLayer::params() {
    if (m_gradW.empty())
        m_gradW = Tensor(m_node.params.at("weights").shape());
    std::vector<ParamSlot> p{
        {m_node.name + "/weights", &m_node.params.at("weights"), &m_gradW, true}};
    if (m_hasBias) {
        if (m_gradB.empty())
            m_gradB = Tensor(m_node.params.at("bias").shape());
        p.push_back({m_node.name + "/bias", &m_node.params.at("bias"), &m_gradB, false});
    }
    return p;
}

// ---------------------------------------------------------------------------------------
FoldedBnLayer::FoldedBnLayer(Node& conv, Node& bn, int axis, const QuantizerConfig& cfg,
                             const bool* frozen)
    : m_conv(conv), m_bn(bn), m_shadow(conv), m_axis(axis), m_cfg(cfg), m_frozen(frozen),
      m_hasBias(conv.params.count("bias") != 0) {
    m_shadow.attrs.set("use_bias", 0);
    m_shadow.params.erase("bias");
}

Result<std::unique_ptr<Layer>> FoldedBnLayer::create(Node& conv, Node& bn, int axis,
                                                     const QuantizerConfig& cfg,
                                                     const bool* bnFrozen, uint64_t seed) {
    std::unique_ptr<FoldedBnLayer> layer(new FoldedBnLayer(conv, bn, axis, cfg, bnFrozen));
    auto inner = makeLayer(layer->m_shadow, seed);
    if (!inner)
        return inner.status();
    layer->m_inner = std::move(inner.value());
    return std::unique_ptr<Layer>(std::move(layer));
}

Status FoldedBnLayer::prepare(const std::vector<Shape>& srcShapes) {
    QAT_RETURN_IF_ERROR(m_inner->prepare(srcShapes));
    m_dstShape = m_inner->dstShape();
    if (m_dstShape.back() != m_bn.params.at("gamma").size())
        return Status::error("BatchNorm '" + m_bn.name + "' does not match the channels of '" +
                             m_conv.name + "'");
    return Status::ok();
}

void FoldedBnLayer::scaledWeights() {
    const Tensor& gamma = m_bn.params.at("gamma");
    const Tensor& var = m_bn.params.at("moving_var");
    const double eps = m_bn.attrs.getFloat("epsilon", 1e-5);
    const int64_t channels = gamma.size();
    m_s.resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
        float s = gamma[c] / static_cast<float>(std::sqrt(static_cast<double>(var[c]) + eps));
        if (std::fabs(s) < 1e-12f)
            s = s < 0 ? -1e-12f : 1e-12f; // keeps z / s finite for a dead channel
        m_s[static_cast<size_t>(c)] = s;
    }
    const Tensor& w = m_conv.params.at("weights");
    Tensor& wq = m_shadow.params.at("weights");
    scaleAlongAxis(w.data(), wq.data(), splitAxis(w.shape(), m_axis), m_s);
    m_params = weightQuantParams(wq, m_axis, m_cfg);
    const AxisSplit s = weightSplit(wq, m_axis, m_cfg.perAxis);
    m_mask.resize(static_cast<size_t>(wq.size()));
    fakeQuantize(wq.data(), wq.data(), s.outer, s.channels, s.inner, m_params, m_mask.data());
}

void FoldedBnLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) {
    scaledWeights();
    m_z.resize(m_dstShape);
    m_inner->forward(src, m_z, phase);
    const int64_t channels = m_dstShape.back();
    const int64_t rows = m_z.size() / channels;
    const float* gamma = m_bn.params.at("gamma").data();
    const float* beta = m_bn.params.at("beta").data();
    float* rmean = m_bn.params.at("moving_mean").data();
    float* rvar = m_bn.params.at("moving_var").data();
    const float* bias = m_hasBias ? m_conv.params.at("bias").data() : nullptr;
    const float* z = m_z.data();
    float* y = dst.data();
    const float* s = m_s.data();
    m_trainedLast = phase == Phase::Train && !*m_frozen;
    if (!m_trainedLast) {
        std::vector<float> shift(static_cast<size_t>(channels));
        for (int64_t c = 0; c < channels; ++c)
            shift[static_cast<size_t>(c)] = s[c] * ((bias ? bias[c] : 0.0f) - rmean[c]) + beta[c];
#pragma omp parallel for if (rows * channels > (1 << 15)) schedule(static)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < channels; ++c)
                y[r * channels + c] = z[r * channels + c] + shift[static_cast<size_t>(c)];
        return;
    }
    auto u = [&](int64_t r, int64_t c) {
        return static_cast<double>(z[r * channels + c]) / s[c] + (bias ? bias[c] : 0.0f);
    };
    std::vector<double> sum, sumSq;
    channelReduce(rows, channels, sum, u);
    m_mean.resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c)
        m_mean[static_cast<size_t>(c)] = static_cast<float>(sum[static_cast<size_t>(c)] / rows);
    channelReduce(rows, channels, sumSq, [&](int64_t r, int64_t c) {
        const double d = u(r, c) - m_mean[static_cast<size_t>(c)];
        return d * d;
    });
    const double eps = m_bn.attrs.getFloat("epsilon", 1e-5);
    const double momentum = m_bn.attrs.getFloat("momentum", 0.1);
    m_invStd.resize(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
        const double var = sumSq[static_cast<size_t>(c)] / rows;
        m_invStd[static_cast<size_t>(c)] = static_cast<float>(1.0 / std::sqrt(var + eps));
        const double unbiased = rows > 1 ? var * rows / (rows - 1) : var;
        rmean[c] = static_cast<float>((1 - momentum) * rmean[c] +
                                      momentum * m_mean[static_cast<size_t>(c)]);
        rvar[c] = static_cast<float>((1 - momentum) * rvar[c] + momentum * unbiased);
    }
#pragma omp parallel for if (rows * channels > (1 << 15)) schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < channels; ++c) {
            const size_t cc = static_cast<size_t>(c);
            y[r * channels + c] =
                static_cast<float>(gamma[c] * (u(r, c) - m_mean[cc]) * m_invStd[cc] + beta[c]);
        }
}

void FoldedBnLayer::backward(const std::vector<const Tensor*>& src, const Tensor& /*dst*/,
                             const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    const int64_t channels = m_dstShape.back();
    const int64_t rows = m_z.size() / channels;
    const float* gamma = m_bn.params.at("gamma").data();
    const float* rmean = m_bn.params.at("moving_mean").data();
    const float* rvar = m_bn.params.at("moving_var").data();
    const float* bias = m_hasBias ? m_conv.params.at("bias").data() : nullptr;
    const double eps = m_bn.attrs.getFloat("epsilon", 1e-5);
    const float* z = m_z.data();
    const float* dy = diffDst.data();
    const float* s = m_s.data();
    m_diffZ.resize(m_z.shape());
    float* dz = m_diffZ.data();
    m_gradGamma.resize({channels});
    m_gradBeta.resize({channels});
    if (m_hasBias)
        m_gradB.resize({channels});
    auto u = [&](int64_t r, int64_t c) {
        return static_cast<double>(z[r * channels + c]) / s[c] + (bias ? bias[c] : 0.0f);
    };
    std::vector<double> dbeta, dgamma;
    channelReduce(rows, channels, dbeta,
                  [&](int64_t r, int64_t c) { return dy[r * channels + c]; });
    if (m_trainedLast) {
        auto xhat = [&](int64_t r, int64_t c) {
            const size_t cc = static_cast<size_t>(c);
            return (u(r, c) - m_mean[cc]) * m_invStd[cc];
        };
        channelReduce(rows, channels, dgamma,
                      [&](int64_t r, int64_t c) { return dy[r * channels + c] * xhat(r, c); });
        std::vector<double> dbias(static_cast<size_t>(channels), 0.0);
#pragma omp parallel for if (rows * channels > (1 << 15)) schedule(static)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < channels; ++c) {
                const size_t cc = static_cast<size_t>(c);
                const double du =
                    gamma[c] * m_invStd[cc] / rows *
                    (rows * dy[r * channels + c] - dbeta[cc] - xhat(r, c) * dgamma[cc]);
                dz[r * channels + c] = static_cast<float>(du / s[c]);
            }
        // d(bias): sum of du, which is zero by construction of batch normalization.
        if (m_hasBias)
            m_gradB.zero();
    } else {
        channelReduce(rows, channels, dgamma, [&](int64_t r, int64_t c) {
            return dy[r * channels + c] * (u(r, c) - rmean[c]) / std::sqrt(rvar[c] + eps);
        });
        std::memcpy(dz, dy, sizeof(float) * static_cast<size_t>(m_z.size()));
        if (m_hasBias)
            for (int64_t c = 0; c < channels; ++c)
                m_gradB[c] = static_cast<float>(dbeta[static_cast<size_t>(c)] * s[c]);
    }
    for (int64_t c = 0; c < channels; ++c) {
        m_gradGamma[c] = static_cast<float>(dgamma[static_cast<size_t>(c)]);
        m_gradBeta[c] = static_cast<float>(dbeta[static_cast<size_t>(c)]);
    }
    m_inner->backward(src, m_z, m_diffZ, diffSrc);
    auto slots = m_inner->params();
    const Tensor& gw = *findSlot(slots, "weights")->grad;
    m_gradW.resize(gw.shape());
    for (int64_t i = 0; i < gw.size(); ++i)
        m_gradW[i] = m_mask[static_cast<size_t>(i)] ? gw[i] : 0.0f;
    scaleAlongAxis(m_gradW.data(), m_gradW.data(), splitAxis(m_gradW.shape(), m_axis), m_s);
}

std::vector<ParamSlot> FoldedBnLayer::params() {
    auto ensure = [](Tensor& g, const Tensor& like) {
        if (g.shape() != like.shape())
            g = Tensor(like.shape());
    };
    ensure(m_gradW, m_conv.params.at("weights"));
    ensure(m_gradGamma, m_bn.params.at("gamma"));
    ensure(m_gradBeta, m_bn.params.at("beta"));
    std::vector<ParamSlot> p{
        {m_conv.name + "/weights", &m_conv.params.at("weights"), &m_gradW, true}};
    if (m_hasBias) {
        ensure(m_gradB, m_conv.params.at("bias"));
        p.push_back({m_conv.name + "/bias", &m_conv.params.at("bias"), &m_gradB, false});
    }
    p.push_back({m_bn.name + "/gamma", &m_bn.params.at("gamma"), &m_gradGamma, false});
    p.push_back({m_bn.name + "/beta", &m_bn.params.at("beta"), &m_gradBeta, false});
    return p;
}

} // namespace qat
