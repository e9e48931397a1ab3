// importModel: recognises the format by content and hands over to the ONNX or .tflite
// importer (or the .qatm loader); the shared tail of every import (pruning, input
// normalisation, finalize); the coverage report as JSON and as text.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/import_support.h"
#include "qat/importers.h"
#include "qat/model_io.h"

namespace qat {

const char* modelFormatName(ModelFormat format) {
    switch (format) {
    case ModelFormat::Onnx:
        return "onnx";
    case ModelFormat::Tflite:
        return "tflite";
    case ModelFormat::QatModel:
        return "qatm";
    }
    return "?";
}

namespace importer {

namespace {

std::string valuesText(const std::vector<float>& v) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < v.size(); ++i)
        s << (i ? ", " : "") << v[i];
    s << "]";
    return s.str();
}

// Inserts the normalisation node(s) after the Input node and rewires its consumers.
Status applyNormalisation(Graph& graph, const ImportOptions& options, std::string& description) {
    description = "none";
    if (options.inputMean.empty() && options.inputScale.empty())
        return Status::ok();
    Node* input = nullptr;
    for (Node& n : graph.nodes)
        if (n.type == OpType::Input)
            input = &n;
    QAT_ASSERT(input != nullptr);
    const Shape shape = input->attrs.getInts("shape", {});
    if (shape.size() != 3 && shape.size() != 1)
        return Status::error("input normalisation needs an [H,W,C] or [F] input, not " +
                             shapeToString(shape));
    const int64_t channels = shape.back();
    auto expand = [&](const std::vector<float>& v, float fallback, const char* what,
                      std::vector<float>& out) -> Status {
        if (v.empty())
            out.assign(static_cast<size_t>(channels), fallback);
        else if (v.size() == 1)
            out.assign(static_cast<size_t>(channels), v[0]);
        else if (static_cast<int64_t>(v.size()) == channels)
            out = v;
        else
            return Status::error(std::string("input normalisation: ") + what + " has " +
                                 std::to_string(v.size()) + " values but the input has " +
                                 std::to_string(channels) + " channels (give 1 or " +
                                 std::to_string(channels) + ")");
        for (float x : out)
            if (!std::isfinite(x))
                return Status::error(std::string("input normalisation: ") + what +
                                     " values must be finite");
        return Status::ok();
    };
    std::vector<float> mean, scale;
    QAT_RETURN_IF_ERROR(expand(options.inputMean, 0.0f, "mean", mean));
    QAT_RETURN_IF_ERROR(expand(options.inputScale, 1.0f, "scale", scale));
    if (std::any_of(scale.begin(), scale.end(), [](float s) { return s == 0.0f; }))
        return Status::error("input normalisation: scale must not be 0");

    std::set<std::string> used;
    for (const Node& n : graph.nodes)
        used.insert(n.name);
    auto unique = [&](const std::string& base) {
        std::string name = base;
        for (int i = 2; used.count(name); ++i)
            name = base + "_" + std::to_string(i);
        used.insert(name);
        return name;
    };
    const std::string inputName = input->name;
    std::vector<Node> added;
    std::string src = inputName;
    if (shape.size() == 1) {
        Node toHwc;
        toHwc.name = unique("input_normalization/to_hwc");
        toHwc.type = OpType::Reshape;
        toHwc.inputs = {src};
        toHwc.attrs.set("shape", AttrValue(std::vector<int64_t>{1, 1, channels}));
        src = toHwc.name;
        added.push_back(std::move(toHwc));
    }
    Node norm;
    norm.name = unique("input_normalization");
    norm.type = OpType::DepthwiseConv2D;
    norm.inputs = {src};
    norm.attrs.set("kernel", AttrValue(std::vector<int64_t>{1, 1}));
    norm.attrs.set("padding", "valid");
    std::vector<float> bias(static_cast<size_t>(channels));
    for (size_t c = 0; c < bias.size(); ++c)
        bias[c] = -mean[c] * scale[c];
    norm.params["weights"] = Tensor({1, 1, 1, channels}, scale);
    norm.params["bias"] = Tensor({channels}, bias);
    const std::string normName = norm.name;
    src = norm.name;
    added.push_back(std::move(norm));
    if (shape.size() == 1) {
        Node flat;
        flat.name = unique("input_normalization/flatten");
        flat.type = OpType::Flatten;
        flat.inputs = {src};
        src = flat.name;
        added.push_back(std::move(flat));
    }
    for (Node& n : graph.nodes)
        for (std::string& in : n.inputs)
            if (in == inputName)
                in = src;
    for (Node& n : added)
        graph.nodes.push_back(std::move(n));
    description = "(x - mean) * scale with mean " + valuesText(mean) + ", scale " +
                  valuesText(scale) + ", applied by node '" + normName + "' (1x1 DepthwiseConv2D)";
    return Status::ok();
}

// Keeps the Input node and the nodes the output depends on.
void pruneDeadNodes(Graph& graph) {
    std::unordered_map<std::string, const Node*> byName;
    for (const Node& n : graph.nodes)
        byName[n.name] = &n;
    std::set<std::string> live;
    std::vector<std::string> stack{graph.output};
    while (!stack.empty()) {
        std::string name = stack.back();
        stack.pop_back();
        if (!live.insert(name).second)
            continue;
        auto it = byName.find(name);
        if (it != byName.end())
            for (const std::string& in : it->second->inputs)
                stack.push_back(in);
    }
    std::erase_if(graph.nodes, [&](const Node& n) {
        return n.type != OpType::Input && live.count(n.name) == 0;
    });
}

} // namespace

