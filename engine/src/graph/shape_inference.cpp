// Shape inference and parameter shapes for every OpType (conventions in qat/graph.h).
// Attributes are type-checked here once so that layers, exporters and the integer model
// can read them without re-validating. Shapes are per sample, NHWC.
#include "graph/shape_inference.h"

namespace qat::detail {

namespace {

std::string where(const Node& node) {
    return "node '" + node.name + "' (" + opTypeName(node.type) + ")";
}

std::string rangeText(int64_t lo, int64_t hi) {
    // Appended piecewise: `"[" + std::to_string(..)` trips a GCC 12 -Wrestrict false positive.
    std::string s = "[";
    s += std::to_string(lo);
    s += ", ";
    s += std::to_string(hi);
    s += "]";
    return s;
}

// An integer attribute in [lo, hi]; `fallback` when absent (required when nullopt).
Result<int64_t> intAttr(const Node& node, const std::string& key, std::optional<int64_t> fallback,
                        int64_t lo, int64_t hi) {
    const auto& all = node.attrs.all();
    auto it = all.find(key);
    if (it == all.end()) {
        if (!fallback)
            return Status::error(where(node) + ": attribute '" + key + "' is required");
        return *fallback;
    }
    const auto* v = std::get_if<int64_t>(&it->second);
    if (!v || *v < lo || *v > hi)
        return Status::error(where(node) + ": attribute '" + key + "' must be an integer in " +
                             rangeText(lo, hi));
    return *v;
}

// An integer-list attribute with `count` elements (any count >= 1 when count == 0), each
// in [lo, hi]. A single integer stands for [v, v] when count == 2.
Result<std::vector<int64_t>> intsAttr(const Node& node, const std::string& key,
                                      std::optional<std::vector<int64_t>> fallback, size_t count,
                                      int64_t lo, int64_t hi) {
    const auto& all = node.attrs.all();
    auto it = all.find(key);
    std::vector<int64_t> values;
    if (it == all.end()) {
        if (!fallback)
            return Status::error(where(node) + ": attribute '" + key + "' is required");
        return *fallback;
    }
    if (const auto* list = std::get_if<std::vector<int64_t>>(&it->second))
        values = *list;
    else if (const auto* one = std::get_if<int64_t>(&it->second); one && count == 2)
        values = {*one, *one};
    const std::string what = count ? std::to_string(count) + " integers" : "a list of integers";
    if (values.empty() || (count && values.size() != count))
        return Status::error(where(node) + ": attribute '" + key + "' must be " + what + " in " +
                             rangeText(lo, hi));
    for (int64_t v : values)
        if (v < lo || v > hi)
            return Status::error(where(node) + ": attribute '" + key + "' must be " + what +
                                 " in " + rangeText(lo, hi));
    return values;
}

// A numeric attribute (integer or float) in [lo, hi]; `fallback` when absent.
Result<double> floatAttr(const Node& node, const std::string& key, double fallback, double lo,
                         double hi) {
    const auto& all = node.attrs.all();
    auto it = all.find(key);
    if (it == all.end())
        return fallback;
    double v = 0;
    if (const auto* d = std::get_if<double>(&it->second))
        v = *d;
    else if (const auto* i = std::get_if<int64_t>(&it->second))
        v = static_cast<double>(*i);
    else
        return Status::error(where(node) + ": attribute '" + key + "' must be a number");
    if (!(v >= lo && v <= hi)) // also rejects NaN
        return Status::error(where(node) + ": attribute '" + key + "' must be a number in [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

Status stringAttr(const Node& node, const std::string& key) {
    const auto& all = node.attrs.all();
    auto it = all.find(key);
    if (it != all.end() && !std::holds_alternative<std::string>(it->second))
        return Status::error(where(node) + ": attribute '" + key + "' must be a string");
    return Status::ok();
}

Status needRank(const Node& node, const Operand& in, size_t rank, const char* layout) {
    if (in.shape->size() != rank)
        return Status::error(where(node) + ": needs a rank-" + std::to_string(rank) + " " + layout +
                             " input but '" + *in.name + "' gives " + shapeToString(*in.shape));
    return Status::ok();
}

Result<Shape> checkOutput(const Node& node, Shape out) {
    if (!checkedElementCount(out))
        return Status::error(where(node) + ": output shape " + shapeToString(out) +
                             " is empty or larger than " + std::to_string(kMaxElements) +
                             " elements per sample");
    return out;
}

// Validates the window attributes before resolveGeometry does its arithmetic on them.
Status checkWindowAttrs(const Node& node, bool isPool) {
    auto kernel = intsAttr(node, isPool ? "pool" : "kernel", std::nullopt, 2, 1, kMaxWindow);
    if (!kernel)
        return kernel.status();
    if (auto s = intsAttr(node, "strides", std::vector<int64_t>{1, 1}, 2, 1, kMaxWindow); !s)
        return s.status();
    if (auto d = intsAttr(node, "dilations", std::vector<int64_t>{1, 1}, 2, 1, kMaxWindow); !d)
        return d.status();
    QAT_RETURN_IF_ERROR(stringAttr(node, "padding"));
    if (node.attrs.getString("padding", "valid") == "explicit") {
        if (auto p = intsAttr(node, "pads", std::nullopt, 4, 0, kMaxWindow); !p)
            return p.status();
    }
    return Status::ok();
}

Result<ConvGeometry> geometry(const Node& node, const Operand& in, bool isPool) {
    QAT_RETURN_IF_ERROR(needRank(node, in, 3, "[H,W,C]"));
    QAT_RETURN_IF_ERROR(checkWindowAttrs(node, isPool));
    return resolveGeometry(node, *in.shape);
}

Result<bool> useBias(const Node& node) {
    auto b = intAttr(node, "use_bias", 1, 0, 1);
    if (!b)
        return b.status();
    return *b == 1;
}

Result<Shape> inferConv(const Node& node, const Operand& in) {
    auto g = geometry(node, in, false);
    if (!g)
        return g.status();
    const int64_t cin = (*in.shape)[2];
    auto filters = intAttr(node, "filters", std::nullopt, 1, kMaxElements);
    auto groups = intAttr(node, "groups", 1, 1, kMaxElements);
    if (!filters)
        return filters.status();
    if (!groups)
        return groups.status();
    if (cin % *groups != 0)
        return Status::error(where(node) + ": input channels " + std::to_string(cin) + " (from '" +
                             *in.name + "') are not divisible by groups " +
                             std::to_string(*groups));
    if (*filters % *groups != 0)
        return Status::error(where(node) + ": filters " + std::to_string(*filters) +
                             " are not divisible by groups " + std::to_string(*groups));
    if (auto b = useBias(node); !b)
        return b.status();
    if (!checkedElementCount({*filters, g->kh, g->kw, cin / *groups}))
        return Status::error(where(node) + ": weight tensor would be larger than " +
                             std::to_string(kMaxElements) + " elements");
    return checkOutput(node, {g->outH, g->outW, *filters});
}

Result<Shape> inferDepthwise(const Node& node, const Operand& in) {
    auto g = geometry(node, in, false);
    if (!g)
        return g.status();
    auto mult = intAttr(node, "depth_multiplier", 1, 1, kMaxElements);
    if (!mult)
        return mult.status();
    if (auto b = useBias(node); !b)
        return b.status();
    const int64_t cin = (*in.shape)[2];
    if (!checkedElementCount({cin, *mult}) || !checkedElementCount({g->kh, g->kw, cin * *mult}))
        return Status::error(where(node) + ": weight tensor would be larger than " +
                             std::to_string(kMaxElements) + " elements");
    return checkOutput(node, {g->outH, g->outW, cin * *mult});
}

Result<Shape> inferPool(const Node& node, const Operand& in) {
    auto g = geometry(node, in, true);
    if (!g)
        return g.status();
    return checkOutput(node, {g->outH, g->outW, (*in.shape)[2]});
}

Result<Shape> inferDense(const Node& node, const Operand& in) {
    if (in.shape->size() != 1)
        return Status::error(where(node) + ": Dense needs a rank-1 input but '" + *in.name +
                             "' gives " + shapeToString(*in.shape) +
                             "; add a Flatten (or GlobalAvgPool) node before it");
    auto units = intAttr(node, "units", std::nullopt, 1, kMaxElements);
    if (!units)
        return units.status();
    if (auto b = useBias(node); !b)
        return b.status();
    if (!checkedElementCount({*units, (*in.shape)[0]}))
        return Status::error(where(node) + ": weight tensor [" + std::to_string(*units) + "x" +
                             std::to_string((*in.shape)[0]) + "] is larger than " +
                             std::to_string(kMaxElements) + " elements");
    return Shape{*units};
}

Result<Shape> inferConcat(const Node& node, const std::vector<Operand>& ops) {
    const Shape& first = *ops[0].shape;
    const auto rank = static_cast<int64_t>(first.size());
    auto axisAttr = intAttr(node, "axis", -1, -rank, rank - 1);
    if (!axisAttr)
        return axisAttr.status();
    const auto axis = static_cast<size_t>(*axisAttr < 0 ? *axisAttr + rank : *axisAttr);
    Shape out = first;
    out[axis] = 0;
    for (const Operand& op : ops) {
        const Shape& s = *op.shape;
        bool compatible = s.size() == first.size();
        for (size_t d = 0; compatible && d < s.size(); ++d)
            compatible = d == axis || s[d] == first[d];
        if (!compatible)
            return Status::error(where(node) + ": input '" + *op.name + "' has shape " +
                                 shapeToString(s) + " but input '" + *ops[0].name + "' has " +
                                 shapeToString(first) + "; shapes must match except on axis " +
                                 std::to_string(axis));
        out[axis] += s[axis];
    }
    return checkOutput(node, std::move(out));
}

Result<Shape> inferReshape(const Node& node, const Operand& in) {
    auto target = intsAttr(node, "shape", std::nullopt, 0, -1, kMaxElements);
    if (!target)
        return target.status();
    Shape out = *target;
    int inferred = -1;
    int64_t known = 1;
    for (size_t d = 0; d < out.size(); ++d) {
        if (out[d] == -1) {
            if (inferred >= 0)
                return Status::error(where(node) + ": attribute 'shape' " + shapeToString(out) +
                                     " has more than one -1");
            inferred = static_cast<int>(d);
            continue;
        }
        if (out[d] == 0)
            return Status::error(where(node) + ": attribute 'shape' " + shapeToString(out) +
                                 " has a zero dimension");
        if (known > kMaxElements / out[d])
            return Status::error(where(node) + ": attribute 'shape' " + shapeToString(out) +
                                 " is too large");
        known *= out[d];
    }
    const int64_t count = shapeSize(*in.shape);
    if (inferred >= 0) {
        if (count % known != 0)
            return Status::error(where(node) + ": cannot reshape " + shapeToString(*in.shape) +
                                 " (" + std::to_string(count) + " elements, from '" + *in.name +
                                 "') to " + shapeToString(out));
        out[static_cast<size_t>(inferred)] = count / known;
    } else if (known != count) {
        return Status::error(where(node) + ": cannot reshape " + shapeToString(*in.shape) + " (" +
                             std::to_string(count) + " elements, from '" + *in.name + "') to " +
                             shapeToString(out) + " (" + std::to_string(known) + " elements)");
    }
    return checkOutput(node, std::move(out));
}

} // namespace

std::optional<int64_t> checkedElementCount(const Shape& shape, int64_t limit) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 1 || n > limit / d)
            return std::nullopt;
        n *= d;
    }
    return n;
}

