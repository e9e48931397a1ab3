// The app's own model file (.qatm) and the built-in model zoo.
// .qatm layout: 8-byte magic "QATMODEL", u32 format version, u32 reserved, u64 JSON
// length, JSON (graph, attributes, parameter table with offsets), then a binary blob of
// little-endian float32 parameters, then a CRC-32 of everything before it. Parameter
// table entries {"node","name","shape","offset","count"} count float32 elements from the
// start of the blob.
// A plain JSON file with the same "graph" object and no weights is also accepted (the
// zoo is shipped that way); its parameters are initialized from a seed when loaded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"

namespace qat {

inline constexpr uint32_t kModelFormatVersion = 1;

// Writes atomically (temp file + rename).
Status saveModel(const Graph& graph, const std::string& path);
// With a metadata JSON object (text) stored beside the graph; QAT Lab keeps the
// quantization plan and observed ranges of quantized models there.
Status saveModel(const Graph& graph, const std::string& path, const std::string& metadataJson);

struct ModelFile {
    Graph graph;
    std::string metadata; // JSON object text, or "" when the file has none
};
Result<ModelFile> loadModelFile(const std::string& path);
// Returns a finalized graph. Missing parameters are initialized from `seed`.
// inputShape, when given, replaces the Input node's shape, and numClasses the units of the
// Dense layer producing the output (directly or through Softmax) — both only for files
// without weights; a file with weights must already match (else an error says so).
Result<Graph> loadModel(const std::string& path,
                        const std::optional<Shape>& inputShape = std::nullopt, uint64_t seed = 0,
                        std::optional<int64_t> numClasses = std::nullopt);

// Graph <-> JSON (the "graph" object of the file, without weights).
std::string graphToJson(const Graph& graph);
Result<Graph> graphFromJson(const std::string& json, const std::string& sourceName);

std::vector<std::string> zooModelNames();
// Directory holding zoo/ (source tree, install prefix, or $QATLAB_RESOURCES).
std::string resourceDir();
// Loads a zoo model by name, or a model file by path. Zoo models are built for 28x28x1
// and 10 classes; pass a dataset's sampleShape and numClasses to fit one to it.
Result<Graph> loadModelOrZoo(const std::string& nameOrPath,
                             const std::optional<Shape>& inputShape = std::nullopt,
                             uint64_t seed = 0, std::optional<int64_t> numClasses = std::nullopt);

} // namespace qat
