// Training throughput of cnn-bn on Fashion-MNIST (full set when Debian's package is
// installed, else the bundled sample), batch 64, Adam, 2 threads: warm-up steps, then
// timed steps, repeated; prints the median images/s, where the time goes per phase
// (data / forward+loss / backward / optimizer) and the train() loop as a cross-check.
// --preset P benchmarks quantization-aware training (the fake-quant network of plan P,
// simulated BN folding) instead of float training. --peer runs bench/pytorch_peer.py
// (Debian python3-torch, same model, batch and threads; eager-mode QAT for --preset) in
// the same run, after ours, and prints the ratio of the two measured figures.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ops/layer.h"
#include "qat/dataset.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quant_plan.h"
#include "qat/quantize.h"
#include "qat/runtime.h"
#include "qat/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Phases {
    double data = 0, forward = 0, backward = 0, optimizer = 0;
};

// Runs the PyTorch peer and returns its images/s from the "RESULT <img/s>" line; NaN (with
// the reason printed) when python3-torch or the script is missing or it fails.
double runPeer(const std::string& script, const std::string& mode, int64_t batch, int threads) {
    const std::string cmd = "/usr/bin/python3 '" + script + "' --mode " + mode + " --batch " +
                            std::to_string(batch) + " --threads " + std::to_string(threads) +
                            " 2>&1";
    std::printf("peer: %s\n", cmd.c_str());
    std::fflush(stdout);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) {
        std::printf("peer: cannot start /usr/bin/python3\n");
        return NAN;
    }
    double result = NAN;
    char line[512];
    while (std::fgets(line, sizeof line, pipe)) {
        double v = 0;
        if (std::sscanf(line, "RESULT %lf", &v) == 1)
            result = v;
        else
            std::printf("  %s", line);
    }
    const int rc = pclose(pipe);
    if (rc != 0 || !std::isfinite(result)) {
        std::printf("peer: failed (exit status %d); install Debian's python3-torch\n", rc);
        return NAN;
    }
    return result;
}

} // namespace

