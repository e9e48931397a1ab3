// EngineWorker: runs and exports on the engine thread (see engine_worker.h).
#include "engine_worker.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QUuid>

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <optional>
#include <span>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "engine_tasks.h"
#include "qat/importers.h"
#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/tflite_export.h"
#include "qat/tflite_int_export.h"
#include "run_json.h"
#include "run_settings.h"

namespace qatui {

namespace {

QString fromStd(const std::string& s) {
    return QString::fromStdString(s);
}

// Progress and curve batches go to the GUI at most this often; stage changes always.
constexpr qint64 kSignalIntervalMs = 100;

QString artefactPath(const QString& runsDir, qat::RunKind kind) {
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-hhmmss"));
    const QString id = QUuid::createUuid().toString(QUuid::Id128).left(8);
    return QDir(runsDir).filePath(QStringLiteral("%1-%2-%3.qatm")
                                      .arg(stamp, QString::fromLatin1(qat::runKindName(kind)), id));
}

// Test images the exported file is checked on.
constexpr int64_t kValidationImages = 64;

// The engine's integer check: the model read back from the file vs the run's integer
// model, both on the reference executor.
std::pair<bool, QString> validateInteger(std::span<const uint8_t> bytes, const qat::IntModel& model,
                                         const qat::Dataset& test) {
    auto v = qat::validateIntTflite(bytes, model, test, kValidationImages);
    if (!v)
        return {false,
                QStringLiteral("the file could not be read back: %1").arg(fromStd(v.message()))};
    const auto& r = v.value();
    return {r.passed(),
            QStringLiteral("%1: read back and run on %2 test images, the file agrees with the "
                           "run's integer model — largest difference %3 LSB (%4 values over 1 "
                           "LSB%5), same top-1 class on %6 of %2 images")
                .arg(r.passed() ? QStringLiteral("passed") : QStringLiteral("FAILED"))
                .arg(r.images)
                .arg(r.maxLsbDifference)
                .arg(r.valuesOverOneLsb)
                .arg(r.maxAbsDifference > 0 ? QStringLiteral(", float outputs within %1")
                                                  .arg(r.maxAbsDifference, 0, 'g', 3)
                                            : QString())
                .arg(r.top1Agreements)};
}

// Float files: re-imported with the engine's .tflite importer and run next to the run's
// model on the same test images (both float32 on oneDNN).
std::pair<bool, QString> validateFloat(std::span<const uint8_t> bytes, const QString& path,
                                       qat::Graph& original, const qat::Dataset& test) {
    auto imported = qat::importTfliteBytes(bytes, path.toStdString());
    if (!imported)
        return {false, QStringLiteral("the engine's .tflite importer rejects the file: %1")
                           .arg(fromStd(imported.message()))};
    if (!imported->report.supported || !imported->graph)
        return {false, QStringLiteral("the engine's .tflite importer cannot represent the file: %1")
                           .arg(fromStd(qat::formatCoverageReport(imported->report)))};
    qat::Graph& reread = *imported->graph;
    auto netA = qat::Network::create(original);
    auto netB = qat::Network::create(reread);
    if (!netA || !netB)
        return {false, fromStd(!netA ? netA.message() : netB.message())};
    const int64_t n = std::min<int64_t>(kValidationImages, test.size());
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    qat::Tensor batch;
    std::vector<int32_t> labels;
    test.gather(idx, 0, n, batch, labels);
    const qat::Tensor a = netA.value()->forward(batch, qat::Phase::Eval);
    const qat::Tensor& b = netB.value()->forward(batch, qat::Phase::Eval);
    if (a.shape() != b.shape())
        return {false, QStringLiteral("the re-imported model's output shape %1 differs from %2")
                           .arg(fromStd(qat::shapeToString(b.shape())),
                                fromStd(qat::shapeToString(a.shape())))};
    const int64_t classes = a.size() / n;
    double maxAbs = 0;
    int64_t agree = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float* pa = a.data() + i * classes;
        const float* pb = b.data() + i * classes;
        for (int64_t c = 0; c < classes; ++c)
            maxAbs = std::max(maxAbs, static_cast<double>(std::abs(pa[c] - pb[c])));
        agree += std::max_element(pa, pa + classes) - pa == std::max_element(pb, pb + classes) - pb;
    }
    // Float32 programs that differ only in summation order and BatchNorm folding.
    constexpr double kTolerance = 1e-4;
    const bool ok = maxAbs <= kTolerance && agree == n;
    return {ok, QStringLiteral("%1: re-imported with the engine's .tflite importer and run on %2 "
                               "test images next to the run's model — largest output difference "
                               "%3, same top-1 class on %4 of %2 images")
                    .arg(ok ? QStringLiteral("passed") : QStringLiteral("FAILED"))
                    .arg(n)
                    .arg(maxAbs, 0, 'g', 3)
                    .arg(agree)};
}

QStringList weightedLayers(const qat::Graph& graph) {
    QStringList names;
    for (const auto& b : qat::findQuantBlocks(graph))
        if (b.hasWeights())
            names.push_back(fromStd(b.anchor));
    return names;
}

} // namespace

