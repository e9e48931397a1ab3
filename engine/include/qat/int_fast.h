// Fast integer executor on oneDNN int8 primitives: what int8 latency is measured on.
// Executes the same IntModel as IntReferenceExecutor and must agree with it within 1 LSB
// on every integer tensor. int8 activations are fed to oneDNN as u8 (q + 128, zero point
// shifted accordingly) or s8 as the kernels require; weights s8; bias s32; per-channel
// output scales fixed at primitive creation (oneDNN 2.6 has no runtime scales for
// convolution, so primitives are created per model and batch size).
// Small depthwise and first-layer convolutions, where a oneDNN call costs more than its
// work, run on the executor's own direct kernels (bit-exact with the reference).
// Float ops of mixed-precision models run on oneDNN fp32 primitives.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qat/int_model.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

class IntFastExecutor {
public:
    virtual ~IntFastExecutor() = default;
    // Prepares primitives for `batch` images at a time. Errors name the op that has no
    // fast kernel (the caller may fall back to the reference executor).
    static Result<std::unique_ptr<IntFastExecutor>> create(const IntModel& model, int64_t batch);

    // input: float images [batch, sample...] (quantized with the model's input grid, or
    // passed through for float-I/O models). Returns the dequantized output [batch, ...].
    virtual const Tensor& run(const Tensor& input) = 0;
    // Integer values of the output tensor from the last run ([batch * outputSize]).
    virtual const std::vector<int32_t>& lastIntOutput() const = 0;
    virtual int64_t batch() const = 0;
    // One entry per model op: what runs it ("oneDNN convolution", "direct depthwise
    // (AVX2)", "loop", "alias" for RESHAPE, ...).
    virtual const std::vector<std::string>& opKernels() const = 0;
    // Per-op timing: while on, run() waits for every op to finish and adds its wall time
    // to opMicros() (the mean per run since profiling was switched on, one entry per
    // model op). Costs a clock read per op.
    virtual void setProfiling(bool on) = 0;
    virtual std::vector<double> opMicros() const = 0;
};

} // namespace qat
