// executeRun: the Float / PTQ / QAT pipelines with measured metrics.
#include "qat/experiment.h"

#include <chrono>

#include "qat/int_model.h"
#include "qat/metrics.h"
#include "qat/network.h"

namespace qat {

const char* runKindName(RunKind kind) {
    switch (kind) {
    case RunKind::Float:
        return "float";
    case RunKind::Ptq:
        return "ptq";
    case RunKind::Qat:
        return "qat";
    }
    return "?";
}

Result<RunKind> runKindFromName(const std::string& name) {
    for (auto k : {RunKind::Float, RunKind::Ptq, RunKind::Qat})
        if (name == runKindName(k))
            return k;
    return Status::error("unknown run kind '" + name + "' (use float, ptq or qat)");
}

const char* runStageName(RunStage stage) {
    switch (stage) {
    case RunStage::Training:
        return "training";
    case RunStage::Calibrating:
        return "calibrating";
    case RunStage::Evaluating:
        return "evaluating";
    case RunStage::Converting:
        return "converting";
    case RunStage::Measuring:
        return "measuring";
    case RunStage::Done:
        return "done";
    }
    return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Share of the whole run each stage takes, for one progress bar.
struct StagePlan {
    double trainShare = 0.0;
    double afterTrain = 0.0;
};

} // namespace

Result<RunResult> executeRun(Graph& graph, const DatasetSplits& data, const RunSpec& spec,
                             const CancelToken* cancel, const RunCallbacks& callbacks) {
    const auto start = Clock::now();
    RunResult result;
    result.spec = spec;
    QAT_RETURN_IF_ERROR(checkCompatible(
        data.train, graph.inputShape(),
        graph.outputShape().empty() ? 0 : graph.outputShape().back(), graph.outputNode().name));
    const bool trains =
        spec.kind == RunKind::Float ? spec.train.epochs > 0 : spec.kind == RunKind::Qat;
    const double trainShare = trains ? 0.85 : 0.0;
    auto report = [&](RunStage stage, double fraction, const std::string& message,
                      const TrainProgress* tp = nullptr) {
        if (!callbacks.progress)
            return;
        RunProgress p;
        p.stage = stage;
        p.fraction = std::clamp(fraction, 0.0, 1.0);
        p.message = message;
        const double elapsed = secondsSince(start);
        if (p.fraction > 0.02)
            p.etaSeconds = elapsed * (1.0 - p.fraction) / p.fraction;
        if (tp)
            p.train = *tp;
        callbacks.progress(p);
    };
    TrainCallbacks tcb;
    tcb.progress = [&](const TrainProgress& tp) {
        const double f = tp.totalSteps > 0 ? static_cast<double>(tp.step) / tp.totalSteps : 0.0;
        CurvePoint c;
        c.step = tp.step;
        c.epoch = (tp.epoch - 1) + (tp.totalSteps > 0 ? f * tp.epochs - (tp.epoch - 1) : 0.0);
        c.loss = tp.loss;
        c.trainAccuracy = tp.trainAccuracy;
        result.curve.push_back(c);
        if (callbacks.curvePoint)
            callbacks.curvePoint(c);
        report(RunStage::Training, f * trainShare, "training", &tp);
    };
    tcb.epochDone = [&](const EpochResult& e) {
        result.epochs.push_back(e);
        if (callbacks.epochDone)
            callbacks.epochDone(e);
    };

    const double measureShare = spec.measureLatency ? 0.05 : 0.0;
    if (spec.kind == RunKind::Float) {
        auto net = Network::create(graph, spec.train.seed);
        if (!net)
            return net.status();
        if (spec.train.epochs > 0) {
            report(RunStage::Training, 0.0, "training");
            auto tr = train(*net.value(), data.train, data.test, spec.train, cancel, tcb);
            if (!tr)
                return tr.status();
            result.metrics.trainImagesPerSecond = tr->imagesPerSecond;
            if (tr->cancelled) {
                result.cancelled = true;
                result.metrics.seconds = secondsSince(start);
                return result;
            }
        }
        report(RunStage::Evaluating, trainShare, "evaluating the float model");
        auto ev = evaluate(*net.value(), data.test, 256, spec.evalLimit, cancel);
        if (!ev)
            return ev.status();
        result.metrics.floatAccuracy = ev->accuracy;
        report(RunStage::Measuring, 1.0 - measureShare - 0.02, "measuring size");
        auto sizes = measureModelSizes(graph, nullptr);
        if (!sizes)
            return sizes.status();
        result.metrics.floatTfliteBytes = sizes->floatBytes;
        if (spec.measureLatency) {
            report(RunStage::Measuring, 1.0 - measureShare, "measuring latency");
            auto lat = measureLatency(graph, nullptr, spec.latencyRepeats);
            if (!lat)
                return lat.status();
            result.metrics.latency = lat.value();
        }
        result.metrics.seconds = secondsSince(start);
        report(RunStage::Done, 1.0, "done");
        return result;
    }

    QuantizeConfig qc;
    qc.mode = spec.kind == RunKind::Qat ? QuantMode::Qat : QuantMode::Ptq;
    qc.train = spec.train;
    qc.calibrationBatches = spec.calibrationBatches;
    qc.qat = spec.qat;
    qc.evalLimit = spec.evalLimit;
    report(RunStage::Calibrating, 0.0, "calibrating activation ranges");
    auto q = quantizeModel(graph, spec.plan, data.train, data.test, qc, cancel, tcb);
    if (!q)
        return q.status();
    result.metrics.floatAccuracy = q->floatAccuracy;
    result.metrics.fakeQuantAccuracy = q->fakeQuantAccuracy;
    result.metrics.trainImagesPerSecond = q->training.imagesPerSecond;
    result.state = q->state;
    if (q->cancelled) {
        result.cancelled = true;
        result.metrics.seconds = secondsSince(start);
        return result;
    }
    report(RunStage::Converting, trainShare + 0.02, "converting to integers");
    auto model = convertToIntModel(graph, spec.plan, q->state);
    if (!model)
        return model.status();
    report(RunStage::Evaluating, trainShare + 0.04, "evaluating the integer model");
    auto iacc = integerAccuracy(model.value(), data.test, spec.evalLimit, spec.rounding, cancel);
    if (!iacc) {
        if (cancel && cancel->isCancelled()) {
            result.cancelled = true;
            return result;
        }
        return iacc.status();
    }
    result.metrics.integerAccuracy = iacc.value();
    report(RunStage::Measuring, 1.0 - measureShare - 0.02, "measuring size");
    auto sizes = measureModelSizes(graph, &model.value());
    if (!sizes)
        return sizes.status();
    result.metrics.floatTfliteBytes = sizes->floatBytes;
    result.metrics.int8TfliteBytes = sizes->int8Bytes;
    if (spec.measureLatency) {
        report(RunStage::Measuring, 1.0 - measureShare, "measuring latency");
        auto lat = measureLatency(graph, &model.value(), spec.latencyRepeats);
        if (!lat)
            return lat.status();
        result.metrics.latency = lat.value();
    }
    result.metrics.seconds = secondsSince(start);
    report(RunStage::Done, 1.0, "done");
    return result;
}

} // namespace qat