Status checkArity(const Node& node) {
    const size_t n = node.inputs.size();
    switch (node.type) {
    case OpType::Input:
        if (n != 0)
            return Status::error(where(node) + ": an Input node takes no inputs but has " +
                                 std::to_string(n));
        return Status::ok();
    case OpType::Add:
        if (n < 2)
            return Status::error(where(node) + ": takes 2 or more inputs but has " +
                                 std::to_string(n));
        return Status::ok();
    case OpType::Concat:
        if (n < 1)
            return Status::error(where(node) + ": takes 1 or more inputs but has none");
        return Status::ok();
    default:
        if (n != 1)
            return Status::error(where(node) + ": takes 1 input but has " + std::to_string(n));
        return Status::ok();
    }
}

Result<Shape> inferShape(const Node& node, const std::vector<Operand>& ops) {
    QAT_RETURN_IF_ERROR(checkArity(node));
    switch (node.type) {
    case OpType::Input: {
        auto shape = intsAttr(node, "shape", std::nullopt, 0, 1, kMaxElements);
        if (!shape)
            return Status::error(shape.message() + " (the per-sample shape, e.g. [28,28,1])");
        return checkOutput(node, *shape);
    }
    case OpType::Conv2D:
        return inferConv(node, ops[0]);
    case OpType::DepthwiseConv2D:
        return inferDepthwise(node, ops[0]);
    case OpType::Dense:
        return inferDense(node, ops[0]);
    case OpType::BatchNorm: {
        if (auto e = floatAttr(node, "epsilon", 1e-5, 1e-30, 1e30); !e)
            return e.status();
        if (auto m = floatAttr(node, "momentum", 0.1, 0.0, 1.0); !m)
            return m.status();
        return *ops[0].shape;
    }
    case OpType::LeakyReLU:
        if (auto a = floatAttr(node, "alpha", 0.01, -1e30, 1e30); !a)
            return a.status();
        return *ops[0].shape;
    case OpType::Dropout: {
        auto rate = floatAttr(node, "rate", 0.0, 0.0, 1.0);
        if (!rate)
            return rate.status();
        if (*rate >= 1.0)
            return Status::error(where(node) + ": attribute 'rate' must be below 1");
        return *ops[0].shape;
    }
    case OpType::ReLU:
    case OpType::ReLU6:
    case OpType::HardSwish:
    case OpType::Sigmoid:
    case OpType::Tanh:
    case OpType::Softmax:
        return *ops[0].shape;
    case OpType::MaxPool:
    case OpType::AvgPool:
        return inferPool(node, ops[0]);
    case OpType::GlobalAvgPool:
        QAT_RETURN_IF_ERROR(needRank(node, ops[0], 3, "[H,W,C]"));
        return Shape{(*ops[0].shape)[2]};
    case OpType::Add:
        for (const Operand& op : ops)
            if (*op.shape != *ops[0].shape)
                return Status::error(where(node) + ": input '" + *op.name + "' has shape " +
                                     shapeToString(*op.shape) + " but input '" + *ops[0].name +
                                     "' has " + shapeToString(*ops[0].shape) +
                                     "; Add needs equal shapes");
        return *ops[0].shape;
    case OpType::Concat:
        return inferConcat(node, ops);
    case OpType::Reshape:
        return inferReshape(node, ops[0]);
    case OpType::Flatten:
        return Shape{shapeSize(*ops[0].shape)};
    case OpType::ZeroPad: {
        QAT_RETURN_IF_ERROR(needRank(node, ops[0], 3, "[H,W,C]"));
        auto pads = intsAttr(node, "pads", std::nullopt, 4, 0, kMaxWindow);
        if (!pads)
            return pads.status();
        const Shape& s = *ops[0].shape;
        const auto& p = *pads;
        return checkOutput(node, {s[0] + p[0] + p[2], s[1] + p[1] + p[3], s[2]});
    }
    }
    return Status::error(where(node) + ": unsupported op type");
}

