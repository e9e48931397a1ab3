// Sizes from the exported .tflite bytes; latency as the median of repeated timed runs
// after warm-up on the fast executors (float and int8 interleaved), with a stability guard
// for busy machines (qat/metrics.h).
#include "qat/metrics.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>

#include "qat/float_fast.h"
#include "qat/int_fast.h"
#include "qat/network.h"
#include "qat/tflite_export.h"
#include "qat/tflite_int_export.h"

namespace qat {

Result<ModelSizes> measureModelSizes(const Graph& graph, const IntModel* model) {
    ModelSizes s;
    auto f = exportFloatTfliteBytes(graph);
    if (!f)
        return f.status();
    s.floatBytes = static_cast<int64_t>(f->size());
    if (model) {
        auto q = exportIntTfliteBytes(*model);
        if (!q)
            return q.status();
        s.int8Bytes = static_cast<int64_t>(q->size());
    }
    return s;
}

namespace {

using Clock = std::chrono::steady_clock;

template <typename F> double timeMs(F&& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Linear interpolation between the sorted samples around position q * (n - 1).
double percentile(const std::vector<double>& sorted, double q) {
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double t = pos - static_cast<double>(lo);
    return sorted[lo] + t * (sorted[hi] - sorted[lo]);
}

Tensor syntheticBatch(const Shape& sample, int64_t batch) {
    Tensor t(withBatch(batch, sample));
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = static_cast<float>((i * 7919) % 256) / 255.0f; // image-like values in [0, 1]
    return t;
}

std::string batchName(int64_t batch) {
    return "batch " + std::to_string(batch);
}

void appendNote(std::string& note, const std::string& text) {
    note += (note.empty() ? "" : "; ") + text;
}

} // namespace

LatencySeries summarizeLatency(std::vector<double> ms) {
    LatencySeries s;
    s.count = static_cast<int64_t>(ms.size());
    if (ms.empty())
        return s;
    std::sort(ms.begin(), ms.end());
    s.median = percentile(ms, 0.5);
    s.p25 = percentile(ms, 0.25);
    s.p75 = percentile(ms, 0.75);
    s.spread = s.median > 0 ? (s.p75 - s.p25) / s.median : 0.0;
    return s;
}

bool isStableLatency(const LatencySeries& s) {
    return s.count > 0 && s.spread <= kMaxStableLatencySpread;
}

std::string describeLatencySpread(const std::string& what, const LatencySeries& s) {
    return what + " spread " + std::to_string(static_cast<long long>(std::lround(s.spread * 100))) +
           "% over " + std::to_string(s.count) + " runs";
}

double latencyCpuShare(double threadCpuSeconds, double wallSeconds) {
    return wallSeconds > 0 ? threadCpuSeconds / wallSeconds : 0.0;
}

namespace {

// CPU time of the calling thread, seconds.
double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

} // namespace

Result<LatencyReport> measureLatency(Graph& graph, const IntModel* model, int repeats) {
    if (repeats < 1)
        return Status::error("latency needs at least one timed repeat");
    LatencyReport r;
    r.threads = numThreads();
    r.isa = oneDnnIsa();
    std::unique_ptr<Network> net; // fallback when the float inference executor cannot run
    std::vector<std::string> unstable;
    bool int8Missing = false;
    for (int64_t batch : {int64_t{1}, int64_t{64}}) {
        const Tensor x = syntheticBatch(graph.inputShape(), batch);
        std::function<void()> runFloat;
        auto floatExec = FloatFastExecutor::create(graph, batch);
        if (floatExec) {
            runFloat = [&] { floatExec.value()->run(x); };
        } else {
            if (!net) {
                auto created = Network::create(graph);
                if (!created)
                    return created.status();
                net = std::move(created).value();
                appendNote(r.note, "float latency measured on the training network: " +
                                       floatExec.message());
            }
            runFloat = [&] { net->forward(x, Phase::Eval); };
        }
        std::function<void()> runInt8;
        Result<std::unique_ptr<IntFastExecutor>> fast = Status::error("no integer model");
        if (model) {
            fast = IntFastExecutor::create(*model, batch);
            if (fast) {
                runInt8 = [&] { fast.value()->run(x); };
            } else {
                // No fast kernel (e.g. int16 activations): int8 latency is not measured
                // rather than timed on the slow reference executor.
                r.int8Batch1Ms = r.int8Batch64Ms = std::numeric_limits<double>::quiet_NaN();
                if (!int8Missing)
                    appendNote(r.note, "int8 latency not measured: " + fast.message());
                int8Missing = true;
            }
        }

        std::vector<double> floatMs, int8Ms;
        int64_t pair = 0;
        auto timePairs = [&](int count, bool keep) {
            for (int i = 0; i < count; ++i, ++pair) {
                // Alternate which runs first, so neither always follows the other's
                // cache footprint.
                const bool floatFirst = pair % 2 == 0;
                if (runInt8 && !floatFirst) {
                    const double q = timeMs(runInt8);
                    if (keep)
                        int8Ms.push_back(q);
                }
                const double f = timeMs(runFloat);
                if (keep)
                    floatMs.push_back(f);
                if (runInt8 && floatFirst) {
                    const double q = timeMs(runInt8);
                    if (keep)
                        int8Ms.push_back(q);
                }
            }
        };
        constexpr int kWarmup = 3;
        timePairs(kWarmup, false);
        const auto start = Clock::now();
        const double cpuStart = threadCpuSeconds();
        timePairs(repeats, true);
        LatencySeries f = summarizeLatency(floatMs), q = summarizeLatency(int8Ms);
        auto stable = [&] { return isStableLatency(f) && (!runInt8 || isStableLatency(q)); };
        while (!stable() && std::chrono::duration<double>(Clock::now() - start).count() <
                                kLatencyBudgetSeconds) {
            timePairs(repeats, true);
            f = summarizeLatency(floatMs);
            q = summarizeLatency(int8Ms);
        }
        const double share =
            latencyCpuShare(threadCpuSeconds() - cpuStart,
                            std::chrono::duration<double>(Clock::now() - start).count());
        if (share < kMinLatencyCpuShare)
            unstable.push_back(batchName(batch) + " timed on a CPU only " +
                               std::to_string(static_cast<long long>(std::lround(share * 100))) +
                               "% of the time");
        (batch == 1 ? r.floatBatch1Ms : r.floatBatch64Ms) = f.median;
        if (runInt8)
            (batch == 1 ? r.int8Batch1Ms : r.int8Batch64Ms) = q.median;
        if (!isStableLatency(f))
            unstable.push_back(describeLatencySpread("float " + batchName(batch), f));
        if (runInt8 && !isStableLatency(q))
            unstable.push_back(describeLatencySpread("int8 " + batchName(batch), q));
    }
    if (!unstable.empty()) {
        r.stable = false;
        std::string parts;
        for (const auto& u : unstable)
            parts += (parts.empty() ? "" : ", ") + u;
        appendNote(r.note, "latency unstable: " + parts + "; the machine is busy");
    }
    r.measured = true;
    return r;
}

} // namespace qat
