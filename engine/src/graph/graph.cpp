// Graph IR: op names, attribute access, convolution geometry, and Graph validation,
// topological sorting, shape inference and parameter initialization.
#include "qat/graph.h"

#include <algorithm>
#include <array>

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

} // namespace qat
