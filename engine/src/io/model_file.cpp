// The app's own model file (.qatm) and its JSON graph encoding (layout in qat/model_io.h).
// JSON document: {"format":"qatlab-model","version":1,"graph":{"nodes":[...],"output":..},
// "params":[{"node","name","shape","offset","count"}],"blob_bytes":N}; offset and count
// are in float32 elements from the start of the blob. Attribute types follow the JSON
// value: integer -> int, number with '.'/exponent -> float, string, integer list;
// non-finite floats are written as {"float":"nan"|"inf"|"-inf"}. Readers trust nothing:
// every length is checked against the file size before anything is allocated.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "graph/shape_inference.h"
#include "io/atomic_file.h"
#include "io/crc32.h"
#include "qat/model_io.h"

namespace qat {

namespace {

using nlohmann::json;
// Written documents keep key order (name, type, inputs, attrs) so they read naturally.
using OrderedJson = nlohmann::ordered_json;
namespace fs = std::filesystem;

constexpr char kMagic[8] = {'Q', 'A', 'T', 'M', 'O', 'D', 'E', 'L'};
constexpr size_t kHeaderSize = 24; // magic, u32 version, u32 reserved, u64 JSON length
constexpr size_t kTrailerSize = 4; // CRC-32
constexpr const char* kFormatName = "qatlab-model";
// A weightless model is initialized in memory: refuse absurd ones. 2^26 parameters
// (256 MiB of float32) is about three ResNet-50s, far above anything this app trains.
constexpr int64_t kMaxInitializedParams = int64_t{1} << 26;

void putU32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

void putU64(std::string& out, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

uint32_t getU32(const char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

uint64_t getU64(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

std::string supportedOps() {
    std::string s;
    for (OpType t : allOpTypes())
        s += (s.empty() ? "" : ", ") + std::string(opTypeName(t));
    return s;
}

// ---- attributes -------------------------------------------------------------------

OrderedJson attrToJson(const AttrValue& value) {
    if (const auto* i = std::get_if<int64_t>(&value))
        return *i;
    if (const auto* d = std::get_if<double>(&value)) {
        if (std::isfinite(*d))
            return *d;
        return OrderedJson{{"float", std::isnan(*d) ? "nan" : (*d > 0 ? "inf" : "-inf")}};
    }
    if (const auto* s = std::get_if<std::string>(&value))
        return *s;
    return std::get<std::vector<int64_t>>(value);
}

Result<int64_t> jsonToInt(const json& j) {
    if (j.is_number_unsigned()) {
        if (j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return Status::error("integer out of range");
        return static_cast<int64_t>(j.get<uint64_t>());
    }
    if (j.is_number_integer())
        return j.get<int64_t>();
    if (j.is_boolean())
        return j.get<bool>() ? int64_t{1} : int64_t{0};
    return Status::error("not an integer");
}

Result<AttrValue> attrFromJson(const json& j, const std::string& where) {
    if (j.is_number_float())
        return AttrValue(j.get<double>());
    if (j.is_number_integer() || j.is_boolean()) {
        auto v = jsonToInt(j);
        if (!v)
            return Status::error(where + ": " + v.message());
        return AttrValue(*v);
    }
    if (j.is_string())
        return AttrValue(j.get<std::string>());
    if (j.is_array()) {
        std::vector<int64_t> list;
        list.reserve(j.size());
        for (const json& e : j) {
            auto v = jsonToInt(e);
            if (!v)
                return Status::error(where + ": list elements must be integers");
            list.push_back(*v);
        }
        return AttrValue(std::move(list));
    }
    if (j.is_object() && j.size() == 1 && j.contains("float") && j["float"].is_string()) {
        const std::string s = j["float"].get<std::string>();
        if (s == "nan")
            return AttrValue(std::numeric_limits<double>::quiet_NaN());
        if (s == "inf")
            return AttrValue(std::numeric_limits<double>::infinity());
        if (s == "-inf")
            return AttrValue(-std::numeric_limits<double>::infinity());
    }
    return Status::error(where + ": unsupported value " + j.dump() +
                         " (use an integer, a number, a string or a list of integers)");
}

// ---- graph <-> JSON -----------------------------------------------------------------

OrderedJson graphObject(const Graph& graph) {
    OrderedJson nodes = OrderedJson::array();
    for (const Node& node : graph.nodes) {
        OrderedJson attrs = OrderedJson::object();
        for (const auto& [key, value] : node.attrs.all())
            attrs[key] = attrToJson(value);
        nodes.push_back(OrderedJson{{"name", node.name},
                                    {"type", opTypeName(node.type)},
                                    {"inputs", node.inputs},
                                    {"attrs", std::move(attrs)}});
    }
    OrderedJson g{{"nodes", std::move(nodes)}};
    if (!graph.output.empty())
        g["output"] = graph.output;
    return g;
}

// Builds an unfinalized graph from the "graph" object. Messages name the node.
Result<Graph> parseGraphObject(const json& g) {
    if (!g.is_object() || !g.contains("nodes") || !g["nodes"].is_array())
        return Status::error("\"graph\" must be an object with a \"nodes\" array");
    Graph graph;
    std::vector<std::string> unknownOps;
    const json& nodes = g["nodes"];
    graph.nodes.reserve(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
        const json& jn = nodes[i];
        const std::string at = "graph.nodes[" + std::to_string(i) + "]";
        if (!jn.is_object())
            return Status::error(at + " must be an object");
        if (!jn.contains("name") || !jn["name"].is_string())
            return Status::error(at + ": \"name\" must be a string");
        Node node;
        node.name = jn["name"].get<std::string>();
        const std::string where = "node '" + node.name + "'";
        if (!jn.contains("type") || !jn["type"].is_string())
            return Status::error(where + ": \"type\" must be a string");
        const std::string type = jn["type"].get<std::string>();
        if (auto t = opTypeFromName(type))
            node.type = *t;
        else
            unknownOps.push_back("'" + type + "' (node '" + node.name + "')");
        if (jn.contains("inputs")) {
            if (!jn["inputs"].is_array())
                return Status::error(where + ": \"inputs\" must be a list of node names");
            for (const json& in : jn["inputs"]) {
                if (!in.is_string())
                    return Status::error(where + ": \"inputs\" must be a list of node names");
                node.inputs.push_back(in.get<std::string>());
            }
        }
        if (jn.contains("attrs")) {
            if (!jn["attrs"].is_object())
                return Status::error(where + ": \"attrs\" must be an object");
            for (const auto& [key, value] : jn["attrs"].items()) {
                auto attr = attrFromJson(value, where + ": attribute '" + key + "'");
                if (!attr)
                    return attr.status();
                node.attrs.set(key, std::move(attr.value()));
            }
        }
        graph.nodes.push_back(std::move(node));
    }
    if (!unknownOps.empty()) {
        std::string list;
        for (const auto& u : unknownOps)
            list += (list.empty() ? "" : ", ") + u;
        return Status::error("unknown op type" + std::string(unknownOps.size() > 1 ? "s " : " ") +
                             list + "; supported: " + supportedOps());
    }
    if (g.contains("output")) {
        if (!g["output"].is_string())
            return Status::error("\"output\" must be a node name");
        graph.output = g["output"].get<std::string>();
    }
    return graph;
}

Status checkFormatAndVersion(const json& doc) {
    if (!doc.is_object())
        return Status::error("the JSON document must be an object");
    if (!doc.contains("format") || !doc["format"].is_string() ||
        doc["format"].get<std::string>() != kFormatName)
        return Status::error(std::string("not a QAT Lab model: \"format\" must be \"") +
                             kFormatName + "\"");
    auto version = doc.contains("version") ? jsonToInt(doc["version"])
                                           : Result<int64_t>(Status::error("missing"));
    if (!version)
        return Status::error("\"version\" must be an integer");
    if (*version > static_cast<int64_t>(kModelFormatVersion))
        return Status::error("file version " + std::to_string(*version) +
                             " is newer than this QAT Lab (" + std::to_string(kModelFormatVersion) +
                             "); upgrade");
    if (*version < 1)
        return Status::error("unsupported file version " + std::to_string(*version));
    return Status::ok();
}

Result<Graph> parseDocumentGraph(const json& doc) {
    QAT_RETURN_IF_ERROR(checkFormatAndVersion(doc));
    if (!doc.contains("graph"))
        return Status::error("missing \"graph\" object");
    auto graph = parseGraphObject(doc["graph"]);
    if (!graph)
        return graph;
    if (graph->output.empty() && doc.contains("output")) {
        if (!doc["output"].is_string())
            return Status::error("\"output\" must be a node name");
        graph->output = doc["output"].get<std::string>();
    }
    return graph;
}

Result<json> parseJson(std::string_view text) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        return Status::error(std::string("invalid JSON: ") + e.what());
    }
}

// Attaches the parameter table's tensors (read from the blob) to the graph's nodes.
Status attachParams(Graph& graph, const json& table, std::string_view blob) {
    if (!table.is_array())
        return Status::error("\"params\" must be a list");
    const uint64_t blobFloats = blob.size() / 4;
    std::unordered_map<std::string, Node*> byName;
    for (Node& node : graph.nodes)
        byName.emplace(node.name, &node);
    for (size_t i = 0; i < table.size(); ++i) {
        const json& e = table[i];
        const std::string at = "params[" + std::to_string(i) + "]";
        if (!e.is_object() || !e.contains("node") || !e["node"].is_string() ||
            !e.contains("name") || !e["name"].is_string() || !e.contains("shape") ||
            !e["shape"].is_array() || !e.contains("offset") || !e["offset"].is_number_unsigned() ||
            !e.contains("count") || !e["count"].is_number_unsigned())
            return Status::error(at + " needs \"node\", \"name\", \"shape\", \"offset\" and "
                                      "\"count\"");
        const std::string nodeName = e["node"].get<std::string>();
        const std::string name = e["name"].get<std::string>();
        const std::string what = "param '" + nodeName + "/" + name + "'";
        auto it = byName.find(nodeName);
        if (it == byName.end())
            return Status::error(what + ": node '" + nodeName + "' is not in the graph");
        Shape shape;
        for (const json& d : e["shape"]) {
            auto v = jsonToInt(d);
            if (!v || *v < 1)
                return Status::error(what + ": shape must be a list of positive integers");
            shape.push_back(*v);
        }
        const uint64_t offset = e["offset"].get<uint64_t>();
        const uint64_t count = e["count"].get<uint64_t>();
        if (offset > blobFloats || count > blobFloats - offset)
            return Status::error(what + " (offset " + std::to_string(offset) + ", count " +
                                 std::to_string(count) + ") lies outside the weight blob (" +
                                 std::to_string(blobFloats) + " floats)");
        // count fits in the blob, so a shape whose size exceeds it cannot match.
        const auto elements = detail::checkedElementCount(shape, static_cast<int64_t>(blobFloats));
        if (shape.empty() || !elements || static_cast<uint64_t>(*elements) != count)
            return Status::error(what + ": count " + std::to_string(count) +
                                 " does not match its shape " + shapeToString(shape));
        Node& node = *it->second;
        if (node.params.count(name))
            return Status::error(what + " appears twice in the parameter table");
        std::vector<float> data(static_cast<size_t>(count));
        const char* src = blob.data() + offset * 4;
        for (size_t k = 0; k < data.size(); ++k)
            data[k] = std::bit_cast<float>(getU32(src + 4 * k));
        node.params.emplace(name, Tensor(std::move(shape), std::move(data)));
    }
    return Status::ok();
}

Result<std::string> readWholeFile(const std::string& path) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
        return Status::error("file not found");
    if (fs::is_directory(status))
        return Status::error("is a directory, not a model file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status::error(std::string("cannot open: ") + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0)
        return Status::error("cannot determine the file size");
    in.seekg(0, std::ios::beg);
    std::string bytes(static_cast<size_t>(size), '\0');
    if (!in.read(bytes.data(), size))
        return Status::error("read error");
    return bytes;
}

struct LoadedDocument {
    json doc;
    std::string_view blob; // empty for plain JSON files
};

// Validates the .qatm container and returns its JSON document and weight blob.
Result<LoadedDocument> openContainer(const std::string& bytes) {
    const size_t size = bytes.size();
    if (size < kHeaderSize + kTrailerSize)
        return Status::error("file is truncated (" + std::to_string(size) +
                             " bytes; a .qatm header and trailer alone take " +
                             std::to_string(kHeaderSize + kTrailerSize) + ")");
    const uint32_t version = getU32(bytes.data() + 8);
    if (version > kModelFormatVersion)
        return Status::error("file version " + std::to_string(version) +
                             " is newer than this QAT Lab (" + std::to_string(kModelFormatVersion) +
                             "); upgrade");
    if (version == 0)
        return Status::error("unsupported file version 0");
    const uint64_t jsonLen = getU64(bytes.data() + 16);
    if (jsonLen > size - kHeaderSize - kTrailerSize)
        return Status::error("file is truncated or corrupt: JSON length " +
                             std::to_string(jsonLen) + " exceeds the file size (" +
                             std::to_string(size) + " bytes)");
    const std::string_view text(bytes.data() + kHeaderSize, static_cast<size_t>(jsonLen));
    const std::string_view blob(bytes.data() + kHeaderSize + jsonLen,
                                size - kHeaderSize - kTrailerSize - static_cast<size_t>(jsonLen));
    const uint32_t stored = getU32(bytes.data() + size - kTrailerSize);
    const uint32_t computed = detail::crc32(bytes.data(), size - kTrailerSize);
    json doc = json::parse(text.begin(), text.end(), nullptr, false);
    uint64_t blobBytes = 0;
    const bool haveBlobBytes =
        doc.is_object() && doc.contains("blob_bytes") && doc["blob_bytes"].is_number_unsigned();
    if (haveBlobBytes)
        blobBytes = doc["blob_bytes"].get<uint64_t>();
    if (stored != computed) {
        if (haveBlobBytes && blobBytes > blob.size())
            return Status::error("file is truncated: " + std::to_string(blobBytes) +
                                 " bytes of weights expected, " + std::to_string(blob.size()) +
                                 " present");
        return Status::error("file is corrupt (CRC-32 mismatch: stored " + hex32(stored) +
                             ", computed " + hex32(computed) + ")");
    }
    if (doc.is_discarded()) {
        auto parsed = parseJson(text);
        return parsed.isOk() ? Status::error("invalid JSON") : parsed.status();
    }
    if (!haveBlobBytes || blobBytes != blob.size() || blob.size() % 4 != 0)
        return Status::error("file is corrupt: \"blob_bytes\" does not match the " +
                             std::to_string(blob.size()) + " bytes of weights present");
    return LoadedDocument{std::move(doc), blob};
}

// Sets the units of the Dense layer that produces the logits (the output node, or the node
// under an output Softmax) to numClasses. Requires a finalized graph; re-finalizes it.
Status fitClassCount(Graph& graph, int64_t numClasses, bool hasWeights) {
    const Shape out = graph.outputShape();
    if (out.size() == 1 && out[0] == numClasses)
        return Status::ok();
    const Node* node = &graph.outputNode();
    while (node->type == OpType::Softmax && node->inputs.size() == 1)
        node = graph.find(node->inputs[0]);
    if (!node || node->type != OpType::Dense)
        return Status::error("cannot give the model " + std::to_string(numClasses) +
                             " classes: its output " + shapeToString(out) +
                             " does not come from a Dense layer (optionally through Softmax)");
    if (hasWeights)
        return Status::error("the stored weights of '" + node->name + "' are for " +
                             shapeToString(out) + " outputs; cannot change them to " +
                             std::to_string(numClasses) + " classes");
    graph.find(node->name)->attrs.set("units", AttrValue(numClasses));
    return graph.finalize();
}

Result<Graph> loadModelImpl(const std::string& path, const std::optional<Shape>& inputShape,
                            uint64_t seed, std::optional<int64_t> numClasses = std::nullopt,
                            std::string* metadata = nullptr) {
    auto bytesOr = readWholeFile(path);
    if (!bytesOr)
        return bytesOr.status();
    const std::string& bytes = bytesOr.value();

    LoadedDocument loaded;
    const size_t bom = bytes.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0; // editors may add one
    const auto firstChar = bytes.find_first_not_of(" \t\r\n", bom);
    const bool isContainer =
        bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
    if (isContainer) {
        auto container = openContainer(bytes);
        if (!container)
            return container.status();
        loaded = std::move(container.value());
    } else if (firstChar != std::string::npos && bytes[firstChar] == '{') {
        auto doc = parseJson(bytes);
        if (!doc)
            return doc.status();
        loaded.doc = std::move(doc.value());
    } else if (bytes.empty()) {
        return Status::error("file is empty");
    } else if (bytes.size() < sizeof kMagic &&
               std::memcmp(bytes.data(), kMagic, bytes.size()) == 0) {
        return Status::error("file is truncated (" + std::to_string(bytes.size()) + " bytes)");
    } else {
        return Status::error("not a QAT Lab model (bad magic: expected \"QATMODEL\" or a JSON "
                             "document)");
    }

    auto graphOr = parseDocumentGraph(loaded.doc);
    if (!graphOr)
        return graphOr;
    if (metadata) {
        metadata->clear();
        if (loaded.doc.contains("metadata")) {
            if (!loaded.doc["metadata"].is_object())
                return Status::error("\"metadata\" must be an object");
            *metadata = loaded.doc["metadata"].dump();
        }
    }
    Graph graph = std::move(graphOr.value());
    const bool hasTable = loaded.doc.contains("params");
    if (hasTable && !loaded.doc["params"].is_array())
        return Status::error("\"params\" must be a list");
    const bool hasWeights = hasTable && !loaded.doc["params"].empty();
    if (hasWeights) {
        if (!isContainer)
            return Status::error("a plain JSON model carries no weights: \"params\" must be "
                                 "empty (weights are stored in .qatm files)");
        QAT_RETURN_IF_ERROR(attachParams(graph, loaded.doc["params"], loaded.blob));
    }

    if (inputShape) {
        auto input = std::find_if(graph.nodes.begin(), graph.nodes.end(),
                                  [](const Node& n) { return n.type == OpType::Input; });
        if (input != graph.nodes.end()) {
            const Shape stored = input->attrs.getInts("shape", {});
            if (hasWeights && stored != *inputShape)
                return Status::error("the stored weights belong to input shape " +
                                     shapeToString(stored) + "; cannot change it to " +
                                     shapeToString(*inputShape));
            input->attrs.set("shape", AttrValue(std::vector<int64_t>(*inputShape)));
        }
    }
    QAT_RETURN_IF_ERROR(graph.finalize());
    if (numClasses)
        QAT_RETURN_IF_ERROR(fitClassCount(graph, *numClasses, hasWeights));
    if (!graph.hasAllParams()) {
        if (graph.parameterCount() > kMaxInitializedParams)
            return Status::error("model needs " + std::to_string(graph.parameterCount()) +
                                 " parameters; refusing to initialize more than " +
                                 std::to_string(kMaxInitializedParams));
        graph.initializeParams(seed);
    }
    return graph;
}

} // namespace

Status saveModel(const Graph& graph, const std::string& path) {
    return saveModel(graph, path, "");
}

Status saveModel(const Graph& graph, const std::string& path, const std::string& metadataJson) {
    const fs::path dir = fs::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::is_directory(dir, ec))
        return Status::error(path + ": cannot save the model: directory '" + dir.string() +
                             "' does not exist");
    OrderedJson table = OrderedJson::array();
    uint64_t offset = 0;
    for (const Node& node : graph.nodes) {
        for (const auto& [name, tensor] : node.params) {
            if (tensor.shape().empty() || !detail::checkedElementCount(tensor.shape()) ||
                tensor.size() != shapeSize(tensor.shape()))
                return Status::error("cannot save model to '" + path + "': node '" + node.name +
                                     "': param '" + name + "' has an invalid shape " +
                                     shapeToString(tensor.shape()));
            const auto count = static_cast<uint64_t>(tensor.size());
            table.push_back(OrderedJson{{"node", node.name},
                                        {"name", name},
                                        {"shape", tensor.shape()},
                                        {"offset", offset},
                                        {"count", count}});
            offset += count;
        }
    }
    OrderedJson doc{{"format", kFormatName},
                    {"version", kModelFormatVersion},
                    {"graph", graphObject(graph)},
                    {"params", std::move(table)},
                    {"blob_bytes", offset * 4}};
    if (!metadataJson.empty()) {
        OrderedJson meta = OrderedJson::parse(metadataJson, nullptr, false);
        if (meta.is_discarded() || !meta.is_object())
            return Status::error(path + ": internal: model metadata is not a JSON object");
        doc["metadata"] = std::move(meta);
    }
    const std::string text = doc.dump();
    std::string file(kMagic, sizeof kMagic);
    putU32(file, kModelFormatVersion);
    putU32(file, 0);
    putU64(file, text.size());
    file.reserve(kHeaderSize + text.size() + static_cast<size_t>(offset * 4) + kTrailerSize);
    file += text;
    for (const Node& node : graph.nodes)
        for (const auto& [name, tensor] : node.params)
            for (float v : tensor.vec())
                putU32(file, std::bit_cast<uint32_t>(v));
    putU32(file, detail::crc32(file.data(), file.size()));
    return writeFileAtomically(path, file);
}

Result<Graph> loadModel(const std::string& path, const std::optional<Shape>& inputShape,
                        uint64_t seed, std::optional<int64_t> numClasses) {
    auto graph = loadModelImpl(path, inputShape, seed, numClasses);
    if (!graph)
        return graph.status().withContext(path);
    return graph;
}

Result<ModelFile> loadModelFile(const std::string& path) {
    ModelFile f;
    auto graph = loadModelImpl(path, std::nullopt, 0, std::nullopt, &f.metadata);
    if (!graph)
        return graph.status().withContext(path);
    f.graph = std::move(graph).value();
    return f;
}

std::string graphToJson(const Graph& graph) {
    // One node per line: indented enough to read and diff, short enough to scan.
    const OrderedJson g = graphObject(graph);
    std::string text = "{\n  \"nodes\": [\n";
    const auto& nodes = g["nodes"];
    for (size_t i = 0; i < nodes.size(); ++i)
        text += "    " + nodes[i].dump() + (i + 1 < nodes.size() ? ",\n" : "\n");
    text += "  ]";
    if (g.contains("output"))
        text += ",\n  \"output\": " + g["output"].dump();
    return text + "\n}\n";
}

Result<Graph> graphFromJson(const std::string& text, const std::string& sourceName) {
    auto doc = parseJson(text);
    if (!doc)
        return doc.status().withContext(sourceName);
    // Accept the bare "graph" object or a whole weightless model document.
    auto graph = doc->is_object() && doc->contains("nodes") ? parseGraphObject(doc.value())
                                                            : parseDocumentGraph(doc.value());
    if (!graph)
        return graph.status().withContext(sourceName);
    QAT_RETURN_IF_ERROR(graph->finalize().withContext(sourceName));
    return graph;
}

} // namespace qat