int main(int argc, char** argv) {
    std::string modelName = "cnn-bn";
    std::string datasetName = "fashion-mnist";
    int64_t batch = 64;
    int threads = 2;
    int warmup = 20;
    int steps = 300;
    int reps = 3;
    std::string preset;
    bool peer = false;
    std::string peerScript = QAT_BENCH_DIR "/pytorch_peer.py";
    CLI::App app{"Training throughput benchmark (images/s and per-phase breakdown)"};
    app.add_option("--model", modelName, "Zoo model")->capture_default_str();
    app.add_option("--dataset", datasetName, "Dataset name or directory")->capture_default_str();
    app.add_option("--batch", batch, "Batch size")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--threads", threads, "Threads")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--warmup", warmup, "Untimed steps per repetition")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--steps", steps, "Timed steps per repetition")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--reps", reps, "Repetitions")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--preset", preset,
                   "Benchmark QAT with this plan preset (int8, int8-per-tensor, w4a8, ...) "
                   "instead of float training");
    app.add_flag("--peer", peer, "Also run the PyTorch peer (python3-torch) and print the ratio");
    app.add_option("--peer-script", peerScript, "The peer script")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    qat::setNumThreads(threads);
    auto data = qat::loadDataset(datasetName);
    if (!data) {
        std::fprintf(stderr, "train_bench: %s\n", data.message().c_str());
        return 1;
    }
    const qat::Dataset& trainSet = data->train;
    auto graph = qat::loadModelOrZoo(modelName, trainSet.sampleShape, 1);
    if (!graph) {
        std::fprintf(stderr, "train_bench: %s\n", graph.message().c_str());
        return 1;
    }
    qat::QuantPlan plan;
    if (!preset.empty()) {
        auto made = qat::makePlan(graph.value(), preset);
        if (!made) {
            std::fprintf(stderr, "train_bench: %s\n", made.message().c_str());
            return 1;
        }
        plan = made.value();
    }
    auto netResult = preset.empty()
                         ? qat::Network::create(graph.value(), 1)
                         : qat::Network::create(graph.value(), plan, qat::QatOptions{}, 1);
    if (!netResult) {
        std::fprintf(stderr, "train_bench: %s\n", netResult.message().c_str());
        return 1;
    }
    qat::Network& net = *netResult.value();

    qat::TrainConfig config;
    config.batch = batch;
    config.optimizer = qat::OptimizerKind::Adam;
    config.lr = 1e-3;
    auto optimizer = qat::makeOptimizer(config);
    std::vector<qat::ParamSlot> params = net.params();

    std::vector<int64_t> order(static_cast<size_t>(trainSet.size()));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::mt19937_64 rng(1);
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t batchesPerPass = trainSet.size() / batch; // full batches only
    if (batchesPerPass < 1) {
        std::fprintf(stderr, "train_bench: dataset has fewer than %lld images\n",
                     static_cast<long long>(batch));
        return 1;
    }

    const std::string mode = preset.empty() ? "float training" : "QAT (" + preset + ")";
    std::printf("train_bench: %s of %s on %s [%s], %lld train images, batch %lld, Adam, %d "
                "threads, oneDNN %s\n",
                mode.c_str(), modelName.c_str(), datasetName.c_str(), data->source.c_str(),
                static_cast<long long>(trainSet.size()), static_cast<long long>(batch),
                qat::numThreads(), qat::oneDnnIsa().c_str());
    std::printf("%d warm-up + %d timed steps, %d repetitions\n\n", warmup, steps, reps);

    qat::Tensor x;
    std::vector<int32_t> y;
    int64_t cursor = 0;
    double lossSink = 0;
    auto runStep = [&](Phases* phases) {
        const int64_t begin = (cursor++ % batchesPerPass) * batch;
        auto t = Clock::now();
        trainSet.gather(order, begin, begin + batch, x, y);
        const double tData = since(t);
        t = Clock::now();
        net.forward(x, qat::Phase::Train);
        lossSink += net.crossEntropy(y);
        const double tForward = since(t);
        t = Clock::now();
        net.backwardCrossEntropy(y);
        const double tBackward = since(t);
        t = Clock::now();
        optimizer->step(params, config.lr);
        const double tOptimizer = since(t);
        if (phases) {
            phases->data += tData;
            phases->forward += tForward;
            phases->backward += tBackward;
            phases->optimizer += tOptimizer;
        }
    };

    std::vector<double> rates, dataMs, forwardMs, backwardMs, optimizerMs;
    for (int r = 0; r < reps; ++r) {
        for (int i = 0; i < warmup; ++i)
            runStep(nullptr);
        Phases phases;
        const auto start = Clock::now();
        for (int i = 0; i < steps; ++i)
            runStep(&phases);
        const double seconds = since(start);
        const double rate = static_cast<double>(steps * batch) / seconds;
        rates.push_back(rate);
        const double perStep = 1e3 / steps;
        dataMs.push_back(phases.data * perStep);
        forwardMs.push_back(phases.forward * perStep);
        backwardMs.push_back(phases.backward * perStep);
        optimizerMs.push_back(phases.optimizer * perStep);
        std::printf("rep %d: %8.1f img/s  (%.2f s)\n", r + 1, rate, seconds);
    }

    const double rate = median(rates);
    const double stepMs = 1e3 * static_cast<double>(batch) / rate;
    std::printf("\nmedian: %.1f img/s  (%.2f ms/step)\n", rate, stepMs);
    std::printf("per-phase median, ms/step (share of the step):\n");
    const double parts[] = {median(dataMs), median(forwardMs), median(backwardMs),
                            median(optimizerMs)};
    const char* names[] = {"data (gather)", "forward + loss", "backward", "optimizer (Adam)"};
    const double sum = parts[0] + parts[1] + parts[2] + parts[3];
    for (int i = 0; i < 4; ++i)
        std::printf("  %-18s %8.3f  (%4.1f%%)\n", names[i], parts[i], 100.0 * parts[i] / sum);

    // Cross-check: the real train() loop over the same number of steps (no evaluation;
    // includes its shuffling, progress bookkeeping and the first-step preparation).
    qat::TrainConfig loopConfig = config;
    loopConfig.epochs = 1;
    loopConfig.limitTrain = std::min<int64_t>(trainSet.size(), int64_t{steps} * batch);
    loopConfig.evaluateEachEpoch = false;
    auto loop = qat::train(net, trainSet, qat::Dataset{}, loopConfig);
    if (!loop) {
        std::fprintf(stderr, "train_bench: train(): %s\n", loop.message().c_str());
        return 1;
    }
    std::printf("train() loop, %lld images: %.1f img/s\n\n",
                static_cast<long long>(loopConfig.limitTrain), loop->imagesPerSecond);

    if (peer) {
        if (modelName != "cnn-bn") {
            std::printf("peer: the PyTorch peer implements cnn-bn only\n");
        } else {
            const double theirs =
                runPeer(peerScript, preset.empty() ? "float" : "qat", batch, qat::numThreads());
            if (std::isfinite(theirs))
                std::printf("\n%s: ours %.1f img/s, PyTorch %.1f img/s, ratio ours/peer %.2fx\n",
                            mode.c_str(), rate, theirs, rate / theirs);
        }
    }
    if (!std::isfinite(lossSink))
        std::printf("warning: the training loss became non-finite during the benchmark\n");
    return 0;
}
