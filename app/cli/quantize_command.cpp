// qatlab-cli quantize / export / bench: PTQ and QAT runs with measured metrics, .tflite
// export of saved models, and float vs int8 latency. Human-readable output goes to
// stdout (stderr with --json, where stdout carries one JSON object on its last line).
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "qat/dataset.h"
#include "qat/experiment.h"
#include "qat/int_model.h"
#include "qat/metrics.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/tflite_export.h"
#include "qat/tflite_int_export.h"

namespace qat::cli {

namespace {

using nlohmann::json;

bool isZoo(const std::string& name) {
    const auto names = zooModelNames();
    return std::find(names.begin(), names.end(), name) != names.end();
}

json jsonNumber(double v) {
    return std::isfinite(v) ? json(v) : json();
}

json latencyJson(const LatencyReport& l) {
    if (!l.measured)
        return json();
    return json{{"float", {{"batch1", l.floatBatch1Ms}, {"batch64", l.floatBatch64Ms}}},
                {"int8", {{"batch1", l.int8Batch1Ms}, {"batch64", l.int8Batch64Ms}}},
                {"threads", l.threads},
                {"isa", l.isa},
                {"stable", l.stable},
                {"note", l.note}};
}

void printLatency(std::FILE* out, const LatencyReport& l) {
    if (!l.measured)
        return;
    auto ratio = [](double f, double q) { return q > 0 ? f / q : 0.0; };
    std::fprintf(out,
                 "latency (median, %d thread%s, oneDNN %s):\n"
                 "  batch 1:  float %.3f ms  int8 %.3f ms  (int8 %.2fx faster)\n"
                 "  batch 64: float %.3f ms  int8 %.3f ms  (int8 %.2fx faster)\n",
                 l.threads, l.threads == 1 ? "" : "s", l.isa.c_str(), l.floatBatch1Ms,
                 l.int8Batch1Ms, ratio(l.floatBatch1Ms, l.int8Batch1Ms), l.floatBatch64Ms,
                 l.int8Batch64Ms, ratio(l.floatBatch64Ms, l.int8Batch64Ms));
    if (!l.note.empty())
        std::fprintf(out, "  (%s)\n", l.note.c_str());
    if (!l.stable)
        std::fprintf(out, "  warning: latency figures are unstable (the machine is busy); "
                          "the ratios above are unreliable, measure again when it is idle\n");
}

void printSizeReport(std::FILE* out, const char* title, const TfliteExportReport& r) {
    std::fprintf(out, "%s: %lld bytes (weights %lld, biases %lld, metadata %lld)\n", title,
                 static_cast<long long>(r.totalBytes), static_cast<long long>(r.weightBytes()),
                 static_cast<long long>(r.biasBytes()), static_cast<long long>(r.metadataBytes));
    for (const auto& l : r.layers)
        if (l.weightBytes > 0 || l.biasBytes > 0)
            std::fprintf(out, "  %-24s %-20s %-8s weights %8lld  bias %6lld\n", l.layer.c_str(),
                         l.op.c_str(), l.weightType.c_str(), static_cast<long long>(l.weightBytes),
                         static_cast<long long>(l.biasBytes));
}

Status ensureParentDir(const std::string& path, const char* flag) {
    if (path.empty())
        return Status::ok();
    const auto dir = std::filesystem::absolute(path).parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        return Status::error(std::string(flag) + ": directory '" + dir.string() +
                             "' does not exist");
    return Status::ok();
}

// ---------------------------------------------------------------------------------------
struct QuantizeOptions {
    std::string model, dataset, preset, planPath, mode = "qat", save, exportPath, io = "int8";
    int epochs = 1;
    int floatEpochs = 0;
    int64_t batch = 64;
    double lr = 1e-4;
    int64_t calibBatches = 32;
    int64_t freezeBnAfter = -1, freezeObserversAfter = -1;
    int threads = 0;
    uint64_t seed = 0;
    int64_t limitTest = 0;
    bool int4 = false;
    bool noLatency = false;
    bool json = false;
    std::string rounding = "single";
};

int runQuantize(const QuantizeOptions& opt) {
    if (opt.preset.empty() == opt.planPath.empty())
        return fail("give exactly one of --preset and --plan");
    if (Status st = ensureParentDir(opt.save, "--save"); !st)
        return fail(st.message());
    if (Status st = ensureParentDir(opt.exportPath, "--export"); !st)
        return fail(st.message());
    setNumThreads(opt.threads);
    std::FILE* human = opt.json ? stderr : stdout;

    auto data = loadDataset(opt.dataset);
    if (!data)
        return fail(data.message());
    std::optional<Shape> inputShape;
    std::optional<int64_t> numClasses;
    if (isZoo(opt.model)) {
        inputShape = data->train.sampleShape;
        numClasses = data->train.numClasses;
    }
    auto loaded = loadModelOrZoo(opt.model, inputShape, opt.seed, numClasses);
    if (!loaded)
        return fail(loaded.message());
    Graph graph = std::move(loaded).value();
    if (Status st =
            checkCompatible(data->train, graph.inputShape(), graph.outputShape().back(), opt.model);
        !st)
        return fail(st.message());

    auto plan = opt.planPath.empty() ? makePlan(graph, opt.preset) : loadPlan(opt.planPath, graph);
    if (!plan)
        return fail(plan.message());

    CancelToken cancel;
    InterruptGuard guard(cancel);
    if (opt.floatEpochs > 0) {
        std::fprintf(human, "training %s in float for %d epoch%s first\n", opt.model.c_str(),
                     opt.floatEpochs, opt.floatEpochs == 1 ? "" : "s");
        RunSpec fs;
        fs.kind = RunKind::Float;
        fs.train.epochs = opt.floatEpochs;
        fs.train.batch = opt.batch;
        fs.train.seed = opt.seed;
        fs.train.evaluateEachEpoch = false;
        fs.measureLatency = false;
        auto fr = executeRun(graph, data.value(), fs, &cancel);
        if (!fr)
            return fail(fr.message());
        if (fr->cancelled)
            return kExitInterrupted;
    } else if (isZoo(opt.model) && opt.mode == "ptq") {
        std::fprintf(stderr,
                     "qatlab-cli: note: '%s' is an untrained zoo model; PTQ of random "
                     "weights says little (train first, or pass --float-epochs N)\n",
                     opt.model.c_str());
    }

    RunSpec spec;
    spec.kind = opt.mode == "ptq" ? RunKind::Ptq : RunKind::Qat;
    spec.plan = plan.value();
    spec.train.epochs = opt.epochs;
    spec.train.batch = opt.batch;
    spec.train.lr = opt.lr;
    spec.train.seed = opt.seed;
    spec.train.evaluateEachEpoch = false;
    spec.calibrationBatches = opt.calibBatches;
    spec.qat.freezeBnAfter = opt.freezeBnAfter;
    spec.qat.freezeObserversAfter = opt.freezeObserversAfter;
    spec.evalLimit = opt.limitTest;
    spec.measureLatency = !opt.noLatency;
    spec.rounding = opt.rounding == "double" ? Rounding::Double : Rounding::Single;
    std::fprintf(human, "%s %s on %s with plan '%s' (%zu layers), %d threads, oneDNN %s\n",
                 opt.mode == "ptq" ? "post-training quantization of"
                                   : "quantization-aware training of",
                 opt.model.c_str(), opt.dataset.c_str(), spec.plan.preset.c_str(),
                 spec.plan.layers.size(), numThreads(), oneDnnIsa().c_str());
    std::fflush(human);
    RunCallbacks cb;
    const bool tty = isatty(STDERR_FILENO) != 0;
    cb.progress = [&](const RunProgress& p) {
        if (!tty)
            return;
        std::fprintf(stderr, "\r\033[K%-12s %5.1f%%  ETA %s", runStageName(p.stage),
                     100.0 * p.fraction, formatDuration(p.etaSeconds).c_str());
        std::fflush(stderr);
    };
    auto run = executeRun(graph, data.value(), spec, &cancel, cb);
    if (tty)
        std::fputs("\r\033[K", stderr);
    if (!run)
        return fail(run.message());
    if (run->cancelled) {
        std::fprintf(stderr, "qatlab-cli: interrupted; nothing saved\n");
        return kExitInterrupted;
    }
    const RunMetrics& m = run->metrics;

    if (!opt.save.empty()) {
        if (Status st = saveQuantizedModel(graph, spec.plan, run->state, opt.save); !st)
            return fail(st.message());
    }
    TfliteExportReport exportReport;
    std::vector<std::string> warnings;
    if (!opt.exportPath.empty()) {
        IntConvertOptions co;
        co.floatIo = opt.io == "float";
        auto model = convertToIntModel(graph, spec.plan, run->state, co);
        if (!model)
            return fail(model.message());
        IntExportOptions eo;
        eo.int4Weights = opt.int4;
        if (Status st =
                exportIntTflite(model.value(), opt.exportPath, eo, &exportReport, &warnings);
            !st)
            return fail(st.message());
    }

    std::fprintf(human, "float accuracy       %.2f%%\n", 100.0 * m.floatAccuracy);
    std::fprintf(human, "fake-quant accuracy  %.2f%%\n", 100.0 * m.fakeQuantAccuracy);
    std::fprintf(human, "integer accuracy     %.2f%%  (reference integer executor)\n",
                 100.0 * m.integerAccuracy);
    std::fprintf(
        human, ".tflite size         float %lld bytes, int8 %lld bytes (%.3fx)\n",
        static_cast<long long>(m.floatTfliteBytes), static_cast<long long>(m.int8TfliteBytes),
        m.floatTfliteBytes > 0 ? static_cast<double>(m.int8TfliteBytes) / m.floatTfliteBytes : 0.0);
    if (spec.kind == RunKind::Qat)
        std::fprintf(human, "QAT training         %.0f img/s\n", m.trainImagesPerSecond);
    printLatency(human, m.latency);
    for (const auto& w : warnings)
        std::fprintf(stderr, "qatlab-cli: warning: %s\n", w.c_str());
    if (!opt.save.empty())
        std::fprintf(human, "saved %s\n", opt.save.c_str());
    if (!opt.exportPath.empty())
        printSizeReport(human, ("exported " + opt.exportPath).c_str(), exportReport);

    if (opt.json) {
        json out{{"model", opt.model},
                 {"dataset", opt.dataset},
                 {"mode", opt.mode},
                 {"preset", spec.plan.preset},
                 {"plan", json::parse(planToJson(spec.plan))},
                 {"float_accuracy", jsonNumber(m.floatAccuracy)},
                 {"fakequant_accuracy", jsonNumber(m.fakeQuantAccuracy)},
                 {"integer_accuracy", jsonNumber(m.integerAccuracy)},
                 {"quantized_accuracy", jsonNumber(m.integerAccuracy)},
                 {"float_tflite_bytes", m.floatTfliteBytes},
                 {"int8_tflite_bytes", m.int8TfliteBytes},
                 {"latency_ms", latencyJson(m.latency)},
                 {"rounding", opt.rounding},
                 {"seconds", m.seconds},
                 {"threads", numThreads()},
                 {"onednn_isa", oneDnnIsa()},
                 {"saved_to", opt.save.empty() ? json() : json(opt.save)},
                 {"exported_to", opt.exportPath.empty() ? json() : json(opt.exportPath)},
                 {"warnings", warnings}};
        if (spec.kind == RunKind::Qat)
            out["train_images_per_second"] = m.trainImagesPerSecond;
        std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
    }
    return kExitOk;
}

// ---------------------------------------------------------------------------------------
struct ExportOptions {
    std::string input, out, io = "int8";
    bool int4 = false;
    bool json = false;
};

int runExport(const ExportOptions& opt) {
    if (Status st = ensureParentDir(opt.out, "--out"); !st)
        return fail(st.message());
    auto file = loadQuantizedModel(opt.input);
    if (!file)
        return fail(file.message());
    TfliteExportReport report;
    std::vector<std::string> warnings;
    std::string kind;
    if (file->quantized) {
        IntConvertOptions co;
        co.floatIo = opt.io == "float";
        auto model = convertToIntModel(file->graph, file->plan, file->state, co);
        if (!model)
            return fail(model.message());
        IntExportOptions eo;
        eo.int4Weights = opt.int4;
        if (Status st = exportIntTflite(model.value(), opt.out, eo, &report, &warnings); !st)
            return fail(st.message());
        kind = "integer (" + file->plan.preset + ", " + opt.io + " I/O)";
    } else {
        if (Status st = exportFloatTflite(file->graph, opt.out, &report); !st)
            return fail(st.message());
        kind = "float32";
    }
    for (const auto& w : warnings)
        std::fprintf(stderr, "qatlab-cli: warning: %s\n", w.c_str());
    std::FILE* human = opt.json ? stderr : stdout;
    printSizeReport(human, ("exported " + kind + " " + opt.out).c_str(), report);
    if (opt.json) {
        json layers = json::array();
        for (const auto& l : report.layers)
            layers.push_back({{"layer", l.layer},
                              {"op", l.op},
                              {"weight_type", l.weightType},
                              {"weight_bytes", l.weightBytes},
                              {"bias_bytes", l.biasBytes}});
        std::printf("%s\n", json{{"out", opt.out},
                                 {"quantized", file->quantized},
                                 {"bytes", report.totalBytes},
                                 {"weight_bytes", report.weightBytes()},
                                 {"bias_bytes", report.biasBytes()},
                                 {"metadata_bytes", report.metadataBytes},
                                 {"layers", layers},
                                 {"warnings", warnings}}
                                .dump()
                                .c_str());
    }
    return kExitOk;
}

// ---------------------------------------------------------------------------------------
struct BenchOptions {
    std::string model, preset = "int8", planPath, dataset = "fashion-mnist-sample";
    int repeats = 50;
    int threads = 0;
    bool json = false;
};

int runBench(const BenchOptions& opt) {
    setNumThreads(opt.threads);
    auto data = loadDataset(opt.dataset);
    if (!data)
        return fail(data.message());
    Graph graph;
    QuantPlan plan;
    QuantState state;
    if (isZoo(opt.model)) {
        auto g = loadModelOrZoo(opt.model, data->train.sampleShape, 0, data->train.numClasses);
        if (!g)
            return fail(g.message());
        graph = std::move(g).value();
    } else {
        auto f = loadQuantizedModel(opt.model);
        if (!f)
            return fail(f.message());
        graph = std::move(f->graph);
        if (f->quantized && opt.planPath.empty()) {
            plan = f->plan;
            state = f->state;
        }
    }
    if (state.ranges.empty()) {
        auto p = opt.planPath.empty() ? makePlan(graph, opt.preset) : loadPlan(opt.planPath, graph);
        if (!p)
            return fail(p.message());
        plan = p.value();
        auto qnet = Network::create(graph, plan, QatOptions{});
        if (!qnet)
            return fail(qnet.message());
        if (Status st = calibrate(*qnet.value(), data->train, 8, 64); !st)
            return fail(st.message());
        state = qnet.value()->quantState();
    }
    auto model = convertToIntModel(graph, plan, state);
    if (!model)
        return fail(model.message());
    auto lat = measureLatency(graph, &model.value(), opt.repeats);
    if (!lat)
        return fail(lat.message());
    std::FILE* human = opt.json ? stderr : stdout;
    std::fprintf(human, "%s, plan '%s', %d timed runs after warm-up\n", opt.model.c_str(),
                 plan.preset.c_str(), opt.repeats);
    printLatency(human, lat.value());
    if (opt.json)
        std::printf(
            "%s\n",
            json{{"model", opt.model}, {"latency_ms", latencyJson(lat.value())}}.dump().c_str());
    return kExitOk;
}

} // namespace

Command addQuantizeCommand(CLI::App& parent) {
    auto opt = std::make_shared<QuantizeOptions>();
    CLI::App* sub = parent.add_subcommand("quantize", "Quantize a model: PTQ or QAT, measured");
    sub->footer("\nMODEL is a trained model file (.qatm, e.g. from 'qatlab-cli train --save') or "
                "a zoo name (untrained: use --float-epochs, or QAT from scratch).\nReports float, "
                "fake-quant and integer accuracy, .tflite sizes and float vs int8 latency.\n\n"
                "Example: qatlab-cli quantize cnn-bn.qatm --dataset fashion-mnist --preset int8 "
                "--mode qat --epochs 1 --export cnn-bn-int8.tflite --json");
    sub->add_option("MODEL", opt->model, "Model file or zoo name")->required();
    sub->add_option("--dataset,-d", opt->dataset, "Dataset name or directory")->required();
    sub->add_option("--preset", opt->preset,
                    "Plan preset: int8, int8-per-tensor, w4a8, w4a4, w8a16")
        ->check(CLI::IsMember(presetNames()));
    sub->add_option("--plan", opt->planPath, "Plan JSON file (preset + per-layer overrides)");
    sub->add_option("--mode", opt->mode, "ptq or qat")
        ->check(CLI::IsMember({"ptq", "qat"}))
        ->capture_default_str();
    sub->add_option("--epochs,-e", opt->epochs, "QAT fine-tuning epochs")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--float-epochs", opt->floatEpochs, "Train in float first for N epochs")
        ->check(nonNegativeNumber());
    sub->add_option("--batch,-b", opt->batch, "Batch size")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--lr", opt->lr, "QAT learning rate (Adam)")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--calib-batches", opt->calibBatches,
                    "Calibration batches (PTQ, and QAT's start)")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--freeze-bn-after", opt->freezeBnAfter,
                    "QAT steps before BN statistics freeze");
    sub->add_option("--freeze-observers-after", opt->freezeObserversAfter,
                    "QAT steps before activation ranges freeze");
    sub->add_option("--threads,-j", opt->threads, "Threads (0 = all cores)")
        ->check(nonNegativeNumber());
    sub->add_option("--seed", opt->seed, "Seed")->capture_default_str();
    sub->add_option("--limit-test", opt->limitTest, "Evaluate on the first N test images")
        ->check(nonNegativeNumber());
    sub->add_option("--save,-o", opt->save,
                    "Write the quantized model (.qatm with plan and ranges)");
    sub->add_option("--export", opt->exportPath, "Write the integer model as .tflite");
    sub->add_option("--io", opt->io, "Exported model I/O: int8 or float")
        ->check(CLI::IsMember({"int8", "float"}))
        ->capture_default_str();
    sub->add_flag("--int4", opt->int4, "Export 2-4 bit weights as INT4 tensors (LiteRT only)");
    sub->add_flag("--no-latency", opt->noLatency, "Skip the latency measurement");
    sub->add_option("--rounding", opt->rounding,
                    "Integer requantization rounding: single (LiteRT/XNNPACK) or double (TFLite "
                    "reference kernels)")
        ->check(CLI::IsMember({"single", "double"}))
        ->capture_default_str();
    sub->add_flag("--json", opt->json, "Print the result as one JSON object (last stdout line)");
    return {sub, [opt] { return runQuantize(*opt); }};
}

