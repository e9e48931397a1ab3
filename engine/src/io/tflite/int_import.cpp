// .tflite -> IntModel for integer (and mixed-precision) models: the inverse of the
// integer exporter, used to validate an exported file by executing exactly what it holds
// with the reference executor. Requantization parameters are recomputed from the file's
// scales the way a TFLite runtime's Prepare does (int8/int_params.h).
#include <cstring>

#include <flatbuffers/flatbuffers.h>

#include "int8/int_params.h"
#include "io/tflite/tflite_schema.h"
#include "qat/network.h"
#include "qat/tflite_int_export.h"

namespace qat {

namespace {

namespace fb = qat::tflite::fb;

IntDType dtypeOf(fb::TensorType t, bool& ok) {
    ok = true;
    switch (t) {
    case fb::TensorType_FLOAT32:
        return IntDType::Float32;
    case fb::TensorType_INT8:
    case fb::TensorType_INT4:
        return IntDType::Int8;
    case fb::TensorType_INT16:
        return IntDType::Int16;
    case fb::TensorType_INT32:
        return IntDType::Int32;
    case fb::TensorType_INT64:
        return IntDType::Int64;
    default:
        ok = false;
        return IntDType::Float32;
    }
}

class Reader {
public:
    explicit Reader(std::span<const uint8_t> bytes) : m_bytes(bytes) {}
    Result<IntModel> run();

private:
    Status readTensor(int index);
    Status readOp(const fb::Operator& op, fb::BuiltinOperator code);
    const IntTensor& t(int i) const { return m_model.tensors[static_cast<size_t>(i)]; }
    Result<ConvGeometry> geometry(OpType type, const Shape& in, int64_t kh, int64_t kw, int sh,
                                  int sw, int dh, int dw, fb::Padding padding,
                                  const std::string& name);

