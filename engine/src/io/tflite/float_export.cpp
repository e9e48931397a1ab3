// Float32 .tflite export (see qat/tflite_export.h for the node -> operator mapping).
// The graph is per-sample NHWC; every TFLite tensor gets a leading batch dimension of 1.
// Operator versions are the float ones from TFLite's op_version.cc: 1 everywhere except
// DEPTHWISE_CONV_2D with dilation (2) and grouped CONV_2D (6).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "graph/fusion.h"
#include "io/atomic_file.h"
#include "io/tflite/tflite_builder.h"
#include "qat/tflite_export.h"

namespace qat {

namespace {

namespace tfl = qat::tflite;

std::string where(const Node& node) {
    return "node '" + node.name + "' (" + opTypeName(node.type) + ")";
}

Result<std::vector<int32_t>> batchShape(const Node& node, const Shape& perSample) {
    std::vector<int32_t> shape{1};
    for (int64_t d : perSample) {
        if (d <= 0 || d > std::numeric_limits<int32_t>::max())
            return Status::error(where(node) + ": dimension " + std::to_string(d) + " of " +
                                 shapeToString(perSample) + " does not fit a .tflite shape");
        shape.push_back(static_cast<int32_t>(d));
    }
    return shape;
}

// How a window op's padding is expressed in TFLite.
struct PadPlan {
    tfl::Padding padding = tfl::Padding::Valid;
    bool needsPadOp = false; // explicit pads that SAME cannot express: PAD then VALID
    int64_t top = 0, left = 0, bottom = 0, right = 0;
};

Result<PadPlan> planPadding(const Node& node, const Shape& inShape, const ConvGeometry& g) {
    const std::string mode = node.attrs.getString("padding", "valid");
    PadPlan plan;
    if (mode == "same") {
        plan.padding = tfl::Padding::Same;
        return plan;
    }
    if (mode == "valid")
        return plan;
    if (g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0)
        return plan;
    // Explicit pads that happen to be SAME's (ONNX files spell SAME out this way).
    Node asSame = node;
    asSame.attrs.set("padding", "same");
    auto same = resolveGeometry(asSame, inShape);
    if (same && same->padTop == g.padTop && same->padLeft == g.padLeft &&
        same->padBottom == g.padBottom && same->padRight == g.padRight && same->outH == g.outH &&
        same->outW == g.outW) {
        plan.padding = tfl::Padding::Same;
        return plan;
    }
    plan.needsPadOp = true;
    plan.top = g.padTop;
    plan.left = g.padLeft;
    plan.bottom = g.padBottom;
    plan.right = g.padRight;
    return plan;
}

tfl::Activation fusedActivation(const FusedBlock& block) {
    if (!block.activation)
        return tfl::Activation::None;
    return block.activation->type == OpType::ReLU ? tfl::Activation::Relu : tfl::Activation::Relu6;
}

class FloatExporter {
public:
    explicit FloatExporter(const Graph& graph) : m_graph(graph) {}

    Result<std::vector<uint8_t>> run(TfliteExportReport* report);

private:
    // A weighted node (or ADD) plus the BatchNorm and activation folded into it.
    using Block = FusedBlock;

    Status exportNode(const Node& node);
    Status exportConv(const Node& node);
    Status exportDepthwise(const Node& node, const Node* convAsDepthwise);
    Status exportDense(const Node& node);
    Status exportPool(const Node& node);
    Status exportAdd(const Node& node);
    Status exportUnary(const Node& node, tfl::BuiltinOp op, tfl::BuiltinOptions options = {});

