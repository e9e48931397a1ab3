// RunSettings -> RunSpec, the per-run settings JSON, and their QSettings persistence.
#include "run_settings.h"

#include <QJsonArray>
#include <QSettings>

namespace qatui {

qat::RunSpec makeRunSpec(qat::RunKind kind, const RunSettings& s, const qat::QuantPlan& plan,
                         const QString& name) {
    qat::RunSpec spec;
    spec.name = name.toStdString();
    spec.kind = kind;
    const bool qat = kind == qat::RunKind::Qat;
    spec.train.epochs = kind == qat::RunKind::Ptq ? 0 : (qat ? s.qatEpochs : s.floatEpochs);
    spec.train.lr = qat ? s.qatLr : s.floatLr;
    spec.train.batch = s.batch;
    spec.train.optimizer = qat::OptimizerKind::Adam;
    spec.train.seed = s.seed;
    spec.train.limitTrain = s.limitTrain;
    spec.train.limitTest = s.limitTest;
    spec.evalLimit = s.limitTest;
    spec.calibrationBatches = s.calibrationBatches;
    spec.qat.freezeBnAfter = s.freezeBnAfter;
    spec.qat.freezeObserversAfter = s.freezeObserversAfter;
    spec.measureLatency = s.measureLatency;
    spec.latencyRepeats = s.latencyRepeats;
    spec.rounding = s.doubleRounding ? qat::Rounding::Double : qat::Rounding::Single;
    if (kind != qat::RunKind::Float)
        spec.plan = plan;
    return spec;
}

QJsonObject runSettingsJson(const qat::RunSpec& spec, const QString& startFrom,
                            const QString& planSummary) {
    QJsonObject o;
    o["epochs"] = spec.train.epochs;
    o["lr"] = spec.train.lr;
    o["batch"] = static_cast<double>(spec.train.batch);
    o["optimizer"] = spec.train.optimizer == qat::OptimizerKind::Adam ? "adam" : "sgd";
    o["seed"] = static_cast<double>(spec.train.seed);
    o["limit_train"] = static_cast<double>(spec.train.limitTrain);
    o["limit_test"] = static_cast<double>(spec.evalLimit);
    if (spec.kind != qat::RunKind::Float) {
        o["calibration_batches"] = static_cast<double>(spec.calibrationBatches);
        o["freeze_bn_after"] = static_cast<double>(spec.qat.freezeBnAfter);
        o["freeze_observers_after"] = static_cast<double>(spec.qat.freezeObserversAfter);
        o["rounding"] = spec.rounding == qat::Rounding::Double ? "double" : "single";
    }
    o["measure_latency"] = spec.measureLatency;
    o["latency_repeats"] = spec.latencyRepeats;
    o["start_from"] = startFrom;
    o["plan_summary"] = planSummary;
    return o;
}

QJsonObject importSettingsJson(const ImportSettings& import) {
    QJsonObject o;
    QJsonArray mean, scale;
    for (float v : import.mean)
        mean.append(v);
    for (float v : import.scale)
        scale.append(v);
    o["mean"] = mean;
    o["scale"] = scale;
    o["output"] = import.output;
    return o;
}

QJsonObject floatRunKey(const QJsonObject& settings) {
    QJsonObject key;
    for (const char* field : {"epochs", "lr", "batch", "optimizer", "seed", "limit_train",
                              "limit_test", "start_from", "import"})
        key[field] = settings.value(field);
    return key;
}

RunSettings loadRunSettings() {
    QSettings q;
    q.beginGroup("run");
    RunSettings d;
    RunSettings s;
    s.floatEpochs = q.value("floatEpochs", d.floatEpochs).toInt();
    s.floatLr = q.value("floatLr", d.floatLr).toDouble();
    s.qatEpochs = q.value("qatEpochs", d.qatEpochs).toInt();
    s.qatLr = q.value("qatLr", d.qatLr).toDouble();
    s.batch = q.value("batch", d.batch).toLongLong();
    s.calibrationBatches = q.value("calibrationBatches", d.calibrationBatches).toLongLong();
    s.freezeBnAfter = q.value("freezeBnAfter", d.freezeBnAfter).toLongLong();
    s.freezeObserversAfter = q.value("freezeObserversAfter", d.freezeObserversAfter).toLongLong();
    s.seed = q.value("seed", d.seed).toULongLong();
    s.limitTrain = q.value("limitTrain", d.limitTrain).toLongLong();
    s.limitTest = q.value("limitTest", d.limitTest).toLongLong();
    s.measureLatency = q.value("measureLatency", d.measureLatency).toBool();
    s.latencyRepeats = q.value("latencyRepeats", d.latencyRepeats).toInt();
    s.doubleRounding = q.value("doubleRounding", d.doubleRounding).toBool();
    return s;
}

void saveRunSettings(const RunSettings& s) {
    QSettings q;
    q.beginGroup("run");
    q.setValue("floatEpochs", s.floatEpochs);
    q.setValue("floatLr", s.floatLr);
    q.setValue("qatEpochs", s.qatEpochs);
    q.setValue("qatLr", s.qatLr);
    q.setValue("batch", s.batch);
    q.setValue("calibrationBatches", s.calibrationBatches);
    q.setValue("freezeBnAfter", s.freezeBnAfter);
    q.setValue("freezeObserversAfter", s.freezeObserversAfter);
    q.setValue("seed", s.seed);
    q.setValue("limitTrain", s.limitTrain);
    q.setValue("limitTest", s.limitTest);
    q.setValue("measureLatency", s.measureLatency);
    q.setValue("latencyRepeats", s.latencyRepeats);
    q.setValue("doubleRounding", s.doubleRounding);
}

} // namespace qatui
