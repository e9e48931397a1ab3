// Fusion of BatchNorm and ReLU/ReLU6 into weighted nodes, shared by the float export and
// the float inference executor (see graph/fusion.h for the rules, the formula and the
// epsilon convention).
#include "graph/fusion.h"

#include <cmath>
#include <string>

namespace qat {

namespace {

std::vector<const Node*> liveConsumers(const Graph& graph, const std::set<std::string>& live,
                                       const std::string& name) {
    std::vector<const Node*> result;
    for (const auto& c : graph.consumers(name))
        if (live.count(c))
            result.push_back(graph.find(c));
    return result;
}

// The only live consumer of `name`, looking through Dropouts (appended to `through`).
const Node* soleConsumer(const Graph& graph, const std::set<std::string>& live,
                         const std::string& name, std::vector<std::string>& through) {
    std::string current = name;
    for (;;) {
        auto consumers = liveConsumers(graph, live, current);
        if (consumers.size() != 1)
            return nullptr;
        if (consumers[0]->type != OpType::Dropout)
            return consumers[0];
        through.push_back(consumers[0]->name);
        current = consumers[0]->name;
    }
}

} // namespace

std::set<std::string> liveNodes(const Graph& graph) {
    std::set<std::string> live;
    std::vector<std::string> stack{graph.outputNode().name};
    while (!stack.empty()) {
        std::string name = stack.back();
        stack.pop_back();
        if (!live.insert(name).second)
            continue;
        for (const auto& in : graph.find(name)->inputs)
            stack.push_back(in);
    }
    return live;
}

FusedBlock fuseFollowers(const Graph& graph, const std::set<std::string>& live, const Node& node,
                         bool allowBatchNorm) {
    FusedBlock block;
    block.last = &node;
    std::vector<std::string> through;
    const Node* next = soleConsumer(graph, live, node.name, through);
    if (allowBatchNorm && next && next->type == OpType::BatchNorm) {
        block.batchNorm = next;
        block.fused.insert(block.fused.end(), through.begin(), through.end());
        block.fused.push_back(next->name);
        block.last = next;
        through.clear();
        next = soleConsumer(graph, live, next->name, through);
    }
    if (next && (next->type == OpType::ReLU || next->type == OpType::ReLU6)) {
        block.activation = next;
        block.fused.insert(block.fused.end(), through.begin(), through.end());
        block.fused.push_back(next->name);
        block.last = next;
    }
    return block;
}

Result<std::vector<double>> foldBatchNorm(const Node& bn, const Node& into,
                                          std::vector<float>& bias) {
    const std::string where = "node '" + bn.name + "' (" + opTypeName(bn.type) + ")";
    const size_t channels = bias.size();
    // The BatchNorm layer runs with a float epsilon; fold with the same value.
    const double eps = static_cast<float>(bn.attrs.getFloat("epsilon", 1e-5));
    const char* names[] = {"gamma", "beta", "moving_mean", "moving_var"};
    for (const char* n : names) {
        auto it = bn.params.find(n);
        if (it == bn.params.end() || static_cast<size_t>(it->second.size()) != channels)
            return Status::error(where + ": parameter '" + n + "' must have " +
                                 std::to_string(channels) + " values to fold into '" + into.name +
                                 "'");
    }
    const Tensor& gamma = bn.params.at("gamma");
    const Tensor& beta = bn.params.at("beta");
    const Tensor& mean = bn.params.at("moving_mean");
    const Tensor& var = bn.params.at("moving_var");
    std::vector<double> scale(channels, 1.0);
    for (size_t c = 0; c < channels; ++c) {
        const auto i = static_cast<int64_t>(c);
        const double v = static_cast<double>(var[i]) + eps;
        if (!(v > 0.0))
            return Status::error(where + ": moving_var[" + std::to_string(c) +
                                 "] + epsilon must be positive to fold it");
        scale[c] = static_cast<double>(gamma[i]) / std::sqrt(v);
        bias[c] = static_cast<float>((static_cast<double>(bias[c]) - mean[i]) * scale[c] +
                                     static_cast<double>(beta[i]));
    }
    return scale;
}

void scaleChannels(std::vector<float>& values, int64_t outer, int64_t channels, int64_t inner,
                   const std::vector<double>& scale) {
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c) {
            float* p = values.data() + (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; ++i)
                p[i] =
                    static_cast<float>(static_cast<double>(p[i]) * scale[static_cast<size_t>(c)]);
        }
}

} // namespace qat
