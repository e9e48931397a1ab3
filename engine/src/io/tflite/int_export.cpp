// Integer model -> .tflite (see qat/tflite_int_export.h). Every IntTensor becomes one
// TFLite tensor (activations gain a leading batch dimension of 1); every IntOp one
// operator, plus PAD where explicit padding is not SAME/VALID.
#include <cstring>
#include <map>

#include "io/atomic_file.h"
#include "io/tflite/tflite_builder.h"
#include "qat/tflite_int_export.h"

namespace qat {

namespace {

namespace tfl = qat::tflite;

class IntExporter {
public:
    IntExporter(const IntModel& model, const IntExportOptions& options)
        : m_model(model), m_options(options) {}
    Result<std::vector<uint8_t>> run(TfliteExportReport* report,
                                     std::vector<std::string>* warnings);

private:
    Result<int32_t> tensor(int index);
    Result<int32_t> weightTensor(const IntOp& op, int index, bool& int4);
    Status addOp(const IntOp& op);
    Result<tfl::Padding> padding(const IntOp& op, int32_t& input, const IntTensor& inT);
    bool int16(const IntTensor& t) const { return t.type == IntDType::Int16; }
    int32_t intConst(const std::string& name, std::vector<int32_t> shape,
                     const std::vector<int32_t>& v) {
        return m_builder.addConstTensor(name, std::move(shape), tfl::TensorType::Int32, v);
    }