EngineWorker::EngineWorker(std::shared_ptr<DatasetCache> cache) : m_cache(std::move(cache)) {}

void EngineWorker::lowerThreadPriority() {
#ifdef Q_OS_LINUX
    // Linux nice values are per thread and inherited by the OpenMP/oneDNN threads this
    // thread creates, so training never competes with the GUI thread on equal terms
    // (measured on a loaded 2-core machine: worst GUI timer gap ~50 ms with it, ~190 ms
    // without). The price: latency measured while other programs load the CPU is
    // inflated more than it would be at normal priority; on an otherwise idle machine
    // the nice value changes nothing.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
}

void EngineWorker::runJob(const RunJob& job) {
    try {
        if (job.cancel && job.cancel->isCancelled()) {
            emit jobFinished(job.id, true, {});
            return;
        }
        auto data = m_cache->get(job.dataset);
        if (!data) {
            emit jobFinished(job.id, false, fromStd(data.message()));
            return;
        }
        QVector<QString> artefacts(job.steps.size());
        for (int i = 0; i < job.steps.size(); ++i) {
            bool cancelled = false;
            const QString error = runStep(job, i, *data.value(), artefacts, cancelled);
            if (cancelled || !error.isEmpty()) {
                emit jobFinished(job.id, cancelled, error);
                return;
            }
        }
        emit jobFinished(job.id, false, {});
    } catch (const std::exception& e) {
        // Exceptions never cross the thread boundary: report and stay alive.
        emit jobFinished(
            job.id, false,
            QStringLiteral("internal error: %1").arg(QString::fromLocal8Bit(e.what())));
    }
}

