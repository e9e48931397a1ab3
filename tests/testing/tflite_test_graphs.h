// Graphs and parameter set-up shared by the .tflite export tests (tests/engine) and the
// LiteRT interop tests (tests/interop). The two "coverage" graphs exercise every op and
// padding path of the float exporter that the zoo models do not: explicit pads (PAD, PADV2,
// the AvgPool count rescale), explicit pads equal to SAME's, dilation, depth multiplier,
// grouped and channel-wise Conv2D, ZeroPad, LeakyReLU/HardSwish/Sigmoid/Tanh, AvgPool,
// Concat on a spatial axis, a 3-input Add with a fused ReLU6, Reshape, Dropout and a
// BatchNorm folded into a Dense. Both take a 28x28x1 input (the Fashion-MNIST sample).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "qat/graph.h"

namespace qat::testing {

using Ints = std::vector<int64_t>;

inline Node makeNode(std::string name, OpType type, std::vector<std::string> inputs,
                     std::vector<std::pair<std::string, AttrValue>> attrs = {}) {
    Node n;
    n.name = std::move(name);
    n.type = type;
    n.inputs = std::move(inputs);
    for (auto& [key, value] : attrs)
        n.attrs.set(key, std::move(value));
    return n;
}

inline Node inputNode(const Shape& shape) {
    return makeNode("input", OpType::Input, {}, {{"shape", AttrValue(shape)}});
}

// Gives BatchNorm layers statistics far from identity (gamma in [0.5, 1.5], beta and mean in
// [-0.3, 0.3], var in [0.25, 2]) and every bias small random values, so that folding and
// bias handling are visible in the outputs. Deterministic for a seed.
inline void randomizeStatistics(Graph& graph, uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto uniform = [&](double lo, double hi) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        return static_cast<float>(lo + (hi - lo) * u);
    };
    for (Node& node : graph.nodes) {
        for (auto& [name, tensor] : node.params) {
            float lo = 0, hi = 0;
            if (name == "gamma")
                lo = 0.5f, hi = 1.5f;
            else if (name == "beta" || name == "moving_mean")
                lo = -0.3f, hi = 0.3f;
            else if (name == "moving_var")
                lo = 0.25f, hi = 2.0f;
            else if (name == "bias")
                lo = -0.1f, hi = 0.1f;
            else
                continue;
            for (int64_t i = 0; i < tensor.size(); ++i)
                tensor[i] = uniform(lo, hi);
        }
    }
}

// Conv with dilation and non-SAME explicit pads, depthwise with multiplier 2, the
// activations, AvgPool SAME, Dense with bias after Flatten and Dropout, Softmax.
inline Graph activationsCoverageGraph() {
    Graph g;
    g.nodes.push_back(inputNode({28, 28, 1}));
    g.nodes.push_back(makeNode("relu6_in", OpType::ReLU6, {"input"}));
    g.nodes.push_back(makeNode("conv1", OpType::Conv2D, {"relu6_in"},
                               {{"filters", AttrValue(int64_t{8})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"dilations", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("explicit"))},
                                {"pads", AttrValue(Ints{1, 2, 0, 1})}})); // -> 25x27x8
    g.nodes.push_back(makeNode("leaky", OpType::LeakyReLU, {"conv1"}, {{"alpha", AttrValue(0.2)}}));
    g.nodes.push_back(makeNode("dw", OpType::DepthwiseConv2D, {"leaky"},
                               {{"kernel", AttrValue(Ints{3, 3})},
                                {"depth_multiplier", AttrValue(int64_t{2})},
                                {"dilations", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("same"))}})); // 25x27x16
    g.nodes.push_back(makeNode("hswish", OpType::HardSwish, {"dw"}));
    g.nodes.push_back(makeNode("avg", OpType::AvgPool, {"hswish"},
                               {{"pool", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("same"))}})); // 13x14x16
    g.nodes.push_back(makeNode("sigmoid", OpType::Sigmoid, {"avg"}));
    g.nodes.push_back(makeNode("conv2", OpType::Conv2D, {"sigmoid"},
                               {{"filters", AttrValue(int64_t{8})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"strides", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("same"))},
                                {"use_bias", AttrValue(int64_t{0})}})); // 7x7x8
    g.nodes.push_back(makeNode("tanh", OpType::Tanh, {"conv2"}));
    g.nodes.push_back(makeNode("flatten", OpType::Flatten, {"tanh"}));
    g.nodes.push_back(makeNode("drop", OpType::Dropout, {"flatten"}, {{"rate", AttrValue(0.5)}}));
    g.nodes.push_back(
        makeNode("dense", OpType::Dense, {"drop"}, {{"units", AttrValue(int64_t{10})}}));
    g.nodes.push_back(makeNode("softmax", OpType::Softmax, {"dense"}));
    return g;
}