Command addExportCommand(CLI::App& parent) {
    auto opt = std::make_shared<ExportOptions>();
    CLI::App* sub = parent.add_subcommand("export", "Export a saved model as .tflite");
    sub->footer("\nA quantized model (from 'quantize --save') becomes a full-integer .tflite; a "
                "float model a float32 .tflite.");
    sub->add_option("MODEL", opt->input, "Model file (.qatm)")->required();
    sub->add_option("--out,-o", opt->out, "Output .tflite path")->required();
    sub->add_option("--io", opt->io, "int8 or float model I/O (quantized models)")
        ->check(CLI::IsMember({"int8", "float"}))
        ->capture_default_str();
    sub->add_flag("--int4", opt->int4, "Export 2-4 bit weights as INT4 tensors (LiteRT only)");
    sub->add_flag("--json", opt->json, "Print the report as one JSON object");
    return {sub, [opt] { return runExport(*opt); }};
}

Command addBenchCommand(CLI::App& parent) {
    auto opt = std::make_shared<BenchOptions>();
    CLI::App* sub = parent.add_subcommand("bench", "Float vs int8 inference latency");
    sub->add_option("MODEL", opt->model, "Zoo name or model file")->required();
    sub->add_option("--preset", opt->preset, "Plan preset when the model has no plan")
        ->check(CLI::IsMember(presetNames()))
        ->capture_default_str();
    sub->add_option("--plan", opt->planPath, "Plan JSON file");
    sub->add_option("--dataset,-d", opt->dataset, "Calibration data")->capture_default_str();
    sub->add_option("--repeats", opt->repeats, "Timed runs per measurement")
        ->check(positiveNumber())
        ->capture_default_str();
    sub->add_option("--threads,-j", opt->threads, "Threads (0 = all cores)")
        ->check(nonNegativeNumber());
    sub->add_flag("--json", opt->json, "Print the result as one JSON object");
    return {sub, [opt] { return runBench(*opt); }};
}

} // namespace qat::cli