QString EngineWorker::runStep(const RunJob& job, int index, const qat::DatasetSplits& data,
                              QVector<QString>& artefacts, bool& cancelled) {
    const RunStep& step = job.steps[index];
    const qat::RunSpec& spec = step.spec;
    const QString name = fromStd(spec.name);
    emit stepStarted(job.id, index, static_cast<int>(job.steps.size()), name, spec.kind);

    // Starting weights: an earlier step's artefact, a given model file, or the model itself.
    QString source = step.model;
    QString startFrom = step.weightsLabel;
    if (step.weightsFromStep >= 0) {
        source = artefacts.value(step.weightsFromStep);
        if (source.isEmpty())
            return QStringLiteral("%1: the step it starts from produced no model").arg(name);
    } else if (!step.weightsFrom.isEmpty()) {
        source = step.weightsFrom;
    }
    if (startFrom.isEmpty())
        startFrom =
            isZooModel(source)
                ? QStringLiteral("%1 (initialized, seed %2)").arg(source).arg(spec.train.seed)
                : source;
    // Import settings belong to the original file; artefacts are QAT Lab model files.
    const bool original = source == step.model;
    auto graph = loadModelSource(source, &data.train, spec.train.seed,
                                 original ? step.import : ImportSettings());
    if (!graph)
        return fromStd(graph.message());
    if (spec.kind != qat::RunKind::Float) {
        const auto st = qat::validatePlan(graph.value(), spec.plan);
        if (!st)
            return QStringLiteral("%1: the quantization plan is invalid: %2")
                .arg(name, fromStd(st.message()));
    }

    QElapsedTimer progressClock;
    QElapsedTimer curveClock;
    progressClock.start();
    curveClock.start();
    qat::RunStage lastStage = qat::RunStage::Done;
    QVector<qat::CurvePoint> pending;
    const int steps = static_cast<int>(job.steps.size());
    auto flushCurve = [&] {
        if (!pending.isEmpty()) {
            emit curvePoints(job.id, pending);
            pending.clear();
        }
        curveClock.restart();
    };
    qat::RunCallbacks callbacks;
    callbacks.progress = [&](const qat::RunProgress& p) {
        const bool stageChanged = p.stage != lastStage;
        if (!stageChanged && p.stage != qat::RunStage::Done &&
            progressClock.elapsed() < kSignalIntervalMs)
            return;
        lastStage = p.stage;
        progressClock.restart();
        JobProgress jp;
        jp.jobId = job.id;
        jp.step = index;
        jp.steps = steps;
        jp.stepName = name;
        jp.kind = spec.kind;
        jp.stage = p.stage;
        jp.stepFraction = p.fraction;
        jp.fraction = (index + p.fraction) / steps;
        jp.etaSeconds = p.etaSeconds;
        jp.message = fromStd(p.message);
        jp.training = p.stage == qat::RunStage::Training;
        jp.train = p.train;
        emit progress(jp);
    };
    callbacks.curvePoint = [&](const qat::CurvePoint& c) {
        pending.push_back(c);
        if (curveClock.elapsed() >= kSignalIntervalMs)
            flushCurve();
    };
    callbacks.epochDone = [&](const qat::EpochResult& e) {
        flushCurve();
        emit epochDone(job.id, e);
    };

    auto result = qat::executeRun(graph.value(), data, spec, job.cancel.get(), callbacks);
    flushCurve();
    if (!result)
        return QStringLiteral("%1: %2").arg(name, fromStd(result.message()));
    QString path;
    if (result->cancelled) {
        // A cancelled run keeps what it measured so far (curves, epochs) as a record
        // marked cancelled, without a model file; nothing is kept when it had not started
        // training yet.
        cancelled = true;
        if (result->curve.empty() && result->epochs.empty())
            return {};
    } else {
        if (!QDir().mkpath(job.runsDir))
            return QStringLiteral("%1: cannot create the runs directory '%2'")
                .arg(name, job.runsDir);
        path = artefactPath(job.runsDir, spec.kind);
        const auto saved = spec.kind == qat::RunKind::Float
                               ? qat::saveModel(graph.value(), path.toStdString())
                               : qat::saveQuantizedModel(graph.value(), spec.plan, result->state,
                                                         path.toStdString());
        if (!saved)
            return QStringLiteral("%1: saving the trained model failed: %2")
                .arg(name, fromStd(saved.message()));
        artefacts[index] = path;
    }

    RunRecord rec;
    rec.cancelled = result->cancelled;
    rec.name = name;
    rec.kind = spec.kind;
    rec.model = step.model;
    rec.dataset = job.dataset;
    if (spec.kind != qat::RunKind::Float)
        rec.planJson = fromStd(qat::planToJson(spec.plan));
    const QString summary = spec.kind == qat::RunKind::Float
                                ? QStringLiteral("float")
                                : planSummary(rec.planJson, weightedLayers(graph.value()));
    QJsonObject settings = runSettingsJson(spec, startFrom, summary);
    if (!step.import.isEmpty())
        settings["import"] = importSettingsJson(step.import);
    rec.settingsJson = toJsonText(settings);
    rec.metrics = result->metrics;
    rec.curve = QVector<qat::CurvePoint>(result->curve.begin(), result->curve.end());
    rec.epochs = QVector<qat::EpochResult>(result->epochs.begin(), result->epochs.end());
    rec.artefactPath = path;
    rec.created = QDateTime::currentDateTime();
    emit runFinished(job.id, rec);
    return {};
}

