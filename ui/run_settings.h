// The run controls' values and how they become an engine RunSpec. Defaults suit a 2-core
// machine: a short float training, a one-epoch QAT fine-tune at a tenth of the rate.
#pragma once

#include <QJsonObject>
#include <QString>

#include "engine_types.h"
#include "qat/experiment.h"

namespace qatui {

struct RunSettings {
    int floatEpochs = 2;
    double floatLr = 1e-3;
    int qatEpochs = 1;
    double qatLr = 1e-4;
    qint64 batch = 64;
    qint64 calibrationBatches = 32;
    qint64 freezeBnAfter = -1;        // training steps; -1 = never
    qint64 freezeObserversAfter = -1; // training steps; -1 = never
    quint64 seed = 0;
    qint64 limitTrain = 0; // 0 = all training images
    qint64 limitTest = 0;  // 0 = the whole test split
    bool measureLatency = true;
    int latencyRepeats = 20;
    // Integer executor requantization: LiteRT/XNNPACK single rounding (default) or the
    // double rounding of TFLite's builtin reference kernels.
    bool doubleRounding = false;

    bool operator==(const RunSettings&) const = default;
};

// The engine spec for one run of `kind` (the plan is used by PTQ and QAT only).
qat::RunSpec makeRunSpec(qat::RunKind kind, const RunSettings& settings, const qat::QuantPlan& plan,
                         const QString& name);

// The settings a run was made with, as stored with the run (RunRecord::settingsJson).
// `startFrom` names where its starting weights came from; `planSummary` is one line.
QJsonObject runSettingsJson(const qat::RunSpec& spec, const QString& startFrom,
                            const QString& planSummary);

// Import settings of an ONNX / .tflite model as stored with its runs.
QJsonObject importSettingsJson(const ImportSettings& import);

// The fields that decide a float run's outcome: two float runs with equal keys (same model
// and dataset) give the same trained model, so the comparison may reuse one.
QJsonObject floatRunKey(const QJsonObject& settings);

// Remembered between sessions (QSettings group "run").
RunSettings loadRunSettings();
void saveRunSettings(const RunSettings& settings);

} // namespace qatui
