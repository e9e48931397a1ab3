// RunStore: the runs table persisted in SQLite through Qt SQL (QSQLITE). One row per run;
// settings, plan, metrics and curves are JSON text columns (run_json.h). Every write is a
// transaction. Used on the GUI thread only (each RunStore owns its own connection).
#pragma once

#include <QString>
#include <QVector>

#include "run_record.h"

namespace qatui {

class RunStore {
public:
    static constexpr int kSchemaVersion = 1;

    explicit RunStore(QString path);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    // Opens (creating the file, its directory and the schema when missing).
    bool open(QString* error);
    bool isOpen() const { return m_open; }
    const QString& path() const { return m_path; }

    // All runs, oldest first.
    QVector<RunRecord> loadAll(QString* error) const;
    // Inserts and sets run.id.
    bool insert(RunRecord& run, QString* error);
    bool rename(qint64 id, const QString& name, QString* error);
    bool remove(qint64 id, QString* error);

private:
    QString m_path;
    QString m_connection;
    bool m_open = false;
};

} // namespace qatui