void EngineWorker::exportRun(const ExportRequest& request) {
    ExportResult res;
    res.id = request.id;
    res.path = request.path;
    try {
        auto file = qat::loadQuantizedModel(request.run.artefactPath.toStdString());
        if (!file) {
            res.error =
                QStringLiteral("cannot read the run's model: %1").arg(fromStd(file.message()));
            emit exportFinished(res);
            return;
        }
        qat::TfliteExportReport report;
        qat::Result<std::vector<uint8_t>> fresh = std::vector<uint8_t>();
        std::optional<qat::IntModel> intModel;
        if (request.integer) {
            if (!file->quantized) {
                res.error = QStringLiteral("this run's model has no quantization plan (a float "
                                           "run): export it as float32, or run PTQ/QAT from it");
                emit exportFinished(res);
                return;
            }
            qat::IntConvertOptions convert;
            convert.floatIo = request.floatIo;
            auto model = qat::convertToIntModel(file->graph, file->plan, file->state, convert);
            if (!model) {
                res.error = fromStd(model.message());
                emit exportFinished(res);
                return;
            }
            qat::IntExportOptions options;
            options.int4Weights = request.int4Weights;
            std::vector<std::string> warnings;
            const auto st = qat::exportIntTflite(model.value(), request.path.toStdString(), options,
                                                 &report, &warnings);
            if (!st) {
                res.error = fromStd(st.message());
                emit exportFinished(res);
                return;
            }
            for (const auto& w : warnings)
                res.warnings.push_back(fromStd(w));
            res.format = request.floatIo ? QStringLiteral("int8, float32 input/output")
                                         : QStringLiteral("int8, int8 input/output");
            if (request.int4Weights)
                res.format += QStringLiteral(", INT4 weights");
            fresh = qat::exportIntTfliteBytes(model.value(), options);
            intModel = std::move(model).value();
        } else {
            const auto st =
                qat::exportFloatTflite(file->graph, request.path.toStdString(), &report);
            if (!st) {
                res.error = fromStd(st.message());
                emit exportFinished(res);
                return;
            }
            res.format = QStringLiteral("float32");
            fresh = qat::exportFloatTfliteBytes(file->graph);
        }
        res.bytes = report.totalBytes;
        res.weightBytes = report.weightBytes() + report.biasBytes();

        // Read the written file back: it must be what the exporter produced, and it must
        // compute what the run's model computes on test images.
        QFile written(request.path);
        QByteArray bytes;
        if (written.open(QIODevice::ReadOnly))
            bytes = written.readAll();
        const bool same = fresh && static_cast<qsizetype>(fresh->size()) == bytes.size() &&
                          std::equal(fresh->begin(), fresh->end(),
                                     reinterpret_cast<const uint8_t*>(bytes.constData()));
        if (!same) {
            res.validation = QStringLiteral("the file on disk (%1 bytes) is not what the exporter "
                                            "wrote (%2 bytes)")
                                 .arg(bytes.size())
                                 .arg(report.totalBytes);
        } else {
            auto data = m_cache->get(request.run.dataset);
            if (!data) {
                res.validation = QStringLiteral("written, but not validated: the run's dataset "
                                                "did not load (%1)")
                                     .arg(fromStd(data.message()));
            } else {
                const std::span<const uint8_t> span(
                    reinterpret_cast<const uint8_t*>(bytes.constData()),
                    static_cast<size_t>(bytes.size()));
                const auto v =
                    request.integer
                        ? validateInteger(span, *intModel, data.value()->test)
                        : validateFloat(span, request.path, file->graph, data.value()->test);
                res.validated = v.first;
                res.validation = v.second;
            }
        }
        res.ok = res.validated;
        if (!res.ok)
            res.error = QStringLiteral("validation failed: %1").arg(res.validation);
    } catch (const std::exception& e) {
        res.ok = false;
        res.error = QStringLiteral("internal error: %1").arg(QString::fromLocal8Bit(e.what()));
    }
    emit exportFinished(res);
}

} // namespace qatui
