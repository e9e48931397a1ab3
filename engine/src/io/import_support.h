// Shared pieces of the ONNX and .tflite importers (qat/importers.h): node naming, the
// per-node shape check as nodes are added, half-float decoding, bounded element counts,
// and the common tail of every import (prune, normalisation, finalize).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/shape_inference.h"
#include "qat/graph.h"
#include "qat/importers.h"
#include "qat/status.h"

namespace qat::importer {

// Largest per-sample activation an imported graph may declare (elements). Far below what
// finalize() accepts, since a file of a few bytes must not make the app allocate gigabytes
// when the model is run.
inline constexpr int64_t kMaxActivationElements = int64_t{1} << 26;

// Element count of `dims` when every dimension is >= 0 and the count is <= limit.
inline std::optional<int64_t> boundedCount(const std::vector<int64_t>& dims, int64_t limit) {
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0)
            return std::nullopt;
        if (d == 0)
            n = 0;
        else if (n > limit / d)
            return std::nullopt;
        else
            n *= d;
    }
    return n;
}

// Layout label of a file tensor of `rank` dimensions.
inline std::string fileLayoutName(size_t rank, bool nchw) {
    if (rank == 4)
        return nchw ? "NCHW" : "NHWC";
    if (rank == 2)
        return "NC";
    return rank == 0 ? std::string("unknown") : "rank " + std::to_string(rank);
}

// Layout label of a per-sample graph shape of `rank` dimensions.
inline std::string graphLayoutName(size_t rank) {
    if (rank == 3)
        return "HWC";
    if (rank == 1)
        return "F";
    return "rank " + std::to_string(rank);
}

// IEEE 754 binary16 -> binary32 (subnormals, infinities and NaN included).
inline float halfToFloat(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits = 0;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mantissa <<= 1;
            } while ((mantissa & 0x400u) == 0);
            bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mantissa & 0x3ffu) << 13;
        }
    } else if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | mantissa << 13;
    } else {
        bits = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Zero channels before/after an [H,W,C] map as a 1x1 Conv2D whose weights copy channel c to
// c + before and leave the added channels zero: exact, and an ordinary layer afterwards
// (trained and quantized like the others).
inline Node channelPadNode(const std::string& name, const std::string& input, int64_t channels,
                           int64_t before, int64_t after) {
    const int64_t cout = channels + before + after;
    std::vector<float> weights(static_cast<size_t>(cout * channels), 0.0f);
    for (int64_t c = 0; c < channels; ++c)
        weights[static_cast<size_t>((c + before) * channels + c)] = 1.0f;
    Node conv;
    conv.name = name;
    conv.type = OpType::Conv2D;
    conv.inputs = {input};
    conv.attrs.set("filters", AttrValue(cout));
    conv.attrs.set("kernel", AttrValue(std::vector<int64_t>{1, 1}));
    conv.attrs.set("use_bias", AttrValue(int64_t{0}));
    conv.params["weights"] = Tensor({cout, 1, 1, channels}, std::move(weights));
    return conv;
}

// The channel count above which channel padding is not turned into a 1x1 Conv2D.
inline constexpr int64_t kMaxPaddedChannels = int64_t{1} << 16;

// Builds the graph node by node, checking each node's shape as it is added so that
// converters can rely on the shapes of what they read.
class GraphBuilder {
public:
    // Adds `node` (its name made unique) and returns its name and inferred shape, or the
    // shape-inference error naming it.
    Result<std::string> add(Node node) {
        node.name = uniqueName(node.name);
        std::vector<detail::Operand> operands;
        for (const std::string& in : node.inputs) {
            auto it = m_shapes.find(in);
            QAT_ASSERT(it != m_shapes.end());
            operands.push_back({&it->first, &it->second});
        }
        auto shape = detail::inferShape(node, operands);
        if (!shape)
            return shape.status();
        if (shapeSize(*shape) > kMaxActivationElements)
            return Status::error("node '" + node.name + "' (" + opTypeName(node.type) +
                                 "): output " + shapeToString(*shape) + " has more than " +
                                 std::to_string(kMaxActivationElements) + " elements per sample");
        for (const detail::ParamSpec& spec : detail::paramSpecs(node, operandShape(node)))
            if (auto it = node.params.find(spec.name);
                it == node.params.end() || it->second.shape() != spec.shape)
                return Status::error(
                    "node '" + node.name + "' (" + opTypeName(node.type) + "): parameter '" +
                    spec.name + "' must have shape " + shapeToString(spec.shape) +
                    (it == node.params.end() ? std::string(" but is missing")
                                             : " but has " + shapeToString(it->second.shape())));
        m_shapes.emplace(node.name, *shape);
        std::string name = node.name;
        m_graph.nodes.push_back(std::move(node));
        return name;
    }
    const Shape& shape(const std::string& name) const { return m_shapes.at(name); }
    Node* find(const std::string& name) {
        for (Node& n : m_graph.nodes)
            if (n.name == name)
                return &n;
        return nullptr;
    }
    std::string uniqueName(const std::string& base) {
        std::string stem = base.empty() ? std::string("node") : base;
        std::string name = stem;
        for (int i = 2; m_used.count(name); ++i)
            name = stem + "_" + std::to_string(i);
        m_used.insert(name);
        return name;
    }
    Graph take() { return std::move(m_graph); }

private:
    Shape operandShape(const Node& node) const {
        return node.inputs.empty() ? Shape{} : m_shapes.at(node.inputs[0]);
    }

    Graph m_graph;
    std::unordered_map<std::string, Shape> m_shapes;
    std::set<std::string> m_used;
};

// The common tail of an import: drops nodes the output does not depend on, bakes in the
// input normalisation, finalizes, checks every parameter is present and fills
// report.layers / report.supported. `graph.output` must be set.
Result<ImportResult> finishImport(Graph graph, CoverageReport report, const ImportOptions& options);

// The report of a model that was not imported: says so where normalisation would be.
inline void markNotImported(CoverageReport& report, const ImportOptions& options) {
    report.supported = false;
    report.layers = 0;
    for (ImportedTensor& in : report.inputs)
        in.normalisation = options.inputMean.empty() && options.inputScale.empty()
                               ? "none"
                               : "not applied (the model was not imported)";
}

// "[1x3x224x224]"-style text for file shapes (-1 prints as '?').
std::string fileShapeText(const std::vector<int64_t>& shape);

} // namespace qat::importer