std::string fileShapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += "x";
        s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
    }
    return s + "]";
}

Result<ImportResult> finishImport(Graph graph, CoverageReport report,
                                  const ImportOptions& options) {
    pruneDeadNodes(graph);
    std::string normalisation;
    QAT_RETURN_IF_ERROR(applyNormalisation(graph, options, normalisation));
    QAT_RETURN_IF_ERROR(graph.finalize());
    if (!graph.hasAllParams())
        return Status::error("internal error: the imported graph lacks parameters");
    for (ImportedTensor& in : report.inputs)
        in.normalisation = normalisation;
    report.layers = static_cast<int64_t>(graph.nodes.size()) - 1;
    report.supported = true;
    ImportResult result;
    result.report = std::move(report);
    result.graph = std::move(graph);
    return result;
}

} // namespace importer

namespace {

bool isTflite(std::span<const uint8_t> bytes) {
    return bytes.size() >= 8 && std::memcmp(bytes.data() + 4, "TFL3", 4) == 0;
}

bool isQatModel(std::span<const uint8_t> bytes) {
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), "QATMODEL", 8) == 0)
        return true;
    // A zoo-style JSON graph: the first non-blank byte opens an object.
    for (uint8_t b : bytes) {
        if (b == ' ' || b == '\t' || b == '\n' || b == '\r')
            continue;
        return b == '{';
    }
    return false;
}

Result<ImportResult> importQatModel(const std::string& path, const ImportOptions& options) {
    auto file = loadModelFile(path);
    if (!file)
        return file.status();
    Graph graph = std::move(file->graph);
    QAT_RETURN_IF_ERROR(graph.finalize().withContext(path));
    CoverageReport report;
    report.format = ModelFormat::QatModel;
    report.source = path;
    report.producer = "QAT Lab";
    report.fileOps = static_cast<int64_t>(graph.nodes.size());
    if (!graph.hasAllParams()) {
        graph.initializeParams(0);
        report.notes.push_back("the file has no weights; parameters were initialized (seed 0)");
    }
    if (!options.outputName.empty()) {
        if (!graph.find(options.outputName))
            return Status::error(path + ": no node named '" + options.outputName +
                                 "' to import as the output");
        graph.output = options.outputName;
        QAT_RETURN_IF_ERROR(graph.finalize().withContext(path));
    }
    const Node& in = graph.inputNode();
    const Node& out = graph.outputNode();
    auto describe = [](const Node& n) {
        ImportedTensor t;
        t.name = n.name;
        t.fileShape = withBatch(-1, n.outputShape);
        t.fileLayout = importer::fileLayoutName(n.outputShape.size() + 1, false);
        t.graphShape = n.outputShape;
        t.graphLayout = importer::graphLayoutName(n.outputShape.size());
        return t;
    };
    report.inputs.push_back(describe(in));
    report.outputs.push_back(describe(out));
    if (graph.output.empty())
        graph.output = out.name;
    auto result = importer::finishImport(std::move(graph), std::move(report), options);
    if (!result)
        return result.status().withContext(path);
    return result;
}

} // namespace