    std::span<const uint8_t> m_bytes;
    const fb::Model* m_fbModel = nullptr;
    const fb::SubGraph* m_graph = nullptr;
    IntModel m_model;
};

Status Reader::readTensor(int index) {
    const fb::Tensor* ft = m_graph->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
    IntTensor& it = m_model.tensors[static_cast<size_t>(index)];
    it.name = ft->name() ? ft->name()->str() : "tensor" + std::to_string(index);
    bool ok;
    it.type = dtypeOf(ft->type(), ok);
    if (!ok)
        return Status::error("tensor '" + it.name + "': unsupported tensor type " +
                             std::to_string(static_cast<int>(ft->type())));
    Shape shape;
    if (ft->shape())
        for (int32_t d : *ft->shape()) {
            if (d <= 0 || d > (1 << 24))
                return Status::error("tensor '" + it.name + "': invalid dimension " +
                                     std::to_string(d));
            shape.push_back(d);
        }
    const fb::Buffer* buf = nullptr;
    if (ft->buffer() != 0) {
        if (!m_fbModel->buffers() || ft->buffer() >= m_fbModel->buffers()->size())
            return Status::error("tensor '" + it.name + "': buffer index out of range");
        buf = m_fbModel->buffers()->Get(ft->buffer());
    }
    const bool constant = buf && buf->data() && buf->data()->size() > 0;
    it.isConstant = constant;
    if (!constant) {
        if (shape.empty() || shape[0] != 1)
            return Status::error("tensor '" + it.name + "': activations must have batch 1");
        shape.erase(shape.begin());
    }
    it.shape = shape;
    if (const fb::QuantizationParameters* q = ft->quantization();
        q && q->scale() && q->scale()->size() > 0) {
        for (float s : *q->scale())
            it.scales.push_back(s);
        if (q->zero_point())
            for (int64_t z : *q->zero_point())
                it.zeroPoints.push_back(static_cast<int32_t>(z));
        if (it.zeroPoints.empty())
            it.zeroPoints.assign(it.scales.size(), 0);
        it.axis = it.scales.size() > 1 ? q->quantized_dimension() : -1;
    }
    it.bits = it.type == IntDType::Int16 ? 16 : 8;
    it.qmin = it.type == IntDType::Int16 ? -32768 : -128;
    it.qmax = it.type == IntDType::Int16 ? 32767 : 127;
    if (!constant)
        return Status::ok();
    const int64_t n = shapeSize(shape);
    const uint8_t* d = buf->data()->data();
    const size_t size = buf->data()->size();
    auto need = [&](size_t bytes) -> Status {
        if (size < bytes)
            return Status::error("tensor '" + it.name + "': buffer holds " + std::to_string(size) +
                                 " bytes, " + std::to_string(bytes) + " needed");
        return Status::ok();
    };
    switch (ft->type()) {
    case fb::TensorType_FLOAT32:
        QAT_RETURN_IF_ERROR(need(static_cast<size_t>(n) * 4));
        it.floats.resize(static_cast<size_t>(n));
        std::memcpy(it.floats.data(), d, static_cast<size_t>(n) * 4);
        break;
    case fb::TensorType_INT8:
        QAT_RETURN_IF_ERROR(need(static_cast<size_t>(n)));
        for (int64_t i = 0; i < n; ++i)
            it.ints.push_back(static_cast<int8_t>(d[i]));
        break;
    case fb::TensorType_INT4:
        QAT_RETURN_IF_ERROR(need(static_cast<size_t>((n + 1) / 2)));
        it.bits = 4;
        for (int64_t i = 0; i < n; ++i) {
            const int nib = (d[i / 2] >> (i % 2 ? 4 : 0)) & 0x0f;
            it.ints.push_back(nib >= 8 ? nib - 16 : nib);
        }
        break;
    case fb::TensorType_INT32:
        QAT_RETURN_IF_ERROR(need(static_cast<size_t>(n) * 4));
        it.ints.resize(static_cast<size_t>(n));
        std::memcpy(it.ints.data(), d, static_cast<size_t>(n) * 4);
        break;
    case fb::TensorType_INT64:
        QAT_RETURN_IF_ERROR(need(static_cast<size_t>(n) * 8));
        it.ints64.resize(static_cast<size_t>(n));
        std::memcpy(it.ints64.data(), d, static_cast<size_t>(n) * 8);
        break;
    default:
        return Status::error("tensor '" + it.name + "': unsupported constant type");
    }
    return Status::ok();
}

Result<ConvGeometry> Reader::geometry(OpType type, const Shape& in, int64_t kh, int64_t kw, int sh,
                                      int sw, int dh, int dw, fb::Padding padding,
                                      const std::string& name) {
    Node n;
    n.name = name;
    n.type = type;
    const bool pool = type == OpType::MaxPool || type == OpType::AvgPool;
    n.attrs.set(pool ? "pool" : "kernel", AttrValue(std::vector<int64_t>{kh, kw}));
    n.attrs.set("strides", AttrValue(std::vector<int64_t>{sh, sw}));
    n.attrs.set("dilations", AttrValue(std::vector<int64_t>{std::max(dh, 1), std::max(dw, 1)}));
    n.attrs.set("padding", padding == fb::Padding_SAME ? "same" : "valid");
    return resolveGeometry(n, in);
}

Status Reader::readOp(const fb::Operator& fop, fb::BuiltinOperator code) {
    IntOp op;
    if (!fop.inputs() || !fop.outputs() || fop.inputs()->size() == 0 || fop.outputs()->size() != 1)
        return Status::error("an operator has no inputs or not exactly one output");
    const int ntensors = static_cast<int>(m_model.tensors.size());
    for (int32_t i : *fop.inputs()) {
        if (i < 0 || i >= ntensors)
            return Status::error("an operator input index is out of range");
        op.inputs.push_back(i);
    }
    op.outputs = {fop.outputs()->Get(0)};
    if (op.outputs[0] < 0 || op.outputs[0] >= ntensors)
        return Status::error("an operator output index is out of range");
    const IntTensor& in = t(op.inputs[0]);
    const IntTensor& out = t(op.outputs[0]);
    op.node = out.name;
    const bool isFloat = in.type == IntDType::Float32 && out.type == IntDType::Float32;
    const int bits = out.type == IntDType::Int16 ? 16 : 8;
    auto fusedType = [](fb::ActivationFunctionType a) {
        return a == fb::ActivationFunctionType_RELU    ? OpType::ReLU
               : a == fb::ActivationFunctionType_RELU6 ? OpType::ReLU6
                                                       : OpType::Input;
    };
    auto setFused = [&](fb::ActivationFunctionType a) {
        const OpType act = fusedType(a);
        if (isFloat)
            op.activation = act == OpType::ReLU    ? FusedActivation::Relu
                            : act == OpType::ReLU6 ? FusedActivation::Relu6
                                                   : FusedActivation::None;
        else
            int8::setActivationClamp(op, out, act);
    };
    const std::string where =
        "operator producing '" + out.name + "' (" + fb::EnumNameBuiltinOperator(code) + ")";
    switch (code) {
    case fb::BuiltinOperator_QUANTIZE:
        op.kind = IntOpKind::Quantize;
        if (in.type != IntDType::Float32) {
            op.multiplier.resize(1);
            op.shift.resize(1);
            quantizeMultiplier(static_cast<double>(in.scales.at(0)) / out.scales.at(0),
                               op.multiplier[0], op.shift[0]);
        }
        break;
    case fb::BuiltinOperator_DEQUANTIZE:
        op.kind = IntOpKind::Dequantize;
        break;
    case fb::BuiltinOperator_CONV_2D:
    case fb::BuiltinOperator_DEPTHWISE_CONV_2D: {
        if (op.inputs.size() != 3 || in.shape.size() != 3)
            return Status::error(where + ": expects input, filter and bias on an NHWC input");
        const IntTensor& w = t(op.inputs[1]);
        if (w.shape.size() != 4)
            return Status::error(where + ": filter must be 4-D");
        const bool dw = code == fb::BuiltinOperator_DEPTHWISE_CONV_2D;
        Result<ConvGeometry> g = Status::error("unset");
        if (dw) {
            const auto* o = fop.builtin_options_as_DepthwiseConv2DOptions();
            if (!o)
                return Status::error(where + ": missing options");
            g = geometry(OpType::DepthwiseConv2D, in.shape, w.shape[1], w.shape[2], o->stride_h(),
                         o->stride_w(), o->dilation_h_factor(), o->dilation_w_factor(),
                         o->padding(), op.node);
            op.depthMultiplier = std::max(1, o->depth_multiplier());
            if (!g)
                return g.status();
            op.geom = g.value();
            setFused(o->fused_activation_function());
        } else {
            const auto* o = fop.builtin_options_as_Conv2DOptions();
            if (!o)
                return Status::error(where + ": missing options");
            g = geometry(OpType::Conv2D, in.shape, w.shape[1], w.shape[2], o->stride_h(),
                         o->stride_w(), o->dilation_h_factor(), o->dilation_w_factor(),
                         o->padding(), op.node);
            if (!g)
                return g.status();
            op.geom = g.value();
            setFused(o->fused_activation_function());
        }
        op.kind = isFloat ? (dw ? IntOpKind::FloatDepthwiseConv2D : IntOpKind::FloatConv2D)
                          : (dw ? IntOpKind::DepthwiseConv2D : IntOpKind::Conv2D);
        if (!isFloat)
            int8::setConvMultipliers(op, in.scales.at(0), w.scales, dw ? w.shape[3] : w.shape[0],
                                     out.scales.at(0));
        break;
    }
    case fb::BuiltinOperator_FULLY_CONNECTED: {
        if (op.inputs.size() != 3)
            return Status::error(where + ": expects input, weights and bias");
        const IntTensor& w = t(op.inputs[1]);
        if (w.shape.size() != 2)
            return Status::error(where + ": weights must be 2-D");
        const auto* o = fop.builtin_options_as_FullyConnectedOptions();
        op.kind = isFloat ? IntOpKind::FloatFullyConnected : IntOpKind::FullyConnected;
        if (o)
            setFused(o->fused_activation_function());
        else if (!isFloat)
            int8::setActivationClamp(op, out, OpType::Input);
        if (!isFloat)
            int8::setConvMultipliers(op, in.scales.at(0), w.scales, w.shape[0], out.scales.at(0));
        break;
    }
    case fb::BuiltinOperator_ADD: {
        if (op.inputs.size() != 2)
            return Status::error(where + ": expects two inputs");
        const auto* o = fop.builtin_options_as_AddOptions();
        op.kind = isFloat ? IntOpKind::FloatAdd : IntOpKind::Add;
        if (!isFloat)
            int8::setAddParams(op, in.scales.at(0), t(op.inputs[1]).scales.at(0), out.scales.at(0),
                               bits);
        setFused(o ? o->fused_activation_function() : fb::ActivationFunctionType_NONE);
        break;
    }
    case fb::BuiltinOperator_CONCATENATION: {
        const auto* o = fop.builtin_options_as_ConcatenationOptions();
        int axis = o ? o->axis() : 0;
        if (axis < 0)
            axis += static_cast<int>(out.shape.size()) + 1;
        if (axis < 1)
            return Status::error(where + ": concatenation over the batch axis");
        op.axis = axis - 1;
        op.kind = isFloat ? IntOpKind::FloatConcat : IntOpKind::Concat;
        break;
    }
    case fb::BuiltinOperator_MAX_POOL_2D:
    case fb::BuiltinOperator_AVERAGE_POOL_2D: {
        const auto* o = fop.builtin_options_as_Pool2DOptions();
        if (!o)
            return Status::error(where + ": missing options");
        const bool isMax = code == fb::BuiltinOperator_MAX_POOL_2D;
        auto g =
            geometry(isMax ? OpType::MaxPool : OpType::AvgPool, in.shape, o->filter_height(),
                     o->filter_width(), o->stride_h(), o->stride_w(), 1, 1, o->padding(), op.node);
        if (!g)
            return g.status();
        op.geom = g.value();
        op.kind = isFloat ? (isMax ? IntOpKind::FloatMaxPool : IntOpKind::FloatAvgPool)
                          : (isMax ? IntOpKind::MaxPool : IntOpKind::AvgPool);
        if (!isFloat)
            setFused(o->fused_activation_function());
        break;
    }
    case fb::BuiltinOperator_MEAN:
        if (in.shape.size() != 3 || out.shape.size() != 1)
            return Status::error(where + ": only the global mean over H and W is supported");
        op.kind = isFloat ? IntOpKind::FloatMean : IntOpKind::Mean;
        if (!isFloat) {
            op.multiplier.resize(1);
            op.shift.resize(1);
            quantizeMultiplier(static_cast<double>(in.scales.at(0)) / out.scales.at(0),
                               op.multiplier[0], op.shift[0]);
            op.actMin = out.qmin;
            op.actMax = out.qmax;
        }
        break;
    case fb::BuiltinOperator_RESHAPE:
        op.kind = IntOpKind::Reshape;
        op.inputs.resize(1);
        break;
    case fb::BuiltinOperator_PAD: {
        if (op.inputs.size() < 2)
            return Status::error(where + ": missing paddings");
        const IntTensor& p = t(op.inputs[1]);
        if (p.ints.size() != 8 || p.ints[0] != 0 || p.ints[1] != 0 || p.ints[6] != 0 ||
            p.ints[7] != 0)
            return Status::error(where + ": only spatial padding of an NHWC tensor is supported");
        op.kind = IntOpKind::Pad;
        op.geom.padTop = p.ints[2];
        op.geom.padBottom = p.ints[3];
        op.geom.padLeft = p.ints[4];
        op.geom.padRight = p.ints[5];
        op.inputs.resize(1);
        break;
    }
    case fb::BuiltinOperator_SOFTMAX:
        op.kind = isFloat ? IntOpKind::FloatSoftmax : IntOpKind::Softmax;
        break;
    case fb::BuiltinOperator_RELU:
    case fb::BuiltinOperator_RELU6:
    case fb::BuiltinOperator_LOGISTIC:
    case fb::BuiltinOperator_TANH:
    case fb::BuiltinOperator_HARD_SWISH:
    case fb::BuiltinOperator_LEAKY_RELU: {
        const OpType a = code == fb::BuiltinOperator_RELU         ? OpType::ReLU
                         : code == fb::BuiltinOperator_RELU6      ? OpType::ReLU6
                         : code == fb::BuiltinOperator_LOGISTIC   ? OpType::Sigmoid
                         : code == fb::BuiltinOperator_TANH       ? OpType::Tanh
                         : code == fb::BuiltinOperator_HARD_SWISH ? OpType::HardSwish
                                                                  : OpType::LeakyReLU;
        double alpha = 0.2;
        if (const auto* o = fop.builtin_options_as_LeakyReluOptions())
            alpha = o->alpha();
        if (isFloat) {
            op.kind = IntOpKind::FloatActivation;
            op.floatActivation = a;
            op.leakyAlpha = alpha;
        } else {
            int8::setLut(op, in, out, a, alpha);
        }
        break;
    }
    default:
        return Status::error(where + ": operator not supported by the integer reader");
    }
    m_model.ops.push_back(std::move(op));
    return Status::ok();
}

Result<IntModel> Reader::run() {
    flatbuffers::Verifier verifier(m_bytes.data(), m_bytes.size());
    if (m_bytes.size() < 8 || !fb::ModelBufferHasIdentifier(m_bytes.data()) ||
        !fb::VerifyModelBuffer(verifier))
        return Status::error("not a valid .tflite file (identifier or structure check failed)");
    m_fbModel = fb::GetModel(m_bytes.data());
    if (!m_fbModel->subgraphs() || m_fbModel->subgraphs()->size() != 1)
        return Status::error("expected exactly one subgraph");
    m_graph = m_fbModel->subgraphs()->Get(0);
    if (!m_graph->tensors() || !m_graph->operators() || !m_graph->inputs() || !m_graph->outputs() ||
        m_graph->inputs()->size() != 1 || m_graph->outputs()->size() != 1)
        return Status::error("expected one input, one output, tensors and operators");
    m_model.tensors.resize(m_graph->tensors()->size());
    for (int i = 0; i < static_cast<int>(m_model.tensors.size()); ++i)
        QAT_RETURN_IF_ERROR(readTensor(i));
    const auto* codes = m_fbModel->operator_codes();
    for (const fb::Operator* op : *m_graph->operators()) {
        if (!codes || op->opcode_index() >= codes->size())
            return Status::error("an operator's opcode index is out of range");
        QAT_RETURN_IF_ERROR(readOp(*op, fb::builtinCode(*codes->Get(op->opcode_index()))));
    }
    m_model.input = m_graph->inputs()->Get(0);
    m_model.output = m_graph->outputs()->Get(0);
    const int n = static_cast<int>(m_model.tensors.size());
    if (m_model.input < 0 || m_model.input >= n || m_model.output < 0 || m_model.output >= n)
        return Status::error("input or output index out of range");
    m_model.inputShape = m_model.tensors[static_cast<size_t>(m_model.input)].shape;
    m_model.floatIo = m_model.tensors[static_cast<size_t>(m_model.input)].type == IntDType::Float32;
    return std::move(m_model);
}

} // namespace

Result<IntModel> readIntTflite(std::span<const uint8_t> bytes) {
    return Reader(bytes).run();
}

Result<ExportValidation> validateIntTflite(std::span<const uint8_t> bytes, const IntModel& model,
                                           const Dataset& images, int64_t count) {
    auto fileModel = readIntTflite(bytes);
    if (!fileModel)
        return fileModel.status().withContext("reading the exported file back");
    if (fileModel->inputShape != model.inputShape)
        return Status::error("the exported file's input shape " +
                             shapeToString(fileModel->inputShape) + " differs from the model's " +
                             shapeToString(model.inputShape));
    const int64_t n = std::min(count, images.size());
    if (n <= 0)
        return Status::error("no images to validate with");
    Tensor batch(
        withBatch(n, images.sampleShape),
        std::vector<float>(images.images.begin(), images.images.begin() + n * images.sampleSize()));
    IntReferenceExecutor a(model), b(fileModel.value());
    const Tensor ya = a.run(batch);
    const Tensor yb = b.run(batch);
    ExportValidation v;
    v.images = n;
    const auto& qa = a.lastIntOutput();
    const auto& qb = b.lastIntOutput();
    const int64_t k = ya.size() / n;
    if (!qa.empty() && qa.size() == qb.size()) {
        for (size_t i = 0; i < qa.size(); ++i) {
            const int64_t d = std::llabs(static_cast<int64_t>(qa[i]) - qb[i]);
            v.maxLsbDifference = std::max(v.maxLsbDifference, d);
            v.valuesOverOneLsb += d > 1;
        }
        v.values = static_cast<int64_t>(qa.size());
    } else {
        for (int64_t i = 0; i < ya.size(); ++i)
            v.maxAbsDifference =
                std::max(v.maxAbsDifference, static_cast<double>(std::fabs(ya[i] - yb[i])));
        v.values = ya.size();
    }
    for (int64_t r = 0; r < n; ++r) {
        const float* pa = ya.data() + r * k;
        const float* pb = yb.data() + r * k;
        v.top1Agreements +=
            (std::max_element(pa, pa + k) - pa) == (std::max_element(pb, pb + k) - pb);
    }
    return v;
}

} // namespace qat
