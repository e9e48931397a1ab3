// Layer inspection, the teaching view of quantization: for one quantization block (named
// by its anchor, as in the plan) of a model file, what its weights and output look like
// as floats, the integer grids they are put on, how much error that costs (SQNR), and one
// output value of the integer model worked out step by step.
//
// Conventions: weights are the folded ones the integer model quantizes (BatchNorm folded
// with its running statistics); activations are the block's output (after any fused
// ReLU/ReLU6) on the inspected images, batch first, NHWC. SQNR = 10 log10(sum ref^2 /
// sum (ref - approx)^2) in dB; +inf when exact. A value is "clipped" when its rounded code
// round(x / scale) + zeroPoint falls outside [qmin, qmax] (saturation changes it).
// Float models (no plan) get the float histograms only: no grid, no integer figures.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qat/dataset.h"
#include "qat/int_model.h"
#include "qat/quant.h"
#include "qat/quant_plan.h"
#include "qat/quantize.h"
#include "qat/runtime.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

inline constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

// Equal-width bins over [lo, hi]; the last bin is closed, so every value falls in one bin
// and the counts sum to the number of values.
struct Histogram {
    double lo = 0.0, hi = 0.0;
    std::vector<int64_t> counts;

    int64_t total() const;
    double binWidth() const;
    double binCenter(size_t i) const { return lo + (static_cast<double>(i) + 0.5) * binWidth(); }
    int64_t maxCount() const;
};

// Histogram of n values over [min(values, extraLo), max(values, extraHi)] (extra bounds
// widen the range so a clipping range drawn over the bars is inside the axis; pass NaN
// for none). bins <= 0 picks clamp(sqrt(n), 16, 128).
Histogram makeHistogram(const float* values, int64_t n, int bins, double extraLo = kNotMeasured,
                        double extraHi = kNotMeasured);

// The representable real values of a grid, scale * (q - zeroPoint) for q = qmin..qmax:
// qmax - qmin + 1 levels.
std::vector<double> gridLevels(const QuantParams& grid);
inline int64_t gridLevelCount(const QuantParams& grid) {
    return static_cast<int64_t>(grid.qmax) - grid.qmin + 1;
}

// Occupancy of a grid by n values: how many values land on each code, clipped values.
struct GridUsage {
    std::vector<int64_t> codeCounts; // index q - qmin
    int64_t levelsUsed = 0;          // codes that hold at least one value
    int64_t clipped = 0;             // values whose unclamped code is outside [qmin, qmax]
    double fractionClipped = 0.0;
};
GridUsage gridUsage(const float* values, int64_t n, const QuantParams& grid);

// One output channel of a weighted block.
struct ChannelWeights {
    int64_t channel = 0;
    int64_t count = 0;
    float dataMin = 0.0f, dataMax = 0.0f;
    Histogram histogram;
    bool quantized = false;
    QuantParams grid;             // this channel's grid (the tensor's one when per-tensor)
    GridUsage usage;              // quantized only
    double sqnrDb = kNotMeasured; // folded float vs fake-quantized weights of this channel
    float foldedBias = 0.0f;
};

struct WeightInspection {
    bool present = false;   // the block has weights (Conv2D / DepthwiseConv2D / Dense)
    bool quantized = false; // the plan quantizes them
    bool bnFolded = false;
    Shape shape;  // the node's weight layout (graph.h)
    int axis = 0; // output-channel axis
    bool perAxis = false;
    QuantizerConfig config;
    int64_t count = 0;
    float dataMin = 0.0f, dataMax = 0.0f;
    Histogram histogram; // all channels; its range includes every channel's grid
    std::vector<ChannelWeights> channels;
    double sqnrDb = kNotMeasured; // all folded weights vs their fake-quantized values
};

struct ActivationInspection {
    std::string node;  // the block's output node
    Shape shape;       // per sample
    int64_t count = 0; // values over all inspected images
    float dataMin = 0.0f, dataMax = 0.0f;
    Histogram histogram; // the float network's values
    bool quantized = false;
    int bits = 0;
    QuantParams grid;
    GridUsage usage;
    // The fake-quant network's output of this block (every quantized layer up to here,
    // on the grid the integer model holds it) vs the float network's.
    double fakeQuantSqnrDb = kNotMeasured;
    // The integer model's output of this block, dequantized, vs the float network's.
    double integerSqnrDb = kNotMeasured;
    // The float values rounded onto this grid alone: this layer's own output rounding
    // and clipping, without the error accumulated upstream.
    double gridOnlySqnrDb = kNotMeasured;
};

