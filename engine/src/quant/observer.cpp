// See observer.h.
#include "quant/observer.h"

namespace qat {

void Observer::observe(const float* values, int64_t n) {
    if (n <= 0)
        return;
    const auto [blo, bhi] = estimateRange(values, n, m_config);
    if (!std::isfinite(blo) || !std::isfinite(bhi))
        return; // a diverging batch must not poison the range
    if (!m_initialized) {
        m_lo = blo;
        m_hi = bhi;
        m_initialized = true;
        m_count = 1;
        return;
    }
    switch (m_config.estimator) {
    case RangeEstimator::MinMax:
        m_lo = std::min(m_lo, static_cast<double>(blo));
        m_hi = std::max(m_hi, static_cast<double>(bhi));
        break;
    case RangeEstimator::Ema: {
        const double d = m_config.emaDecay;
        m_lo = d * m_lo + (1.0 - d) * blo;
        m_hi = d * m_hi + (1.0 - d) * bhi;
        break;
    }
    case RangeEstimator::Percentile:
    case RangeEstimator::Mse:
        m_lo += (blo - m_lo) / static_cast<double>(m_count + 1);
        m_hi += (bhi - m_hi) / static_cast<double>(m_count + 1);
        break;
    }
    ++m_count;
}

std::vector<QuantParams> weightQuantParams(const Tensor& weights, int axis,
                                           const QuantizerConfig& config) {
    if (!config.perAxis) {
        auto [lo, hi] = estimateRange(weights.data(), weights.size(), config);
        return {chooseQuantParams(lo, hi, config)};
    }
    const AxisSplit split = splitAxis(weights.shape(), axis);
    std::vector<QuantParams> params(static_cast<size_t>(split.channels));
    if (config.estimator == RangeEstimator::MinMax || config.estimator == RangeEstimator::Ema) {
        std::vector<float> lo, hi;
        channelMinMax(weights.data(), split, lo, hi);
        for (size_t c = 0; c < params.size(); ++c)
            params[c] = chooseQuantParams(lo[c], hi[c], config);
        return params;
    }
    std::vector<float> channel(static_cast<size_t>(split.outer * split.inner));
    for (int64_t c = 0; c < split.channels; ++c) {
        size_t k = 0;
        for (int64_t o = 0; o < split.outer; ++o) {
            const float* s = weights.data() + (o * split.channels + c) * split.inner;
            for (int64_t i = 0; i < split.inner; ++i)
                channel[k++] = s[i];
        }
        auto [lo, hi] = estimateRange(channel.data(), static_cast<int64_t>(channel.size()), config);
        params[static_cast<size_t>(c)] = chooseQuantParams(lo, hi, config);
    }
    return params;
}

} // namespace qat
