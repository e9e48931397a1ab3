// Where the app keeps its data: the runs database and the runs' model files. Defaults to
// QStandardPaths::AppDataLocation; tests and the screenshot script pass temp directories.
#pragma once

#include <QString>

namespace qatui {

struct AppPaths {
    QString dataDir;      // holds runs/ (artefacts)
    QString databasePath; // SQLite file of the runs table

    QString runsDir() const;
    static AppPaths defaults();
    // Both under `dir` (dir/runs.sqlite, dir/runs/).
    static AppPaths under(const QString& dir);
};

} // namespace qatui
