// See tflite_builder.h. Serialization goes bottom-up as FlatBuffers requires: buffers
// (the bulk of the file) first, then tensors, operators, the subgraph, operator codes and
// finally the Model root.
#include "io/tflite/tflite_builder.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "io/tflite/tflite_schema.h"

namespace qat::tflite {

namespace {

// Our enums are the schema's values; keep them tied to the generated code.
static_assert(static_cast<int>(TensorType::Float32) == fb::TensorType_FLOAT32);
static_assert(static_cast<int>(TensorType::Float16) == fb::TensorType_FLOAT16);
static_assert(static_cast<int>(TensorType::Int32) == fb::TensorType_INT32);
static_assert(static_cast<int>(TensorType::UInt8) == fb::TensorType_UINT8);
static_assert(static_cast<int>(TensorType::Int64) == fb::TensorType_INT64);
static_assert(static_cast<int>(TensorType::Int16) == fb::TensorType_INT16);
static_assert(static_cast<int>(TensorType::Int8) == fb::TensorType_INT8);
static_assert(static_cast<int>(TensorType::Int4) == fb::TensorType_INT4);
static_assert(static_cast<int>(BuiltinOp::Add) == fb::BuiltinOperator_ADD);
static_assert(static_cast<int>(BuiltinOp::AveragePool2D) == fb::BuiltinOperator_AVERAGE_POOL_2D);
static_assert(static_cast<int>(BuiltinOp::Concatenation) == fb::BuiltinOperator_CONCATENATION);
static_assert(static_cast<int>(BuiltinOp::Conv2D) == fb::BuiltinOperator_CONV_2D);
static_assert(static_cast<int>(BuiltinOp::DepthwiseConv2D) ==
              fb::BuiltinOperator_DEPTHWISE_CONV_2D);
static_assert(static_cast<int>(BuiltinOp::Dequantize) == fb::BuiltinOperator_DEQUANTIZE);
static_assert(static_cast<int>(BuiltinOp::FullyConnected) == fb::BuiltinOperator_FULLY_CONNECTED);
static_assert(static_cast<int>(BuiltinOp::Logistic) == fb::BuiltinOperator_LOGISTIC);
static_assert(static_cast<int>(BuiltinOp::MaxPool2D) == fb::BuiltinOperator_MAX_POOL_2D);
static_assert(static_cast<int>(BuiltinOp::Mul) == fb::BuiltinOperator_MUL);
static_assert(static_cast<int>(BuiltinOp::Relu) == fb::BuiltinOperator_RELU);
static_assert(static_cast<int>(BuiltinOp::Relu6) == fb::BuiltinOperator_RELU6);
static_assert(static_cast<int>(BuiltinOp::Reshape) == fb::BuiltinOperator_RESHAPE);
static_assert(static_cast<int>(BuiltinOp::Softmax) == fb::BuiltinOperator_SOFTMAX);
static_assert(static_cast<int>(BuiltinOp::Tanh) == fb::BuiltinOperator_TANH);
static_assert(static_cast<int>(BuiltinOp::Pad) == fb::BuiltinOperator_PAD);
static_assert(static_cast<int>(BuiltinOp::Mean) == fb::BuiltinOperator_MEAN);
static_assert(static_cast<int>(BuiltinOp::PadV2) == fb::BuiltinOperator_PADV2);
static_assert(static_cast<int>(BuiltinOp::LeakyRelu) == fb::BuiltinOperator_LEAKY_RELU);
static_assert(static_cast<int>(BuiltinOp::Quantize) == fb::BuiltinOperator_QUANTIZE);
static_assert(static_cast<int>(BuiltinOp::HardSwish) == fb::BuiltinOperator_HARD_SWISH);
static_assert(static_cast<int>(Padding::Same) == fb::Padding_SAME);
static_assert(static_cast<int>(Padding::Valid) == fb::Padding_VALID);
static_assert(static_cast<int>(Activation::None) == fb::ActivationFunctionType_NONE);
static_assert(static_cast<int>(Activation::Relu) == fb::ActivationFunctionType_RELU);
static_assert(static_cast<int>(Activation::ReluN1To1) == fb::ActivationFunctionType_RELU_N1_TO_1);
static_assert(static_cast<int>(Activation::Relu6) == fb::ActivationFunctionType_RELU6);
// The union indices DESIGN.md lists as verified against the runtimes.
static_assert(fb::BuiltinOptions_Conv2DOptions == 1);
static_assert(fb::BuiltinOptions_DepthwiseConv2DOptions == 2);
static_assert(fb::BuiltinOptions_FullyConnectedOptions == 8);
static_assert(fb::BuiltinOptions_SoftmaxOptions == 9);
static_assert(fb::BuiltinOptions_ReshapeOptions == 17);

// A FlatBuffer addresses itself with 32-bit offsets; keep well clear of 2 GiB.
constexpr int64_t kMaxModelBytes = int64_t{2000} * 1000 * 1000;

fb::Padding toFb(Padding p) {
    return static_cast<fb::Padding>(p);
}
fb::ActivationFunctionType toFb(Activation a) {
    return static_cast<fb::ActivationFunctionType>(a);
}

template <class... Ts> struct Overloaded : Ts... { using Ts::operator()...; };
template <class... Ts> Overloaded(Ts...) -> Overloaded<Ts...>;

using OptionsOffset = std::pair<fb::BuiltinOptions, flatbuffers::Offset<void>>;

OptionsOffset serializeOptions(flatbuffers::FlatBufferBuilder& b, const BuiltinOptions& options) {
    return std::visit(
        Overloaded{
            [](std::monostate) {
                return OptionsOffset{fb::BuiltinOptions_NONE, 0};
            },
            [&](const Conv2DOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_Conv2DOptions,
                                     fb::CreateConv2DOptions(b, toFb(o.padding), o.strideW,
                                                             o.strideH, toFb(o.activation),
                                                             o.dilationW, o.dilationH)
                                         .Union()};
            },
            [&](const DepthwiseConv2DOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_DepthwiseConv2DOptions,
                                     fb::CreateDepthwiseConv2DOptions(b, toFb(o.padding), o.strideW,
                                                                      o.strideH, o.depthMultiplier,
                                                                      toFb(o.activation),
                                                                      o.dilationW, o.dilationH)
                                         .Union()};
            },
            [&](const Pool2DOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_Pool2DOptions,
                                     fb::CreatePool2DOptions(b, toFb(o.padding), o.strideW,
                                                             o.strideH, o.filterW, o.filterH,
                                                             toFb(o.activation))
                                         .Union()};
            },
            [&](const FullyConnectedOptions& o) {
                return OptionsOffset{
                    fb::BuiltinOptions_FullyConnectedOptions,
                    fb::CreateFullyConnectedOptions(b, toFb(o.activation),
                                                    fb::FullyConnectedOptionsWeightsFormat_DEFAULT,
                                                    o.keepNumDims)
                        .Union()};
            },
            [&](const SoftmaxOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_SoftmaxOptions,
                                     fb::CreateSoftmaxOptions(b, o.beta).Union()};
            },
            [&](const ConcatenationOptions& o) {
                return OptionsOffset{
                    fb::BuiltinOptions_ConcatenationOptions,
                    fb::CreateConcatenationOptions(b, o.axis, toFb(o.activation)).Union()};
            },
            [&](const AddOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_AddOptions,
                                     fb::CreateAddOptions(b, toFb(o.activation)).Union()};
            },
            [&](const MulOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_MulOptions,
                                     fb::CreateMulOptions(b, toFb(o.activation)).Union()};
            },
            [&](const ReshapeOptions& o) {
                auto shape = b.CreateVector(o.newShape);
                return OptionsOffset{fb::BuiltinOptions_ReshapeOptions,
                                     fb::CreateReshapeOptions(b, shape).Union()};
            },
            [&](const PadOptions&) {
                return OptionsOffset{fb::BuiltinOptions_PadOptions,
                                     fb::CreatePadOptions(b).Union()};
            },
            [&](const PadV2Options&) {
                return OptionsOffset{fb::BuiltinOptions_PadV2Options,
                                     fb::CreatePadV2Options(b).Union()};
            },
            [&](const ReducerOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_ReducerOptions,
                                     fb::CreateReducerOptions(b, o.keepDims).Union()};
            },
            [&](const LeakyReluOptions& o) {
                return OptionsOffset{fb::BuiltinOptions_LeakyReluOptions,
                                     fb::CreateLeakyReluOptions(b, o.alpha).Union()};
            },
            [&](const HardSwishOptions&) {
                return OptionsOffset{fb::BuiltinOptions_HardSwishOptions,
                                     fb::CreateHardSwishOptions(b).Union()};
            },
            [&](const QuantizeOptions&) {
                return OptionsOffset{fb::BuiltinOptions_QuantizeOptions,
                                     fb::CreateQuantizeOptions(b).Union()};
            },
            [&](const DequantizeOptions&) {
                return OptionsOffset{fb::BuiltinOptions_DequantizeOptions,
                                     fb::CreateDequantizeOptions(b).Union()};
            },
        },
        options);
}