// One requantization multiplier of the integer op: m = multiplier * 2^(shift - 31).
struct Requantization {
    std::string label; // "channel 3", "input 0", "output"
    int64_t channel = -1;
    int32_t multiplier = 0;
    int shift = 0;
    double effective = 0.0;         // multiplier * 2^(shift - 31)
    double intended = kNotMeasured; // the real ratio it encodes, e.g. s_in * s_w / s_out
    int64_t bias = 0;               // weighted ops: int32 (or int64) bias of the channel
    bool hasBias = false;
};

// One step of the worked example: what is computed, how, and the result.
struct WorkedStep {
    std::string label;   // "Accumulate"
    std::string formula; // "acc = Σ (x_q − z_x) · w_q"
    std::string value;   // "= 12345"
    double number = 0.0; // the step's result as a number
};

// One multiply-accumulate term of the receptive field (padding terms are skipped: they
// contribute (z_x - z_x) * w = 0).
struct WorkedTerm {
    int64_t iy = 0, ix = 0, ic = 0; // input position (Dense: ic = input index)
    int64_t ky = 0, kx = 0;
    int32_t x = 0;       // int input value
    int32_t w = 0;       // int weight value
    int64_t product = 0; // (x - z_x) * w
};

struct WorkedExample {
    bool available = false;
    std::string reason; // why not, when unavailable
    std::string opName;
    int64_t sample = 0;
    int64_t y = 0, x = 0, c = 0;   // output position (Dense: y = x = 0)
    int64_t flatIndex = 0;         // index in the per-sample output tensor
    std::vector<WorkedTerm> terms; // the first few in loop order (ky, kx, input channel)
    int64_t termCount = 0;         // all in-bounds terms
    int64_t paddingTerms = 0;      // receptive-field positions in the padding
    float inputScale = 0.0f, weightScale = 0.0f, outputScale = 0.0f;
    int32_t inputZeroPoint = 0, outputZeroPoint = 0;
    int64_t sumXW = 0;       // sum x_q * w_q
    int64_t sumW = 0;        // sum w_q
    int64_t accumulator = 0; // sum (x_q - z_x) * w_q = sumXW - z_x * sumW
    int64_t bias = 0;
    int64_t accWithBias = 0;
    int32_t multiplier = 0;
    int shift = 0;
    Rounding rounding = Rounding::Single;
    double scaledExact = 0.0; // accWithBias * multiplier * 2^(shift - 31), before rounding
    int32_t scaled = 0;       // after rounding
    int32_t beforeClamp = 0;  // scaled + z_y
    int32_t actMin = 0, actMax = 0;
    int32_t result = 0;          // the int8 output
    double resultReal = 0.0;     // s_y * (result - z_y)
    int32_t executorValue = 0;   // what IntReferenceExecutor produced at this position
    float floatValue = 0.0f;     // the float network's value
    float fakeQuantValue = 0.0f; // the fake-quant network's value
    std::vector<WorkedStep> steps;
};

struct InspectOptions {
    int bins = 0; // histogram bins; 0 = automatic
    int64_t exampleSample = 0;
    // Output position (y, x, c) of the worked example; Dense: (0, 0, c). Default: the
    // position of the largest |accumulator| in the example sample.
    std::optional<std::array<int64_t, 3>> examplePosition;
    int maxTerms = 10; // terms of the receptive field listed in the example
};

struct LayerInspection {
    std::string layer; // block anchor
    QuantBlock block;
    std::string opType;          // the anchor's op, e.g. "Conv2D"
    std::string description;     // "Conv2D + BatchNorm + ReLU"
    bool modelQuantized = false; // the file has a plan
    bool layerQuantized = false; // the plan quantizes this block
    std::string note;            // float model / float layer / integer model unavailable
    int64_t images = 0;
    WeightInspection weights;
    ActivationInspection activations;
    std::string intOpName;
    bool hasInputGrid = false; // the integer op's (first) input grid
    QuantParams inputGrid;
    std::vector<Requantization> requantization;
    WorkedExample example;
};

