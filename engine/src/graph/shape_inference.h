// Per-op rules of the graph IR, used by Graph::finalize and parameter initialization:
// operand counts, output-shape inference with attribute validation, and the parameter
// tensors each node needs (names and shapes as documented in qat/graph.h).
// Every error message starts with "node '<name>'".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat::detail {

// Largest element count of one per-sample activation or one parameter tensor. Keeps all
// shape arithmetic far from int64 overflow and rejects absurd dimensions from files.
inline constexpr int64_t kMaxElements = int64_t{1} << 31;
// Largest kernel, pool, stride, dilation or padding value along one axis.
inline constexpr int64_t kMaxWindow = int64_t{1} << 16;

// One operand of a node as seen by shape inference.
struct Operand {
    const std::string* name = nullptr; // producer node name (for messages)
    const Shape* shape = nullptr;      // producer output shape (per sample)
};

struct ParamSpec {
    std::string name;
    Shape shape;
    bool trainable = true; // false for BatchNorm moving statistics
};

// Element count of `shape`, or nullopt when a dimension is < 1 or the count exceeds limit.
std::optional<int64_t> checkedElementCount(const Shape& shape, int64_t limit = kMaxElements);

// Checks the number of operands for the node's op type.
Status checkArity(const Node& node);

// Infers the node's per-sample output shape from its operands and validates its
// attributes. Operands are in node.inputs order.
Result<Shape> inferShape(const Node& node, const std::vector<Operand>& operands);

// Parameters the node needs, given the first operand's shape (ignored for ops without
// parameters). Call only after inferShape succeeded for the same node and operands.
std::vector<ParamSpec> paramSpecs(const Node& node, const Shape& inputShape);

// Fan-in used for He initialization of the node's weights (0 for ops without weights).
int64_t weightFanIn(const Node& node, const Shape& inputShape);

} // namespace qat::detail