std::string shapeString(const std::vector<int32_t>& shape) {
    // Appended piecewise: `"," + std::to_string(..)` trips a GCC 12 -Wrestrict false positive.
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += ",";
        s += std::to_string(shape[i]);
    }
    s += "]";
    return s;
}

} // namespace

const char* tensorTypeName(TensorType type) {
    switch (type) {
    case TensorType::Float32:
        return "FLOAT32";
    case TensorType::Float16:
        return "FLOAT16";
    case TensorType::Int32:
        return "INT32";
    case TensorType::UInt8:
        return "UINT8";
    case TensorType::Int64:
        return "INT64";
    case TensorType::Int16:
        return "INT16";
    case TensorType::Int8:
        return "INT8";
    case TensorType::Int4:
        return "INT4";
    }
    return "?";
}

int64_t tensorDataBytes(TensorType type, int64_t elements) {
    switch (type) {
    case TensorType::Float32:
    case TensorType::Int32:
        return 4 * elements;
    case TensorType::Float16:
    case TensorType::Int16:
        return 2 * elements;
    case TensorType::Int64:
        return 8 * elements;
    case TensorType::UInt8:
    case TensorType::Int8:
        return elements;
    case TensorType::Int4:
        return (elements + 1) / 2;
    }
    return -1;
}

