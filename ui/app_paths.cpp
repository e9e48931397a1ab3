// AppPaths: default and overridden data locations.
#include "app_paths.h"

#include <QDir>
#include <QStandardPaths>

namespace qatui {

QString AppPaths::runsDir() const {
    return QDir(dataDir).filePath(QStringLiteral("runs"));
}

AppPaths AppPaths::defaults() {
    return under(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation));
}

AppPaths AppPaths::under(const QString& dir) {
    AppPaths p;
    p.dataDir = dir;
    p.databasePath = QDir(dir).filePath(QStringLiteral("runs.sqlite"));
    return p;
}

} // namespace qatui
