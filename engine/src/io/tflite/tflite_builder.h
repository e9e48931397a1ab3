// TfliteBuilder: assembles one-subgraph .tflite models (schema version 3) from tensors,
// constant buffers and operators, for the float and integer exporters.
// The header is free of FlatBuffers types; serialization happens in finish(). Conventions
// the runtimes on this machine were checked against (DESIGN.md "Export (.tflite)"):
//   file identifier "TFL3", Model.version 3, buffers[0] an empty sentinel that every
//   tensor without data points at, buffer data 16-byte aligned in the file, OperatorCode
//   with both deprecated_builtin_code (int8, capped at 127) and builtin_code (int32).
// Shapes include the batch dimension (NHWC activations, OHWI conv filters).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "qat/status.h"

namespace qat::tflite {

// TFLite TensorType values (the subset the exporters write).
enum class TensorType : int8_t {
    Float32 = 0,
    Float16 = 1,
    Int32 = 2,
    UInt8 = 3,
    Int64 = 4,
    Int16 = 7,
    Int8 = 9,
    Int4 = 17, // two values per byte, low nibble first
};
const char* tensorTypeName(TensorType type);
// Bytes of data a constant tensor of this type and element count must have.
int64_t tensorDataBytes(TensorType type, int64_t elements);

// TFLite BuiltinOperator codes (the subset the exporters write).
enum class BuiltinOp : int32_t {
    Add = 0,
    AveragePool2D = 1,
    Concatenation = 2,
    Conv2D = 3,
    DepthwiseConv2D = 4,
    Dequantize = 6,
    FullyConnected = 9,
    Logistic = 14,
    MaxPool2D = 17,
    Mul = 18,
    Relu = 19,
    Relu6 = 21,
    Reshape = 22,
    Softmax = 25,
    Tanh = 28,
    Pad = 34,
    Mean = 40,
    PadV2 = 60,
    LeakyRelu = 98,
    Quantize = 114,
    HardSwish = 117,
};
// The schema's name, e.g. "CONV_2D".
const char* builtinOpName(BuiltinOp op);

enum class Padding : int8_t { Same = 0, Valid = 1 };
enum class Activation : int8_t { None = 0, Relu = 1, ReluN1To1 = 2, Relu6 = 3 };

// Builtin options, one struct per schema table. Fields keep the schema's meaning.
struct Conv2DOptions {
    Padding padding = Padding::Valid;
    int32_t strideH = 1, strideW = 1;
    int32_t dilationH = 1, dilationW = 1;
    Activation activation = Activation::None;
};
struct DepthwiseConv2DOptions {
    Padding padding = Padding::Valid;
    int32_t strideH = 1, strideW = 1;
    int32_t dilationH = 1, dilationW = 1;
    int32_t depthMultiplier = 1;
    Activation activation = Activation::None;
};
struct Pool2DOptions {
    Padding padding = Padding::Valid;
    int32_t strideH = 1, strideW = 1;
    int32_t filterH = 1, filterW = 1;
    Activation activation = Activation::None;
};
struct FullyConnectedOptions {
    Activation activation = Activation::None;
    bool keepNumDims = false;
};
struct SoftmaxOptions {
    float beta = 1.0f;
};
struct ConcatenationOptions {
    int32_t axis = 0;
    Activation activation = Activation::None;
};
struct AddOptions {
    Activation activation = Activation::None;
};
struct MulOptions {
    Activation activation = Activation::None;
};
struct ReshapeOptions {
    std::vector<int32_t> newShape;
};
struct PadOptions {};
struct PadV2Options {};
struct ReducerOptions {
    bool keepDims = false;
};
struct LeakyReluOptions {
    float alpha = 0.2f;
};
struct HardSwishOptions {};
struct QuantizeOptions {};
struct DequantizeOptions {};

using BuiltinOptions =
    std::variant<std::monostate, Conv2DOptions, DepthwiseConv2DOptions, Pool2DOptions,
                 FullyConnectedOptions, SoftmaxOptions, ConcatenationOptions, AddOptions,
                 MulOptions, ReshapeOptions, PadOptions, PadV2Options, ReducerOptions,
                 LeakyReluOptions, HardSwishOptions, QuantizeOptions, DequantizeOptions>;

// Per-tensor (one entry) or per-axis (one entry per index of quantizedDimension)
// parameters: real = scale * (q - zeroPoint). Empty = not quantized.
struct Quantization {
    std::vector<float> scales;
    std::vector<int64_t> zeroPoints;
    int32_t quantizedDimension = 0;
    bool empty() const { return scales.empty() && zeroPoints.empty(); }
};

struct TensorSpec {
    std::string name;
    std::vector<int32_t> shape;
    TensorType type = TensorType::Float32;
    uint32_t buffer = 0; // 0 = no data
    Quantization quantization;
};

class TfliteBuilder {
public:
    TfliteBuilder();

    // Adds a constant data buffer and returns its index (>= 1; 0 is the empty sentinel).
    uint32_t addBuffer(std::span<const uint8_t> bytes);
    template <typename T> uint32_t addBuffer(const std::vector<T>& values) {
        return addBuffer(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(values.data()),
                                                  values.size() * sizeof(T)));
    }

    // Adds a tensor and returns its index in the subgraph.
    int32_t addTensor(std::string name, std::vector<int32_t> shape, TensorType type,
                      uint32_t buffer = 0, Quantization quantization = {});
    // addBuffer + addTensor for a constant.
    template <typename T>
    int32_t addConstTensor(std::string name, std::vector<int32_t> shape, TensorType type,
                           const std::vector<T>& values, Quantization quantization = {}) {
        const uint32_t buffer = addBuffer(values);
        return addTensor(std::move(name), std::move(shape), type, buffer, std::move(quantization));
    }

    // Index into operator_codes for (op, version), registering it on first use.
    uint32_t operatorCode(BuiltinOp op, int32_t version);
    // Appends an operator (execution order = call order). Input -1 = omitted optional input.
    void addOperator(BuiltinOp op, int32_t version, std::vector<int32_t> inputs,
                     std::vector<int32_t> outputs, BuiltinOptions options = {});

    void setInputs(std::vector<int32_t> tensors) { m_inputs = std::move(tensors); }
    void setOutputs(std::vector<int32_t> tensors) { m_outputs = std::move(tensors); }

    const TensorSpec& tensor(int32_t index) const {
        return m_tensors.at(static_cast<size_t>(index));
    }
    int32_t tensorCount() const { return static_cast<int32_t>(m_tensors.size()); }
    size_t bufferCount() const { return m_buffers.size(); }
    // Bytes of data in buffer `index` (0 for the sentinel).
    int64_t bufferBytes(uint32_t index) const {
        return static_cast<int64_t>(m_buffers.at(index).size());
    }

    // Validates every index, shape, data size and quantization vector, then serializes.
    // Errors name the tensor or operator at fault.
    Result<std::vector<uint8_t>> finish(const std::string& description = "QAT Lab") const;

private:
    struct OpCode {
        BuiltinOp op;
        int32_t version;
    };
    struct OperatorSpec {
        uint32_t opcodeIndex;
        std::vector<int32_t> inputs, outputs;
        BuiltinOptions options;
    };
    Status validate() const;

    std::vector<std::vector<uint8_t>> m_buffers;
    std::vector<TensorSpec> m_tensors;
    std::vector<OpCode> m_opcodes;
    std::vector<OperatorSpec> m_operators;
    std::vector<int32_t> m_inputs, m_outputs;
};

} // namespace qat::tflite