Result<ImportResult> importModelBytes(std::span<const uint8_t> bytes, const std::string& sourceName,
                                      const ImportOptions& options) {
    if (bytes.size() > kMaxImportFileBytes)
        return Status::error(sourceName + ": " + std::to_string(bytes.size()) +
                             " bytes is larger than the " + std::to_string(kMaxImportFileBytes) +
                             "-byte import limit");
    if (bytes.empty())
        return Status::error(sourceName + ": the file is empty");
    if (isTflite(bytes))
        return importTfliteBytes(bytes, sourceName, options);
    if (isQatModel(bytes))
        return Status::error(sourceName +
                             ": a QAT Lab model file; open it by path (importModel/loadModel)");
    return importOnnxBytes(bytes, sourceName, options);
}

Result<ImportResult> importModel(const std::string& path, const ImportOptions& options) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return Status::error(path + ": " +
                             (fs::exists(path, ec) ? "not a regular file" : "no such file"));
    const uintmax_t size = fs::file_size(path, ec);
    if (ec)
        return Status::error(path + ": cannot read its size (" + ec.message() + ")");
    if (size > kMaxImportFileBytes)
        return Status::error(path + ": " + std::to_string(size) + " bytes is larger than the " +
                             std::to_string(kMaxImportFileBytes) + "-byte import limit");
    std::ifstream file(path, std::ios::binary);
    if (!file)
        return Status::error(path + ": cannot open for reading");
    std::vector<uint8_t> bytes;
    try {
        bytes.resize(static_cast<size_t>(size));
    } catch (const std::bad_alloc&) {
        return Status::error(path + ": not enough memory to read " + std::to_string(size) +
                             " bytes");
    }
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (static_cast<uintmax_t>(file.gcount()) != size)
        return Status::error(path + ": read " + std::to_string(file.gcount()) + " of " +
                             std::to_string(size) + " bytes");
    if (!isTflite(bytes) && isQatModel(bytes))
        return importQatModel(path, options);
    return importModelBytes(bytes, path, options);
}

std::string coverageReportToJson(const CoverageReport& report, int indent) {
    using nlohmann::json;
    json unsupported = json::array();
    for (const UnsupportedOp& op : report.unsupported)
        unsupported.push_back(
            {{"node", op.nodeName}, {"op_type", op.opType}, {"reason", op.reason}});
    auto tensors = [](const std::vector<ImportedTensor>& list, bool isInput) {
        json out = json::array();
        for (const ImportedTensor& t : list) {
            json j = {{"name", t.name},
                      {"file_shape", t.fileShape},
                      {"file_layout", t.fileLayout},
                      {"graph_shape", t.graphShape},
                      {"graph_layout", t.graphLayout}};
            if (isInput)
                j["normalisation"] = t.normalisation;
            out.push_back(std::move(j));
        }
        return out;
    };
    json j = {{"format", modelFormatName(report.format)},
              {"source", report.source},
              {"producer", report.producer},
              {"supported", report.supported},
              {"unsupported_ops", std::move(unsupported)},
              {"inputs", tensors(report.inputs, true)},
              {"outputs", tensors(report.outputs, false)},
              {"file_ops", report.fileOps},
              {"layers", report.layers},
              {"notes", report.notes}};
    // Names come from files: replace invalid UTF-8 rather than throwing.
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string formatCoverageReport(const CoverageReport& report) {
    std::ostringstream s;
    s << report.source << ": " << modelFormatName(report.format);
    if (!report.producer.empty())
        s << " (" << report.producer << ")";
    s << ", " << report.fileOps << " ops in the file\n";
    auto tensorLine = [&](const char* what, const ImportedTensor& t) {
        s << "  " << what << " '" << t.name << "': " << t.fileLayout << " "
          << importer::fileShapeText(t.fileShape) << " -> graph ";
        if (t.graphShape.empty())
            s << "(not imported)";
        else
            s << t.graphLayout << " " << shapeToString(t.graphShape);
        if (!t.normalisation.empty())
            s << ", normalisation: " << t.normalisation;
        s << "\n";
    };
    for (const ImportedTensor& t : report.inputs)
        tensorLine("input", t);
    for (const ImportedTensor& t : report.outputs)
        tensorLine("output", t);
    for (const std::string& note : report.notes)
        s << "  note: " << note << "\n";
    if (report.supported) {
        s << "supported: " << report.layers << " layers imported\n";
    } else {
        s << "NOT supported: " << report.unsupported.size() << " op"
          << (report.unsupported.size() == 1 ? "" : "s") << " cannot be represented:\n";
        for (const UnsupportedOp& op : report.unsupported)
            s << "  " << op.nodeName << " (" << op.opType << "): " << op.reason << "\n";
    }
    return s.str();
}

} // namespace qat
