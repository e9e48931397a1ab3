// Training loop and evaluation. One step: gather a shuffled batch, forward (Train),
// cross-entropy, fused backward, optimizer update. Everything is validated before the
// first step; the loop itself only checks the cancel token and the loss (NaN/Inf, or a
// smoothed loss far worse than guessing). Shuffling uses std::mt19937_64(seed) with a
// portable Fisher-Yates (bounded integers by rejection), so a seed gives the same order
// with any standard library. With evaluateEachEpoch off, the test split is still
// evaluated after the last epoch so that TrainResult::testAccuracy is meaningful.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include "ops/layer.h"
#include "qat/trainer.h"

namespace qat {

namespace {

using Clock = std::chrono::steady_clock;

// Evaluation batch inside train(): large enough to amortize per-call overhead.
constexpr int64_t kEvalBatch = 256;
// Progress callback interval (~10 Hz).
constexpr std::chrono::milliseconds kProgressInterval{100};

// Divergence without NaN: a softmax output clamps the loss (log of 1e-12 at worst), so a
// learning rate far too high leaves a finite but hopeless loss. Training is stopped when
// the loss, smoothed over ~10 steps, stays above both kDivergedVsChance x ln(classes)
// (the loss of uniform guessing) and kDivergedVsStart x the first step's loss, checked
// from step kDivergenceMinSteps on. Healthy runs stay far below: that level means the
// true class gets under classes^-4 of the probability on average.
constexpr double kDivergenceSmoothing = 0.1;
constexpr double kDivergedVsChance = 4.0;
constexpr double kDivergedVsStart = 2.0;
constexpr int64_t kDivergenceMinSteps = 20;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fmt(double v) {
    std::ostringstream os;
    os.precision(4);
    os << v;
    return os.str();
}

Status validateConfig(const TrainConfig& c) {
    auto bad = [](const std::string& what) {
        return Status::error("invalid training configuration: " + what);
    };
    if (c.epochs < 1)
        return bad("epochs must be at least 1 (got " + std::to_string(c.epochs) + ")");
    if (c.batch < 1)
        return bad("batch size must be at least 1 (got " + std::to_string(c.batch) + ")");
    if (!std::isfinite(c.lr) || c.lr <= 0)
        return bad("learning rate must be a positive finite number (got " + fmt(c.lr) + ")");
    if (!std::isfinite(c.weightDecay) || c.weightDecay < 0)
        return bad("weight decay must be >= 0 (got " + fmt(c.weightDecay) + ")");
    if (c.optimizer == OptimizerKind::Sgd && !(c.momentum >= 0 && c.momentum < 1))
        return bad("SGD momentum must be in [0, 1) (got " + fmt(c.momentum) + ")");
    if (c.optimizer == OptimizerKind::Adam) {
        if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1))
            return bad("Adam betas must be in [0, 1) (got " + fmt(c.beta1) + ", " + fmt(c.beta2) +
                       ")");
        if (!std::isfinite(c.eps) || c.eps <= 0)
            return bad("Adam epsilon must be positive (got " + fmt(c.eps) + ")");
    }
    if (c.schedule == LrSchedule::Step) {
        if (c.stepSize < 1)
            return bad("step schedule: step size must be at least 1 epoch (got " +
                       std::to_string(c.stepSize) + ")");
        if (!std::isfinite(c.stepGamma) || c.stepGamma <= 0)
            return bad("step schedule: gamma must be positive (got " + fmt(c.stepGamma) + ")");
    }
    if (c.limitTrain < 0 || c.limitTest < 0)
        return bad("image limits must be >= 0 (0 = all)");
    return Status::ok();
}

// The model must map the dataset's samples to a class vector covering every label.
Status validateData(const Graph& graph, const Dataset& data, int64_t count) {
    const std::string what = "dataset '" + data.name + "'";
    const Shape out = graph.outputShape();
    if (out.size() != 1)
        return Status::error("model output '" + graph.outputNode().name + "' has shape " +
                             shapeToString(out) +
                             " but classification needs a [classes] vector (end the model "
                             "with Dense, optionally followed by Softmax)");
    const int64_t classes = out[0];
    if (data.sampleShape != graph.inputShape())
        return Status::error(what + " has images of shape " + shapeToString(data.sampleShape) +
                             " (HxWxC) but the model input '" + graph.inputNode().name +
                             "' expects " + shapeToString(graph.inputShape()) +
                             "; use a model built for this input shape");
    if (static_cast<int64_t>(data.images.size()) != data.size() * data.sampleSize())
        return Status::error(what + " holds " + std::to_string(data.images.size()) +
                             " pixel values, not " + std::to_string(data.size()) + " images of " +
                             shapeToString(data.sampleShape));
    for (int64_t i = 0; i < count; ++i) {
        const int32_t label = data.labels[static_cast<size_t>(i)];
        if (label < 0 || label >= classes)
            return Status::error(what + " has label " + std::to_string(label) + " (image " +
                                 std::to_string(i) + ") but the model has only " +
                                 std::to_string(classes) + " output classes; use a model with " +
                                 std::to_string(data.numClasses) + " outputs");
    }
    return Status::ok();
}

