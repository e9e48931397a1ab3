// The integer model: what a quantized run deploys. Built from a float graph, a plan and
// the observed ranges (QuantState); executed by a plain-loop reference executor that
// reproduces TFLite's integer arithmetic, and by a fast oneDNN int8 executor; exported to
// .tflite. Activations are per-sample NHWC; integer tensors hold q with
// real = scale * (q - zeroPoint). Weights are symmetric (zero point 0), per output
// channel (axis 0 for conv/dense, 3 for depthwise) or per tensor; biases are int32 with
// scale inputScale * weightScale[c]. Requantization multipliers and shifts are computed
// as TFLite's QuantizeMultiplier from the double product inputScale*weightScale/outputScale.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/quant.h"
#include "qat/quantize.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

enum class IntDType { Float32, Int8, Int16, Int32, Int64 };
const char* intDTypeName(IntDType t);

struct IntTensor {
    std::string name;
    Shape shape; // activations: per sample; constants: full shape
    IntDType type = IntDType::Int8;
    bool isConstant = false;
    // Quantization (integer tensors): one entry per tensor, or per channel along axis.
    std::vector<float> scales;
    std::vector<int32_t> zeroPoints;
    int axis = -1;
    int bits = 8; // the grid's width (a 4-bit grid lives in an int8 container)
    int32_t qmin = -128, qmax = 127;
    // Constant data.
    std::vector<int32_t> ints;   // integer constants (weights as int8 values, int32 bias)
    std::vector<int64_t> ints64; // int64 biases (16-bit activations)
    std::vector<float> floats;   // float constants (float ops of mixed-precision models)
    QuantParams params(size_t channel = 0) const;
};

enum class IntOpKind {
    Quantize,   // float -> int
    Dequantize, // int -> float
    Conv2D,
    DepthwiseConv2D,
    FullyConnected,
    Add,
    Concat,
    MaxPool,
    AvgPool,
    Mean, // global average over H, W
    Reshape,
    Pad,
    Softmax,
    Lut, // element-wise activation through a 256/65536-entry table (Logistic, Tanh, ...)
    // Float ops of mixed-precision models (inputs/outputs Float32):
    FloatConv2D,
    FloatDepthwiseConv2D,
    FloatFullyConnected,
    FloatAdd,
    FloatActivation, // ReLU/ReLU6/Sigmoid/... on floats
    FloatSoftmax,
    FloatMean,
    FloatAvgPool,
    FloatMaxPool,
    FloatConcat,
};
const char* intOpKindName(IntOpKind kind);

enum class FusedActivation { None, Relu, Relu6 };

struct IntOp {
    IntOpKind kind = IntOpKind::Conv2D;
    std::string node;         // graph node the op comes from (block anchor)
    std::vector<int> inputs;  // tensor indices: data inputs, then weights, bias
    std::vector<int> outputs; // tensor indices
    ConvGeometry geom;        // conv / depthwise / pools
    int64_t depthMultiplier = 1;
    int axis = -1; // Concat: per-sample axis
    FusedActivation activation = FusedActivation::None;
    OpType floatActivation = OpType::ReLU; // FloatActivation / Lut: which function
    double leakyAlpha = 0.01;
    int32_t actMin = -128, actMax = 127; // quantized output clamp (fused activation + grid)
    // Requantization, per output channel (or one):
    std::vector<int32_t> multiplier;
    std::vector<int> shift;
    // Add: TFLite's two-input fixed-point scheme.
    int leftShift = 20;
    int32_t inputMultiplier[2] = {0, 0};
    int inputShift[2] = {0, 0};
    // Lut: table indexed by (q - qmin of the input).
    std::vector<int32_t> table;
};

struct IntModel {
    std::vector<IntTensor> tensors;
    std::vector<IntOp> ops; // in execution order
    int input = -1;         // tensor index of the model input (float32 or integer)
    int output = -1;        // tensor index of the model output
    Shape inputShape;       // per sample
    std::string sourceModel;
    QuantPlan plan;
    bool floatIo = false; // QUANTIZE/DEQUANTIZE at the edges
};

// TFLite's QuantizeMultiplier: m = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31).
void quantizeMultiplier(double m, int32_t& multiplier, int& shift);

enum class Rounding {
    Single, // one rounding of acc * multiplier (LiteRT/XNNPACK, TFLITE_SINGLE_ROUNDING); default
    Double, // SaturatingRoundingDoublingHighMul + RoundingDivideByPOT (builtin reference kernels)
};
int32_t multiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift, Rounding rounding);

struct IntConvertOptions {
    bool floatIo = false; // float model input/output with QUANTIZE/DEQUANTIZE
};

// Converts a graph with its plan and observed ranges into the integer model. Errors name
// the layer (an op the integer model cannot represent, an uncalibrated range, ...).
Result<IntModel> convertToIntModel(const Graph& graph, const QuantPlan& plan,
                                   const QuantState& state, const IntConvertOptions& options = {});

// Plain-loop executor reproducing TFLite's integer kernels.
class IntReferenceExecutor {
public:
    explicit IntReferenceExecutor(const IntModel& model, Rounding rounding = Rounding::Single)
        : m_model(model), m_rounding(rounding) {}
    // input: float images [N, sample...]; quantized with the model's input parameters
    // (or fed as floats for float-I/O models). Returns the dequantized output [N, ...].
    Tensor run(const Tensor& input);
    // Integer output values of the last run ([N * outputSize], the output tensor's grid);
    // empty for a float output.
    const std::vector<int32_t>& lastIntOutput() const { return m_intOut; }
    // Integer (or float) values of every tensor for the last sample run (inspection).
    const std::vector<std::vector<int32_t>>& lastIntTensors() const { return m_ints; }

private:
    void runSample(const float* input, float* output, int32_t* intOutput);
    const IntModel& m_model;
    Rounding m_rounding;
    std::vector<std::vector<int32_t>> m_ints;
    std::vector<std::vector<float>> m_floats;
    std::vector<int32_t> m_intOut;
};

// Top-1 accuracy of the integer model on a dataset (reference executor).
Result<double> integerAccuracy(const IntModel& model, const Dataset& data, int64_t limit = 0,
                               Rounding rounding = Rounding::Single,
                               const CancelToken* cancel = nullptr);

} // namespace qat
