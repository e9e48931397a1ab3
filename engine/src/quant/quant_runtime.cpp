// See quant_runtime.h.
#include "quant/quant_runtime.h"

namespace qat {

QuantRuntime::QuantRuntime(const Graph& graph, const QuantPlan& plan, const QatOptions& options)
    : m_plan(plan), m_options(options), m_topo(analyzeQuantization(graph, plan)) {
    for (const auto& p : m_topo.points)
        m_observers.emplace_back(p.config);
    for (const auto& n : graph.nodes)
        m_nodeNames.push_back(n.name);
    m_masks.resize(graph.nodes.size());
    m_masked.assign(graph.nodes.size(), false);
    m_bnFrozen = options.freezeBnAfter == 0;
    m_observersFrozen = options.freezeObserversAfter == 0;
}

bool QuantRuntime::ready(int point) const {
    const auto& p = m_topo.points[static_cast<size_t>(point)];
    return p.fixed || m_observers[static_cast<size_t>(point)].initialized();
}

QuantParams QuantRuntime::pointParams(int point) const {
    const auto& p = m_topo.points[static_cast<size_t>(point)];
    return p.fixed ? p.fixedParams : m_observers[static_cast<size_t>(point)].params();
}

bool QuantRuntime::apply(size_t node, const Tensor& act, Tensor& actQ, Phase phase) {
    m_masked[node] = false;
    const int point = m_topo.paramsOf[node];
    if (point < 0)
        return false;
    const bool observing =
        m_topo.observes[node] &&
        ((phase == Phase::Train && !m_observersFrozen) || (phase == Phase::Eval && m_calibrating));
    if (observing)
        m_observers[static_cast<size_t>(point)].observe(act.data(), act.size());
    if (!m_fqEnabled || !ready(point))
        return false;
    const std::vector<QuantParams> params{pointParams(point)};
    actQ.resize(act.shape());
    uint8_t* mask = nullptr;
    if (phase == Phase::Train) {
        m_masks[node].resize(static_cast<size_t>(act.size()));
        mask = m_masks[node].data();
        m_masked[node] = true;
    }
    fakeQuantize(act.data(), actQ.data(), 1, 1, act.size(), params, mask);
    return true;
}

void QuantRuntime::maskGradient(size_t node, Tensor& diff) const {
    if (!m_masked[node])
        return;
    const uint8_t* m = m_masks[node].data();
    float* d = diff.data();
    const int64_t n = diff.size();
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
    for (int64_t i = 0; i < n; ++i)
        d[i] = m[i] ? d[i] : 0.0f;
}

void QuantRuntime::onTrainStep() {
    ++m_steps;
    if (m_options.freezeBnAfter >= 0 && m_steps >= m_options.freezeBnAfter)
        m_bnFrozen = true;
    if (m_options.freezeObserversAfter >= 0 && m_steps >= m_options.freezeObserversAfter)
        m_observersFrozen = true;
}

QuantState QuantRuntime::state() const {
    QuantState s;
    for (size_t p = 0; p < m_topo.points.size(); ++p) {
        const auto& pt = m_topo.points[p];
        if (pt.owner.empty())
            continue;
        ObservedRange r;
        r.owner = pt.owner;
        r.initialized = ready(static_cast<int>(p));
        if (pt.fixed) {
            r.lo = pt.fixedParams.min();
            r.hi = pt.fixedParams.max();
        } else {
            r.lo = m_observers[p].lo();
            r.hi = m_observers[p].hi();
        }
        s.ranges.push_back(r);
    }
    return s;
}

Status QuantRuntime::setState(const QuantState& state) {
    for (const auto& r : state.ranges) {
        bool found = false;
        for (size_t p = 0; p < m_topo.points.size(); ++p) {
            if (m_topo.points[p].owner != r.owner)
                continue;
            found = true;
            if (r.initialized && !m_topo.points[p].fixed)
                m_observers[p].setRange(r.lo, r.hi);
        }
        if (!found)
            return Status::error("quantization state names '" + r.owner +
                                 "', which is not a quantization point of this model and plan");
    }
    return Status::ok();
}

} // namespace qat
