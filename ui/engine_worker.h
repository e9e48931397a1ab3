// EngineWorker: lives on EngineController's QThread and executes the long engine calls —
// runs (qat::executeRun) and exports. It loads models and datasets itself, writes the
// artefacts, and reports back only through value-type signals. Cancellation is the
// job's CancelToken, set directly by the controller; the worker never blocks on the GUI.
#pragma once

#include <QObject>
#include <QString>
#include <QVector>

#include <memory>

#include "dataset_cache.h"
#include "engine_types.h"

namespace qatui {

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(std::shared_ptr<DatasetCache> cache);

public slots:
    void runJob(const qatui::RunJob& job);
    void exportRun(const qatui::ExportRequest& request);
    // Called once on the worker thread: background work yields the CPU to the GUI.
    void lowerThreadPriority();

signals:
    void stepStarted(quint64 jobId, int step, int steps, const QString& name, qat::RunKind kind);
    void progress(const qatui::JobProgress& progress);
    void curvePoints(quint64 jobId, const QVector<qat::CurvePoint>& points);
    void epochDone(quint64 jobId, const qat::EpochResult& epoch);
    void runFinished(quint64 jobId, const qatui::RunRecord& run);
    void jobFinished(quint64 jobId, bool cancelled, const QString& error);
    void exportFinished(const qatui::ExportResult& result);

private:
    // Runs one step; returns an error message, or empty on success / cancellation.
    QString runStep(const RunJob& job, int index, const qat::DatasetSplits& data,
                    QVector<QString>& artefacts, bool& cancelled);

    std::shared_ptr<DatasetCache> m_cache;
};

} // namespace qatui
