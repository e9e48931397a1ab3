// Graph IR: a DAG of named nodes with typed attributes and named parameter tensors.
// Every importer produces it; training, quantization, integer conversion and export
// consume it. Shapes here are per sample (no batch dimension), NHWC: images are
// [H, W, C], vectors are [F]. finalize() sorts, validates and infers shapes once.
//
// Attribute and parameter conventions (names are part of the model file format):
//   Input            attrs: shape [H,W,C] or [F]
//   Conv2D           attrs: filters, kernel [kh,kw], strides [sh,sw]=[1,1],
//                    dilations [dh,dw]=[1,1], padding "same"|"valid"|"explicit",
//                    pads [top,left,bottom,right] (explicit only), groups=1, use_bias=1
//                    params: weights [Cout, kh, kw, Cin/groups] (OHWI, TFLite), bias [Cout]
//   DepthwiseConv2D  attrs: kernel, strides, dilations, padding, pads, depth_multiplier=1,
//                    use_bias=1
//                    params: weights [1, kh, kw, Cin*mult] (TFLite), bias [Cin*mult];
//                    output channel c*mult+m reads input channel c
//   Dense            attrs: units, use_bias=1; input rank 1
//                    params: weights [units, in] (TFLite FULLY_CONNECTED), bias [units]
//   BatchNorm        attrs: epsilon=1e-5, momentum=0.1 (running = (1-m)*running + m*batch;
//                    training normalizes with the biased batch variance and updates
//                    moving_var with the unbiased one, as PyTorch)
//                    params: gamma, beta, moving_mean, moving_var [C] (last axis)
//   ReLU ReLU6 Sigmoid Tanh HardSwish;  LeakyReLU attrs: alpha=0.01
//   MaxPool AvgPool  attrs: pool [ph,pw], strides=pool, padding "valid"|"same"
//                    (AvgPool "same" excludes padding from the count, as TFLite)
//   GlobalAvgPool    [H,W,C] -> [C]
//   Add              2+ inputs of equal shape;  Concat attrs: axis=-1 (per-sample axis)
//   Reshape          attrs: shape (per sample, one -1 allowed);  Flatten -> [prod]
//   ZeroPad          attrs: pads [top,left,bottom,right]
//   Dropout          attrs: rate;  Softmax over the last axis
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

// Serialized by name; append only.
enum class OpType {
    Input,
    Conv2D,
    DepthwiseConv2D,
    Dense,
    BatchNorm,
    ReLU,
    ReLU6,
    LeakyReLU,
    HardSwish,
    Sigmoid,
    Tanh,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Add,
    Concat,
    Reshape,
    Flatten,
    ZeroPad,
    Dropout,
    Softmax,
};

const char* opTypeName(OpType type);
std::optional<OpType> opTypeFromName(std::string_view name);
const std::vector<OpType>& allOpTypes();

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;

class Attrs {
public:
    bool has(const std::string& key) const { return m_values.count(key) != 0; }
    void set(const std::string& key, AttrValue value) { m_values[key] = std::move(value); }
    void set(const std::string& key, int value) { m_values[key] = static_cast<int64_t>(value); }
    void set(const std::string& key, const char* value) { m_values[key] = std::string(value); }
    void set(const std::string& key, double value) { m_values[key] = value; }
    int64_t getInt(const std::string& key, int64_t fallback) const;
    double getFloat(const std::string& key, double fallback) const;
    std::string getString(const std::string& key, const std::string& fallback) const;
    std::vector<int64_t> getInts(const std::string& key,
                                 const std::vector<int64_t>& fallback) const;
    const std::map<std::string, AttrValue>& all() const { return m_values; }
    bool operator==(const Attrs& o) const { return m_values == o.m_values; }

private:
    std::map<std::string, AttrValue> m_values;
};

struct Node {
    std::string name;
    OpType type = OpType::Input;
    std::vector<std::string> inputs; // names of producer nodes, in operand order
    Attrs attrs;
    std::map<std::string, Tensor> params;
    Shape outputShape; // per sample; filled by Graph::finalize()
};

// Resolved convolution geometry for one spatial axis pair, shared by the ops, the
// integer model and the exporters so that "same" padding means one thing everywhere.
struct ConvGeometry {
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
    int64_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
    int64_t inH = 0, inW = 0, outH = 0, outW = 0;
};
// For Conv2D, DepthwiseConv2D, MaxPool, AvgPool nodes given the input [H,W,C].
Result<ConvGeometry> resolveGeometry(const Node& node, const Shape& inputShape);

class Graph {
public:
    std::vector<Node> nodes;
    std::string output; // name of the output node; empty = last node after sorting

    // Checks unique names, existing inputs, no cycles, exactly one Input node; sorts
    // nodes topologically; infers every output shape; checks parameter shapes where
    // parameters exist. Errors name the node.
    Status finalize();
    bool isFinalized() const { return m_finalized; }

    Node* find(const std::string& name);
    const Node* find(const std::string& name) const;
    int indexOf(const std::string& name) const; // -1 if absent
    const Node& inputNode() const;
    const Node& outputNode() const;
    Shape inputShape() const { return inputNode().outputShape; }
    Shape outputShape() const { return outputNode().outputShape; }
    // Names of nodes that consume `name`'s output, in graph order.
    std::vector<std::string> consumers(const std::string& name) const;

    // Creates any missing trainable/statistics parameter with the documented shape:
    // He-uniform conv/dense weights, zero biases, BN gamma=1 beta=0 mean=0 var=1.
    // Deterministic for a given seed. Requires finalize().
    void initializeParams(uint64_t seed);
    // True when every node has all parameters it needs.
    bool hasAllParams() const;
    int64_t parameterCount() const;

private:
    bool m_finalized = false;
    // Lookup caches rebuilt by finalize(). find()/indexOf() verify a cached hit and fall
    // back to a scan, so they stay correct when nodes are edited before re-finalizing.
    std::unordered_map<std::string, int> m_index;
    int m_inputIndex = -1;
};

} // namespace qat