// ZeroPad, explicit MaxPool/AvgPool pads, Concat on width, grouped and channel-wise convs,
// explicit pads equal to SAME's, BatchNorm folds, a 3-input Add + ReLU6, Reshape,
// GlobalAvgPool, Dense + BatchNorm + ReLU, logits output.
inline Graph structureCoverageGraph() {
    Graph g;
    g.nodes.push_back(inputNode({28, 28, 1}));
    g.nodes.push_back(makeNode("zeropad", OpType::ZeroPad, {"input"},
                               {{"pads", AttrValue(Ints{1, 0, 2, 1})}})); // 31x29x1
    g.nodes.push_back(makeNode("c0", OpType::Conv2D, {"zeropad"},
                               {{"filters", AttrValue(int64_t{8})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("valid"))}})); // 29x27x8
    g.nodes.push_back(makeNode("maxpool", OpType::MaxPool, {"c0"},
                               {{"pool", AttrValue(Ints{3, 3})},
                                {"strides", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("explicit"))},
                                {"pads", AttrValue(Ints{1, 1, 0, 1})}})); // 14x14x8
    g.nodes.push_back(makeNode("avgpool", OpType::AvgPool, {"c0"},
                               {{"pool", AttrValue(Ints{3, 3})},
                                {"strides", AttrValue(Ints{2, 2})},
                                {"padding", AttrValue(std::string("explicit"))},
                                {"pads", AttrValue(Ints{0, 1, 1, 1})}})); // 14x14x8
    g.nodes.push_back(makeNode("concat", OpType::Concat, {"maxpool", "avgpool"},
                               {{"axis", AttrValue(int64_t{1})}})); // 14x28x8
    g.nodes.push_back(makeNode("gconv", OpType::Conv2D, {"concat"},
                               {{"filters", AttrValue(int64_t{8})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"groups", AttrValue(int64_t{2})},
                                {"padding", AttrValue(std::string("explicit"))},
                                {"pads", AttrValue(Ints{1, 1, 1, 1})}})); // SAME's pads
    g.nodes.push_back(makeNode("cwconv", OpType::Conv2D, {"gconv"},
                               {{"filters", AttrValue(int64_t{16})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"groups", AttrValue(int64_t{8})},
                                {"padding", AttrValue(std::string("same"))},
                                {"use_bias", AttrValue(int64_t{0})}})); // 14x28x16
    g.nodes.push_back(makeNode("cw_bn", OpType::BatchNorm, {"cwconv"}));
    g.nodes.push_back(makeNode("cw_relu", OpType::ReLU, {"cw_bn"}));
    g.nodes.push_back(
        makeNode("b1", OpType::Conv2D, {"cw_relu"},
                 {{"filters", AttrValue(int64_t{16})}, {"kernel", AttrValue(Ints{1, 1})}}));
    g.nodes.push_back(makeNode("b2", OpType::Conv2D, {"cw_relu"},
                               {{"filters", AttrValue(int64_t{16})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("same"))}}));
    g.nodes.push_back(makeNode("add", OpType::Add, {"cw_relu", "b1", "b2"}));
    g.nodes.push_back(makeNode("add_relu6", OpType::ReLU6, {"add"}));
    g.nodes.push_back(makeNode("reshape", OpType::Reshape, {"add_relu6"},
                               {{"shape", AttrValue(Ints{28, -1, 16})}})); // 28x14x16
    g.nodes.push_back(makeNode("gap", OpType::GlobalAvgPool, {"reshape"}));
    g.nodes.push_back(makeNode("fc1", OpType::Dense, {"gap"}, {{"units", AttrValue(int64_t{12})}}));
    g.nodes.push_back(makeNode("fc1_bn", OpType::BatchNorm, {"fc1"}));
    g.nodes.push_back(makeNode("fc1_relu", OpType::ReLU, {"fc1_bn"}));
    g.nodes.push_back(
        makeNode("logits", OpType::Dense, {"fc1_relu"}, {{"units", AttrValue(int64_t{10})}}));
    return g;
}

} // namespace qat::testing
