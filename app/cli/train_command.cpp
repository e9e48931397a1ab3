// qatlab-cli train: float training of a zoo model or model file on a dataset.
// Human-readable output (a header line, one summary line per epoch, a result line) goes
// to stdout, or to stderr with --json, where stdout carries only one JSON object.
// stderr also gets a live progress line when it is a terminal, and errors.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "qat/dataset.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/runtime.h"
#include "qat/trainer.h"

namespace qat::cli {

namespace {

struct TrainOptions {
    std::string model;
    std::string dataset;
    int epochs = 1;
    int64_t batch = 64;
    std::optional<double> lr; // default depends on the optimizer
    std::string optimizer = "adam";
    double momentum = 0.9;
    double weightDecay = 0.0;
    std::string schedule = "constant";
    int64_t stepSize = 1;
    double stepGamma = 0.1;
    int threads = 0;
    uint64_t seed = 0;
    int64_t limitTrain = 0;
    int64_t limitTest = 0;
    std::string inputShape;
    std::string save;
    bool json = false;
};

constexpr double kDefaultLrAdam = 1e-3;
constexpr double kDefaultLrSgd = 1e-2;

bool isZooName(const std::string& name) {
    const auto names = zooModelNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

// The single updating progress line (stderr, terminals only).
class ProgressLine {
public:
    explicit ProgressLine(bool enabled) : m_enabled(enabled) {}

    void show(const TrainProgress& p) {
        if (!m_enabled)
            return;
        const double perStep = p.secondsElapsed / static_cast<double>(std::max<int64_t>(1, p.step));
        const double eta = perStep * static_cast<double>(p.totalSteps - p.step);
        std::fprintf(stderr,
                     "\r\033[Kepoch %d/%d  step %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  "
                     "ETA %s",
                     p.epoch, p.epochs, static_cast<long long>(p.step),
                     static_cast<long long>(p.totalSteps), p.loss, 100.0 * p.trainAccuracy,
                     p.imagesPerSecond, formatDuration(eta).c_str());
        std::fflush(stderr);
        m_dirty = true;
    }
    void clear() {
        if (!m_enabled || !m_dirty)
            return;
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
        m_dirty = false;
    }

private:
    bool m_enabled;
    bool m_dirty = false;
};

int runTrain(const TrainOptions& opt) {
    TrainConfig config;
    config.epochs = opt.epochs;
    config.batch = opt.batch;
    config.optimizer = opt.optimizer == "sgd" ? OptimizerKind::Sgd : OptimizerKind::Adam;
    config.lr =
        opt.lr.value_or(config.optimizer == OptimizerKind::Sgd ? kDefaultLrSgd : kDefaultLrAdam);
    config.momentum = opt.momentum;
    config.weightDecay = opt.weightDecay;
    config.schedule = opt.schedule == "step"     ? LrSchedule::Step
                      : opt.schedule == "cosine" ? LrSchedule::Cosine
                                                 : LrSchedule::Constant;
    config.stepSize = opt.stepSize;
    config.stepGamma = opt.stepGamma;
    config.seed = opt.seed;
    config.limitTrain = opt.limitTrain;
    config.limitTest = opt.limitTest;

    if (!opt.save.empty()) {
        // Fail before training, not after, when the output cannot be written.
        const auto dir = std::filesystem::absolute(opt.save).parent_path();
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            return fail("--save: directory '" + dir.string() + "' does not exist");
    }

    setNumThreads(opt.threads);

    auto data = loadDataset(opt.dataset);
    if (!data)
        return fail(data.message());
    const DatasetSplits& splits = data.value();

    // A zoo model takes the dataset's image shape and class count.
    std::optional<Shape> inputShape;
    std::optional<int64_t> numClasses;
    if (!opt.inputShape.empty())
        inputShape = parseShape(opt.inputShape);
    else if (isZooName(opt.model))
        inputShape = splits.train.sampleShape;
    if (isZooName(opt.model))
        numClasses = splits.train.numClasses;
    auto graph = loadModelOrZoo(opt.model, inputShape, opt.seed, numClasses);
    if (!graph)
        return fail(graph.message());
    auto net = Network::create(graph.value(), opt.seed);
    if (!net)
        return fail(opt.model + ": " + net.message());

    const int64_t trainCount = config.limitTrain > 0
                                   ? std::min(config.limitTrain, splits.train.size())
                                   : splits.train.size();
    const int64_t testCount =
        config.limitTest > 0 ? std::min(config.limitTest, splits.test.size()) : splits.test.size();
    // With --json, stdout carries only the JSON object; the human-readable lines go to
    // stderr so that "> result.json" and pipes get clean output.
    std::FILE* human = opt.json ? stderr : stdout;
    std::fprintf(human,
                 "training %s (%lld parameters) on %s [%s]: %lld train / %lld test images, %s lr "
                 "%g, batch %lld, %d epoch%s, %d threads, oneDNN %s\n",
                 opt.model.c_str(), static_cast<long long>(graph->parameterCount()),
                 opt.dataset.c_str(), splits.source.c_str(), static_cast<long long>(trainCount),
                 static_cast<long long>(testCount), opt.optimizer.c_str(), config.lr,
                 static_cast<long long>(config.batch), config.epochs, config.epochs == 1 ? "" : "s",
                 numThreads(), oneDnnIsa().c_str());
    std::fflush(human);

    CancelToken cancel;
    InterruptGuard interruptGuard(cancel);
    ProgressLine progressLine(isatty(STDERR_FILENO) != 0);
    TrainCallbacks callbacks;
    callbacks.progress = [&](const TrainProgress& p) { progressLine.show(p); };
    callbacks.epochDone = [&](const EpochResult& e) {
        progressLine.clear();
        std::fprintf(
            human, "epoch %d/%d  loss %.4f  acc %.2f%%  test loss %.4f  test acc %.2f%%  %.1f s\n",
            e.epoch, config.epochs, e.trainLoss, 100.0 * e.trainAccuracy, e.testLoss,
            100.0 * e.testAccuracy, e.seconds);
        std::fflush(human);
    };

    auto trained = train(*net.value(), splits.train, splits.test, config, &cancel, callbacks);
    progressLine.clear();
    if (!trained)
        return fail(trained.message());
    const TrainResult& result = trained.value();

    std::string savedTo;
    if (!opt.save.empty()) {
        if (result.cancelled) {
            std::fprintf(stderr, "qatlab-cli: training was interrupted; not saving %s\n",
                         opt.save.c_str());
        } else {
            Status st = saveModel(graph.value(), opt.save);
            if (!st)
                return fail(st.message());
            savedTo = opt.save;
        }
    }

    if (opt.json) {
        nlohmann::json history = nlohmann::json::array();
        for (const EpochResult& e : result.epochs)
            history.push_back({{"epoch", e.epoch},
                               {"train_loss", e.trainLoss},
                               {"train_accuracy", e.trainAccuracy},
                               {"test_loss", e.testLoss},
                               {"test_accuracy", e.testAccuracy},
                               {"seconds", e.seconds}});
        nlohmann::json out = {
            {"model", opt.model},
            {"dataset", opt.dataset},
            {"dataset_source", splits.source},
            {"train_images", trainCount},
            {"test_images", testCount},
            {"parameters", graph->parameterCount()},
            {"optimizer", opt.optimizer},
            {"lr", config.lr},
            {"schedule", opt.schedule},
            {"batch", config.batch},
            {"seed", config.seed},
            {"epochs", static_cast<int>(result.epochs.size())},
            {"epochs_requested", config.epochs},
            {"test_accuracy", result.testAccuracy},
            {"train_images_per_second", result.imagesPerSecond},
            {"seconds", result.seconds},
            {"history", history},
            {"threads", numThreads()},
            {"onednn_isa", oneDnnIsa()},
            {"cancelled", result.cancelled},
            {"saved_to", savedTo.empty() ? nlohmann::json() : nlohmann::json(savedTo)},
        };
        std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
    } else {
        std::printf("%s: test accuracy %.2f%% after %zu epoch%s, %.0f img/s training, %.1f s\n",
                    result.cancelled ? "interrupted" : "done", 100.0 * result.testAccuracy,
                    result.epochs.size(), result.epochs.size() == 1 ? "" : "s",
                    result.imagesPerSecond, result.seconds);
        if (!savedTo.empty())
            std::printf("saved %s\n", savedTo.c_str());
        std::fflush(stdout);
    }
    return result.cancelled ? kExitInterrupted : kExitOk;
}

} // namespace

Command addTrainCommand(CLI::App& parent) {
    auto opt = std::make_shared<TrainOptions>();
    CLI::App* sub = parent.add_subcommand("train", "Train a model (float) on a dataset");
    sub->footer("\nMODEL is a zoo name (see 'qatlab-cli zoo'; it takes the dataset's image "
                "shape and class count) or a model file (.qatm or graph JSON).\nDATASET is "
                "fashion-mnist, fashion-mnist-sample, mnist-sample, mnist, or a directory with "
                "IDX or CIFAR-10 binary files, or PNG/JPEG images in one subdirectory per class "
                "(optionally inside train/ and test/).\nCtrl-C stops after the current batch; a "
                "second Ctrl-C quits at once.\n\nExample: qatlab-cli train cnn-bn --dataset "
                "fashion-mnist --epochs 3 --json");
    sub->add_option("MODEL", opt->model, "Zoo model name or model file")->required();
    sub->add_option("--dataset,-d", opt->dataset, "Dataset name or directory")->required();
    sub->add_option("--epochs,-e", opt->epochs, "Passes over the training set")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--batch,-b", opt->batch, "Batch size")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--lr", opt->lr, "Learning rate (default 0.001 for adam, 0.01 for sgd)")
        ->check(positiveNumber());
    sub->add_option("--optimizer", opt->optimizer, "adam (AdamW decay) or sgd (momentum)")
        ->check(CLI::IsMember({"adam", "sgd"}))
        ->capture_default_str();
    sub->add_option("--momentum", opt->momentum, "SGD momentum")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    sub->add_option("--weight-decay", opt->weightDecay,
                    "Weight decay (L2 for sgd, decoupled for adam; not on biases/BN)")
        ->check(nonNegativeNumber())
        ->capture_default_str();
    sub->add_option("--schedule", opt->schedule, "Learning-rate schedule: constant, step, cosine")
        ->check(CLI::IsMember({"constant", "step", "cosine"}))
        ->capture_default_str();
    sub->add_option("--step-size", opt->stepSize, "step schedule: epochs between decays")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--step-gamma", opt->stepGamma, "step schedule: decay factor")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--threads,-j", opt->threads, "Threads (0 = all cores)")
        ->check(nonNegativeNumber())
        ->capture_default_str();
    sub->add_option("--seed", opt->seed, "Seed for initialization, shuffling and dropout")
        ->capture_default_str();
    sub->add_option("--limit-train", opt->limitTrain, "Use only the first N training images")
        ->check(nonNegativeNumber());
    sub->add_option("--limit-test", opt->limitTest, "Use only the first N test images")
        ->check(nonNegativeNumber());
    sub->add_option("--input-shape", opt->inputShape,
                    "Model input shape HxWxC (default: the dataset's image shape for zoo models)")
        ->check(shapeValidator());
    sub->add_option("--save,-o", opt->save, "Write the trained model to this .qatm file");
    sub->add_flag("--json", opt->json, "Print the result as one JSON object (last stdout line)");
    return {sub, [opt] { return runTrain(*opt); }};
}

} // namespace qat::cli
