// Measured metrics: model sizes (bytes of the exported .tflite files) and latency
// (median of repeated runs after warm-up on the fast executors: our oneDNN fp32 network
// and the oneDNN int8 executor), with the thread count and ISA.
#pragma once

#include <cstdint>

#include "qat/experiment.h"
#include "qat/int_model.h"

namespace qat {

struct ModelSizes {
    int64_t floatBytes = 0; // float32 .tflite
    int64_t int8Bytes = 0;  // integer .tflite (0 when no integer model was given)
};
Result<ModelSizes> measureModelSizes(const Graph& graph, const IntModel* model);

// Float latency of `graph` (Phase::Eval) and, when `model` is given, int8 latency of the
// fast integer executor; batch 1 and 64; `repeats` timed runs after warm-up.
Result<LatencyReport> measureLatency(Graph& graph, const IntModel* model, int repeats);

} // namespace qat
