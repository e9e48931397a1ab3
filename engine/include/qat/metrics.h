// Measured metrics: model sizes (bytes of the exported .tflite files) and latency
// (median of repeated runs after warm-up on the fast executors: the oneDNN fp32
// inference executor and the oneDNN int8 executor), with the thread count and ISA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qat/experiment.h"
#include "qat/int_model.h"

namespace qat {

struct ModelSizes {
    int64_t floatBytes = 0; // float32 .tflite
    int64_t int8Bytes = 0;  // integer .tflite (0 when no integer model was given)
};
Result<ModelSizes> measureModelSizes(const Graph& graph, const IntModel* model);

// Float latency of `graph` on the float inference executor (qat/float_fast.h) and, when
// `model` is given, int8 latency of the fast integer executor; batch 1 and 64. Float and
// int8 runs alternate (which goes first alternates too) so both see the same machine
// load; each figure is the median of its series. At least `repeats` timed pairs after
// warm-up; while a series is unstable (isStableLatency) more rounds of `repeats` pairs
// are timed, up to kLatencyBudgetSeconds per batch size. A series still unstable then
// keeps its median, sets report.stable = false and says so in report.note.
Result<LatencyReport> measureLatency(Graph& graph, const IntModel* model, int repeats);

inline constexpr double kLatencyBudgetSeconds = 3.0;
// Above this interquartile spread a series is unstable: with the machine busy, runs come
// out in scheduler-quantum multiples (0.06 ms and 200 ms in one series).
inline constexpr double kMaxStableLatencySpread = 0.5;

// Statistics of one series of timed runs (milliseconds). Percentiles interpolate
// linearly between sorted samples; spread = (p75 - p25) / median.
struct LatencySeries {
    double median = 0, p25 = 0, p75 = 0;
    double spread = 0;
    int64_t count = 0;
};
LatencySeries summarizeLatency(std::vector<double> ms);
// A series with at least one sample whose spread is at most kMaxStableLatencySpread.
bool isStableLatency(const LatencySeries& s);
// "float batch 1 spread 240% over 40 runs" for a series named `what`.
std::string describeLatencySpread(const std::string& what, const LatencySeries& s);

// A second guard for what the spread cannot see: a series that is uniformly slow because
// the timing thread kept losing its core (on a loaded machine, every OpenMP barrier can
// wait a scheduler quantum for a preempted worker, so all runs are ~1000x slow and
// equally so). The timing thread computes or spins the whole time on an idle machine;
// below this share of the wall time on a CPU, the figures are unreliable.
inline constexpr double kMinLatencyCpuShare = 0.7;
// Share of `wallSeconds` the timing thread spent on a CPU (0 when nothing was timed).
double latencyCpuShare(double threadCpuSeconds, double wallSeconds);

} // namespace qat