int64_t limitedCount(const Dataset& data, int64_t limit) {
    return limit > 0 ? std::min(limit, data.size()) : data.size();
}

// Uniform integer in [0, bound] from raw 64-bit draws (rejection, no modulo bias).
uint64_t boundedDraw(std::mt19937_64& rng, uint64_t bound) {
    if (bound == 0)
        return 0;
    const uint64_t range = bound + 1; // bound < size of a vector, so no overflow
    const uint64_t limit =
        std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
    uint64_t r;
    do {
        r = rng();
    } while (r >= limit);
    return r % range;
}

void shuffleIndices(std::vector<int64_t>& idx, std::mt19937_64& rng) {
    for (size_t i = idx.size(); i > 1; --i) {
        const size_t j = static_cast<size_t>(boundedDraw(rng, i - 1));
        std::swap(idx[i - 1], idx[j]);
    }
}

const char* nonFiniteName(double v) {
    return std::isnan(v) ? "NaN" : "infinite";
}

// Evaluates the first `count` samples; stops early when cancelled (count in the
// result says how many were seen).
EvalResult evaluateRange(Network& net, const Dataset& data, int64_t batch, int64_t count,
                         const CancelToken* cancel) {
    std::vector<int64_t> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), int64_t{0});
    Tensor x;
    std::vector<int32_t> y;
    double lossSum = 0;
    int64_t correct = 0;
    int64_t seen = 0;
    for (int64_t begin = 0; begin < count; begin += batch) {
        if (cancel && cancel->isCancelled())
            break;
        const int64_t end = std::min(begin + batch, count);
        const int64_t n = end - begin;
        data.gather(order, begin, end, x, y);
        const Tensor& out = net.forward(x, Phase::Eval);
        lossSum += net.crossEntropy(y) * static_cast<double>(n);
        correct += std::llround(top1Accuracy(out, y.data(), n) * static_cast<double>(n));
        seen += n;
    }
    EvalResult r;
    r.count = seen;
    if (seen > 0) {
        r.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        r.loss = lossSum / static_cast<double>(seen);
    }
    return r;
}

} // namespace

Result<EvalResult> evaluate(Network& net, const Dataset& data, int64_t batch, int64_t limit,
                            const CancelToken* cancel) {
    if (batch < 1)
        return Status::error("evaluation batch size must be at least 1 (got " +
                             std::to_string(batch) + ")");
    if (limit < 0)
        return Status::error("evaluation limit must be >= 0 (0 = all)");
    if (data.size() == 0)
        return Status::error("dataset '" + data.name + "' is empty; nothing to evaluate");
    const int64_t count = limitedCount(data, limit);
    QAT_RETURN_IF_ERROR(validateData(net.graph(), data, count));
    return evaluateRange(net, data, batch, count, cancel);
}

