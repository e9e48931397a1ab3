// qatlab-cli import: reads an ONNX or float .tflite file (recognised by content), prints
// the coverage report and saves the imported graph as a .qatm model file.
// Without --json the report is human-readable on stdout; with --json stdout carries one
// JSON object (qat/importers.h coverageReportToJson, plus "saved"). Exit 0 when the model
// imported (and was saved), 1 when the file is unreadable or corrupt (one error line) or
// uses unsupported ops (the report, then one error line), 2 for usage errors.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "qat/importers.h"
#include "qat/model_io.h"

namespace qat::cli {

namespace {

struct ImportCliOptions {
    std::string file;
    std::string save;
    std::string inputScale;
    std::string inputMean;
    std::string output;
    bool json = false;
};

// "0.5" or "0.485,0.456,0.406": finite numbers, comma-separated.
std::optional<std::vector<float>> parseFloats(const std::string& text) {
    std::vector<float> values;
    size_t pos = 0;
    while (pos <= text.size()) {
        const size_t comma = text.find(',', pos);
        const std::string part =
            text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        char* end = nullptr;
        const double v = std::strtod(part.c_str(), &end);
        if (part.empty() || end != part.c_str() + part.size() || !std::isfinite(v))
            return std::nullopt;
        values.push_back(static_cast<float>(v));
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    return values;
}

CLI::Validator floatListValidator(bool nonZero) {
    return CLI::Validator(
        [nonZero](std::string& value) -> std::string {
            auto values = parseFloats(value);
            if (!values)
                return "'" + value +
                       "' is not a number or a comma-separated list of numbers (one per channel)";
            if (nonZero)
                for (float v : *values)
                    if (v == 0.0f)
                        return std::string("a scale must not be 0");
            return {};
        },
        nonZero ? "SCALE[,SCALE...]" : "MEAN[,MEAN...]");
}

int runImport(const ImportCliOptions& opt) {
    if (!opt.save.empty()) {
        // Fail before importing, not after, when the output cannot be written.
        const auto dir = std::filesystem::absolute(opt.save).parent_path();
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            return fail("--save: directory '" + dir.string() + "' does not exist");
    }
    ImportOptions options;
    if (!opt.inputScale.empty())
        options.inputScale = parseFloats(opt.inputScale).value_or(std::vector<float>{});
    if (!opt.inputMean.empty())
        options.inputMean = parseFloats(opt.inputMean).value_or(std::vector<float>{});
    options.outputName = opt.output;

    auto imported = importModel(opt.file, options);
    if (!imported)
        return fail(imported.message());
    const CoverageReport& report = imported->report;

    std::string saved;
    if (imported->graph && !opt.save.empty()) {
        if (Status st = saveModel(*imported->graph, opt.save); !st)
            return fail(st.message());
        saved = opt.save;
    }
    if (opt.json) {
        auto json = nlohmann::json::parse(coverageReportToJson(report));
        json["saved"] = saved;
        std::printf("%s\n",
                    json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        std::printf("%s", formatCoverageReport(report).c_str());
        if (!saved.empty())
            std::printf("saved %s\n", saved.c_str());
    }
    std::fflush(stdout);
    if (!report.supported)
        return fail(opt.file + ": " + std::to_string(report.unsupported.size()) +
                    " unsupported op" + (report.unsupported.size() == 1 ? "" : "s") +
                    "; nothing was imported" + (opt.save.empty() ? "" : " or saved"));
    return kExitOk;
}

} // namespace

Command addImportCommand(CLI::App& parent) {
    auto opt = std::make_shared<ImportCliOptions>();
    CLI::App* sub = parent.add_subcommand(
        "import", "Import an ONNX or float .tflite model: print its coverage report, save it");
    sub->add_option("FILE", opt->file, "ONNX (.onnx) or float TensorFlow Lite (.tflite) file")
        ->required();
    sub->add_option("--save", opt->save, "Write the imported model to this .qatm file");
    sub->add_option("--input-scale", opt->inputScale,
                    "The model expects (x - mean) * scale: one scale, or one per channel "
                    "(comma-separated)")
        ->check(floatListValidator(true));
    sub->add_option("--input-mean", opt->inputMean,
                    "The mean subtracted before scaling: one value, or one per channel")
        ->check(floatListValidator(false));
    sub->add_option("--output", opt->output,
                    "Tensor to import as the model output (one of several outputs, or an "
                    "intermediate tensor)");
    sub->add_flag("--json", opt->json, "Print the report as one JSON object on stdout");
    return {sub, [opt] { return runImport(*opt); }};
}

} // namespace qat::cli
