// Value types that cross the GUI <-> engine thread boundary. Everything here is copied
// into queued signals: no pointers to mutable engine objects, only immutable shared data
// (a loaded dataset, a loaded graph for plan building) behind shared_ptr<const>.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>

#include "qat/dataset.h"
#include "qat/experiment.h"
#include "qat/graph.h"
#include "qat/quant_plan.h"
#include "qat/runtime.h"
#include "run_record.h"

namespace qatui {

// How an ONNX / .tflite file is imported (qat::ImportOptions as the user typed them):
// model_input = (data - mean) * scale, per channel or one value; and optionally the
// tensor to import as the output. Empty fields: no normalisation, the file's output.
struct ImportSettings {
    QVector<float> mean;
    QVector<float> scale;
    QString output;
    bool isEmpty() const { return mean.isEmpty() && scale.isEmpty() && output.isEmpty(); }
    bool operator==(const ImportSettings&) const = default;
};

// One run of a job. Its starting weights come from `weightsFrom` (a model file), from the
// artefact of an earlier step of the same job (`weightsFromStep`), or else from `model`
// itself (a zoo model gets freshly initialized weights shaped for the dataset).
struct RunStep {
    qat::RunSpec spec;
    QString model;            // zoo name or model file the experiment is about
    QString weightsFrom;      // model file holding the starting weights, or empty
    int weightsFromStep = -1; // index of an earlier step whose artefact holds them, or -1
    QString weightsLabel;     // where the weights came from, for the run's settings
    ImportSettings import;    // for an ONNX / .tflite `model`
};

// A sequence of runs executed by the worker in order; the "Run comparison" action is one
// job (float, PTQ, QAT). Cancelling stops the job within one batch.
struct RunJob {
    quint64 id = 0;
    QString dataset;
    QVector<RunStep> steps;
    QString runsDir;                          // where artefacts are written
    std::shared_ptr<qat::CancelToken> cancel; // set by the controller, read by the worker
};

// The latest progress of a job (throttled by the worker; the GUI samples it on a timer).
struct JobProgress {
    quint64 jobId = 0;
    int step = 0; // 0-based
    int steps = 1;
    QString stepName;
    qat::RunKind kind = qat::RunKind::Float;
    qat::RunStage stage = qat::RunStage::Training;
    double stepFraction = 0; // 0..1 within the step
    double fraction = 0;     // 0..1 over the whole job
    double etaSeconds = -1;  // of the current step; -1 = unknown
    QString message;
    bool training = false;
    qat::TrainProgress train;
};

// One node of the loaded model as the layer table shows it.
struct LayerInfo {
    enum class Role {
        Input,     // the model input: quantized by the plan's input quantizer
        Anchor,    // a quantizable block (findQuantBlocks anchor): a row of the plan
        Fused,     // BatchNorm / activation executed inside an anchor's block
        SameScale, // pooling, reshape, padding, dropout: shares its input's grid
    };
    QString name;
    QString type;
    QString outputShape;
    qint64 params = 0;
    qint64 macs = 0; // multiply-accumulates per sample (conv, depthwise, dense)
    Role role = Role::SameScale;
    bool hasWeights = false; // anchors with a weight quantizer (conv, depthwise, dense)
    QString fusedInto;       // Fused: the anchor
};

struct ModelSummary {
    QString source;      // zoo name or file path
    QString displayName; // zoo name or file name
    bool isZoo = false;
    QString inputShape;
    int classes = 0;
    qint64 params = 0;
    qint64 macs = 0;
    QVector<LayerInfo> layers;
    std::shared_ptr<const qat::Graph> graph; // immutable; used by plan tasks off the GUI thread
};

struct DatasetInfo {
    QString name;   // what the user chose: "fashion-mnist", a directory, ...
    QString source; // where it was loaded from
    QString sampleShape;
    qint64 trainCount = 0;
    qint64 testCount = 0;
    int classes = 0;
    std::shared_ptr<const qat::DatasetSplits> data;
};

// Result of loading a model and a dataset together (zoo models take the dataset's shape).
struct ExperimentInfo {
    quint64 requestId = 0;
    QString modelSource;
    QString datasetName;
    bool modelOk = false;
    QString modelError;
    ImportSettings import; // as requested
    QString importReport;  // ONNX / .tflite: the importer's coverage report
    ModelSummary model;
    bool datasetOk = false;
    QString datasetError;
    DatasetInfo dataset;
    QString compatibilityError; // empty when the dataset fits the model
    QString preset;
    bool planOk = false;
    QString planError;
    qat::QuantPlan plan; // the preset's plan for the model
};

struct PlanResult {
    quint64 requestId = 0;
    QString preset;
    bool ok = false;
    QString error;
    qat::QuantPlan plan;
};

struct PlanValidation {
    quint64 requestId = 0;
    bool ok = false;
    QString message;
};

struct ExportRequest {
    quint64 id = 0;
    RunRecord run;
    QString path;
    bool integer = false;     // full-integer export (PTQ/QAT runs)
    bool floatIo = false;     // integer export with float input/output
    bool int4Weights = false; // integer export: 2-4 bit weights as TensorType INT4
};

struct ExportResult {
    quint64 id = 0;
    bool ok = false;
    QString error;
    QString path;
    qint64 bytes = 0;
    qint64 weightBytes = 0;
    QString format;     // "float32" / "int8"
    QString validation; // what was checked and how it came out
    bool validated = false;
    QStringList warnings; // what the file cannot express exactly (from the exporter)
};

// Registers the types above (and the engine structs they carry) for queued connections.
void registerEngineMetaTypes();

} // namespace qatui