// Per-layer error summary over all blocks (cheap once a ModelInspector exists).
struct LayerError {
    std::string layer;
    bool quantized = false;
    double weightSqnrDb = kNotMeasured;
    double fakeQuantSqnrDb = kNotMeasured;
    double integerSqnrDb = kNotMeasured;
};

// Runs the inspected images once through the float network, the fake-quant network and
// the integer reference executor (one image at a time, keeping every integer tensor), so
// that inspecting any layer afterwards is pure arithmetic. inspect() is const and may be
// called from several threads at once.
class ModelInspector {
public:
    // images: [N, sample shape...] with N >= 1. The integer model is optional: when the
    // conversion fails its message is kept in integerError() and the integer figures are
    // absent. Cancel returns an error "cancelled".
    static Result<std::unique_ptr<ModelInspector>> create(QuantizedModelFile model,
                                                          const Tensor& images,
                                                          Rounding rounding = Rounding::Single,
                                                          const CancelToken* cancel = nullptr);

    bool quantized() const { return m_model.quantized; }
    const Graph& graph() const { return m_model.graph; }
    const QuantizedModelFile& model() const { return m_model; }
    const std::vector<QuantBlock>& blocks() const { return m_blocks; }
    std::vector<std::string> layers() const;
    int64_t imageCount() const { return m_images; }
    const IntModel* intModel() const { return m_hasInt ? &m_int : nullptr; }
    const std::string& integerError() const { return m_intError; }
    Rounding rounding() const { return m_rounding; }

    Result<LayerInspection> inspect(const std::string& layer,
                                    const InspectOptions& options = {}) const;
    std::vector<LayerError> layerErrors() const;

    // Integer tensor values of the integer model for one inspected image (tests).
    const std::vector<std::vector<int32_t>>& intTensors(int64_t sample) const {
        return m_intTensors[static_cast<size_t>(sample)];
    }
    // The float network's output of a block's output node over all images [N, ...].
    const Tensor& floatOutput(size_t block) const { return m_float[block]; }

private:
    ModelInspector() = default;
    int intOpOf(const QuantBlock& block) const;
    int intTensorNamed(const std::string& name) const;
    bool outputGrid(size_t block, QuantParams& grid, int& bits) const;
    void inspectWeights(const QuantBlock& block, const InspectOptions& options,
                        WeightInspection& out) const;
    void inspectActivations(size_t block, const InspectOptions& options,
                            ActivationInspection& out) const;
    void fillRequantization(const IntOp& op, LayerInspection& out) const;
    void workExample(size_t block, const IntOp& op, const InspectOptions& options,
                     WorkedExample& out) const;

    QuantizedModelFile m_model;
    std::vector<QuantBlock> m_blocks;
    QuantTopology m_topo; // quantized models only
    int64_t m_images = 0;
    Rounding m_rounding = Rounding::Single;
    std::vector<Tensor> m_float; // per block: float network output [N, ...]
    std::vector<Tensor> m_fqPre; // per block: fake-quant network output before its quantizer
    bool m_hasInt = false;
    IntModel m_int;
    std::string m_intError;
    std::vector<std::vector<std::vector<int32_t>>> m_intTensors; // per image, per tensor
};

// Sensitivity of the model to one layer: the plan with only that block quantized (every
// other block float; the model input keeps its quantizer, as in every quantized model),
// using the file's observed ranges, evaluated against the float model on the first
// `images` test images. Fake-quant simulation (what the integer model reproduces).
struct SensitivityResult {
    std::string layer;
    int64_t images = 0;
    double floatAccuracy = kNotMeasured;
    double quantizedAccuracy = kNotMeasured; // only this layer quantized
    double accuracyDrop = kNotMeasured;      // float - quantized (positive = worse)
    double outputSqnrDb = kNotMeasured;      // this block's output, only it quantized, vs float
};
Result<SensitivityResult> layerSensitivity(const QuantizedModelFile& model,
                                           const std::string& layer, const Dataset& test,
                                           int64_t images, const CancelToken* cancel = nullptr,
                                           const std::function<void(double)>& progress = {});

// The plan of layerSensitivity: `layer` enabled as in `plan`, every other block disabled.
Result<QuantPlan> singleLayerPlan(const Graph& graph, const QuantPlan& plan,
                                  const std::string& layer);

} // namespace qat
