// Per-layer forward and backward time of the cnn-bn layers (the zoo model: Conv3x3 32 same
// + BN + ReLU, MaxPool 2, Conv3x3 64 same + BN + ReLU, MaxPool 2, Flatten, Dense 128 +
// ReLU, Dense 10) at batch 64 on 2 threads: warm-up passes, then timed passes, repeated;
// prints the median (and the minimum, which shows the kernel's own speed when other
// processes share the cores) ms per layer and phase, the oneDNN implementation of each
// layer, and what the layers alone would allow in images/s. Backward runs like Network's: the first
// convolution gets no diffSrc. Random data and He-uniform weights (timings only).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "backend/onednn/introspection.h"
#include "ops/layer.h"
#include "qat/runtime.h"

namespace {

using namespace qat;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Tensor uniform(const Shape& shape, float limit, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-limit, limit);
    Tensor t(shape);
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = dist(rng);
    return t;
}

// The cnn-bn graph as a chain of nodes with parameters (mirrors resources/zoo/cnn-bn.json).
std::deque<Node> cnnBnNodes(std::mt19937& rng) {
    std::deque<Node> nodes;
    auto add = [&](const char* name, OpType type, Attrs attrs) -> Node& {
        Node& n = nodes.emplace_back();
        n.name = name;
        n.type = type;
        n.attrs = std::move(attrs);
        return n;
    };
    auto conv = [&](const char* name, int64_t cin, int64_t cout) {
        Attrs a;
        a.set("filters", static_cast<int>(cout));
        a.set("kernel", std::vector<int64_t>{3, 3});
        a.set("padding", "same");
        a.set("use_bias", 0);
        Node& n = add(name, OpType::Conv2D, a);
        n.params["weights"] =
            uniform({cout, 3, 3, cin}, std::sqrt(6.0f / static_cast<float>(9 * cin)), rng);
    };
    auto bn = [&](const char* name, int64_t c) {
        Attrs a;
        a.set("epsilon", AttrValue{0.001}); // set(key, int) would win for a double
        a.set("momentum", AttrValue{0.1});
        Node& n = add(name, OpType::BatchNorm, a);
        n.params["gamma"] = Tensor({c}, 1.0f);
        n.params["beta"] = Tensor({c}, 0.0f);
        n.params["moving_mean"] = Tensor({c}, 0.0f);
        n.params["moving_var"] = Tensor({c}, 1.0f);
    };
    auto pool = [&](const char* name) {
        Attrs a;
        a.set("pool", std::vector<int64_t>{2, 2});
        add(name, OpType::MaxPool, a);
    };
    auto dense = [&](const char* name, int64_t in, int64_t units) {
        Attrs a;
        a.set("units", static_cast<int>(units));
        Node& n = add(name, OpType::Dense, a);
        n.params["weights"] = uniform({units, in}, std::sqrt(6.0f / static_cast<float>(in)), rng);
        n.params["bias"] = Tensor({units}, 0.0f);
    };
    conv("conv1", 1, 32);
    bn("bn1", 32);
    add("relu1", OpType::ReLU, {});
    pool("pool1");
    conv("conv2", 32, 64);
    bn("bn2", 64);
    add("relu2", OpType::ReLU, {});
    pool("pool2");
    add("flatten", OpType::Flatten, {});
    dense("dense1", 7 * 7 * 64, 128);
    add("relu3", OpType::ReLU, {});
    dense("dense2", 128, 10);
    return nodes;
}

} // namespace