const char* builtinOpName(BuiltinOp op) {
    return fb::EnumNameBuiltinOperator(static_cast<fb::BuiltinOperator>(op));
}

TfliteBuilder::TfliteBuilder() {
    m_buffers.emplace_back();
}

uint32_t TfliteBuilder::addBuffer(std::span<const uint8_t> bytes) {
    m_buffers.emplace_back(bytes.begin(), bytes.end());
    return static_cast<uint32_t>(m_buffers.size() - 1);
}

int32_t TfliteBuilder::addTensor(std::string name, std::vector<int32_t> shape, TensorType type,
                                 uint32_t buffer, Quantization quantization) {
    m_tensors.push_back(
        TensorSpec{std::move(name), std::move(shape), type, buffer, std::move(quantization)});
    return static_cast<int32_t>(m_tensors.size() - 1);
}

uint32_t TfliteBuilder::operatorCode(BuiltinOp op, int32_t version) {
    for (size_t i = 0; i < m_opcodes.size(); ++i)
        if (m_opcodes[i].op == op && m_opcodes[i].version == version)
            return static_cast<uint32_t>(i);
    m_opcodes.push_back(OpCode{op, version});
    return static_cast<uint32_t>(m_opcodes.size() - 1);
}

void TfliteBuilder::addOperator(BuiltinOp op, int32_t version, std::vector<int32_t> inputs,
                                std::vector<int32_t> outputs, BuiltinOptions options) {
    m_operators.push_back(OperatorSpec{operatorCode(op, version), std::move(inputs),
                                       std::move(outputs), std::move(options)});
}