std::vector<ParamSpec> paramSpecs(const Node& node, const Shape& in) {
    const bool bias = node.attrs.getInt("use_bias", 1) != 0;
    std::vector<ParamSpec> specs;
    switch (node.type) {
    case OpType::Conv2D: {
        const auto k = node.attrs.getInts("kernel", {1, 1});
        const int64_t cout = node.attrs.getInt("filters", 0);
        const int64_t groups = node.attrs.getInt("groups", 1);
        specs.push_back({"weights", {cout, k[0], k[1], in[2] / groups}});
        if (bias)
            specs.push_back({"bias", {cout}});
        break;
    }
    case OpType::DepthwiseConv2D: {
        const auto k = node.attrs.getInts("kernel", {1, 1});
        const int64_t cout = in[2] * node.attrs.getInt("depth_multiplier", 1);
        specs.push_back({"weights", {1, k[0], k[1], cout}});
        if (bias)
            specs.push_back({"bias", {cout}});
        break;
    }
    case OpType::Dense: {
        const int64_t units = node.attrs.getInt("units", 0);
        specs.push_back({"weights", {units, in[0]}});
        if (bias)
            specs.push_back({"bias", {units}});
        break;
    }
    case OpType::BatchNorm: {
        const int64_t c = in.back();
        specs.push_back({"gamma", {c}});
        specs.push_back({"beta", {c}});
        specs.push_back({"moving_mean", {c}, false});
        specs.push_back({"moving_var", {c}, false});
        break;
    }
    default:
        break;
    }
    return specs;
}

int64_t weightFanIn(const Node& node, const Shape& in) {
    switch (node.type) {
    case OpType::Conv2D: {
        const auto k = node.attrs.getInts("kernel", {1, 1});
        return k[0] * k[1] * (in[2] / node.attrs.getInt("groups", 1));
    }
    case OpType::DepthwiseConv2D: {
        // Each output channel reads one input channel through a kh x kw window.
        const auto k = node.attrs.getInts("kernel", {1, 1});
        return k[0] * k[1];
    }
    case OpType::Dense:
        return in[0];
    default:
        return 0;
    }
}

} // namespace qat::detail