    const IntModel& m_model;
    IntExportOptions m_options;
    tfl::TfliteBuilder m_builder;
    std::map<int, int32_t> m_index; // IntTensor -> tflite tensor
    TfliteExportReport m_report;
    std::vector<std::string> m_warnings;
};

tfl::TensorType typeOf(IntDType t) {
    switch (t) {
    case IntDType::Float32:
        return tfl::TensorType::Float32;
    case IntDType::Int8:
        return tfl::TensorType::Int8;
    case IntDType::Int16:
        return tfl::TensorType::Int16;
    case IntDType::Int32:
        return tfl::TensorType::Int32;
    case IntDType::Int64:
        return tfl::TensorType::Int64;
    }
    return tfl::TensorType::Float32;
}

tfl::Quantization quantOf(const IntTensor& t) {
    tfl::Quantization q;
    if (t.type == IntDType::Float32)
        return q;
    q.scales = t.scales;
    for (int32_t z : t.zeroPoints)
        q.zeroPoints.push_back(z);
    q.quantizedDimension = t.axis >= 0 ? t.axis : 0;
    return q;
}

std::vector<int32_t> dims(const Shape& s, bool batch) {
    std::vector<int32_t> d;
    if (batch)
        d.push_back(1);
    for (int64_t v : s)
        d.push_back(static_cast<int32_t>(v));
    return d;
}

tfl::Activation fused(FusedActivation a) {
    return a == FusedActivation::Relu    ? tfl::Activation::Relu
           : a == FusedActivation::Relu6 ? tfl::Activation::Relu6
                                         : tfl::Activation::None;
}

Result<int32_t> IntExporter::tensor(int index) {
    if (auto it = m_index.find(index); it != m_index.end())
        return it->second;
    const IntTensor& t = m_model.tensors[static_cast<size_t>(index)];
    int32_t id;
    if (!t.isConstant) {
        id = m_builder.addTensor(t.name, dims(t.shape, true), typeOf(t.type), 0, quantOf(t));
        if (t.type == IntDType::Int8 && t.bits < 8 && t.scales.size() == 1)
            m_warnings.push_back("tensor '" + t.name + "' holds a " + std::to_string(t.bits) +
                                 "-bit grid in int8: TFLite clamps it to [-128, 127] only, so "
                                 "values the integer engine clips may pass through");
    } else if (t.type == IntDType::Float32) {
        id = m_builder.addConstTensor(t.name, dims(t.shape, false), tfl::TensorType::Float32,
                                      t.floats);
    } else if (t.type == IntDType::Int64) {
        id = m_builder.addConstTensor(t.name, dims(t.shape, false), tfl::TensorType::Int64,
                                      t.ints64, quantOf(t));
    } else if (t.type == IntDType::Int32) {
        id = m_builder.addConstTensor(t.name, dims(t.shape, false), tfl::TensorType::Int32, t.ints,
                                      quantOf(t));
    } else {
        return Status::error("tensor '" + t.name + "': unexpected constant type " +
                             intDTypeName(t.type));
    }
    m_index[index] = id;
    return id;
}

// Weights: int8 container, or packed INT4 when asked and the grid fits.
Result<int32_t> IntExporter::weightTensor(const IntOp& op, int index, bool& int4) {
    const IntTensor& t = m_model.tensors[static_cast<size_t>(index)];
    int4 = false;
    if (t.type == IntDType::Float32)
        return tensor(index);
    if (m_options.int4Weights && t.bits <= 4) {
        std::vector<uint8_t> packed((t.ints.size() + 1) / 2, 0);
        for (size_t i = 0; i < t.ints.size(); ++i) {
            const uint8_t nib = static_cast<uint8_t>(t.ints[i] & 0x0f);
            packed[i / 2] |= static_cast<uint8_t>(i % 2 ? nib << 4 : nib);
        }
        int4 = true;
        const int32_t id = m_builder.addConstTensor(t.name, dims(t.shape, false),
                                                    tfl::TensorType::Int4, packed, quantOf(t));
        m_index[index] = id;
        return id;
    }
    std::vector<int8_t> bytes(t.ints.size());
    for (size_t i = 0; i < t.ints.size(); ++i) {
        if (t.ints[i] < -128 || t.ints[i] > 127)
            return Status::error("layer '" + op.node + "': weight value " +
                                 std::to_string(t.ints[i]) + " does not fit int8");
        bytes[i] = static_cast<int8_t>(t.ints[i]);
    }
    const int32_t id = m_builder.addConstTensor(t.name, dims(t.shape, false), tfl::TensorType::Int8,
                                                bytes, quantOf(t));
    m_index[index] = id;
    return id;
}

// SAME/VALID when the geometry is one of them; otherwise a PAD in front and VALID.
Result<tfl::Padding> IntExporter::padding(const IntOp& op, int32_t& input, const IntTensor& inT) {
    const ConvGeometry& g = op.geom;
    if (g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0)
        return tfl::Padding::Valid;
    const int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
    const int64_t padH = std::max<int64_t>(0, (g.outH - 1) * g.sh + ekh - g.inH);
    const int64_t padW = std::max<int64_t>(0, (g.outW - 1) * g.sw + ekw - g.inW);
    if (g.outH == (g.inH + g.sh - 1) / g.sh && g.outW == (g.inW + g.sw - 1) / g.sw &&
        g.padTop == padH / 2 && g.padBottom == padH - padH / 2 && g.padLeft == padW / 2 &&
        g.padRight == padW - padW / 2)
        return tfl::Padding::Same;
    if (op.kind == IntOpKind::AvgPool || op.kind == IntOpKind::FloatAvgPool)
        return Status::error("layer '" + op.node +
                             "': average pooling with explicit padding has "
                             "no TFLite equivalent that excludes the padding");
    Shape padded = inT.shape;
    padded[0] += g.padTop + g.padBottom;
    padded[1] += g.padLeft + g.padRight;
    const int32_t dst = m_builder.addTensor(inT.name + "/padded", dims(padded, true),
                                            typeOf(inT.type), 0, quantOf(inT));
    const int32_t pads =
        intConst(op.node + "/paddings", {4, 2},
                 {0, 0, static_cast<int32_t>(g.padTop), static_cast<int32_t>(g.padBottom),
                  static_cast<int32_t>(g.padLeft), static_cast<int32_t>(g.padRight), 0, 0});
    m_builder.addOperator(tfl::BuiltinOp::Pad, inT.type == IntDType::Float32 ? 1 : 2, {input, pads},
                          {dst}, tfl::PadOptions{});
    input = dst;
    return tfl::Padding::Valid;
}

Status IntExporter::addOp(const IntOp& op) {
    const IntTensor& inT = m_model.tensors[static_cast<size_t>(op.inputs[0])];
    const IntTensor& outT = m_model.tensors[static_cast<size_t>(op.outputs[0])];
    const bool wide = int16(inT) || int16(outT);
    auto inR = tensor(op.inputs[0]);
    if (!inR)
        return inR.status();
    int32_t in = inR.value();
    auto outR = tensor(op.outputs[0]);
    if (!outR)
        return outR.status();
    const int32_t out = outR.value();
    TfliteLayerSize entry;
    entry.layer = op.node;
    auto record = [&](tfl::BuiltinOp code) {
        entry.op = tfl::builtinOpName(code);
        m_report.layers.push_back(entry);
    };

    switch (op.kind) {
    case IntOpKind::Quantize:
        m_builder.addOperator(tfl::BuiltinOp::Quantize, wide ? 4 : 2, {in}, {out},
                              tfl::QuantizeOptions{});
        record(tfl::BuiltinOp::Quantize);
        return Status::ok();
    case IntOpKind::Dequantize:
        m_builder.addOperator(tfl::BuiltinOp::Dequantize, wide ? 4 : 2, {in}, {out},
                              tfl::DequantizeOptions{});
        record(tfl::BuiltinOp::Dequantize);
        return Status::ok();
    case IntOpKind::Conv2D:
    case IntOpKind::DepthwiseConv2D:
    case IntOpKind::FullyConnected:
    case IntOpKind::FloatConv2D:
    case IntOpKind::FloatDepthwiseConv2D:
    case IntOpKind::FloatFullyConnected: {
        const bool isFloat = op.kind == IntOpKind::FloatConv2D ||
                             op.kind == IntOpKind::FloatDepthwiseConv2D ||
                             op.kind == IntOpKind::FloatFullyConnected;
        bool int4 = false;
        auto w = weightTensor(op, op.inputs[1], int4);
        if (!w)
            return w.status();
        auto b = tensor(op.inputs[2]);
        if (!b)
            return b.status();
        const IntTensor& wt = m_model.tensors[static_cast<size_t>(op.inputs[1])];
        const IntTensor& bt = m_model.tensors[static_cast<size_t>(op.inputs[2])];
        entry.weightType = isFloat ? "FLOAT32" : int4 ? "INT4" : "INT8";
        entry.weightBytes =
            m_builder.bufferBytes(static_cast<uint32_t>(m_builder.tensor(w.value()).buffer));
        entry.biasBytes =
            m_builder.bufferBytes(static_cast<uint32_t>(m_builder.tensor(b.value()).buffer));
        (void)wt;
        (void)bt;
        if (op.kind == IntOpKind::FullyConnected || op.kind == IntOpKind::FloatFullyConnected) {
            tfl::FullyConnectedOptions o;
            o.activation = fused(op.activation);
            const int version = isFloat ? 1 : int4 ? 10 : wide ? 7 : 4;
            m_builder.addOperator(tfl::BuiltinOp::FullyConnected, version,
                                  {in, w.value(), b.value()}, {out}, o);
            record(tfl::BuiltinOp::FullyConnected);
            return Status::ok();
        }
        auto pad = padding(op, in, inT);
        if (!pad)
            return pad.status();
        if (op.kind == IntOpKind::Conv2D || op.kind == IntOpKind::FloatConv2D) {
            tfl::Conv2DOptions o;
            o.padding = pad.value();
            o.strideH = static_cast<int32_t>(op.geom.sh);
            o.strideW = static_cast<int32_t>(op.geom.sw);
            o.dilationH = static_cast<int32_t>(op.geom.dh);
            o.dilationW = static_cast<int32_t>(op.geom.dw);
            o.activation = fused(op.activation);
            const int version = isFloat ? 1 : int4 ? 7 : wide ? 4 : 3;
            m_builder.addOperator(tfl::BuiltinOp::Conv2D, version, {in, w.value(), b.value()},
                                  {out}, o);
            record(tfl::BuiltinOp::Conv2D);
        } else {
            tfl::DepthwiseConv2DOptions o;
            o.padding = pad.value();
            o.strideH = static_cast<int32_t>(op.geom.sh);
            o.strideW = static_cast<int32_t>(op.geom.sw);
            o.dilationH = static_cast<int32_t>(op.geom.dh);
            o.dilationW = static_cast<int32_t>(op.geom.dw);
            o.depthMultiplier = static_cast<int32_t>(op.depthMultiplier);
            o.activation = fused(op.activation);
            const bool dilated = op.geom.dh > 1 || op.geom.dw > 1;
            const int version = isFloat ? (dilated ? 2 : 1) : int4 ? 7 : wide ? 5 : 3;
            m_builder.addOperator(tfl::BuiltinOp::DepthwiseConv2D, version,
                                  {in, w.value(), b.value()}, {out}, o);
            record(tfl::BuiltinOp::DepthwiseConv2D);
        }
        return Status::ok();
    }
    case IntOpKind::Add:
    case IntOpKind::FloatAdd: {
        if (op.inputs.size() != 2)
            return Status::error("layer '" + op.node + "': ADD takes two inputs");
        auto in1 = tensor(op.inputs[1]);
        if (!in1)
            return in1.status();
        tfl::AddOptions o;
        o.activation = fused(op.activation);
        m_builder.addOperator(tfl::BuiltinOp::Add,
                              op.kind == IntOpKind::FloatAdd ? 1
                              : wide                         ? 3
                                                             : 2,
                              {in, in1.value()}, {out}, o);
        record(tfl::BuiltinOp::Add);
        return Status::ok();
    }
    case IntOpKind::Concat:
    case IntOpKind::FloatConcat: {
        std::vector<int32_t> ins;
        for (int t : op.inputs) {
            auto r = tensor(t);
            if (!r)
                return r.status();
            ins.push_back(r.value());
        }
        tfl::ConcatenationOptions o;
        o.axis = op.axis + 1;
        m_builder.addOperator(tfl::BuiltinOp::Concatenation,
                              op.kind == IntOpKind::FloatConcat ? 1
                              : wide                            ? 3
                                                                : 2,
                              ins, {out}, o);
        record(tfl::BuiltinOp::Concatenation);
        return Status::ok();
    }
    case IntOpKind::MaxPool:
    case IntOpKind::AvgPool:
    case IntOpKind::FloatMaxPool:
    case IntOpKind::FloatAvgPool: {
        const bool isMax = op.kind == IntOpKind::MaxPool || op.kind == IntOpKind::FloatMaxPool;
        const bool isFloat =
            op.kind == IntOpKind::FloatMaxPool || op.kind == IntOpKind::FloatAvgPool;
        auto pad = padding(op, in, inT);
        if (!pad)
            return pad.status();
        tfl::Pool2DOptions o;
        o.padding = pad.value();
        o.strideH = static_cast<int32_t>(op.geom.sh);
        o.strideW = static_cast<int32_t>(op.geom.sw);
        o.filterH = static_cast<int32_t>(op.geom.kh);
        o.filterW = static_cast<int32_t>(op.geom.kw);
        const auto code = isMax ? tfl::BuiltinOp::MaxPool2D : tfl::BuiltinOp::AveragePool2D;
        m_builder.addOperator(code, isFloat ? 1 : wide ? 3 : 2, {in}, {out}, o);
        record(code);
        return Status::ok();
    }
    case IntOpKind::Mean:
    case IntOpKind::FloatMean: {
        const int32_t axes = intConst(op.node + "/axes", {2}, {1, 2});
        tfl::ReducerOptions o;
        o.keepDims = false;
        m_builder.addOperator(tfl::BuiltinOp::Mean,
                              op.kind == IntOpKind::FloatMean ? 1
                              : wide                          ? 3
                                                              : 2,
                              {in, axes}, {out}, o);
        record(tfl::BuiltinOp::Mean);
        return Status::ok();
    }
    case IntOpKind::Reshape: {
        const std::vector<int32_t> shape = dims(outT.shape, true);
        const int32_t shapeTensor =
            intConst(op.node + "/shape", {static_cast<int32_t>(shape.size())}, shape);
        tfl::ReshapeOptions o;
        o.newShape = shape;
        m_builder.addOperator(tfl::BuiltinOp::Reshape, 1, {in, shapeTensor}, {out}, o);
        record(tfl::BuiltinOp::Reshape);
        return Status::ok();
    }
    case IntOpKind::Pad: {
        const ConvGeometry& g = op.geom;
        const int32_t pads =
            intConst(op.node + "/paddings", {4, 2},
                     {0, 0, static_cast<int32_t>(g.padTop), static_cast<int32_t>(g.padBottom),
                      static_cast<int32_t>(g.padLeft), static_cast<int32_t>(g.padRight), 0, 0});
        m_builder.addOperator(tfl::BuiltinOp::Pad,
                              inT.type == IntDType::Float32 ? 1
                              : wide                        ? 4
                                                            : 2,
                              {in, pads}, {out}, tfl::PadOptions{});
        record(tfl::BuiltinOp::Pad);
        return Status::ok();
    }
    case IntOpKind::Softmax:
    case IntOpKind::FloatSoftmax: {
        tfl::SoftmaxOptions o;
        o.beta = 1.0f;
        m_builder.addOperator(tfl::BuiltinOp::Softmax,
                              op.kind == IntOpKind::FloatSoftmax ? 1
                              : wide                             ? 3
                                                                 : 2,
                              {in}, {out}, o);
        record(tfl::BuiltinOp::Softmax);
        return Status::ok();
    }
    case IntOpKind::Lut:
    case IntOpKind::FloatActivation: {
        const bool isFloat = op.kind == IntOpKind::FloatActivation;
        tfl::BuiltinOp code;
        tfl::BuiltinOptions options;
        int version = isFloat ? 1 : wide ? 3 : 2;
        switch (op.floatActivation) {
        case OpType::ReLU:
            code = tfl::BuiltinOp::Relu;
            break;
        case OpType::ReLU6:
            code = tfl::BuiltinOp::Relu6;
            break;
        case OpType::Sigmoid:
            code = tfl::BuiltinOp::Logistic;
            break;
        case OpType::Tanh:
            code = tfl::BuiltinOp::Tanh;
            break;
        case OpType::HardSwish:
            code = tfl::BuiltinOp::HardSwish;
            options = tfl::HardSwishOptions{};
            version = 1;
            break;
        case OpType::LeakyReLU: {
            code = tfl::BuiltinOp::LeakyRelu;
            tfl::LeakyReluOptions o;
            o.alpha = static_cast<float>(op.leakyAlpha);
            options = o;
            version = isFloat ? 1 : 2;
            break;
        }
        default:
            return Status::error("layer '" + op.node + "': activation has no TFLite operator");
        }
        m_builder.addOperator(code, version, {in}, {out}, options);
        record(code);
        return Status::ok();
    }
    }
    return Status::error("layer '" + op.node + "': operator " + intOpKindName(op.kind) +
                         " cannot be exported");
}

Result<std::vector<uint8_t>> IntExporter::run(TfliteExportReport* report,
                                              std::vector<std::string>* warnings) {
    if (m_model.input < 0 || m_model.output < 0)
        return Status::error("the integer model has no input or output");
    auto in = tensor(m_model.input);
    if (!in)
        return in.status();
    for (const IntOp& op : m_model.ops)
        QAT_RETURN_IF_ERROR(addOp(op));
    auto out = tensor(m_model.output);
    if (!out)
        return out.status();
    m_builder.setInputs({in.value()});
    m_builder.setOutputs({out.value()});
    auto bytes = m_builder.finish("QAT Lab (integer)");
    if (!bytes)
        return bytes.status();
    m_report.setTotal(static_cast<int64_t>(bytes->size()));
    if (report)
        *report = std::move(m_report);
    if (warnings)
        *warnings = std::move(m_warnings);
    return bytes;
}

} // namespace

Result<std::vector<uint8_t>> exportIntTfliteBytes(const IntModel& model,
                                                  const IntExportOptions& options,
                                                  TfliteExportReport* report,
                                                  std::vector<std::string>* warnings) {
    return IntExporter(model, options).run(report, warnings);
}

Status exportIntTflite(const IntModel& model, const std::string& path,
                       const IntExportOptions& options, TfliteExportReport* report,
                       std::vector<std::string>* warnings) {
    TfliteExportReport local;
    auto bytes = exportIntTfliteBytes(model, options, &local, warnings);
    if (!bytes)
        return bytes.status().withContext(path);
    QAT_RETURN_IF_ERROR(writeFileAtomically(
        path, std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
    if (report)
        *report = std::move(local);
    return Status::ok();
}

} // namespace qat
