// EngineController: worker thread ownership, job bookkeeping, background tasks.
#include "engine_controller.h"

#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "engine_tasks.h"
#include "engine_worker.h"

namespace qatui {

void registerEngineMetaTypes() {
    qRegisterMetaType<qatui::RunJob>();
    qRegisterMetaType<qatui::JobProgress>();
    qRegisterMetaType<qatui::ExperimentInfo>();
    qRegisterMetaType<qatui::PlanResult>();
    qRegisterMetaType<qatui::PlanValidation>();
    qRegisterMetaType<qatui::ExportRequest>();
    qRegisterMetaType<qatui::ExportResult>();
    qRegisterMetaType<qatui::RunRecord>();
    qRegisterMetaType<qat::RunKind>();
    qRegisterMetaType<qat::CurvePoint>();
    qRegisterMetaType<qat::EpochResult>();
    qRegisterMetaType<QVector<qat::CurvePoint>>();
}

namespace {

// Runs `task` on the global pool and delivers its value to `deliver` on the GUI thread.
template <typename T, typename Task, typename Deliver>
void runInBackground(QObject* context, Task task, Deliver deliver) {
    auto* watcher = new QFutureWatcher<T>(context);
    QObject::connect(watcher, &QFutureWatcher<T>::finished, context, [watcher, deliver] {
        deliver(watcher->result());
        watcher->deleteLater();
    });
    watcher->setFuture(QtConcurrent::run(std::move(task)));
}

} // namespace

EngineController::EngineController(QObject* parent)
    : QObject(parent), m_cache(std::make_shared<DatasetCache>()) {
    registerEngineMetaTypes();
    m_thread.setObjectName(QStringLiteral("qat-engine"));
    m_worker = new EngineWorker(m_cache);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::started, m_worker, &EngineWorker::lowerThreadPriority);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(this, &EngineController::submitJob, m_worker, &EngineWorker::runJob);
    connect(this, &EngineController::submitExport, m_worker, &EngineWorker::exportRun);
    connect(m_worker, &EngineWorker::stepStarted, this, &EngineController::stepStarted);
    connect(m_worker, &EngineWorker::progress, this, &EngineController::onProgress);
    connect(m_worker, &EngineWorker::curvePoints, this, &EngineController::curvePoints);
    connect(m_worker, &EngineWorker::epochDone, this, &EngineController::epochDone);
    connect(m_worker, &EngineWorker::runFinished, this, &EngineController::runFinished);
    connect(m_worker, &EngineWorker::jobFinished, this, &EngineController::onJobFinished);
    connect(m_worker, &EngineWorker::exportFinished, this, &EngineController::exportFinished);
    m_thread.start();
}

EngineController::~EngineController() {
    shutdown();
}

void EngineController::shutdown() {
    if (m_shutDown)
        return;
    m_shutDown = true;
    cancelAll();
    m_thread.quit();
    m_thread.wait();
}

quint64 EngineController::startJob(RunJob job) {
    job.id = m_nextId++;
    job.cancel = std::make_shared<qat::CancelToken>();
    const bool wasBusy = isBusy();
    m_activeJobs.push_back({job.id, job.cancel});
    emit jobStarted(job.id);
    if (!wasBusy)
        emit busyChanged(true);
    emit submitJob(job);
    return job.id;
}

void EngineController::cancelAll() {
    for (const auto& [id, token] : m_activeJobs)
        token->cancel();
}

quint64 EngineController::exportRun(ExportRequest request) {
    request.id = m_nextId++;
    emit submitExport(request);
    return request.id;
}

quint64 EngineController::inspect(const QString& modelSource, const QString& datasetName,
                                  const QString& preset, const ImportSettings& import) {
    const quint64 id = m_nextId++;
    auto cache = m_cache;
    runInBackground<ExperimentInfo>(
        this,
        [id, modelSource, datasetName, preset, import, cache] {
            return inspectExperiment(id, modelSource, datasetName, preset, import, cache);
        },
        [this](const ExperimentInfo& info) { emit inspected(info); });
    return id;
}

quint64 EngineController::buildPlan(std::shared_ptr<const qat::Graph> graph,
                                    const QString& preset) {
    const quint64 id = m_nextId++;
    runInBackground<PlanResult>(
        this, [id, graph, preset] { return qatui::buildPlan(id, graph, preset); },
        [this](const PlanResult& r) { emit planBuilt(r); });
    return id;
}

quint64 EngineController::validatePlan(std::shared_ptr<const qat::Graph> graph,
                                       const qat::QuantPlan& plan) {
    const quint64 id = m_nextId++;
    runInBackground<PlanValidation>(
        this, [id, graph, plan] { return checkPlan(id, graph, plan); },
        [this](const PlanValidation& r) { emit planValidated(r); });
    return id;
}

bool EngineController::takeProgress(JobProgress& out) {
    if (!m_progressDirty)
        return false;
    out = m_progress;
    m_progressDirty = false;
    return true;
}

void EngineController::onProgress(const JobProgress& p) {
    m_progress = p;
    m_progressDirty = true;
}

void EngineController::onJobFinished(quint64 jobId, bool cancelled, const QString& error) {
    for (int i = 0; i < m_activeJobs.size(); ++i) {
        if (m_activeJobs[i].first == jobId) {
            m_activeJobs.remove(i);
            break;
        }
    }
    emit jobFinished(jobId, cancelled, error);
    if (!isBusy())
        emit busyChanged(false);
}

} // namespace qatui