    Block absorb(const Node& node, bool allowBatchNorm) const {
        return fuseFollowers(m_graph, m_live, node, allowBatchNorm);
    }
    Result<std::vector<double>> foldBatchNorm(const Block& block, const Node& node,
                                              std::vector<float>& bias) const;
    Result<int32_t> inputTensor(const Node& node, size_t i = 0) const;
    const Shape& inputShape(const Node& node, size_t i = 0) const {
        return m_graph.find(node.inputs[i])->outputShape;
    }
    Result<int32_t> activationTensor(const Node& named, const Shape& perSample);
    // PAD (or PADV2 with `value`) of `src` [1,H,W,C]; the result is named `dstName`.
    Result<int32_t> emitPad(const Node& node, int32_t src, const Shape& inShape,
                            const PadPlan& pads, std::optional<float> value,
                            const std::string& dstName);
    int32_t int32Const(const std::string& name, std::vector<int32_t> shape,
                       const std::vector<int32_t>& values) {
        return m_builder.addConstTensor(name, std::move(shape), tfl::TensorType::Int32, values);
    }
    void record(const Node& node, tfl::BuiltinOp op, const Block* block = nullptr,
                int64_t weightBytes = 0, int64_t biasBytes = 0);
    // Every node of the block now reads as `output`; absorbed nodes are skipped later.
    void markDone(const Block& block, int32_t output);