Result<TrainResult> train(Network& net, const Dataset& trainSet, const Dataset& testSet,
                          const TrainConfig& config, const CancelToken* cancel,
                          const TrainCallbacks& callbacks) {
    QAT_RETURN_IF_ERROR(validateConfig(config));
    if (trainSet.size() == 0)
        return Status::error("training set '" + trainSet.name + "' is empty");
    const int64_t trainCount = limitedCount(trainSet, config.limitTrain);
    const int64_t testCount = limitedCount(testSet, config.limitTest);
    QAT_RETURN_IF_ERROR(validateData(net.graph(), trainSet, trainCount));
    if (testCount > 0)
        QAT_RETURN_IF_ERROR(validateData(net.graph(), testSet, testCount));

    std::vector<ParamSlot> params = net.params();
    std::unique_ptr<Optimizer> optimizer = makeOptimizer(config);
    const int64_t stepsPerEpoch = (trainCount + config.batch - 1) / config.batch;
    const int64_t totalSteps = stepsPerEpoch * config.epochs;

    std::vector<int64_t> order(static_cast<size_t>(trainCount));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::mt19937_64 rng(config.seed);
    Tensor x;
    std::vector<int32_t> y;
    RateLimiter limiter(kProgressInterval);

    TrainResult result;
    const auto start = Clock::now();
    double trainSeconds = 0;
    int64_t trainImages = 0;
    int64_t globalStep = 0;
    auto isCancelled = [cancel] { return cancel && cancel->isCancelled(); };
    const double chanceLoss = std::log(static_cast<double>(net.graph().outputShape()[0]));
    const double divergedLoss = kDivergedVsChance * chanceLoss;
    double firstLoss = 0;
    double smoothedLoss = 0;
    auto finish = [&]() {
        result.seconds = secondsSince(start);
        result.imagesPerSecond =
            trainSeconds > 0 ? static_cast<double>(trainImages) / trainSeconds : 0.0;
        if (!result.epochs.empty())
            result.testAccuracy = result.epochs.back().testAccuracy;
        return result;
    };

    for (int epoch = 1; epoch <= config.epochs; ++epoch) {
        const auto epochStart = Clock::now();
        shuffleIndices(order, rng);
        double lossSum = 0;
        int64_t correct = 0;
        int64_t seen = 0;
        for (int64_t s = 0; s < stepsPerEpoch; ++s) {
            if (isCancelled()) {
                result.cancelled = true;
                return finish();
            }
            const auto stepStart = Clock::now();
            const int64_t begin = s * config.batch;
            const int64_t end = std::min(begin + config.batch, trainCount);
            const int64_t n = end - begin;
            trainSet.gather(order, begin, end, x, y);
            const Tensor& out = net.forward(x, Phase::Train);
            const double loss = net.crossEntropy(y);
            if (!std::isfinite(loss))
                return Status::error("training diverged at epoch " + std::to_string(epoch) +
                                     " step " + std::to_string(s + 1) + " (loss is " +
                                     nonFiniteName(loss) + "); lower the learning rate");
            if (globalStep == 0)
                firstLoss = smoothedLoss = loss;
            smoothedLoss += kDivergenceSmoothing * (loss - smoothedLoss);
            if (globalStep + 1 >= kDivergenceMinSteps && smoothedLoss > divergedLoss &&
                smoothedLoss > kDivergedVsStart * firstLoss)
                return Status::error("training diverged at epoch " + std::to_string(epoch) +
                                     " step " + std::to_string(s + 1) + " (loss " +
                                     fmt(smoothedLoss) + " over recent steps, worse than " +
                                     fmt(chanceLoss) + " for random guessing); lower the " +
                                     "learning rate");
            correct += std::llround(top1Accuracy(out, y.data(), n) * static_cast<double>(n));
            net.backwardCrossEntropy(y);
            const double lr = learningRateAt(config, globalStep, stepsPerEpoch);
            optimizer->step(params, lr);
            ++globalStep;
            trainSeconds += secondsSince(stepStart);
            trainImages += n;
            lossSum += loss * static_cast<double>(n);
            seen += n;

            const bool lastOfEpoch = s + 1 == stepsPerEpoch;
            if (callbacks.progress && limiter.ready(lastOfEpoch)) {
                TrainProgress p;
                p.epoch = epoch;
                p.epochs = config.epochs;
                p.step = globalStep;
                p.totalSteps = totalSteps;
                p.loss = lossSum / static_cast<double>(seen);
                p.trainAccuracy = static_cast<double>(correct) / static_cast<double>(seen);
                p.imagesPerSecond = static_cast<double>(trainImages) / trainSeconds;
                p.lr = lr;
                p.secondsElapsed = secondsSince(start);
                callbacks.progress(p);
            }
        }

        EpochResult er;
        er.epoch = epoch;
        er.trainLoss = lossSum / static_cast<double>(seen);
        er.trainAccuracy = static_cast<double>(correct) / static_cast<double>(seen);
        const bool lastEpoch = epoch == config.epochs;
        if (testCount > 0 && (config.evaluateEachEpoch || lastEpoch)) {
            EvalResult ev = evaluateRange(net, testSet, kEvalBatch, testCount, cancel);
            if (ev.count < testCount) { // cancelled mid-evaluation: the epoch is incomplete
                result.cancelled = true;
                return finish();
            }
            if (!std::isfinite(ev.loss))
                return Status::error("training diverged in epoch " + std::to_string(epoch) +
                                     " (test loss is " + nonFiniteName(ev.loss) +
                                     "); lower the learning rate");
            er.testLoss = ev.loss;
            er.testAccuracy = ev.accuracy;
        }
        er.seconds = secondsSince(epochStart);
        result.epochs.push_back(er);
        if (callbacks.epochDone)
            callbacks.epochDone(er);
    }
    return finish();
}

} // namespace qat
