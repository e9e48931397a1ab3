// appVersion: compiled in from CMake.
#include "app_info.h"

namespace qatui {

QString appVersion() {
    return QStringLiteral(QAT_VERSION);
}

} // namespace qatui