    const Graph& m_graph;
    tfl::TfliteBuilder m_builder;
    TfliteExportReport m_report;
    std::set<std::string> m_live;
    std::set<std::string> m_absorbed;
    std::unordered_map<std::string, int32_t> m_tensorOf; // node -> tensor of its output
};

// Per-output-channel weight scales (all 1 without a BatchNorm); folds the bias in place.
Result<std::vector<double>> FloatExporter::foldBatchNorm(const Block& block, const Node& node,
                                                         std::vector<float>& bias) const {
    if (!block.batchNorm)
        return std::vector<double>(bias.size(), 1.0);
    return qat::foldBatchNorm(*block.batchNorm, node, bias);
}

Result<int32_t> FloatExporter::inputTensor(const Node& node, size_t i) const {
    auto it = m_tensorOf.find(node.inputs[i]);
    if (it == m_tensorOf.end())
        return Status::error(where(node) + ": input '" + node.inputs[i] +
                             "' was not exported before it");
    return it->second;
}

Result<int32_t> FloatExporter::activationTensor(const Node& named, const Shape& perSample) {
    auto shape = batchShape(named, perSample);
    if (!shape)
        return shape.status();
    return m_builder.addTensor(named.name, std::move(*shape), tfl::TensorType::Float32);
}

Result<int32_t> FloatExporter::emitPad(const Node& node, int32_t src, const Shape& inShape,
                                       const PadPlan& pads, std::optional<float> value,
                                       const std::string& dstName) {
    const Shape padded{inShape[0] + pads.top + pads.bottom, inShape[1] + pads.left + pads.right,
                       inShape[2]};
    auto shape = batchShape(node, padded);
    if (!shape)
        return shape.status();
    const int32_t dst = m_builder.addTensor(dstName, std::move(*shape), tfl::TensorType::Float32);
    // paddings [4,2]: (before, after) per NHWC dimension.
    const int32_t paddings =
        int32Const(node.name + "/paddings", {4, 2},
                   {0, 0, static_cast<int32_t>(pads.top), static_cast<int32_t>(pads.bottom),
                    static_cast<int32_t>(pads.left), static_cast<int32_t>(pads.right), 0, 0});
    if (value) {
        const int32_t constant = m_builder.addConstTensor(
            node.name + "/pad_value", {1}, tfl::TensorType::Float32, std::vector<float>{*value});
        m_builder.addOperator(tfl::BuiltinOp::PadV2, 1, {src, paddings, constant}, {dst},
                              tfl::PadV2Options{});
        record(node, tfl::BuiltinOp::PadV2);
    } else {
        m_builder.addOperator(tfl::BuiltinOp::Pad, 1, {src, paddings}, {dst}, tfl::PadOptions{});
        record(node, tfl::BuiltinOp::Pad);
    }
    return dst;
}

void FloatExporter::record(const Node& node, tfl::BuiltinOp op, const Block* block,
                           int64_t weightBytes, int64_t biasBytes) {
    TfliteLayerSize entry;
    entry.layer = node.name;
    entry.op = tfl::builtinOpName(op);
    if (block)
        entry.fusedNodes = block->fused;
    entry.weightType = weightBytes > 0 ? tfl::tensorTypeName(tfl::TensorType::Float32) : "";
    entry.weightBytes = weightBytes;
    entry.biasBytes = biasBytes;
    m_report.layers.push_back(std::move(entry));
}

void FloatExporter::markDone(const Block& block, int32_t output) {
    for (const auto& name : block.fused) {
        m_absorbed.insert(name);
        m_tensorOf[name] = output;
    }
    m_tensorOf[block.last->name] = output;
}

Status FloatExporter::exportConv(const Node& node) {
    const Shape& inShape = inputShape(node);
    const int64_t cin = inShape[2];
    const int64_t groups = node.attrs.getInt("groups", 1);
    if (groups > 1 && groups == cin)
        return exportDepthwise(node, &node);

    auto geometry = resolveGeometry(node, inShape);
    if (!geometry)
        return geometry.status();
    auto pads = planPadding(node, inShape, *geometry);
    if (!pads)
        return pads.status();
    auto src = inputTensor(node);
    if (!src)
        return src.status();
    int32_t in = *src;
    if (pads->needsPadOp) {
        auto padded = emitPad(node, in, inShape, *pads, std::nullopt, node.name + "/padded");
        if (!padded)
            return padded.status();
        in = *padded;
    }

    const Tensor& w = node.params.at("weights"); // [Cout, kh, kw, Cin/groups] = TFLite OHWI
    const int64_t cout = w.dim(0);
    std::vector<float> weights = w.vec();
    std::vector<float> bias(static_cast<size_t>(cout), 0.0f);
    if (auto it = node.params.find("bias"); it != node.params.end())
        bias = it->second.vec();
    Block block = absorb(node, true);
    auto scale = foldBatchNorm(block, node, bias);
    if (!scale)
        return scale.status();
    scaleChannels(weights, 1, cout, w.size() / cout, *scale);

    auto wShape = std::vector<int32_t>(w.shape().begin(), w.shape().end());
    const int32_t wt =
        m_builder.addConstTensor(node.name + "/weights", wShape, tfl::TensorType::Float32, weights);
    const int32_t bt = m_builder.addConstTensor(node.name + "/bias", {static_cast<int32_t>(cout)},
                                                tfl::TensorType::Float32, bias);
    auto out = activationTensor(*block.last, block.last->outputShape);
    if (!out)
        return out.status();
    tfl::Conv2DOptions options;
    options.padding = pads->needsPadOp ? tfl::Padding::Valid : pads->padding;
    options.strideH = static_cast<int32_t>(geometry->sh);
    options.strideW = static_cast<int32_t>(geometry->sw);
    options.dilationH = static_cast<int32_t>(geometry->dh);
    options.dilationW = static_cast<int32_t>(geometry->dw);
    options.activation = fusedActivation(block);
    m_builder.addOperator(tfl::BuiltinOp::Conv2D, groups > 1 ? 6 : 1, {in, wt, bt}, {*out},
                          options);
    record(node, tfl::BuiltinOp::Conv2D, &block, static_cast<int64_t>(weights.size() * 4),
           static_cast<int64_t>(bias.size() * 4));
    markDone(block, *out);
    return Status::ok();
}

// DepthwiseConv2D, or a Conv2D whose groups equal its input channels (weights
// [Cout, kh, kw, 1] -> [1, kh, kw, Cout]; output channel c*mult+m reads input channel c in
// both).
Status FloatExporter::exportDepthwise(const Node& node, const Node* convAsDepthwise) {
    const Shape& inShape = inputShape(node);
    auto geometry = resolveGeometry(node, inShape);
    if (!geometry)
        return geometry.status();
    auto pads = planPadding(node, inShape, *geometry);
    if (!pads)
        return pads.status();
    auto src = inputTensor(node);
    if (!src)
        return src.status();
    int32_t in = *src;
    if (pads->needsPadOp) {
        auto padded = emitPad(node, in, inShape, *pads, std::nullopt, node.name + "/padded");
        if (!padded)
            return padded.status();
        in = *padded;
    }

    const Tensor& w = node.params.at("weights");
    std::vector<float> weights;
    int64_t channels = 0;
    int64_t multiplier = 1;
    if (convAsDepthwise) {
        channels = w.dim(0);
        const int64_t taps = w.dim(1) * w.dim(2);
        weights.resize(static_cast<size_t>(channels * taps));
        for (int64_t o = 0; o < channels; ++o)
            for (int64_t t = 0; t < taps; ++t)
                weights[static_cast<size_t>(t * channels + o)] = w[o * taps + t];
        multiplier = channels / inShape[2];
    } else {
        channels = w.dim(3);
        weights = w.vec();
        multiplier = node.attrs.getInt("depth_multiplier", 1);
    }
    std::vector<float> bias(static_cast<size_t>(channels), 0.0f);
    if (auto it = node.params.find("bias"); it != node.params.end())
        bias = it->second.vec();
    Block block = absorb(node, true);
    auto scale = foldBatchNorm(block, node, bias);
    if (!scale)
        return scale.status();
    scaleChannels(weights, static_cast<int64_t>(weights.size()) / channels, channels, 1, *scale);

    const std::vector<int32_t> wShape{1, static_cast<int32_t>(geometry->kh),
                                      static_cast<int32_t>(geometry->kw),
                                      static_cast<int32_t>(channels)};
    const int32_t wt =
        m_builder.addConstTensor(node.name + "/weights", wShape, tfl::TensorType::Float32, weights);
    const int32_t bt = m_builder.addConstTensor(
        node.name + "/bias", {static_cast<int32_t>(channels)}, tfl::TensorType::Float32, bias);
    auto out = activationTensor(*block.last, block.last->outputShape);
    if (!out)
        return out.status();
    tfl::DepthwiseConv2DOptions options;
    options.padding = pads->needsPadOp ? tfl::Padding::Valid : pads->padding;
    options.strideH = static_cast<int32_t>(geometry->sh);
    options.strideW = static_cast<int32_t>(geometry->sw);
    options.dilationH = static_cast<int32_t>(geometry->dh);
    options.dilationW = static_cast<int32_t>(geometry->dw);
    options.depthMultiplier = static_cast<int32_t>(multiplier);
    options.activation = fusedActivation(block);
    const int version = (geometry->dh != 1 || geometry->dw != 1) ? 2 : 1;
    m_builder.addOperator(tfl::BuiltinOp::DepthwiseConv2D, version, {in, wt, bt}, {*out}, options);
    record(node, tfl::BuiltinOp::DepthwiseConv2D, &block, static_cast<int64_t>(weights.size() * 4),
           static_cast<int64_t>(bias.size() * 4));
    markDone(block, *out);
    return Status::ok();
}

Status FloatExporter::exportDense(const Node& node) {
    auto in = inputTensor(node);
    if (!in)
        return in.status();
    const Tensor& w = node.params.at("weights"); // [units, in] = TFLite FULLY_CONNECTED
    const int64_t units = w.dim(0);
    std::vector<float> weights = w.vec();
    std::vector<float> bias(static_cast<size_t>(units), 0.0f);
    if (auto it = node.params.find("bias"); it != node.params.end())
        bias = it->second.vec();
    Block block = absorb(node, true);
    auto scale = foldBatchNorm(block, node, bias);
    if (!scale)
        return scale.status();
    scaleChannels(weights, 1, units, w.dim(1), *scale);

    const int32_t wt = m_builder.addConstTensor(
        node.name + "/weights", {static_cast<int32_t>(units), static_cast<int32_t>(w.dim(1))},
        tfl::TensorType::Float32, weights);
    const int32_t bt = m_builder.addConstTensor(node.name + "/bias", {static_cast<int32_t>(units)},
                                                tfl::TensorType::Float32, bias);
    auto out = activationTensor(*block.last, block.last->outputShape);
    if (!out)
        return out.status();
    tfl::FullyConnectedOptions options;
    options.activation = fusedActivation(block);
    m_builder.addOperator(tfl::BuiltinOp::FullyConnected, 1, {*in, wt, bt}, {*out}, options);
    record(node, tfl::BuiltinOp::FullyConnected, &block, static_cast<int64_t>(weights.size() * 4),
           static_cast<int64_t>(bias.size() * 4));
    markDone(block, *out);
    return Status::ok();
}

Status FloatExporter::exportPool(const Node& node) {
    const bool isMax = node.type == OpType::MaxPool;
    const Shape& inShape = inputShape(node);
    auto geometry = resolveGeometry(node, inShape);
    if (!geometry)
        return geometry.status();
    auto pads = planPadding(node, inShape, *geometry);
    if (!pads)
        return pads.status();
    auto src = inputTensor(node);
    if (!src)
        return src.status();
    int32_t in = *src;
    if (pads->needsPadOp) {
        // MaxPool: padding must never win; AvgPool pads with zeros and rescales below.
        auto padded = emitPad(node, in, inShape, *pads,
                              isMax ? std::optional<float>(std::numeric_limits<float>::lowest())
                                    : std::nullopt,
                              node.name + "/padded");
        if (!padded)
            return padded.status();
        in = *padded;
    }
    tfl::Pool2DOptions options;
    options.padding = pads->needsPadOp ? tfl::Padding::Valid : pads->padding;
    options.strideH = static_cast<int32_t>(geometry->sh);
    options.strideW = static_cast<int32_t>(geometry->sw);
    options.filterH = static_cast<int32_t>(geometry->kh);
    options.filterW = static_cast<int32_t>(geometry->kw);
    const tfl::BuiltinOp op = isMax ? tfl::BuiltinOp::MaxPool2D : tfl::BuiltinOp::AveragePool2D;

    // Our AvgPool averages over the in-bounds elements only; after a zero PAD the VALID
    // average divides by kh*kw, so multiply by kh*kw / count per output position.
    std::vector<float> rescale;
    if (!isMax && pads->needsPadOp) {
        const ConvGeometry& g = *geometry;
        rescale.resize(static_cast<size_t>(g.outH * g.outW));
        bool any = false;
        for (int64_t y = 0; y < g.outH; ++y) {
            const int64_t y0 = y * g.sh - g.padTop;
            const int64_t rows = std::min(y0 + g.kh, g.inH) - std::max<int64_t>(y0, 0);
            for (int64_t x = 0; x < g.outW; ++x) {
                const int64_t x0 = x * g.sw - g.padLeft;
                const int64_t cols = std::min(x0 + g.kw, g.inW) - std::max<int64_t>(x0, 0);
                const int64_t count = std::max<int64_t>(rows, 0) * std::max<int64_t>(cols, 0);
                const float f =
                    count > 0 ? static_cast<float>(static_cast<double>(g.kh * g.kw) / count) : 0.0f;
                rescale[static_cast<size_t>(y * g.outW + x)] = f;
                any = any || f != 1.0f;
            }
        }
        if (!any)
            rescale.clear();
    }

    auto out = activationTensor(node, node.outputShape);
    if (!out)
        return out.status();
    if (rescale.empty()) {
        m_builder.addOperator(op, 1, {in}, {*out}, options);
        record(node, op);
    } else {
        auto sumShape = batchShape(node, node.outputShape);
        if (!sumShape)
            return sumShape.status();
        const int32_t avg = m_builder.addTensor(node.name + "/valid_average", std::move(*sumShape),
                                                tfl::TensorType::Float32);
        m_builder.addOperator(op, 1, {in}, {avg}, options);
        record(node, op);
        const int32_t factor = m_builder.addConstTensor(
            node.name + "/count_rescale",
            {1, static_cast<int32_t>(geometry->outH), static_cast<int32_t>(geometry->outW), 1},
            tfl::TensorType::Float32, rescale);
        m_builder.addOperator(tfl::BuiltinOp::Mul, 1, {avg, factor}, {*out}, tfl::MulOptions{});
        record(node, tfl::BuiltinOp::Mul);
    }
    m_tensorOf[node.name] = *out;
    return Status::ok();
}

Status FloatExporter::exportAdd(const Node& node) {
    if (node.inputs.size() < 2)
        return Status::error(where(node) + ": needs at least two inputs");
    std::vector<int32_t> ins;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        auto t = inputTensor(node, i);
        if (!t)
            return t.status();
        ins.push_back(*t);
    }
    Block block = absorb(node, false);
    auto out = activationTensor(*block.last, block.last->outputShape);
    if (!out)
        return out.status();
    int32_t acc = ins[0];
    for (size_t i = 1; i < ins.size(); ++i) {
        const bool lastAdd = i + 1 == ins.size();
        int32_t dst = *out;
        if (!lastAdd) {
            auto shape = batchShape(node, node.outputShape);
            if (!shape)
                return shape.status();
            dst = m_builder.addTensor(node.name + "/partial" + std::to_string(i), std::move(*shape),
                                      tfl::TensorType::Float32);
        }
        tfl::AddOptions options;
        options.activation = lastAdd ? fusedActivation(block) : tfl::Activation::None;
        m_builder.addOperator(tfl::BuiltinOp::Add, 1, {acc, ins[i]}, {dst}, options);
        record(node, tfl::BuiltinOp::Add, lastAdd ? &block : nullptr);
        acc = dst;
    }
    markDone(block, *out);
    return Status::ok();
}

Status FloatExporter::exportUnary(const Node& node, tfl::BuiltinOp op,
                                  tfl::BuiltinOptions options) {
    auto in = inputTensor(node);
    if (!in)
        return in.status();
    auto out = activationTensor(node, node.outputShape);
    if (!out)
        return out.status();
    m_builder.addOperator(op, 1, {*in}, {*out}, std::move(options));
    record(node, op);
    m_tensorOf[node.name] = *out;
    return Status::ok();
}

Status FloatExporter::exportNode(const Node& node) {
    switch (node.type) {
    case OpType::Input: {
        auto t = activationTensor(node, node.outputShape);
        if (!t)
            return t.status();
        m_tensorOf[node.name] = *t;
        m_builder.setInputs({*t});
        return Status::ok();
    }
    case OpType::Conv2D:
        return exportConv(node);
    case OpType::DepthwiseConv2D:
        return exportDepthwise(node, nullptr);
    case OpType::Dense:
        return exportDense(node);
    case OpType::BatchNorm:
        return Status::error(
            where(node) +
            ": cannot be exported to .tflite: a BatchNorm is folded into the Conv2D, "
            "DepthwiseConv2D or Dense right before it, which must feed nothing else (input '" +
            node.inputs[0] + "'); a standalone BatchNorm (MUL/ADD) is not supported");
    case OpType::ReLU:
        return exportUnary(node, tfl::BuiltinOp::Relu);
    case OpType::ReLU6:
        return exportUnary(node, tfl::BuiltinOp::Relu6);
    case OpType::LeakyReLU:
        return exportUnary(
            node, tfl::BuiltinOp::LeakyRelu,
            tfl::LeakyReluOptions{static_cast<float>(node.attrs.getFloat("alpha", 0.01))});
    case OpType::HardSwish:
        return exportUnary(node, tfl::BuiltinOp::HardSwish, tfl::HardSwishOptions{});
    case OpType::Sigmoid:
        return exportUnary(node, tfl::BuiltinOp::Logistic);
    case OpType::Tanh:
        return exportUnary(node, tfl::BuiltinOp::Tanh);
    case OpType::Softmax:
        return exportUnary(node, tfl::BuiltinOp::Softmax, tfl::SoftmaxOptions{1.0f});
    case OpType::MaxPool:
    case OpType::AvgPool:
        return exportPool(node);
    case OpType::GlobalAvgPool: {
        const int32_t axes = int32Const(node.name + "/axes", {2}, {1, 2});
        auto in = inputTensor(node);
        if (!in)
            return in.status();
        auto out = activationTensor(node, node.outputShape);
        if (!out)
            return out.status();
        m_builder.addOperator(tfl::BuiltinOp::Mean, 1, {*in, axes}, {*out},
                              tfl::ReducerOptions{false});
        record(node, tfl::BuiltinOp::Mean);
        m_tensorOf[node.name] = *out;
        return Status::ok();
    }
    case OpType::Add:
        return exportAdd(node);
    case OpType::Concat: {
        const auto rank = static_cast<int64_t>(node.outputShape.size());
        int64_t axis = node.attrs.getInt("axis", -1);
        if (axis < 0)
            axis += rank;
        if (axis < 0 || axis >= rank)
            return Status::error(where(node) + ": axis " +
                                 std::to_string(node.attrs.getInt("axis", -1)) +
                                 " is outside the per-sample rank " + std::to_string(rank));
        std::vector<int32_t> ins;
        for (size_t i = 0; i < node.inputs.size(); ++i) {
            auto t = inputTensor(node, i);
            if (!t)
                return t.status();
            ins.push_back(*t);
        }
        auto out = activationTensor(node, node.outputShape);
        if (!out)
            return out.status();
        m_builder.addOperator(
            tfl::BuiltinOp::Concatenation, 1, ins, {*out},
            tfl::ConcatenationOptions{static_cast<int32_t>(axis + 1), tfl::Activation::None});
        record(node, tfl::BuiltinOp::Concatenation);
        m_tensorOf[node.name] = *out;
        return Status::ok();
    }
    case OpType::Reshape:
    case OpType::Flatten: {
        auto in = inputTensor(node);
        if (!in)
            return in.status();
        auto newShape = batchShape(node, node.outputShape);
        if (!newShape)
            return newShape.status();
        const int32_t shapeTensor =
            int32Const(node.name + "/shape", {static_cast<int32_t>(newShape->size())}, *newShape);
        auto out = activationTensor(node, node.outputShape);
        if (!out)
            return out.status();
        m_builder.addOperator(tfl::BuiltinOp::Reshape, 1, {*in, shapeTensor}, {*out},
                              tfl::ReshapeOptions{*newShape});
        record(node, tfl::BuiltinOp::Reshape);
        m_tensorOf[node.name] = *out;
        return Status::ok();
    }
    case OpType::ZeroPad: {
        auto in = inputTensor(node);
        if (!in)
            return in.status();
        const auto p = node.attrs.getInts("pads", {0, 0, 0, 0});
        if (p.size() != 4)
            return Status::error(where(node) +
                                 ": attribute 'pads' must be [top,left,bottom,right]");
        PadPlan plan;
        plan.top = p[0];
        plan.left = p[1];
        plan.bottom = p[2];
        plan.right = p[3];
        auto padded = emitPad(node, *in, inputShape(node), plan, std::nullopt, node.name);
        if (!padded)
            return padded.status();
        m_tensorOf[node.name] = *padded;
        return Status::ok();
    }
    case OpType::Dropout: {
        auto in = inputTensor(node);
        if (!in)
            return in.status();
        m_tensorOf[node.name] = *in;
        return Status::ok();
    }
    }
    return Status::error(where(node) + ": has no .tflite mapping");
}

Result<std::vector<uint8_t>> FloatExporter::run(TfliteExportReport* report) {
    if (!m_graph.isFinalized())
        return Status::error(".tflite export: the graph is not finalized");
    if (!m_graph.hasAllParams())
        return Status::error(".tflite export: the graph has uninitialized parameters; "
                             "initialize or load them first");
    const Node& output = m_graph.outputNode();
    m_live = liveNodes(m_graph); // only what the output depends on is exported
    for (const Node& node : m_graph.nodes) {
        if (!m_live.count(node.name) || m_absorbed.count(node.name))
            continue;
        QAT_RETURN_IF_ERROR(exportNode(node));
    }
    const int32_t out = m_tensorOf.at(output.name);
    if (out == m_tensorOf.at(m_graph.inputNode().name))
        return Status::error(".tflite export: output node '" + output.name +
                             "' is the model input itself; there is nothing to compute");
    m_builder.setOutputs({out});
    auto bytes = m_builder.finish();
    if (!bytes)
        return bytes.status().withContext(".tflite export");
    m_report.setTotal(static_cast<int64_t>(bytes->size()));
    if (report)
        *report = std::move(m_report);
    return bytes;
}

} // namespace

Result<std::vector<uint8_t>> exportFloatTfliteBytes(const Graph& graph,
                                                    TfliteExportReport* report) {
    return FloatExporter(graph).run(report);
}

Status exportFloatTflite(const Graph& graph, const std::string& path, TfliteExportReport* report) {
    TfliteExportReport local;
    auto bytes = exportFloatTfliteBytes(graph, &local);
    if (!bytes)
        return bytes.status().withContext(path);
    QAT_RETURN_IF_ERROR(writeFileAtomically(
        path, std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
    if (report)
        *report = std::move(local);
    return Status::ok();
}

} // namespace qat
