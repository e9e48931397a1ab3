// Conversion of a float graph + plan + observed ranges into the integer model.
// Walks the graph in order; each quantization block becomes one integer op whose output
// grid is the block's quantization point. Layers the plan keeps float become float ops
// with DEQUANTIZE/QUANTIZE inserted where integer and float tensors meet.
#include <cmath>
#include <map>

#include "int8/int_params.h"
#include "qat/int_model.h"
#include "quant/observer.h"

namespace qat {

const char* intDTypeName(IntDType t) {
    switch (t) {
    case IntDType::Float32:
        return "float32";
    case IntDType::Int8:
        return "int8";
    case IntDType::Int16:
        return "int16";
    case IntDType::Int32:
        return "int32";
    case IntDType::Int64:
        return "int64";
    }
    return "?";
}

const char* intOpKindName(IntOpKind kind) {
    switch (kind) {
    case IntOpKind::Quantize:
        return "QUANTIZE";
    case IntOpKind::Dequantize:
        return "DEQUANTIZE";
    case IntOpKind::Conv2D:
        return "CONV_2D";
    case IntOpKind::DepthwiseConv2D:
        return "DEPTHWISE_CONV_2D";
    case IntOpKind::FullyConnected:
        return "FULLY_CONNECTED";
    case IntOpKind::Add:
        return "ADD";
    case IntOpKind::Concat:
        return "CONCATENATION";
    case IntOpKind::MaxPool:
        return "MAX_POOL_2D";
    case IntOpKind::AvgPool:
        return "AVERAGE_POOL_2D";
    case IntOpKind::Mean:
        return "MEAN";
    case IntOpKind::Reshape:
        return "RESHAPE";
    case IntOpKind::Pad:
        return "PAD";
    case IntOpKind::Softmax:
        return "SOFTMAX";
    case IntOpKind::Lut:
        return "ACTIVATION (table)";
    case IntOpKind::FloatConv2D:
        return "CONV_2D (float)";
    case IntOpKind::FloatDepthwiseConv2D:
        return "DEPTHWISE_CONV_2D (float)";
    case IntOpKind::FloatFullyConnected:
        return "FULLY_CONNECTED (float)";
    case IntOpKind::FloatAdd:
        return "ADD (float)";
    case IntOpKind::FloatActivation:
        return "ACTIVATION (float)";
    case IntOpKind::FloatSoftmax:
        return "SOFTMAX (float)";
    case IntOpKind::FloatMean:
        return "MEAN (float)";
    case IntOpKind::FloatAvgPool:
        return "AVERAGE_POOL_2D (float)";
    case IntOpKind::FloatMaxPool:
        return "MAX_POOL_2D (float)";
    case IntOpKind::FloatConcat:
        return "CONCATENATION (float)";
    }
    return "?";
}

QuantParams IntTensor::params(size_t channel) const {
    QuantParams p;
    const size_t c = scales.size() > 1 ? channel : 0;
    p.scale = scales.empty() ? 1.0f : scales[c];
    p.zeroPoint = zeroPoints.empty() ? 0 : zeroPoints[std::min(c, zeroPoints.size() - 1)];
    p.qmin = qmin;
    p.qmax = qmax;
    return p;
}

void quantizeMultiplier(double m, int32_t& multiplier, int& shift) {
    if (m == 0.0) {
        multiplier = 0;
        shift = 0;
        return;
    }
    const double q = std::frexp(m, &shift);
    int64_t qFixed = static_cast<int64_t>(std::round(q * static_cast<double>(1LL << 31)));
    if (qFixed == (1LL << 31)) {
        qFixed /= 2;
        ++shift;
    }
    if (shift < -31) {
        shift = 0;
        qFixed = 0;
    }
    if (shift > 30) { // beyond int32 range of the result: saturate like TFLite
        shift = 30;
        qFixed = (1LL << 31) - 1;
    }
    multiplier = static_cast<int32_t>(qFixed);
}

namespace {

class Converter {
public:
    Converter(const Graph& g, const QuantPlan& plan, const QuantState& state,
              const IntConvertOptions& options)
        : m_graph(g), m_plan(plan), m_state(state), m_options(options),
          m_topo(analyzeQuantization(g, plan)) {}

