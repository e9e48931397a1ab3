// Derived integer-op parameters shared by the converter (graph -> IntModel) and the
// .tflite reader (file -> IntModel): they are what a TFLite runtime computes in Prepare
// from tensor scales and zero points, so both paths must compute them identically.
#pragma once

#include "qat/int_model.h"

namespace qat::int8 {

// Output clamp of an op with a fused ReLU/ReLU6 (OpType::Input = none) on `out`'s grid.
void setActivationClamp(IntOp& op, const IntTensor& out, OpType activation);
// TFLite ADD: left shift 20 (15 for 16-bit), input and output multipliers.
void setAddParams(IntOp& op, float scale1, float scale2, float scaleOut, int bits);
// Per-channel (or one) requantization multipliers for conv/depthwise/FC.
void setConvMultipliers(IntOp& op, double inScale, const std::vector<float>& weightScales,
                        int64_t channels, double outScale);
// Lookup table for an element-wise activation from `in`'s grid to `out`'s grid.
void setLut(IntOp& op, const IntTensor& in, const IntTensor& out, OpType activation, double alpha);
double activationFunction(OpType t, double x, double alpha);

} // namespace qat::int8
