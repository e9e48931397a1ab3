// Activation fake-quant inside a quantized Network: one Observer per quantization
// point, fake-quant of node outputs where the topology says, straight-through masks for
// backward, and the training schedule (freeze BN statistics / observers after N steps).
#pragma once

#include <vector>

#include "ops/layer.h"
#include "qat/quantize.h"
#include "quant/observer.h"

namespace qat {

class QuantRuntime {
public:
    QuantRuntime(const Graph& graph, const QuantPlan& plan, const QatOptions& options);

    const QuantTopology& topology() const { return m_topo; }
    const QuantPlan& plan() const { return m_plan; }
    bool applies(size_t node) const { return m_topo.applyFq[node]; }

    // Observes (when observing) and fake-quantizes node's output into actQ. Returns false
    // when the output passes through unchanged (fake-quant off, or no range yet).
    bool apply(size_t node, const Tensor& act, Tensor& actQ, Phase phase);
    // Zeroes gradient entries whose forward value was clipped by the grid.
    void maskGradient(size_t node, Tensor& diff) const;

    void onTrainStep();
    int64_t trainSteps() const { return m_steps; }
    const bool* bnFrozenFlag() const { return &m_bnFrozen; }
    bool bnFrozen() const { return m_bnFrozen; }
    bool observersFrozen() const { return m_observersFrozen; }

    void setFakeQuantEnabled(bool on) { m_fqEnabled = on; }
    void setCalibrating(bool on) { m_calibrating = on; }
    bool ready(int point) const;
    QuantParams pointParams(int point) const;
    QuantState state() const;
    Status setState(const QuantState& state);

private:
    QuantPlan m_plan;
    QatOptions m_options;
    QuantTopology m_topo;
    std::vector<std::string> m_nodeNames;
    std::vector<Observer> m_observers;         // per point
    std::vector<std::vector<uint8_t>> m_masks; // per node
    std::vector<bool> m_masked;                // per node: last apply produced a mask
    bool m_fqEnabled = true;
    bool m_calibrating = false;
    bool m_bnFrozen = false;
    bool m_observersFrozen = false;
    int64_t m_steps = 0;
};

} // namespace qat
