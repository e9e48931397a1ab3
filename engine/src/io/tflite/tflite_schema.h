// The only way engine code includes the flatc-generated TFLite schema (schema.fbs, compiled
// at build time into the build tree). Generated code is not ours to keep warning-clean, so
// its diagnostics are silenced here rather than loosening the project's flags.
#pragma once

#include <algorithm>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "io/tflite/schema_generated.h"
#pragma GCC diagnostic pop

namespace qat::tflite::fb {

// The operator an OperatorCode names. Files from older converters set only the int8
// deprecated_builtin_code (builtin_code then reads 0 = ADD); newer ones set builtin_code
// and cap the old field at 127. TFLite's own schema_utils takes the larger of the two.
inline BuiltinOperator builtinCode(const OperatorCode& code) {
    return static_cast<BuiltinOperator>(
        std::max<int32_t>(code.deprecated_builtin_code(), code.builtin_code()));
}

} // namespace qat::tflite::fb
