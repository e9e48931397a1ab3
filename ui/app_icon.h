// The application icon (resources/icons/qatlab.svg).
#pragma once

#include <QIcon>

namespace qatui {

// The SVG when Qt can read SVG (the qt6-svg plugin), else the same drawing painted at the
// usual icon sizes.
QIcon appIcon();

} // namespace qatui
