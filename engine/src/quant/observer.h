// Range observers for activations and the weight-parameter helper.
// Observer combines per-batch ranges: MinMax keeps the running min/max, Ema an
// exponential moving average (initialized with the first batch), Percentile and Mse the
// mean of per-batch estimates.
#pragma once

#include <vector>

#include "qat/quant.h"
#include "qat/tensor.h"

namespace qat {

class Observer {
public:
    Observer() = default;
    explicit Observer(const QuantizerConfig& config) : m_config(config) {}
    void observe(const float* values, int64_t n);
    bool initialized() const { return m_initialized; }
    float lo() const { return static_cast<float>(m_lo); }
    float hi() const { return static_cast<float>(m_hi); }
    void setRange(float lo, float hi) {
        m_lo = lo;
        m_hi = hi;
        m_initialized = true;
        m_count = 1;
    }
    void reset() {
        m_initialized = false;
        m_count = 0;
    }
    QuantParams params() const { return chooseQuantParams(lo(), hi(), m_config); }
    const QuantizerConfig& config() const { return m_config; }

private:
    QuantizerConfig m_config;
    bool m_initialized = false;
    double m_lo = 0.0, m_hi = 0.0;
    int64_t m_count = 0;
};

// Per-channel (config.perAxis, along `axis`) or per-tensor parameters for weights,
// chosen by config.estimator on the current values.
std::vector<QuantParams> weightQuantParams(const Tensor& weights, int axis,
                                           const QuantizerConfig& config);

} // namespace qat
