// Atomic file writes: data goes to a temporary file in the destination directory, is
// flushed and fsync'ed, then renamed over the destination. A failure (unwritable
// directory, full disk) removes the temporary and leaves any existing file untouched.
#pragma once

#include <string>
#include <string_view>

#include "qat/status.h"

namespace qat {

Status writeFileAtomically(const std::string& path, std::string_view data);

} // namespace qat
