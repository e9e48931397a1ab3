// Training loop, optimizers and learning-rate schedules.
// Deterministic for a given seed (shuffling, initialization, dropout). Progress is
// reported through a rate-limited callback; a CancelToken stops within one batch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qat/dataset.h"
#include "qat/network.h"
#include "qat/runtime.h"
#include "qat/status.h"

namespace qat {

enum class OptimizerKind { Sgd, Adam };
enum class LrSchedule { Constant, Step, Cosine };

struct TrainConfig {
    int epochs = 1;
    int64_t batch = 64;
    double lr = 1e-3;
    OptimizerKind optimizer = OptimizerKind::Adam;
    double momentum = 0.9;                         // SGD
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8; // Adam
    double weightDecay = 0.0;                      // decoupled for Adam (AdamW), L2 for SGD
    LrSchedule schedule = LrSchedule::Constant;
    int64_t stepSize = 1;   // Step: epochs between decays
    double stepGamma = 0.1; // Step: decay factor
    uint64_t seed = 0;
    int64_t limitTrain = 0; // 0 = all training images
    int64_t limitTest = 0;  // 0 = all test images
    bool evaluateEachEpoch = true;
};

struct TrainProgress {
    int epoch = 0; // 1-based
    int epochs = 0;
    int64_t step = 0; // global, 1-based
    int64_t totalSteps = 0;
    double loss = 0;          // running mean over the current epoch
    double trainAccuracy = 0; // running mean over the current epoch
    double imagesPerSecond = 0;
    double lr = 0;
    double secondsElapsed = 0;
};

struct EpochResult {
    int epoch = 0;
    double trainLoss = 0;
    double trainAccuracy = 0;
    double testLoss = 0;
    double testAccuracy = 0;
    double seconds = 0;
};

struct TrainResult {
    std::vector<EpochResult> epochs;
    double testAccuracy = 0;
    double imagesPerSecond = 0; // training throughput, excluding evaluation
    double seconds = 0;
    bool cancelled = false;
};

struct EvalResult {
    double accuracy = 0;
    double loss = 0;
    int64_t count = 0;
};

struct TrainCallbacks {
    std::function<void(const TrainProgress&)> progress; // at most ~10 Hz, plus last step
    std::function<void(const EpochResult&)> epochDone;
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    virtual void step(std::vector<ParamSlot>& params, double lr) = 0;
};
std::unique_ptr<Optimizer> makeOptimizer(const TrainConfig& config);
double learningRateAt(const TrainConfig& config, int64_t step, int64_t stepsPerEpoch);

// Trains in place. Returns an error for NaN/Inf loss (divergence: lower the learning
// rate), a dataset/model mismatch, or invalid config values.
Result<TrainResult> train(Network& net, const Dataset& trainSet, const Dataset& testSet,
                          const TrainConfig& config, const CancelToken* cancel = nullptr,
                          const TrainCallbacks& callbacks = {});

Result<EvalResult> evaluate(Network& net, const Dataset& data, int64_t batch = 256,
                            int64_t limit = 0, const CancelToken* cancel = nullptr);

} // namespace qat
