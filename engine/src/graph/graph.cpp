// Graph IR: op names, attribute access, convolution geometry, and Graph validation,
// topological sorting, shape inference and parameter initialization.
#include "qat/graph.h"

#include <algorithm>
#include <array>
#include <climits>
#include <functional>
#include <queue>

#include "graph/shape_inference.h"

namespace qat {

namespace {
struct OpName {
    OpType type;
    const char* name;
};
constexpr std::array kOpNames = {
    OpName{OpType::Input, "Input"},
    OpName{OpType::Conv2D, "Conv2D"},
    OpName{OpType::DepthwiseConv2D, "DepthwiseConv2D"},
    OpName{OpType::Dense, "Dense"},
    OpName{OpType::BatchNorm, "BatchNorm"},
    OpName{OpType::ReLU, "ReLU"},
    OpName{OpType::ReLU6, "ReLU6"},
    OpName{OpType::LeakyReLU, "LeakyReLU"},
    OpName{OpType::HardSwish, "HardSwish"},
    OpName{OpType::Sigmoid, "Sigmoid"},
    OpName{OpType::Tanh, "Tanh"},
    OpName{OpType::MaxPool, "MaxPool"},
    OpName{OpType::AvgPool, "AvgPool"},
    OpName{OpType::GlobalAvgPool, "GlobalAvgPool"},
    OpName{OpType::Add, "Add"},
    OpName{OpType::Concat, "Concat"},
    OpName{OpType::Reshape, "Reshape"},
    OpName{OpType::Flatten, "Flatten"},
    OpName{OpType::ZeroPad, "ZeroPad"},
    OpName{OpType::Dropout, "Dropout"},
    OpName{OpType::Softmax, "Softmax"},
};
} // namespace

const char* opTypeName(OpType type) {
    for (const auto& e : kOpNames)
        if (e.type == type)
            return e.name;
    return "?";
}

std::optional<OpType> opTypeFromName(std::string_view name) {
    for (const auto& e : kOpNames)
        if (name == e.name)
            return e.type;
    return std::nullopt;
}

const std::vector<OpType>& allOpTypes() {
    static const std::vector<OpType> all = [] {
        std::vector<OpType> v;
        v.reserve(kOpNames.size());
        for (const auto& e : kOpNames)
            v.push_back(e.type);
        return v;
    }();
    return all;
}

int64_t Attrs::getInt(const std::string& key, int64_t fallback) const {
    auto it = m_values.find(key);
    if (it == m_values.end())
        return fallback;
    if (auto* v = std::get_if<int64_t>(&it->second))
        return *v;
    if (auto* d = std::get_if<double>(&it->second))
        return static_cast<int64_t>(*d);
    return fallback;
}

double Attrs::getFloat(const std::string& key, double fallback) const {
    auto it = m_values.find(key);
    if (it == m_values.end())
        return fallback;
    if (auto* d = std::get_if<double>(&it->second))
        return *d;
    if (auto* v = std::get_if<int64_t>(&it->second))
        return static_cast<double>(*v);
    return fallback;
}

std::string Attrs::getString(const std::string& key, const std::string& fallback) const {
    auto it = m_values.find(key);
    if (it == m_values.end())
        return fallback;
    if (auto* s = std::get_if<std::string>(&it->second))
        return *s;
    return fallback;
}

std::vector<int64_t> Attrs::getInts(const std::string& key,
                                    const std::vector<int64_t>& fallback) const {
    auto it = m_values.find(key);
    if (it == m_values.end())
        return fallback;
    if (auto* v = std::get_if<std::vector<int64_t>>(&it->second))
        return *v;
    if (auto* i = std::get_if<int64_t>(&it->second))
        return {*i, *i};
    return fallback;
}

Result<ConvGeometry> resolveGeometry(const Node& node, const Shape& in) {
    const std::string where = "node '" + node.name + "' (" + opTypeName(node.type) + ")";
    if (in.size() != 3)
        return Status::error(where + ": expects an [H,W,C] input, got " + shapeToString(in));
    ConvGeometry g;
    g.inH = in[0];
    g.inW = in[1];
    const bool isPool = node.type == OpType::MaxPool || node.type == OpType::AvgPool;
    auto kernel = node.attrs.getInts(isPool ? "pool" : "kernel", {});
    if (kernel.size() != 2 || kernel[0] <= 0 || kernel[1] <= 0)
        return Status::error(where + ": attribute '" + (isPool ? "pool" : "kernel") +
                             "' must be two positive integers");
    g.kh = kernel[0];
    g.kw = kernel[1];
    auto strides = node.attrs.getInts("strides", isPool ? kernel : std::vector<int64_t>{1, 1});
    auto dil = node.attrs.getInts("dilations", {1, 1});
    if (strides.size() != 2 || strides[0] <= 0 || strides[1] <= 0)
        return Status::error(where + ": attribute 'strides' must be two positive integers");
    if (dil.size() != 2 || dil[0] <= 0 || dil[1] <= 0)
        return Status::error(where + ": attribute 'dilations' must be two positive integers");
    g.sh = strides[0];
    g.sw = strides[1];
    g.dh = dil[0];
    g.dw = dil[1];
    const int64_t ekh = (g.kh - 1) * g.dh + 1; // effective (dilated) kernel extent
    const int64_t ekw = (g.kw - 1) * g.dw + 1;
    std::string padding = node.attrs.getString("padding", "valid");
    if (padding == "same") {
        // TFLite/TensorFlow SAME: out = ceil(in / stride); extra padding goes bottom/right.
        g.outH = (g.inH + g.sh - 1) / g.sh;
        g.outW = (g.inW + g.sw - 1) / g.sw;
        int64_t padH = std::max<int64_t>(0, (g.outH - 1) * g.sh + ekh - g.inH);
        int64_t padW = std::max<int64_t>(0, (g.outW - 1) * g.sw + ekw - g.inW);
        g.padTop = padH / 2;
        g.padBottom = padH - g.padTop;
        g.padLeft = padW / 2;
        g.padRight = padW - g.padLeft;
    } else if (padding == "valid" || padding == "explicit") {
        if (padding == "explicit") {
            auto pads = node.attrs.getInts("pads", {});
            if (pads.size() != 4 ||
                std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
                return Status::error(
                    where + ": explicit padding needs 'pads' = [top,left,bottom,right] >= 0");
            g.padTop = pads[0];
            g.padLeft = pads[1];
            g.padBottom = pads[2];
            g.padRight = pads[3];
        }
        int64_t h = g.inH + g.padTop + g.padBottom - ekh;
        int64_t w = g.inW + g.padLeft + g.padRight - ekw;
        if (h < 0 || w < 0)
            return Status::error(where + ": kernel " + std::to_string(ekh) + "x" +
                                 std::to_string(ekw) + " is larger than the padded input " +
                                 shapeToString(in));
        g.outH = h / g.sh + 1;
        g.outW = w / g.sw + 1;
    } else {
        return Status::error(where + ": unknown padding '" + padding +
                             "' (use same, valid or explicit)");
    }
    return g;
}

namespace {

// Kahn's algorithm taking the lowest original index among ready nodes, so an order that
// is already topological is kept unchanged. Returns fewer than n indices on a cycle.
std::vector<int> stableTopologicalOrder(const std::vector<std::vector<int>>& preds) {
    const size_t n = preds.size();
    std::vector<int> pending(n, 0);
    std::vector<std::vector<int>> succs(n);
    for (size_t i = 0; i < n; ++i) {
        pending[i] = static_cast<int>(preds[i].size());
        for (int p : preds[i])
            succs[static_cast<size_t>(p)].push_back(static_cast<int>(i));
    }
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    for (size_t i = 0; i < n; ++i)
        if (pending[i] == 0)
            ready.push(static_cast<int>(i));
    std::vector<int> order;
    order.reserve(n);
    while (!ready.empty()) {
        const int i = ready.top();
        ready.pop();
        order.push_back(i);
        for (int s : succs[static_cast<size_t>(i)])
            if (--pending[static_cast<size_t>(s)] == 0)
                ready.push(s);
    }
    return order;
}

// Called when the sort left nodes over: every unsorted node has an unsorted producer,
// so walking producers from any of them must come back to a node on a cycle.
std::string describeCycle(const std::vector<Node>& nodes,
                          const std::vector<std::vector<int>>& preds,
                          const std::vector<int>& order) {
    const size_t n = nodes.size();
    std::vector<bool> sorted(n, false);
    for (int i : order)
        sorted[static_cast<size_t>(i)] = true;
    int start = 0;
    while (sorted[static_cast<size_t>(start)])
        ++start;
    std::vector<int> seenAt(n, -1);
    std::vector<int> walk;
    int cur = start;
    while (seenAt[static_cast<size_t>(cur)] < 0) {
        seenAt[static_cast<size_t>(cur)] = static_cast<int>(walk.size());
        walk.push_back(cur);
        for (int p : preds[static_cast<size_t>(cur)]) {
            if (!sorted[static_cast<size_t>(p)]) {
                cur = p;
                break;
            }
        }
    }
    // walk[seenAt[cur]..] follows edges consumer -> producer; print in data-flow order.
    std::vector<int> cycle(walk.begin() + seenAt[static_cast<size_t>(cur)], walk.end());
    std::reverse(cycle.begin(), cycle.end());
    std::string path;
    for (int i : cycle)
        path += "'" + nodes[static_cast<size_t>(i)].name + "' -> ";
    path += "'" + nodes[static_cast<size_t>(cycle.front())].name + "'";
    return "node '" + nodes[static_cast<size_t>(cycle.front())].name + "' is on a cycle: " + path +
           "; the graph must be acyclic";
}

} // namespace

Status Graph::finalize() {
    m_finalized = false;
    const size_t n = nodes.size();
    if (n == 0)
        return Status::error("graph has no nodes; it needs at least an Input node");
    if (n > static_cast<size_t>(INT_MAX))
        return Status::error("graph has too many nodes");

    std::unordered_map<std::string, int> index;
    index.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const Node& node = nodes[i];
        if (node.name.empty())
            return Status::error("node #" + std::to_string(i) + " (" + opTypeName(node.type) +
                                 ") has an empty name; every node needs a unique name");
        auto [it, inserted] = index.emplace(node.name, static_cast<int>(i));
        if (!inserted)
            return Status::error("node '" + node.name + "': duplicate name (nodes #" +
                                 std::to_string(it->second) + " and #" + std::to_string(i) +
                                 "); node names must be unique");
    }

    std::vector<std::vector<int>> preds(n);
    std::vector<int> inputNodes;
    for (size_t i = 0; i < n; ++i) {
        const Node& node = nodes[i];
        for (const auto& in : node.inputs) {
            auto it = index.find(in);
            if (it == index.end())
                return Status::error("node '" + node.name + "': input '" + in + "' does not exist");
            preds[i].push_back(it->second);
        }
        QAT_RETURN_IF_ERROR(detail::checkArity(node));
        if (node.type == OpType::Input)
            inputNodes.push_back(static_cast<int>(i));
    }
    if (inputNodes.empty())
        return Status::error("graph has no Input node; add one with attribute 'shape' (e.g. "
                             "[28,28,1])");
    if (inputNodes.size() > 1)
        return Status::error("node '" + nodes[static_cast<size_t>(inputNodes[1])].name +
                             "': a second Input node (the first is '" +
                             nodes[static_cast<size_t>(inputNodes[0])].name +
                             "'); exactly one Input node is supported");
    if (!output.empty() && index.count(output) == 0)
        return Status::error("output node '" + output + "' does not exist");

    const std::vector<int> order = stableTopologicalOrder(preds);
    if (order.size() != n)
        return Status::error(describeCycle(nodes, preds, order));

    // Infer shapes and check parameters in sorted order without touching the graph, so a
    // failed finalize leaves it as it was.
    std::vector<Shape> shapes(n);
    std::vector<detail::Operand> operands;
    for (int i : order) {
        const Node& node = nodes[static_cast<size_t>(i)];
        operands.clear();
        for (size_t k = 0; k < node.inputs.size(); ++k)
            operands.push_back(
                {&node.inputs[k], &shapes[static_cast<size_t>(preds[static_cast<size_t>(i)][k])]});
        auto shape = detail::inferShape(node, operands);
        if (!shape)
            return shape.status();
        shapes[static_cast<size_t>(i)] = std::move(shape.value());

        if (node.params.empty())
            continue;
        const auto specs =
            detail::paramSpecs(node, operands.empty() ? Shape{} : *operands[0].shape);
        for (const auto& [name, tensor] : node.params) {
            auto spec = std::find_if(
                specs.begin(), specs.end(),
                [&paramName = name](const detail::ParamSpec& p) { return p.name == paramName; });
            if (spec == specs.end()) {
                std::string expected;
                for (const auto& p : specs)
                    expected += (expected.empty() ? "" : ", ") + p.name;
                return Status::error("node '" + node.name + "': unexpected param '" + name + "' (" +
                                     opTypeName(node.type) + " here takes " +
                                     (expected.empty() ? std::string("no parameters") : expected) +
                                     ")");
            }
            if (tensor.shape() != spec->shape || tensor.size() != shapeSize(spec->shape))
                return Status::error("node '" + node.name + "': param '" + name + "' has shape " +
                                     shapeToString(tensor.shape()) + " but " +
                                     shapeToString(spec->shape) + " is required");
        }
    }

    std::vector<Node> sorted;
    sorted.reserve(n);
    for (int i : order) {
        sorted.push_back(std::move(nodes[static_cast<size_t>(i)]));
        sorted.back().outputShape = std::move(shapes[static_cast<size_t>(i)]);
    }
    nodes = std::move(sorted);
    m_index.clear();
    m_index.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        m_index.emplace(nodes[i].name, static_cast<int>(i));
        if (nodes[i].type == OpType::Input)
            m_inputIndex = static_cast<int>(i);
    }
    m_finalized = true;
    return Status::ok();
}

