// Parameter bookkeeping of a finalized Graph: deterministic initialization (He-uniform
// weights, zero biases, identity BatchNorm), completeness and trainable-parameter count.
// Each node draws from its own generator seeded by (seed, hash of the node name), so
// adding or renaming one node never changes the initial weights of the others.
#include <algorithm>
#include <cmath>
#include <random>

#include "graph/shape_inference.h"
#include "qat/graph.h"

namespace qat {

namespace {

// FNV-1a: a fixed, platform-independent string hash (std::hash is neither).
uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

// SplitMix64 finalizer: spreads nearby seeds over the whole generator state space.
uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

Shape firstInputShape(const Graph& graph, const Node& node) {
    if (node.inputs.empty())
        return {};
    const Node* producer = graph.find(node.inputs[0]);
    QAT_ASSERT(producer != nullptr);
    return producer->outputShape;
}

bool isTrainable(const std::string& paramName) {
    return paramName == "weights" || paramName == "bias" || paramName == "gamma" ||
           paramName == "beta";
}

} // namespace

void Graph::initializeParams(uint64_t seed) {
    QAT_ASSERT(m_finalized);
    for (Node& node : nodes) {
        const Shape in = firstInputShape(*this, node);
        const auto specs = detail::paramSpecs(node, in);
        if (specs.empty())
            continue;
        // Uniform doubles from the raw 64-bit stream (not std::uniform_real_distribution,
        // whose algorithm differs between standard libraries).
        std::mt19937_64 rng(mix64(seed + fnv1a64(node.name)));
        const int64_t fanIn = detail::weightFanIn(node, in);
        for (const auto& spec : specs) {
            if (node.params.count(spec.name))
                continue;
            float fill = 0.0f;
            if (spec.name == "gamma" || spec.name == "moving_var")
                fill = 1.0f;
            Tensor t(spec.shape, fill);
            if (spec.name == "weights") {
                const double limit =
                    std::sqrt(6.0 / static_cast<double>(std::max<int64_t>(1, fanIn)));
                for (int64_t i = 0; i < t.size(); ++i) {
                    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53; // [0, 1)
                    t[i] = static_cast<float>((2.0 * u - 1.0) * limit);
                }
            }
            node.params.emplace(spec.name, std::move(t));
        }
    }
}

bool Graph::hasAllParams() const {
    if (!m_finalized)
        return false;
    for (const Node& node : nodes) {
        for (const auto& spec : detail::paramSpecs(node, firstInputShape(*this, node))) {
            auto it = node.params.find(spec.name);
            if (it == node.params.end() || it->second.shape() != spec.shape ||
                it->second.size() != shapeSize(spec.shape))
                return false;
        }
    }
    return true;
}

// From the documented shapes once finalized (so a graph without weights yet still has a
// size); before that, from whatever trainable tensors the nodes hold.
int64_t Graph::parameterCount() const {
    int64_t total = 0;
    for (const Node& node : nodes) {
        if (m_finalized) {
            for (const auto& spec : detail::paramSpecs(node, firstInputShape(*this, node)))
                if (spec.trainable)
                    total += shapeSize(spec.shape);
        } else {
            for (const auto& [name, tensor] : node.params)
                if (isTrainable(name))
                    total += tensor.size();
        }
    }
    return total;
}

} // namespace qat