    Result<IntModel> run();

private:
    Status pointParams(int point, QuantParams& out, const std::string& layer);
    int addActivation(const std::string& name, const Shape& shape, const QuantParams* params,
                      int bits);
    int ensureFloat(int tensor);
    Status ensureInt(int tensor, int point, const std::string& layer, int& out);
    Status convertWeighted(const QuantBlock& b);
    Status convertAdd(const QuantBlock& b);
    Status convertOther(size_t i);
    int bitsOfPoint(int point) const {
        return m_topo.points[static_cast<size_t>(point)].config.bits;
    }
    bool isInt(int tensor) const {
        return m_model.tensors[static_cast<size_t>(tensor)].type != IntDType::Float32;
    }

    const Graph& m_graph;
    const QuantPlan& m_plan;
    const QuantState& m_state;
    IntConvertOptions m_options;
    QuantTopology m_topo;
    IntModel m_model;
    std::vector<int> m_tensorOf;                  // node index -> tensor
    std::map<int, int> m_floatCopy;               // int tensor -> its DEQUANTIZE'd float tensor
    std::map<std::pair<int, int>, int> m_intCopy; // (tensor, point) -> quantized tensor
};

IntDType typeForBits(int bits) {
    return bits <= 8 ? IntDType::Int8 : IntDType::Int16;
}

Status Converter::pointParams(int point, QuantParams& out, const std::string& layer) {
    const QuantPoint& p = m_topo.points[static_cast<size_t>(point)];
    if (p.fixed) {
        out = p.fixedParams;
        return Status::ok();
    }
    for (const auto& r : m_state.ranges)
        if (r.owner == p.owner) {
            if (!r.initialized)
                break;
            out = chooseQuantParams(r.lo, r.hi, p.config);
            return Status::ok();
        }
    return Status::error("layer '" + layer + "': the activation range of '" + p.owner +
                         "' was never observed; calibrate (PTQ) or train (QAT) first");
}

// `name` and `shape` are copied before the tensor is appended, so they may refer into
// m_model.tensors; references into it held by the caller are invalid afterwards.
int Converter::addActivation(const std::string& name, const Shape& shape, const QuantParams* params,
                             int bits) {
    IntTensor t;
    t.name = name;
    t.shape = shape;
    if (params) {
        t.type = typeForBits(bits);
        t.bits = bits;
        t.scales = {params->scale};
        t.zeroPoints = {params->zeroPoint};
        t.qmin = params->qmin;
        t.qmax = params->qmax;
    } else {
        t.type = IntDType::Float32;
    }
    m_model.tensors.push_back(std::move(t));
    return static_cast<int>(m_model.tensors.size() - 1);
}

int Converter::ensureFloat(int tensor) {
    if (!isInt(tensor))
        return tensor;
    if (auto it = m_floatCopy.find(tensor); it != m_floatCopy.end())
        return it->second;
    // A copy: addActivation() appends to m_model.tensors, which invalidates references.
    const std::string name = m_model.tensors[static_cast<size_t>(tensor)].name;
    const int f = addActivation(name + "/dequantized",
                                m_model.tensors[static_cast<size_t>(tensor)].shape, nullptr, 0);
    IntOp op;
    op.kind = IntOpKind::Dequantize;
    op.node = name;
    op.inputs = {tensor};
    op.outputs = {f};
    m_model.ops.push_back(op);
    m_floatCopy[tensor] = f;
    return f;
}

Status Converter::ensureInt(int tensor, int point, const std::string& layer, int& out) {
    QuantParams p;
    QAT_RETURN_IF_ERROR(pointParams(point, p, layer));
    const IntTensor& src = m_model.tensors[static_cast<size_t>(tensor)];
    if (isInt(tensor) && src.scales[0] == p.scale && src.zeroPoints[0] == p.zeroPoint &&
        src.qmin == p.qmin && src.qmax == p.qmax) {
        out = tensor;
        return Status::ok();
    }
    if (auto it = m_intCopy.find({tensor, point}); it != m_intCopy.end()) {
        out = it->second;
        return Status::ok();
    }
    // QUANTIZE float->int, or int->int (requantize to the consumer's grid).
    const float srcScale = isInt(tensor) ? src.scales[0] : 0.0f;
    // `src` is not used below: addActivation() appends to m_model.tensors and may move it.
    const int q = addActivation(src.name + "/quantized", src.shape, &p, bitsOfPoint(point));
    IntOp op;
    op.kind = IntOpKind::Quantize;
    op.node = layer;
    op.inputs = {tensor};
    op.outputs = {q};
    if (isInt(tensor)) {
        quantizeMultiplier(static_cast<double>(srcScale) / static_cast<double>(p.scale),
                           op.multiplier.emplace_back(), op.shift.emplace_back());
    }
    m_model.ops.push_back(op);
    m_intCopy[{tensor, point}] = q;
    out = q;
    return Status::ok();
}

Status Converter::convertWeighted(const QuantBlock& b) {
    const Node& anchor = *m_graph.find(b.anchor);
    const size_t outIdx = static_cast<size_t>(m_graph.indexOf(b.output));
    const int point = m_topo.paramsOf[outIdx];
    const LayerQuantConfig* cfg = m_plan.find(b.anchor);
    const int in = m_tensorOf[static_cast<size_t>(m_graph.indexOf(anchor.inputs[0]))];
    const OpType actType = b.activation.empty() ? OpType::Input : m_graph.find(b.activation)->type;
    const int64_t groups = anchor.attrs.getInt("groups", 1);
    if (anchor.type == OpType::Conv2D && groups != 1)
        return Status::error("layer '" + b.anchor +
                             "': grouped convolution (groups=" + std::to_string(groups) +
                             ") has no TFLite integer kernel; use DepthwiseConv2D or groups=1");
    QuantizerConfig wcfg = cfg ? cfg->weights : QuantizerConfig{};
    auto folded = foldedBlockWeights(m_graph, b, wcfg);
    if (!folded)
        return folded.status();
    const int64_t channels = static_cast<int64_t>(folded->bias.size());

    IntOp op;
    op.node = b.anchor;
    if (anchor.type != OpType::Dense) {
        auto geom = resolveGeometry(
            anchor,
            m_graph.nodes[static_cast<size_t>(m_graph.indexOf(anchor.inputs[0]))].outputShape);
        if (!geom)
            return geom.status();
        op.geom = geom.value();
    }
    op.depthMultiplier = anchor.attrs.getInt("depth_multiplier", 1);
    const bool quantized = m_topo.quantizeWeights[static_cast<size_t>(&b - m_topo.blocks.data())];

    if (!quantized || point < 0) {
        // Float op (mixed precision): folded float weights, fused activation.
        op.kind = anchor.type == OpType::Conv2D            ? IntOpKind::FloatConv2D
                  : anchor.type == OpType::DepthwiseConv2D ? IntOpKind::FloatDepthwiseConv2D
                                                           : IntOpKind::FloatFullyConnected;
        IntTensor w;
        w.name = b.anchor + "/weights";
        w.shape = folded->weights.shape();
        w.type = IntDType::Float32;
        w.isConstant = true;
        w.floats = folded->weights.vec();
        IntTensor bias;
        bias.name = b.anchor + "/bias";
        bias.shape = {channels};
        bias.type = IntDType::Float32;
        bias.isConstant = true;
        bias.floats = folded->bias;
        m_model.tensors.push_back(std::move(w));
        m_model.tensors.push_back(std::move(bias));
        const int wi = static_cast<int>(m_model.tensors.size() - 2);
        const int out = addActivation(b.output, m_graph.nodes[outIdx].outputShape, nullptr, 0);
        op.inputs = {ensureFloat(in), wi, wi + 1};
        op.outputs = {out};
        op.activation = actType == OpType::ReLU    ? FusedActivation::Relu
                        : actType == OpType::ReLU6 ? FusedActivation::Relu6
                                                   : FusedActivation::None;
        m_model.ops.push_back(op);
        m_tensorOf[outIdx] = out;
        if (point >= 0) {
            int q;
            QAT_RETURN_IF_ERROR(ensureInt(out, point, b.anchor, q));
            m_tensorOf[outIdx] = q;
        }
        return Status::ok();
    }

    op.kind = anchor.type == OpType::Conv2D            ? IntOpKind::Conv2D
              : anchor.type == OpType::DepthwiseConv2D ? IntOpKind::DepthwiseConv2D
                                                       : IntOpKind::FullyConnected;
    // The input must be an integer tensor on its own grid.
    int inInt = in;
    if (!isInt(in)) {
        const int inPoint = m_topo.paramsOf[static_cast<size_t>(m_graph.indexOf(anchor.inputs[0]))];
        if (inPoint < 0)
            return Status::error("layer '" + b.anchor + "': its input has no quantization grid");
        QAT_RETURN_IF_ERROR(ensureInt(in, inPoint, b.anchor, inInt));
    }
    const IntTensor& inT = m_model.tensors[static_cast<size_t>(inInt)];
    const double inScale = inT.scales[0];
    QuantParams outP;
    QAT_RETURN_IF_ERROR(pointParams(point, outP, b.anchor));
    const int outBits = bitsOfPoint(point);

    // Weights: q = round(w / s_c) on the symmetric grid (int8 container for 2-8 bits).
    IntTensor w;
    w.name = b.anchor + "/weights";
    w.shape = folded->weights.shape();
    w.type = IntDType::Int8;
    w.isConstant = true;
    w.bits = wcfg.bits;
    w.axis = wcfg.perAxis ? folded->axis : -1;
    w.qmin = static_cast<int32_t>(wcfg.qmin());
    w.qmax = static_cast<int32_t>(wcfg.qmax());
    for (const auto& p : folded->params) {
        w.scales.push_back(p.scale);
        w.zeroPoints.push_back(p.zeroPoint);
    }
    const AxisSplit split =
        wcfg.perAxis ? splitAxis(w.shape, folded->axis) : AxisSplit{1, 1, folded->weights.size()};
    w.ints.resize(static_cast<size_t>(folded->weights.size()));
    for (int64_t o = 0; o < split.outer; ++o)
        for (int64_t c = 0; c < split.channels; ++c)
            for (int64_t i = 0; i < split.inner; ++i) {
                const int64_t k = (o * split.channels + c) * split.inner + i;
                w.ints[static_cast<size_t>(k)] =
                    quantizeValue(folded->weights[k], folded->params[static_cast<size_t>(c)]);
            }
    // Bias: int32 (int64 for 16-bit activations), scale inputScale * weightScale[c].
    IntTensor bias;
    bias.name = b.anchor + "/bias";
    bias.shape = {channels};
    bias.type = inT.bits > 8 ? IntDType::Int64 : IntDType::Int32;
    bias.isConstant = true;
    bias.qmin = std::numeric_limits<int32_t>::min();
    bias.qmax = std::numeric_limits<int32_t>::max();
    for (int64_t c = 0; c < channels; ++c) {
        const double ws = w.scales[w.scales.size() > 1 ? static_cast<size_t>(c) : 0];
        const double bs = inScale * ws;
        bias.scales.push_back(static_cast<float>(bs));
        bias.zeroPoints.push_back(0);
        const double q = std::round(static_cast<double>(folded->bias[static_cast<size_t>(c)]) / bs);
        const double lim = bias.type == IntDType::Int64 ? 9.2e18 : 2147483647.0;
        if (std::fabs(q) > lim)
            return Status::error("layer '" + b.anchor + "': bias of channel " + std::to_string(c) +
                                 " overflows its integer type (weights collapsed to zero?)");
        if (bias.type == IntDType::Int64)
            bias.ints64.push_back(static_cast<int64_t>(q));
        else
            bias.ints.push_back(static_cast<int32_t>(q));
    }
    int8::setConvMultipliers(op, inScale, w.scales, channels, static_cast<double>(outP.scale));
    if (w.scales.size() == 1) { // per-tensor weights: one bias scale too (Arm NN checks)
        bias.scales.resize(1);
        bias.zeroPoints.resize(1);
    } else {
        bias.axis = 0;
    }
    m_model.tensors.push_back(std::move(w));
    m_model.tensors.push_back(std::move(bias));
    const int wi = static_cast<int>(m_model.tensors.size() - 2);
    const int out = addActivation(b.output, m_graph.nodes[outIdx].outputShape, &outP, outBits);
    int8::setActivationClamp(op, m_model.tensors[static_cast<size_t>(out)], actType);
    op.inputs = {inInt, wi, wi + 1};
    op.outputs = {out};
    m_model.ops.push_back(op);
    m_tensorOf[outIdx] = out;
    return Status::ok();
}

Status Converter::convertAdd(const QuantBlock& b) {
    const Node& anchor = *m_graph.find(b.anchor);
    const size_t outIdx = static_cast<size_t>(m_graph.indexOf(b.output));
    const int point = m_topo.paramsOf[outIdx];
    const LayerQuantConfig* cfg = m_plan.find(b.anchor);
    const OpType actType = b.activation.empty() ? OpType::Input : m_graph.find(b.activation)->type;
    std::vector<int> ins;
    for (const auto& name : anchor.inputs)
        ins.push_back(m_tensorOf[static_cast<size_t>(m_graph.indexOf(name))]);
    IntOp op;
    op.node = b.anchor;
    if (!(cfg && cfg->enabled) || point < 0) {
        op.kind = IntOpKind::FloatAdd;
        for (int t : ins)
            op.inputs.push_back(ensureFloat(t));
        const int out = addActivation(b.output, m_graph.nodes[outIdx].outputShape, nullptr, 0);
        op.outputs = {out};
        op.activation = actType == OpType::ReLU    ? FusedActivation::Relu
                        : actType == OpType::ReLU6 ? FusedActivation::Relu6
                                                   : FusedActivation::None;
        m_model.ops.push_back(op);
        m_tensorOf[outIdx] = out;
        if (point >= 0) {
            int q;
            QAT_RETURN_IF_ERROR(ensureInt(out, point, b.anchor, q));
            m_tensorOf[outIdx] = q;
        }
        return Status::ok();
    }
    if (ins.size() != 2)
        return Status::error("layer '" + b.anchor + "': the integer ADD takes two inputs, not " +
                             std::to_string(ins.size()) + "; chain two-input Adds instead");
    for (size_t k = 0; k < 2; ++k)
        if (!isInt(ins[k])) {
            const int p = m_topo.paramsOf[static_cast<size_t>(m_graph.indexOf(anchor.inputs[k]))];
            if (p < 0)
                return Status::error("layer '" + b.anchor + "': input has no quantization grid");
            QAT_RETURN_IF_ERROR(ensureInt(ins[k], p, b.anchor, ins[k]));
        }
    QuantParams outP;
    QAT_RETURN_IF_ERROR(pointParams(point, outP, b.anchor));
    const int bits = bitsOfPoint(point);
    const int out = addActivation(b.output, m_graph.nodes[outIdx].outputShape, &outP, bits);
    op.kind = IntOpKind::Add;
    const float s1 = m_model.tensors[static_cast<size_t>(ins[0])].scales[0];
    const float s2 = m_model.tensors[static_cast<size_t>(ins[1])].scales[0];
    int8::setAddParams(op, s1, s2, outP.scale, bits);
    int8::setActivationClamp(op, m_model.tensors[static_cast<size_t>(out)], actType);
    op.inputs = ins;
    op.outputs = {out};
    m_model.ops.push_back(op);
    m_tensorOf[outIdx] = out;
    return Status::ok();
}

Status Converter::convertOther(size_t i) {
    const Node& node = m_graph.nodes[i];
    const int point = m_topo.paramsOf[i];
    auto inTensor = [&](size_t k) {
        return m_tensorOf[static_cast<size_t>(m_graph.indexOf(node.inputs[k]))];
    };
    const int in0 = inTensor(0);
    IntOp op;
    op.node = node.name;
    switch (node.type) {
    case OpType::Dropout:
        m_tensorOf[i] = in0; // identity at inference
        return Status::ok();
    case OpType::Reshape:
    case OpType::Flatten:
    case OpType::ZeroPad:
    case OpType::MaxPool:
    case OpType::AvgPool: {
        const bool integer = isInt(in0);
        const int out = static_cast<int>(m_model.tensors.size());
        // The output starts as a copy of the input (same grid). A copy, not a reference:
        // the push_back below may reallocate m_model.tensors.
        IntTensor t = m_model.tensors[static_cast<size_t>(in0)];
        const Shape inShape = t.shape;
        t.name = node.name;
        t.shape = node.outputShape;
        t.isConstant = false;
        t.ints.clear();
        t.floats.clear();
        m_model.tensors.push_back(t);
        if (node.type == OpType::Reshape || node.type == OpType::Flatten) {
            op.kind = IntOpKind::Reshape;
        } else if (node.type == OpType::ZeroPad) {
            op.kind = IntOpKind::Pad;
            auto pads = node.attrs.getInts("pads", {0, 0, 0, 0});
            op.geom.padTop = pads[0];
            op.geom.padLeft = pads[1];
            op.geom.padBottom = pads[2];
            op.geom.padRight = pads[3];
        } else {
            auto geom = resolveGeometry(node, inShape);
            if (!geom)
                return geom.status();
            op.geom = geom.value();
            op.kind = node.type == OpType::MaxPool
                          ? (integer ? IntOpKind::MaxPool : IntOpKind::FloatMaxPool)
                          : (integer ? IntOpKind::AvgPool : IntOpKind::FloatAvgPool);
            if (integer) {
                op.actMin = t.qmin;
                op.actMax = t.qmax;
            }
        }
        op.inputs = {in0};
        op.outputs = {out};
        m_model.ops.push_back(op);
        m_tensorOf[i] = out;
        return Status::ok();
    }
    default:
        break;
    }

    const int b = m_topo.blockOf[i];
    const LayerQuantConfig* cfg =
        b >= 0 ? m_plan.find(m_topo.blocks[static_cast<size_t>(b)].anchor) : nullptr;
    const bool integer = cfg && cfg->enabled && point >= 0;
    QuantParams outP;
    if (integer)
        QAT_RETURN_IF_ERROR(pointParams(point, outP, node.name));
    const int bits = integer ? bitsOfPoint(point) : 0;

    switch (node.type) {
    case OpType::Concat: {
        int axis = static_cast<int>(node.attrs.getInt("axis", -1));
        if (axis < 0)
            axis += static_cast<int>(node.outputShape.size());
        op.axis = axis;
        if (!integer) {
            op.kind = IntOpKind::FloatConcat;
            for (size_t k = 0; k < node.inputs.size(); ++k)
                op.inputs.push_back(ensureFloat(inTensor(k)));
            op.outputs = {addActivation(node.name, node.outputShape, nullptr, 0)};
        } else {
            op.kind = IntOpKind::Concat;
            for (size_t k = 0; k < node.inputs.size(); ++k) {
                int t;
                QAT_RETURN_IF_ERROR(ensureInt(inTensor(k), point, node.name, t));
                op.inputs.push_back(t);
            }
            op.outputs = {addActivation(node.name, node.outputShape, &outP, bits)};
        }
        break;
    }
    case OpType::GlobalAvgPool: {
        if (!integer) {
            op.kind = IntOpKind::FloatMean;
            op.inputs = {ensureFloat(in0)};
            op.outputs = {addActivation(node.name, node.outputShape, nullptr, 0)};
            break;
        }
        int src = in0;
        if (!isInt(src)) {
            const int p = m_topo.paramsOf[static_cast<size_t>(m_graph.indexOf(node.inputs[0]))];
            if (p < 0)
                return Status::error("layer '" + node.name + "': input has no quantization grid");
            QAT_RETURN_IF_ERROR(ensureInt(src, p, node.name, src));
        }
        op.kind = IntOpKind::Mean;
        const IntTensor& inT = m_model.tensors[static_cast<size_t>(src)];
        op.multiplier.resize(1);
        op.shift.resize(1);
        quantizeMultiplier(static_cast<double>(inT.scales[0]) / static_cast<double>(outP.scale),
                           op.multiplier[0], op.shift[0]);
        op.inputs = {src};
        op.outputs = {addActivation(node.name, node.outputShape, &outP, bits)};
        op.actMin = outP.qmin;
        op.actMax = outP.qmax;
        break;
    }
    case OpType::Softmax:
    case OpType::ReLU:
    case OpType::ReLU6:
    case OpType::LeakyReLU:
    case OpType::HardSwish:
    case OpType::Sigmoid:
    case OpType::Tanh: {
        op.floatActivation = node.type;
        op.leakyAlpha = node.attrs.getFloat("alpha", 0.01);
        if (!integer) {
            op.kind =
                node.type == OpType::Softmax ? IntOpKind::FloatSoftmax : IntOpKind::FloatActivation;
            op.inputs = {ensureFloat(in0)};
            op.outputs = {addActivation(node.name, node.outputShape, nullptr, 0)};
            break;
        }
        int src = in0;
        if (!isInt(src)) {
            const int p = m_topo.paramsOf[static_cast<size_t>(m_graph.indexOf(node.inputs[0]))];
            if (p < 0)
                return Status::error("layer '" + node.name + "': input has no quantization grid");
            QAT_RETURN_IF_ERROR(ensureInt(src, p, node.name, src));
        }
        const int out = addActivation(node.name, node.outputShape, &outP, bits);
        // After addActivation(), which may reallocate m_model.tensors.
        const IntTensor& inT = m_model.tensors[static_cast<size_t>(src)];
        op.inputs = {src};
        op.outputs = {out};
        if (node.type == OpType::Softmax) {
            op.kind = IntOpKind::Softmax;
            break;
        }
        int8::setLut(op, inT, m_model.tensors[static_cast<size_t>(out)], node.type, op.leakyAlpha);
        break;
    }
    case OpType::BatchNorm:
        return Status::error("layer '" + node.name +
                             "': a BatchNorm that does not follow a Conv/Dense cannot be folded "
                             "into the integer model");
    default:
        return Status::error("layer '" + node.name + "': op " + opTypeName(node.type) +
                             " has no integer implementation");
    }
    m_model.ops.push_back(op);
    m_tensorOf[i] = op.outputs[0];
    return Status::ok();
}

Result<IntModel> Converter::run() {
    QAT_RETURN_IF_ERROR(validatePlan(m_graph, m_plan));
    m_model.plan = m_plan;
    m_model.floatIo = m_options.floatIo;
    m_tensorOf.assign(m_graph.nodes.size(), -1);
    const size_t inputIdx = static_cast<size_t>(m_graph.indexOf(m_graph.inputNode().name));
    m_model.inputShape = m_graph.inputShape();
    // Model input.
    {
        const int point = m_topo.paramsOf[inputIdx];
        QuantParams p;
        QAT_RETURN_IF_ERROR(pointParams(point, p, m_graph.inputNode().name));
        if (m_options.floatIo) {
            m_model.input = addActivation(m_graph.inputNode().name, m_model.inputShape, nullptr, 0);
            int q;
            QAT_RETURN_IF_ERROR(ensureInt(m_model.input, point, m_graph.inputNode().name, q));
            m_tensorOf[inputIdx] = q;
        } else {
            m_model.input =
                addActivation(m_graph.inputNode().name, m_model.inputShape, &p, bitsOfPoint(point));
            m_tensorOf[inputIdx] = m_model.input;
        }
    }
    std::vector<bool> done(m_graph.nodes.size(), false);
    done[inputIdx] = true;
    for (size_t i = 0; i < m_graph.nodes.size(); ++i) {
        if (done[i])
            continue;
        const int b = m_topo.blockOf[i];
        if (b >= 0) {
            const QuantBlock& blk = m_topo.blocks[static_cast<size_t>(b)];
            if (blk.kind == BlockKind::Weighted || blk.kind == BlockKind::Add) {
                QAT_RETURN_IF_ERROR(blk.kind == BlockKind::Weighted ? convertWeighted(blk)
                                                                    : convertAdd(blk));
                for (const std::string* n : {&blk.anchor, &blk.bn, &blk.activation})
                    if (!n->empty())
                        done[static_cast<size_t>(m_graph.indexOf(*n))] = true;
                continue;
            }
        }
        QAT_RETURN_IF_ERROR(convertOther(i));
        done[i] = true;
    }
    int out = m_tensorOf[static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name))];
    if (m_options.floatIo)
        out = ensureFloat(out);
    m_model.output = out;
    m_model.sourceModel = m_graph.outputNode().name;
    return std::move(m_model);
}

} // namespace

Result<IntModel> convertToIntModel(const Graph& graph, const QuantPlan& plan,
                                   const QuantState& state, const IntConvertOptions& options) {
    Converter c(graph, plan, state, options);
    return c.run();
}

} // namespace qat
