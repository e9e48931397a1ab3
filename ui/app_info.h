// Application identity shared by the GUI and its tests.
#pragma once

#include <QString>

namespace qatui {

QString appVersion(); // the project version (CMake PROJECT_VERSION)

} // namespace qatui
