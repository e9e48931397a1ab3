// Sizes from the exported .tflite bytes; latency as the median of repeated timed runs
// after warm-up on the fast executors.
#include "qat/metrics.h"

#include <algorithm>
#include <chrono>
#include <limits>

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

template <typename F> double medianMs(int repeats, F&& f) {
    constexpr int kWarmup = 3;
    for (int i = 0; i < kWarmup; ++i)
        f();
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(repeats));
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
    return ms[ms.size() / 2];
}

Tensor syntheticBatch(const Shape& sample, int64_t batch) {
    Tensor t(withBatch(batch, sample));
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = static_cast<float>((i * 7919) % 256) / 255.0f; // image-like values in [0, 1]
    return t;
}

} // namespace

Result<LatencyReport> measureLatency(Graph& graph, const IntModel* model, int repeats) {
    if (repeats < 1)
        return Status::error("latency needs at least one timed repeat");
    LatencyReport r;
    r.threads = numThreads();
    r.isa = oneDnnIsa();
    auto net = Network::create(graph);
    if (!net)
        return net.status();
    for (int64_t batch : {int64_t{1}, int64_t{64}}) {
        const Tensor x = syntheticBatch(graph.inputShape(), batch);
        const double ms = medianMs(repeats, [&] { net.value()->forward(x, Phase::Eval); });
        (batch == 1 ? r.floatBatch1Ms : r.floatBatch64Ms) = ms;
        if (!model)
            continue;
        auto fast = IntFastExecutor::create(*model, batch);
        if (!fast) {
            // No fast kernel (e.g. int16 activations): int8 latency is not measured rather
            // than timed on the slow reference executor.
            r.int8Batch1Ms = r.int8Batch64Ms = std::numeric_limits<double>::quiet_NaN();
            r.note = "int8 latency not measured: " + fast.message();
            continue;
        }
        const double qms = medianMs(repeats, [&] { fast.value()->run(x); });
        (batch == 1 ? r.int8Batch1Ms : r.int8Batch64Ms) = qms;
    }
    r.measured = true;
    return r;
}

} // namespace qat
