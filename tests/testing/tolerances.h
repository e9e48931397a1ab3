// Named tolerances for parity and gradient tests, in one place so that loosening one is
// a visible, reviewed change.
#pragma once

namespace qat::testing {

// float32 kernel vs plain-loop double reference: |a-b| <= kAbs + kRel*|ref|.
inline constexpr double kForwardAbs = 1e-4;
inline constexpr double kForwardRel = 1e-4;
// Central finite differences on float32 forwards: step and agreement.
inline constexpr double kFiniteDiffStep = 1e-2;
inline constexpr double kGradAbs = 2e-3;
inline constexpr double kGradRel = 2e-2;

} // namespace qat::testing
