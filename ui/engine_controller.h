// EngineController: the GUI thread's only door to the engine (DESIGN.md section 3).
// It owns a QThread with an EngineWorker for runs and exports (queued signals carrying
// value types), runs short engine tasks (model inspection, plan building, validation)
// on QtConcurrent's pool, and cancels by setting the jobs' CancelTokens directly — a
// queued cancel would wait behind the busy worker. Destruction: cancel, quit, wait.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <QVector>

#include <memory>

#include "dataset_cache.h"
#include "engine_types.h"

namespace qatui {

class EngineWorker;

class EngineController : public QObject {
    Q_OBJECT
public:
    explicit EngineController(QObject* parent = nullptr);
    ~EngineController() override;

    // Queues a job on the worker; returns its id. Jobs run one after another.
    quint64 startJob(RunJob job);
    // Cancels the running job and every queued one (returns at once; the worker stops
    // within one batch and reports jobFinished(cancelled = true)).
    void cancelAll();
    bool isBusy() const { return !m_activeJobs.isEmpty(); }
    int pendingJobs() const { return static_cast<int>(m_activeJobs.size()); }

    quint64 exportRun(ExportRequest request);

    // Background tasks; each answers with the signal of the same name and the request id.
    quint64 inspect(const QString& modelSource, const QString& datasetName, const QString& preset,
                    const ImportSettings& import = {});
    quint64 buildPlan(std::shared_ptr<const qat::Graph> graph, const QString& preset);
    quint64 validatePlan(std::shared_ptr<const qat::Graph> graph, const qat::QuantPlan& plan);

    // The newest progress report, and whether it changed since the last call (the GUI
    // samples it on a timer instead of redrawing per signal).
    bool takeProgress(JobProgress& out);

    std::shared_ptr<DatasetCache> datasetCache() const { return m_cache; }

    // Cancels, stops the thread and waits for it (also done by the destructor).
    void shutdown();
    bool isStopped() const { return m_shutDown && m_thread.isFinished(); }

signals:
    void jobStarted(quint64 jobId);
    void stepStarted(quint64 jobId, int step, int steps, const QString& name, qat::RunKind kind);
    void curvePoints(quint64 jobId, const QVector<qat::CurvePoint>& points);
    void epochDone(quint64 jobId, const qat::EpochResult& epoch);
    void runFinished(quint64 jobId, const qatui::RunRecord& run);
    void jobFinished(quint64 jobId, bool cancelled, const QString& error);
    void busyChanged(bool busy);
    void exportFinished(const qatui::ExportResult& result);
    void inspected(const qatui::ExperimentInfo& info);
    void planBuilt(const qatui::PlanResult& result);
    void planValidated(const qatui::PlanValidation& result);

    // To the worker (queued).
    void submitJob(const qatui::RunJob& job);
    void submitExport(const qatui::ExportRequest& request);

private:
    void onProgress(const JobProgress& p);
    void onJobFinished(quint64 jobId, bool cancelled, const QString& error);

    QThread m_thread;
    EngineWorker* m_worker = nullptr; // lives on m_thread; deleted when it finishes
    std::shared_ptr<DatasetCache> m_cache;
    QVector<std::pair<quint64, std::shared_ptr<qat::CancelToken>>> m_activeJobs;
    quint64 m_nextId = 1;
    JobProgress m_progress;
    bool m_progressDirty = false;
    bool m_shutDown = false;
};

} // namespace qatui
