// Runs: the unit of work the CLI and the GUI execute and compare. A run is a pure
// function of (model, dataset, plan, schedule, seed) -> (metrics, curves, artefacts).
//   Float: train the float model (or take it as is with 0 epochs) and measure it.
//   Ptq:   calibrate the float model's activation ranges, convert to integers, measure.
//   Qat:   PTQ-initialize, fine-tune with fake-quant, convert, measure.
// Every metric is measured: accuracies by running the networks and the integer model,
// sizes from the exported .tflite bytes, latency by timing the executors.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "qat/dataset.h"
#include "qat/graph.h"
#include "qat/int_model.h"
#include "qat/quantize.h"
#include "qat/runtime.h"
#include "qat/trainer.h"

namespace qat {

enum class RunKind { Float, Ptq, Qat };
const char* runKindName(RunKind kind);
Result<RunKind> runKindFromName(const std::string& name);

struct RunSpec {
    std::string name; // display name
    RunKind kind = RunKind::Float;
    TrainConfig train; // Float: training; Qat: fine-tuning (epochs, lr, batch, seed, ...)
    QuantPlan plan;    // Ptq/Qat
    int64_t calibrationBatches = 32;
    QatOptions qat;
    int64_t evalLimit = 0; // 0 = the whole test split
    bool measureLatency = true;
    int latencyRepeats = 20;
    // Requantization rounding of the integer executor: LiteRT/XNNPACK's single rounding
    // (default) or the double rounding of TFLite's builtin reference kernels.
    Rounding rounding = Rounding::Single;
};

struct LatencyReport {
    double floatBatch1Ms = 0, int8Batch1Ms = 0;   // median per batch
    double floatBatch64Ms = 0, int8Batch64Ms = 0; // median per batch
    int threads = 0;
    std::string isa;
    bool measured = false;
    // False when a series stayed too spread out to trust (a busy machine) within the time
    // budget; the figures are kept and `note` says which series and how spread.
    bool stable = true;
    std::string note; // why a figure is missing (NaN) or unstable, if one is
};

struct RunMetrics {
    static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
    double floatAccuracy = kNone;     // the float model the run started from / produced
    double fakeQuantAccuracy = kNone; // Ptq/Qat: fake-quant simulation
    double integerAccuracy = kNone;   // Ptq/Qat: integer reference executor
    int64_t floatTfliteBytes = 0;
    int64_t int8TfliteBytes = 0;
    LatencyReport latency;
    double trainImagesPerSecond = 0;
    double seconds = 0;
};

struct CurvePoint {
    int64_t step = 0;
    double epoch = 0; // fractional
    double loss = 0;
    double trainAccuracy = 0;
};

struct RunResult {
    RunSpec spec;
    RunMetrics metrics;
    std::vector<CurvePoint> curve;   // training progress (running means)
    std::vector<EpochResult> epochs; // per-epoch train/test figures
    QuantState state;                // Ptq/Qat: observed ranges
    bool cancelled = false;
};

enum class RunStage { Training, Calibrating, Evaluating, Converting, Measuring, Done };
const char* runStageName(RunStage stage);

struct RunProgress {
    RunStage stage = RunStage::Training;
    double fraction = 0; // 0..1 over the whole run
    double etaSeconds = -1;
    TrainProgress train; // valid while stage == Training
    std::string message;
};

struct RunCallbacks {
    std::function<void(const RunProgress&)> progress; // rate-limited by the engine
    std::function<void(const CurvePoint&)> curvePoint;
    std::function<void(const EpochResult&)> epochDone;
};

// Executes a run on `graph` (modified in place: Float and Qat train it). The graph must
// accept the dataset's samples. Cancel stops within one batch and returns a result with
// cancelled = true.
Result<RunResult> executeRun(Graph& graph, const DatasetSplits& data, const RunSpec& spec,
                             const CancelToken* cancel = nullptr,
                             const RunCallbacks& callbacks = {});

} // namespace qat
