// Quantization plans: which layers are quantized and how, presets, JSON, validation;
// and the block analysis that decides where quantizers sit.
//
// A block is what the integer model executes as one int8 op: Conv2D/DepthwiseConv2D/
// Dense (+ BatchNorm folded) (+ ReLU/ReLU6 fused); Add (+ ReLU/ReLU6); Concat;
// GlobalAvgPool; a standalone activation; Softmax. Quantizers sit on the model input and
// on each block's output, never inside a block. Pooling, Reshape, Flatten, ZeroPad and
// Dropout pass their input's parameters through (TFLite's same-scale rule); Concat
// inputs share the Concat's parameters.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/quant.h"
#include "qat/status.h"

namespace qat {

enum class BlockKind { Weighted, Add, Concat, GlobalAvgPool, Activation, Softmax, BatchNorm };

struct QuantBlock {
    BlockKind kind = BlockKind::Weighted;
    std::string anchor;     // plan key: the Conv/Dense/Add/... node
    std::string bn;         // fused BatchNorm node (Weighted only), or empty
    std::string activation; // fused ReLU/ReLU6 node, or empty
    std::string output;     // last node of the block (== anchor when nothing is fused)
    int weightAxis = -1;    // output-channel axis of the weights (0, or 3 for depthwise)
    bool hasWeights() const { return kind == BlockKind::Weighted; }
};

// Blocks in graph order. Requires a finalized graph.
std::vector<QuantBlock> findQuantBlocks(const Graph& graph);
// True for ops whose output shares its input's quantization parameters.
bool isSameScaleOp(OpType type);

struct LayerQuantConfig {
    std::string layer; // a block anchor
    bool enabled = true;
    QuantizerConfig weights;     // ignored for blocks without weights
    QuantizerConfig activations; // the block's output quantizer
    bool operator==(const LayerQuantConfig&) const = default;
};

struct QuantPlan {
    static constexpr int kVersion = 1;
    std::string preset;
    QuantizerConfig input; // the model input quantizer
    std::vector<LayerQuantConfig> layers;

    const LayerQuantConfig* find(const std::string& layer) const;
    LayerQuantConfig* find(const std::string& layer);
    bool operator==(const QuantPlan&) const = default;
};

const std::vector<std::string>& presetNames();
// A plan covering every block of the graph, configured by the preset.
Result<QuantPlan> makePlan(const Graph& graph, const std::string& preset);
// Checks bit ranges (weights 2-8, activations 2-16), layer names, per-axis only where
// there are output channels. Messages name the layer and the field.
Status validatePlan(const Graph& graph, const QuantPlan& plan);

// Where quantization parameters live, node by node, for a graph and a plan. Shared by
// fake-quant training and integer conversion so both put grids in the same places.
struct QuantPoint {
    std::string owner;      // node whose output is observed for this grid; "" = unused
    QuantizerConfig config; // the owning layer's activation config
    bool fixed = false;     // Softmax output: fixed parameters, never observed
    QuantParams fixedParams;
};

struct QuantTopology {
    std::vector<QuantBlock> blocks;
    std::vector<QuantPoint> points;
    // Per node index (graph order):
    std::vector<int> paramsOf;  // point describing the node's output tensor; -1 = float
    std::vector<bool> applyFq;  // fake-quantize this node's output in simulation
    std::vector<bool> observes; // this node's output feeds its point's observer
    std::vector<int> blockOf;   // block index of the node (anchor, BN or fused act); -1
    // Weighted blocks whose weights are quantized (index into blocks).
    std::vector<bool> quantizeWeights;
};

// Requires a finalized graph and a plan that validates against it.
QuantTopology analyzeQuantization(const Graph& graph, const QuantPlan& plan);

// Softmax output grids: int8 (1/256, -128), int16 (1/32768, 0); other widths alike.
QuantParams softmaxOutputParams(const QuantizerConfig& config);

// JSON: {"format":"qatlab-plan","version":1,"preset":"int8","input":{...},
//        "layers":{"conv1":{"enabled":true,"weights":{...},"activations":{...}}}}.
// Quantizer objects: bits, symmetric, narrow_range, per_axis, estimator, ema_decay,
// percentile. Reading applies the preset first, then every field present on top, so a
// file may hold only overrides. Unknown layers and fields are errors.
std::string planToJson(const QuantPlan& plan);
Result<QuantPlan> planFromJson(const std::string& json, const Graph& graph,
                               const std::string& sourceName = "plan");
Result<QuantPlan> loadPlan(const std::string& path, const Graph& graph);
Status savePlan(const QuantPlan& plan, const std::string& path);

} // namespace qat
