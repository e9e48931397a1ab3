// Fake-quant simulation state and the PTQ / QAT entry points.
// A quantized Network (Network::create with a plan) applies fake-quant where the plan's
// topology says, folds BatchNorm into the preceding conv/dense weights (simulated
// folding, Krishnamoorthi 2018 §3.2.2), and observes activation ranges. Its observed
// ranges (QuantState) plus the float graph and the plan fully determine the integer model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qat/dataset.h"
#include "qat/quant_plan.h"
#include "qat/runtime.h"
#include "qat/status.h"
#include "qat/trainer.h"

namespace qat {

struct QatOptions {
    int64_t freezeBnAfter = -1;        // training steps; BN uses running statistics after; -1 never
    int64_t freezeObserversAfter = -1; // training steps; activation ranges fixed after; -1 never
};

struct ObservedRange {
    std::string owner; // node name of the quantization point
    float lo = 0.0f, hi = 0.0f;
    bool initialized = false;
    bool operator==(const ObservedRange&) const = default;
};

struct QuantState {
    std::vector<ObservedRange> ranges; // one per used point, in topology order
    bool operator==(const QuantState&) const = default;
};

// PTQ calibration: runs `batches` batches of `data` (in order) through the float model
// with observers on and fake-quant off, leaving the network's observers calibrated.
Status calibrate(Network& net, const Dataset& data, int64_t batches, int64_t batchSize = 64,
                 const CancelToken* cancel = nullptr);

// Weight quantization parameters (per channel or one) of a weighted block, computed from
// the float weights the way the simulation and the integer model both do (BN folded
// with running statistics when the block has BN).
struct FoldedWeights {
    Tensor weights;                  // folded float weights, the node's layout
    std::vector<float> bias;         // folded bias per output channel
    std::vector<QuantParams> params; // per channel (axis) or one
    int axis = 0;
};
Result<FoldedWeights> foldedBlockWeights(const Graph& graph, const QuantBlock& block,
                                         const QuantizerConfig& config);

// A quantized model on disk: the .qatm of the float graph with the plan and the observed
// ranges in its metadata, enough to rebuild the fake-quant network or the integer model.
Status saveQuantizedModel(const Graph& graph, const QuantPlan& plan, const QuantState& state,
                          const std::string& path);
struct QuantizedModelFile {
    Graph graph;
    bool quantized = false; // false: a float model (no plan in the file)
    QuantPlan plan;
    QuantState state;
};
Result<QuantizedModelFile> loadQuantizedModel(const std::string& path);

enum class QuantMode { Ptq, Qat };
const char* quantModeName(QuantMode mode);

struct QuantizeConfig {
    QuantMode mode = QuantMode::Qat;
    TrainConfig train;               // QAT fine-tuning schedule
    int64_t calibrationBatches = 32; // PTQ calibration (also QAT's starting ranges)
    int64_t calibrationBatchSize = 64;
    QatOptions qat;
    int64_t evalLimit = 0; // 0 = whole test split
};

struct QuantizeResult {
    double floatAccuracy = 0;     // the float model before quantization
    double fakeQuantAccuracy = 0; // the fake-quant network after PTQ or QAT
    QuantState state;
    TrainResult training; // QAT only
    bool cancelled = false;
};

// The PTQ / QAT pipeline on a trained (or freshly initialized) float graph:
// evaluate float -> build the fake-quant network -> calibrate -> [QAT: train] ->
// evaluate fake-quant. QAT updates the graph's parameters in place.
Result<QuantizeResult> quantizeModel(Graph& graph, const QuantPlan& plan, const Dataset& trainSet,
                                     const Dataset& testSet, const QuantizeConfig& config,
                                     const CancelToken* cancel = nullptr,
                                     const TrainCallbacks& callbacks = {});

} // namespace qat
