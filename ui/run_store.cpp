// RunStore: SQLite persistence of runs.
#include "run_store.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>

#include "run_json.h"

namespace qatui {

namespace {

// Empty strings are stored as '' (a null QString would bind as NULL).
QString text(const QString& s) {
    return s.isNull() ? QStringLiteral("") : s;
}

QString sqlError(const QString& what, const QSqlError& e) {
    return QStringLiteral("%1: %2").arg(what, e.text());
}

// Runs `body` inside a transaction; rolls back when it returns false.
template <typename Body> bool inTransaction(QSqlDatabase& db, QString* error, Body body) {
    if (!db.transaction()) {
        if (error)
            *error = sqlError(QStringLiteral("cannot start a transaction"), db.lastError());
        return false;
    }
    if (!body()) {
        db.rollback();
        return false;
    }
    if (!db.commit()) {
        if (error)
            *error = sqlError(QStringLiteral("cannot commit"), db.lastError());
        db.rollback();
        return false;
    }
    return true;
}

} // namespace

RunStore::RunStore(QString path)
    : m_path(std::move(path)),
      m_connection(QStringLiteral("qatlab-runs-") + QUuid::createUuid().toString(QUuid::Id128)) {}

RunStore::~RunStore() {
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (db.isValid())
            db.close();
    }
    QSqlDatabase::removeDatabase(m_connection);
}

bool RunStore::open(QString* error) {
    QDir().mkpath(QFileInfo(m_path).absolutePath());
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    db.setDatabaseName(m_path);
    if (!db.open()) {
        if (error)
            *error = sqlError(QStringLiteral("cannot open the runs database '%1'").arg(m_path),
                              db.lastError());
        return false;
    }
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next()) {
        if (error)
            *error = sqlError(QStringLiteral("'%1' is not a readable SQLite database").arg(m_path),
                              q.lastError());
        return false;
    }
    const int version = q.value(0).toInt();
    if (version > kSchemaVersion) {
        if (error)
            *error = QStringLiteral("the runs database '%1' was written by a newer QAT Lab "
                                    "(schema %2, this one reads up to %3)")
                         .arg(m_path)
                         .arg(version)
                         .arg(kSchemaVersion);
        return false;
    }
    const bool ok = inTransaction(db, error, [&] {
        QSqlQuery c(db);
        if (!c.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS runs ("
                                   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                   " name TEXT NOT NULL,"
                                   " kind TEXT NOT NULL,"
                                   " model TEXT NOT NULL,"
                                   " dataset TEXT NOT NULL,"
                                   " created TEXT NOT NULL,"
                                   " artefact TEXT NOT NULL,"
                                   " cancelled INTEGER NOT NULL DEFAULT 0,"
                                   " settings TEXT NOT NULL,"    // JSON
                                   " plan TEXT NOT NULL,"        // JSON (empty for float runs)
                                   " metrics TEXT NOT NULL,"     // JSON
                                   " curves TEXT NOT NULL)")) || // JSON
            !c.exec(QStringLiteral("PRAGMA user_version = %1").arg(kSchemaVersion))) {
            if (error)
                *error =
                    sqlError(QStringLiteral("cannot create the runs table in '%1'").arg(m_path),
                             c.lastError());
            return false;
        }
        return true;
    });
    m_open = ok;
    return ok;
}

QVector<RunRecord> RunStore::loadAll(QString* error) const {
    QVector<RunRecord> runs;
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    QSqlQuery q(db);
    if (!q.exec(
            QStringLiteral("SELECT id, name, kind, model, dataset, created, artefact, "
                           "cancelled, settings, plan, metrics, curves FROM runs ORDER BY id"))) {
        if (error)
            *error =
                sqlError(QStringLiteral("cannot read runs from '%1'").arg(m_path), q.lastError());
        return runs;
    }
    while (q.next()) {
        RunRecord r;
        r.id = q.value(0).toLongLong();
        r.name = q.value(1).toString();
        auto kind = qat::runKindFromName(q.value(2).toString().toStdString());
        if (!kind)
            continue; // a kind this version does not know: skip the row, keep the rest
        r.kind = kind.value();
        r.model = q.value(3).toString();
        r.dataset = q.value(4).toString();
        r.created = QDateTime::fromString(q.value(5).toString(), Qt::ISODateWithMs);
        r.artefactPath = q.value(6).toString();
        r.cancelled = q.value(7).toInt() != 0;
        r.settingsJson = q.value(8).toString();
        r.planJson = q.value(9).toString();
        r.metrics = metricsFromJson(parseObject(q.value(10).toString()));
        curvesFromJson(parseObject(q.value(11).toString()), r.curve, r.epochs);
        runs.push_back(r);
    }
    return runs;
}

bool RunStore::insert(RunRecord& run, QString* error) {
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    qint64 newId = 0;
    const bool ok = inTransaction(db, error, [&] {
        QSqlQuery q(db);
        q.prepare(QStringLiteral(
            "INSERT INTO runs (name, kind, model, dataset, created, artefact, cancelled, "
            "settings, plan, metrics, curves) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        q.addBindValue(text(run.name));
        q.addBindValue(run.kindName());
        q.addBindValue(text(run.model));
        q.addBindValue(text(run.dataset));
        q.addBindValue(run.created.toString(Qt::ISODateWithMs));
        q.addBindValue(text(run.artefactPath));
        q.addBindValue(run.cancelled ? 1 : 0);
        q.addBindValue(text(run.settingsJson));
        q.addBindValue(text(run.planJson));
        q.addBindValue(toJsonText(metricsToJson(run.metrics)));
        q.addBindValue(toJsonText(curvesToJson(run.curve, run.epochs)));
        if (!q.exec()) {
            if (error)
                *error = sqlError(QStringLiteral("cannot save the run"), q.lastError());
            return false;
        }
        newId = q.lastInsertId().toLongLong();
        return true;
    });
    if (ok)
        run.id = newId;
    return ok;
}

bool RunStore::rename(qint64 id, const QString& name, QString* error) {
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    return inTransaction(db, error, [&] {
        QSqlQuery q(db);
        q.prepare(QStringLiteral("UPDATE runs SET name = ? WHERE id = ?"));
        q.addBindValue(name);
        q.addBindValue(id);
        if (!q.exec()) {
            if (error)
                *error = sqlError(QStringLiteral("cannot rename the run"), q.lastError());
            return false;
        }
        return true;
    });
}

bool RunStore::remove(qint64 id, QString* error) {
    QSqlDatabase db = QSqlDatabase::database(m_connection, false);
    return inTransaction(db, error, [&] {
        QSqlQuery q(db);
        q.prepare(QStringLiteral("DELETE FROM runs WHERE id = ?"));
        q.addBindValue(id);
        if (!q.exec()) {
            if (error)
                *error = sqlError(QStringLiteral("cannot delete the run"), q.lastError());
            return false;
        }
        return true;
    });
}

} // namespace qatui