Status TfliteBuilder::validate() const {
    int64_t totalData = 0;
    for (const auto& b : m_buffers)
        totalData += static_cast<int64_t>(b.size());
    if (totalData > kMaxModelBytes)
        return Status::error("the model's constant data (" + std::to_string(totalData) +
                             " bytes) exceeds what one .tflite flatbuffer can hold (2 GB)");
    for (size_t t = 0; t < m_tensors.size(); ++t) {
        const TensorSpec& spec = m_tensors[t];
        const std::string where = "tensor " + std::to_string(t) + " '" + spec.name + "'";
        int64_t elements = 1;
        for (int32_t d : spec.shape) {
            if (d < 0)
                return Status::error(where + ": shape " + shapeString(spec.shape) +
                                     " has a negative dimension");
            elements *= d;
        }
        if (spec.buffer >= m_buffers.size())
            return Status::error(where + ": buffer index " + std::to_string(spec.buffer) +
                                 " is out of range (" + std::to_string(m_buffers.size()) +
                                 " buffers)");
        if (spec.buffer != 0) {
            const int64_t want = tensorDataBytes(spec.type, elements);
            const auto have = static_cast<int64_t>(m_buffers[spec.buffer].size());
            if (want != have)
                return Status::error(where + ": " + tensorTypeName(spec.type) + " " +
                                     shapeString(spec.shape) + " needs " + std::to_string(want) +
                                     " bytes of data, buffer " + std::to_string(spec.buffer) +
                                     " has " + std::to_string(have));
        }
        const Quantization& q = spec.quantization;
        if (q.empty())
            continue;
        if (q.scales.empty() || q.scales.size() != q.zeroPoints.size())
            return Status::error(where + ": quantization needs as many zero points (" +
                                 std::to_string(q.zeroPoints.size()) + ") as scales (" +
                                 std::to_string(q.scales.size()) + "), at least one");
        for (float s : q.scales)
            if (!(s > 0.0f) || !std::isfinite(s))
                return Status::error(where + ": quantization scale " + std::to_string(s) +
                                     " must be positive and finite");
        if (q.scales.size() > 1) {
            const auto rank = static_cast<int32_t>(spec.shape.size());
            if (q.quantizedDimension < 0 || q.quantizedDimension >= rank)
                return Status::error(where + ": quantized_dimension " +
                                     std::to_string(q.quantizedDimension) +
                                     " is outside the shape " + shapeString(spec.shape));
            const int32_t channels = spec.shape[static_cast<size_t>(q.quantizedDimension)];
            if (static_cast<int64_t>(q.scales.size()) != channels)
                return Status::error(where + ": " + std::to_string(q.scales.size()) +
                                     " per-axis scales for dimension " +
                                     std::to_string(q.quantizedDimension) + " of size " +
                                     std::to_string(channels));
        }
    }
    auto checkIndex = [&](int32_t index, bool optional) {
        return (optional && index == -1) ||
               (index >= 0 && index < static_cast<int32_t>(m_tensors.size()));
    };
    for (size_t i = 0; i < m_operators.size(); ++i) {
        const OperatorSpec& op = m_operators[i];
        const std::string where = "operator " + std::to_string(i) + " (" +
                                  builtinOpName(m_opcodes[op.opcodeIndex].op) + ")";
        if (op.outputs.empty())
            return Status::error(where + ": has no outputs");
        for (int32_t t : op.inputs)
            if (!checkIndex(t, true))
                return Status::error(where + ": input tensor index " + std::to_string(t) +
                                     " is out of range");
        for (int32_t t : op.outputs)
            if (!checkIndex(t, false))
                return Status::error(where + ": output tensor index " + std::to_string(t) +
                                     " is out of range");
    }
    if (m_inputs.empty() || m_outputs.empty())
        return Status::error("the model needs at least one input and one output tensor");
    for (int32_t t : m_inputs)
        if (!checkIndex(t, false))
            return Status::error("model input tensor index " + std::to_string(t) +
                                 " is out of range");
    for (int32_t t : m_outputs)
        if (!checkIndex(t, false))
            return Status::error("model output tensor index " + std::to_string(t) +
                                 " is out of range");
    return Status::ok();
}

