// RunsTableModel: every run with its kind, plan, settings and measured metrics. The name
// column is editable (rename); other columns are read-only. Qt::UserRole gives the sort
// key (numbers sort as numbers; missing metrics sort first).
#pragma once

#include <QAbstractTableModel>
#include <QJsonObject>
#include <QVector>

#include "run_record.h"

namespace qatui {

class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Name,
        Kind,
        Model,
        Dataset,
        Plan,
        Epochs,
        Lr,
        FloatAcc,
        FakeQuantAcc,
        IntegerAcc,
        FloatSize,
        Int8Size,
        FloatLatency,
        Int8Latency,
        Seconds,
        Created,
        ColumnCount
    };
    static constexpr int SortRole = Qt::UserRole;

    explicit RunsTableModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    void setRuns(QVector<RunRecord> runs);
    void addRun(const RunRecord& run);
    void removeRunById(qint64 id);
    void setName(qint64 id, const QString& name);
    const QVector<RunRecord>& runs() const { return m_runs; }
    const RunRecord& run(int row) const { return m_runs[row]; }
    int rowOf(qint64 id) const;

signals:
    // The user edited a name inline; the owner persists it and calls setName().
    void renameRequested(qint64 id, const QString& name);

private:
    QVector<RunRecord> m_runs;
    QVector<QJsonObject> m_settings; // parsed settingsJson per row
};

// Formatting shared by the runs table and the export dialog.
QString formatAccuracy(double accuracy);
QString formatBytes(qint64 bytes);

} // namespace qatui