int main(int argc, char** argv) {
    int64_t batch = 64;
    int threads = 2;
    int warmup = 20;
    int passes = 200;
    int reps = 3;
    CLI::App app{"Per-layer forward/backward timing of the cnn-bn layers"};
    app.add_option("--batch", batch, "Batch size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--threads", threads, "Threads")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--warmup", warmup, "Untimed passes per repetition")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--passes", passes, "Timed passes per repetition")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--reps", reps, "Repetitions")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    setNumThreads(threads);

    std::mt19937 rng(42);
    std::deque<Node> nodes = cnnBnNodes(rng);
    const size_t count = nodes.size();
    std::vector<std::unique_ptr<Layer>> layers(count);
    std::vector<Tensor> act(count + 1), diff(count + 1);
    act[0] = uniform({batch, 28, 28, 1}, 1.0f, rng);
    for (size_t i = 0; i < count; ++i) {
        auto layer = makeLayer(nodes[i], 1);
        if (!layer) {
            std::fprintf(stderr, "%s\n", layer.message().c_str());
            return 1;
        }
        layers[i] = std::move(layer.value());
        Status st = layers[i]->prepare({act[i].shape()});
        if (!st.isOk()) {
            std::fprintf(stderr, "%s: %s\n", nodes[i].name.c_str(), st.message().c_str());
            return 1;
        }
        act[i + 1] = Tensor(layers[i]->dstShape());
        diff[i] = Tensor(act[i].shape());
    }
    diff[count] = uniform(act[count].shape(), 1e-3f, rng);

    // Times one training pass (forward then backward), per layer.
    std::vector<double> fwdMs(count), bwdMs(count);
    auto pass = [&] {
        for (size_t i = 0; i < count; ++i) {
            auto t = Clock::now();
            layers[i]->forward({&act[i]}, act[i + 1], Phase::Train);
            fwdMs[i] = msSince(t);
        }
        for (size_t i = count; i-- > 0;) {
            auto t = Clock::now();
            layers[i]->backward({&act[i]}, act[i + 1], diff[i + 1], {i == 0 ? nullptr : &diff[i]});
            bwdMs[i] = msSince(t);
        }
    };

    std::vector<std::vector<double>> fwdRuns(count), bwdRuns(count);
    std::vector<double> totalRuns;
    std::vector<double> repImagesPerSecond;
    for (int r = 0; r < reps; ++r) {
        for (int i = 0; i < warmup; ++i)
            pass();
        auto repStart = Clock::now();
        for (int i = 0; i < passes; ++i) {
            pass();
            double total = 0;
            for (size_t l = 0; l < count; ++l) {
                fwdRuns[l].push_back(fwdMs[l]);
                bwdRuns[l].push_back(bwdMs[l]);
                total += fwdMs[l] + bwdMs[l];
            }
            totalRuns.push_back(total);
        }
        repImagesPerSecond.push_back(static_cast<double>(batch) * passes /
                                     (msSince(repStart) / 1000.0));
    }

    std::printf("cnn-bn layers, batch %lld, %d threads, oneDNN ISA %s; median of %d passes x %d "
                "reps\n\n",
                static_cast<long long>(batch), numThreads(), oneDnnIsa().c_str(), passes, reps);
    std::printf("%-8s %-14s %-14s %8s %8s %8s %8s %8s  %s\n", "layer", "src", "dst", "fwd ms",
                "bwd ms", "sum ms", "fwd min", "bwd min", "oneDNN implementation");
    double sumFwd = 0, sumBwd = 0, sumFwdMin = 0, sumBwdMin = 0;
    for (size_t l = 0; l < count; ++l) {
        const double f = median(fwdRuns[l]), b = median(bwdRuns[l]);
        const double fMin = *std::min_element(fwdRuns[l].begin(), fwdRuns[l].end());
        const double bMin = *std::min_element(bwdRuns[l].begin(), bwdRuns[l].end());
        sumFwd += f;
        sumBwd += b;
        sumFwdMin += fMin;
        sumBwdMin += bMin;
        std::printf("%-8s %-14s %-14s %8.3f %8.3f %8.3f %8.3f %8.3f  %s\n", nodes[l].name.c_str(),
                    shapeToString(act[l].shape()).c_str(),
                    shapeToString(act[l + 1].shape()).c_str(), f, b, f + b, fMin, bMin,
                    onednn::implementationInfo(*layers[l]).c_str());
    }
    std::printf("%-8s %-14s %-14s %8.3f %8.3f %8.3f %8.3f %8.3f\n", "sum", "", "", sumFwd, sumBwd,
                sumFwd + sumBwd, sumFwdMin, sumBwdMin);
    const double medianTotal = median(totalRuns);
    std::printf("\nmedian pass (fwd+bwd of these layers): %.3f ms = %.0f images/s "
                "(per-rep wall clock: ",
                medianTotal, 1000.0 * static_cast<double>(batch) / medianTotal);
    for (size_t r = 0; r < repImagesPerSecond.size(); ++r)
        std::printf("%s%.0f", r ? ", " : "", repImagesPerSecond[r]);
    std::printf(" images/s); excludes loss, optimizer and data loading\n");
    return 0;
}
