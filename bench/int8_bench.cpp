// int8 vs fp32 inference latency. For each model (default cnn-bn and mobilenet-tiny),
// trained one epoch on the bundled Fashion-MNIST sample and PTQ-converted to int8: the
// float inference executor (FloatFastExecutor: BN folded, activations fused, inference
// primitives) against the oneDNN int8 executor (IntFastExecutor) at batch 1 and 64, with
// the training network in Phase::Eval (the old float baseline) as a secondary figure.
// Median of --repeats timed runs after warm-up; the three are interleaved (rotating which
// goes first) so that all see the same machine load. Prints ms, the fp32/int8 ratios, the
// interquartile spread of each series (a series above kMaxStableLatencySpread is flagged:
// the machine was busy), the thread count and oneDNN's ISA. ONEDNN_VERBOSE=1 shows the
// kernels oneDNN picks; --profile 1 adds, per model and batch, the int8 executor's time
// per op (IntFastExecutor::setProfiling, a separate run after the timed ones) and the
// kernel that runs it.
//   int8_bench [--repeats 50] [--threads 2] [--models cnn-bn,mobilenet-tiny] [--profile 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "qat/float_fast.h"
#include "qat/int_fast.h"
#include "qat/metrics.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/runtime.h"
#include "qat/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F> double timeMs(F&& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "int8_bench: %s\n", what.c_str());
    std::exit(1);
}

struct Options {
    int repeats = 50;
    int threads = 2;
    std::vector<std::string> models{"cnn-bn", "mobilenet-tiny"};
    bool profile = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc)
            fail("option " + a + " needs a value (see the header of bench/int8_bench.cpp)");
        const std::string v = argv[++i];
        if (a == "--repeats") {
            o.repeats = std::max(1, std::atoi(v.c_str()));
        } else if (a == "--threads") {
            o.threads = std::atoi(v.c_str());
        } else if (a == "--models") {
            o.models.clear();
            std::stringstream ss(v);
            for (std::string m; std::getline(ss, m, ',');)
                o.models.push_back(m);
        } else if (a == "--profile") {
            o.profile = v != "0";
        } else {
            fail("unknown option " + a + " (--repeats, --threads, --models, --profile)");
        }
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    using namespace qat;
    const Options opt = parse(argc, argv);
    setNumThreads(opt.threads);
    auto data = loadDataset("fashion-mnist-sample");
    if (!data)
        fail(data.message());
    std::printf("threads %d, oneDNN ISA %s, median of %d runs after warm-up\n", numThreads(),
                oneDnnIsa().c_str(), opt.repeats);
    std::printf("%-16s %6s %12s %12s %10s %12s %10s  %s\n", "model", "batch", "fp32 ms", "int8 ms",
                "fp32/int8", "fp32-old ms", "old/int8", "spread fp32/int8/old");
    bool unstable = false;

    for (const std::string& name : opt.models) {
        auto graph = loadModelOrZoo(name, data->train.sampleShape, 1);
        if (!graph)
            fail(graph.message());
        {
            auto net = Network::create(graph.value(), 1);
            if (!net)
                fail(net.message());
            TrainConfig cfg;
            cfg.epochs = 1;
            cfg.seed = 1;
            cfg.evaluateEachEpoch = false;
            auto r = train(*net.value(), data->train, data->test, cfg);
            if (!r)
                fail(r.message());
        }
        auto plan = makePlan(graph.value(), "int8");
        if (!plan)
            fail(plan.message());
        auto qnet = Network::create(graph.value(), plan.value(), QatOptions{});
        if (!qnet)
            fail(qnet.message());
        if (Status s = calibrate(*qnet.value(), data->train, 8, 64); !s)
            fail(s.message());
        auto model = convertToIntModel(graph.value(), plan.value(), qnet.value()->quantState());
        if (!model)
            fail(model.message());
        auto floatNet = Network::create(graph.value());
        if (!floatNet)
            fail(floatNet.message());

        for (int64_t batch : {int64_t{1}, int64_t{64}}) {
            auto fast = IntFastExecutor::create(model.value(), batch);
            if (!fast)
                fail(fast.message());
            auto floatFast = FloatFastExecutor::create(graph.value(), batch);
            if (!floatFast)
                fail(floatFast.message());
            Tensor x(withBatch(batch, data->test.sampleShape));
            std::copy(data->test.image(0), data->test.image(batch), x.data());
            const std::function<void()> runs[3] = {
                [&] { floatFast.value()->run(x); },
                [&] { fast.value()->run(x); },
                [&] { floatNet.value()->forward(x, Phase::Eval); },
            };
            constexpr int kWarmup = 10;
            for (int i = 0; i < kWarmup; ++i)
                for (const auto& run : runs)
                    run();
            std::vector<double> ms[3];
            for (int i = 0; i < opt.repeats; ++i)
                for (int k = 0; k < 3; ++k) {
                    const int which = (i + k) % 3; // rotate which goes first
                    ms[which].push_back(timeMs(runs[which]));
                }
            const LatencySeries f = summarizeLatency(ms[0]), q = summarizeLatency(ms[1]),
                                old = summarizeLatency(ms[2]);
            std::printf("%-16s %6lld %12.4f %12.4f %9.2fx %12.4f %9.2fx  %.0f%%/%.0f%%/%.0f%%\n",
                        name.c_str(), static_cast<long long>(batch), f.median, q.median,
                        f.median / q.median, old.median, old.median / q.median, f.spread * 100,
                        q.spread * 100, old.spread * 100);
            for (const auto* s : {&f, &q, &old})
                unstable = unstable || !isStableLatency(*s);
            if (opt.profile) {
                IntFastExecutor& e = *fast.value();
                e.setProfiling(true);
                for (int i = 0; i < opt.repeats; ++i)
                    e.run(x);
                const std::vector<double> us = e.opMicros();
                double total = 0;
                for (size_t i = 0; i < us.size(); ++i) {
                    const IntOp& op = model->ops[i];
                    std::printf("    %-18s %-16s %-36s %8.3f us\n", op.node.c_str(),
                                intOpKindName(op.kind), e.opKernels()[i].c_str(), us[i]);
                    total += us[i];
                }
                std::printf("    %-72s %8.3f us\n", "total (profiled)", total);
                e.setProfiling(false);
            }
        }
    }
    if (unstable)
        std::printf("warning: some series spread more than %.0f%% (interquartile range / "
                    "median): the machine is busy, ratios are unreliable\n",
                    kMaxStableLatencySpread * 100);
    return 0;
}