Result<std::vector<uint8_t>> TfliteBuilder::finish(const std::string& description) const {
    QAT_RETURN_IF_ERROR(validate());

    size_t dataBytes = 0;
    for (const auto& b : m_buffers)
        dataBytes += b.size() + 16;
    flatbuffers::FlatBufferBuilder b(dataBytes + 4096 + 256 * m_tensors.size());

    std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
    buffers.reserve(m_buffers.size());
    for (const auto& data : m_buffers) {
        if (data.empty()) {
            buffers.push_back(fb::CreateBuffer(b));
            continue;
        }
        b.ForceVectorAlignment(data.size(), sizeof(uint8_t), 16);
        auto vec = b.CreateVector(data.data(), data.size());
        buffers.push_back(fb::CreateBuffer(b, vec));
    }

    std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
    tensors.reserve(m_tensors.size());
    for (const TensorSpec& t : m_tensors) {
        auto shape = b.CreateVector(t.shape);
        auto name = b.CreateString(t.name);
        flatbuffers::Offset<fb::QuantizationParameters> quant = 0;
        if (!t.quantization.empty()) {
            auto scale = b.CreateVector(t.quantization.scales);
            auto zeroPoint = b.CreateVector(t.quantization.zeroPoints);
            quant = fb::CreateQuantizationParameters(b, 0, 0, scale, zeroPoint,
                                                     fb::QuantizationDetails_NONE, 0,
                                                     t.quantization.quantizedDimension);
        }
        tensors.push_back(
            fb::CreateTensor(b, shape, static_cast<fb::TensorType>(t.type), t.buffer, name, quant));
    }

    std::vector<flatbuffers::Offset<fb::Operator>> operators;
    operators.reserve(m_operators.size());
    for (const OperatorSpec& op : m_operators) {
        auto inputs = b.CreateVector(op.inputs);
        auto outputs = b.CreateVector(op.outputs);
        auto [optionsType, options] = serializeOptions(b, op.options);
        operators.push_back(
            fb::CreateOperator(b, op.opcodeIndex, inputs, outputs, optionsType, options));
    }

    auto subgraph = fb::CreateSubGraph(b, b.CreateVector(tensors), b.CreateVector(m_inputs),
                                       b.CreateVector(m_outputs), b.CreateVector(operators),
                                       b.CreateString("main"));

    std::vector<flatbuffers::Offset<fb::OperatorCode>> codes;
    codes.reserve(m_opcodes.size());
    for (const OpCode& c : m_opcodes) {
        const auto code = static_cast<int32_t>(c.op);
        const auto deprecated = static_cast<int8_t>(
            std::min<int32_t>(code, fb::BuiltinOperator_PLACEHOLDER_FOR_GREATER_OP_CODES));
        codes.push_back(fb::CreateOperatorCode(b, deprecated, 0, c.version,
                                               static_cast<fb::BuiltinOperator>(code)));
    }

    auto codesVec = b.CreateVector(codes);
    auto subgraphs = b.CreateVector(&subgraph, 1);
    auto desc = b.CreateString(description);
    auto buffersVec = b.CreateVector(buffers);
    auto model = fb::CreateModel(b, 3, codesVec, subgraphs, desc, buffersVec);
    fb::FinishModelBuffer(b, model);

    std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    QAT_ASSERT(fb::VerifyModelBuffer(verifier));
    return bytes;
}

} // namespace qat::tflite