int Graph::indexOf(const std::string& name) const {
    auto it = m_index.find(name);
    if (it != m_index.end() && it->second >= 0 && static_cast<size_t>(it->second) < nodes.size() &&
        nodes[static_cast<size_t>(it->second)].name == name)
        return it->second;
    // Not cached (the graph was edited since finalize): scan.
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == name)
            return static_cast<int>(i);
    return -1;
}

Node* Graph::find(const std::string& name) {
    const int i = indexOf(name);
    return i < 0 ? nullptr : &nodes[static_cast<size_t>(i)];
}

const Node* Graph::find(const std::string& name) const {
    const int i = indexOf(name);
    return i < 0 ? nullptr : &nodes[static_cast<size_t>(i)];
}

const Node& Graph::inputNode() const {
    if (m_inputIndex >= 0 && static_cast<size_t>(m_inputIndex) < nodes.size() &&
        nodes[static_cast<size_t>(m_inputIndex)].type == OpType::Input)
        return nodes[static_cast<size_t>(m_inputIndex)];
    for (const Node& node : nodes)
        if (node.type == OpType::Input)
            return node;
    assertFailed("graph has an Input node", __FILE__, __LINE__);
}

const Node& Graph::outputNode() const {
    if (!output.empty()) {
        const Node* node = find(output);
        QAT_ASSERT(node != nullptr);
        return *node;
    }
    QAT_ASSERT(!nodes.empty());
    return nodes.back();
}

std::vector<std::string> Graph::consumers(const std::string& name) const {
    std::vector<std::string> result;
    for (const Node& node : nodes)
        if (std::find(node.inputs.begin(), node.inputs.end(), name) != node.inputs.end())
            result.push_back(node.name);
    return result;
}

} // namespace qat
