// Importers: ONNX (what PyTorch users have) and float .tflite (what TensorFlow users have)
// into the graph IR, with a coverage report. The format is recognised by content, not by
// file extension: "TFL3" at bytes 4-7 is a .tflite flatbuffer, "QATMODEL" or a JSON object
// is QAT Lab's own model file, anything else must parse as an ONNX ModelProto.
//
// Contract: an import either yields a complete, finalized graph with every parameter, or
// no graph at all. Three outcomes:
//   - error Result: the file is unreadable, corrupt or inconsistent (truncated, random
//     bytes, out-of-range offsets or indices, absurd dimensions, a cyclic graph, a tensor
//     nobody provides such as a missing initializer). The message names the file and the
//     node, tensor or field at fault.
//   - ok Result, report.supported == false, graph empty: the file is valid but uses ops or
//     op variants the graph IR cannot represent. report.unsupported lists EVERY such node
//     (name, op type, reason), not just the first.
//   - ok Result, report.supported == true, graph set: ready to train, quantize and export
//     like a zoo model (as long as its input shape matches the dataset).
// Parsers cap what they allocate by the file's size (tensor data is only ever copied out
// of the file; folded constants share a budget proportional to the file size).
//
// Layout. The graph is NHWC per sample (graph.h). ONNX is NCHW: a [N,C,H,W] input becomes
// an [H,W,C] Input node, conv weights are transposed to OHWI (depthwise to [1,kh,kw,C*m]),
// Gemm/MatMul weights to [units, in]. Nothing is inserted to transpose activations; where
// ONNX flattens an NCHW map (Flatten, Reshape) in C,H,W order while the graph flattens
// H,W,C, the consuming Gemm/MatMul weight columns (and BatchNormalization parameters) are
// permuted instead. A flattened NCHW map that reaches the model output without such a
// consumer is reported as unsupported, since its element order would differ.
// .tflite is NHWC already; the batch dimension (1 or dynamic) is dropped.
//
// ONNX ops: Conv (group 1, depthwise group == Cin with any multiplier, other groups),
// Gemm, MatMul followed by Add of a constant (bias), BatchNormalization, Relu, Clip(0,6)
// -> ReLU6 and Clip(0,inf) -> ReLU (min/max as inputs at opset >= 11), LeakyRelu,
// HardSwish (and HardSigmoid(1/6, 1/2)*x, which opset 13 exports for it), Sigmoid, Tanh,
// MaxPool, AveragePool (count_include_pad), GlobalAveragePool, Add, Concat, Flatten,
// Reshape, Softmax, Pad (constant zero; of channels: see .tflite PAD below), Dropout and
// Identity (elided). Subgraphs made of constants (Constant, Shape of a known-shape tensor,
// Gather, Unsqueeze, Squeeze, Concat, Reshape, Slice, Transpose, Cast, ConstantOfShape,
// integer/float Add/Sub/Mul/Div) are folded, e.g. torch.onnx.export's
// Shape->Gather->Unsqueeze->Concat->Reshape for x.view(x.size(0), -1) and the Pad-amount
// subgraph of nn.ZeroPad2d; the symbolic batch size is tracked through them. ceil_mode
// pools become extra bottom/right padding (PyTorch's window rule).
// .tflite ops: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, CONCATENATION,
// MAX_POOL_2D, AVERAGE_POOL_2D, MEAN over H,W (global pooling), RESHAPE, SQUEEZE, SOFTMAX
// (beta 1), PAD/PADV2 (zero), RELU, RELU6, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, fused
// activations (RELU, RELU6, TANH become nodes after the op), DEQUANTIZE of constant
// FLOAT16 (and INT8/UINT8) weights, which are converted to float32 at import. The patterns
// QAT Lab's own float exporter writes for explicit padding (PADV2 + MAX_POOL_2D,
// PAD + AVERAGE_POOL_2D + MUL by the edge-count rescale) import as the padded pool. Zero
// PAD of the channel dimension (BlazeFace's residual padding) becomes a 1x1 Conv2D with
// identity weights and zero rows for the added channels.
//
// Outputs. The graph IR has one output; files with several (detectors, landmark models)
// import when ImportOptions::outputName picks one. Ops no imported output depends on are
// skipped (and counted in the notes), whatever they are.
//
// Input normalisation. The user may state that the model expects
//     model_input = (data - mean) * scale
// (per channel, or one value for all channels). It is baked into the graph as a leading
// 1x1 DepthwiseConv2D named "input_normalization" with weights = scale and
// bias = -mean * scale (for a rank-1 input: Reshape [1,1,F] -> that node -> Flatten), so
// the imported graph takes the raw data. The node is an ordinary layer: it is fine-tuned
// and quantized with the rest (per-channel weight quantization represents it exactly).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"

namespace qat {

enum class ModelFormat { Onnx, Tflite, QatModel };
const char* modelFormatName(ModelFormat format); // "onnx", "tflite", "qatm"

// One op (node, operator) of the file the graph IR cannot represent. Model-level problems
// (a second graph input, a constant output) use the tensor's name and a pseudo type in
// parentheses, e.g. "(graph input)".
struct UnsupportedOp {
    std::string nodeName; // ONNX node name (its first output when unnamed); .tflite: the
                          // operator's first output tensor name, else "operator #i"
    std::string opType;   // ONNX op type (domain-qualified outside the default domain) or
                          // .tflite builtin name ("CUSTOM:<code>" for custom operators)
    std::string reason;   // why, and what would make it importable where that is known
};

// A model input or output as the file declares it and as the graph sees it.
struct ImportedTensor {
    std::string name;
    std::vector<int64_t> fileShape; // batch included; -1 = symbolic/dynamic dimension
    std::string fileLayout;         // "NCHW", "NC" (ONNX), "NHWC", "NC" (.tflite)
    Shape graphShape;               // per sample, as in the graph (empty when unknown)
    std::string graphLayout;        // "HWC" or "F"
    std::string normalisation;      // inputs only: what the graph applies, or "none"
};

struct CoverageReport {
    ModelFormat format = ModelFormat::Onnx;
    std::string source;   // path or buffer name
    std::string producer; // ONNX producer_name/version, .tflite description
    bool supported = false;
    std::vector<UnsupportedOp> unsupported; // every one, in file order
    std::vector<ImportedTensor> inputs;
    std::vector<ImportedTensor> outputs;
    int64_t fileOps = 0;            // nodes/operators in the file's main graph
    int64_t layers = 0;             // nodes of the imported graph except Input (0 when unsupported)
    std::vector<std::string> notes; // folded constants, dequantized weights, permutations...
};

struct ImportOptions {
    // model_input = (data - mean) * scale; each empty (no normalisation), one value (all
    // channels) or one value per input channel. Scales must be finite and non-zero.
    std::vector<float> inputMean;
    std::vector<float> inputScale;
    // The tensor to import as the model output: one of several declared outputs, or any
    // intermediate tensor (to cut off a post-processing head). Only the ops it depends on
    // are imported and checked. Empty: the file's outputs, which must then be exactly one.
    std::string outputName;
};

struct ImportResult {
    CoverageReport report;
    std::optional<Graph> graph; // set exactly when report.supported
};

// Reads `path` (at most kMaxImportFileBytes) and imports it by content.
Result<ImportResult> importModel(const std::string& path, const ImportOptions& options = {});
// The same for a file already in memory; `sourceName` prefixes error messages. QAT Lab
// model files are only read from paths (importModel).
Result<ImportResult> importModelBytes(std::span<const uint8_t> bytes, const std::string& sourceName,
                                      const ImportOptions& options = {});
Result<ImportResult> importOnnxBytes(std::span<const uint8_t> bytes, const std::string& sourceName,
                                     const ImportOptions& options = {});
Result<ImportResult> importTfliteBytes(std::span<const uint8_t> bytes,
                                       const std::string& sourceName,
                                       const ImportOptions& options = {});

inline constexpr uint64_t kMaxImportFileBytes = uint64_t{1} << 31; // 2 GiB

// The report as a JSON object: {"format", "source", "producer", "supported",
// "unsupported_ops": [{"node", "op_type", "reason"}], "inputs"/"outputs": [{"name",
// "file_shape", "file_layout", "graph_shape", "graph_layout", "normalisation"}],
// "file_ops", "layers", "notes"}. indent < 0: one line.
std::string coverageReportToJson(const CoverageReport& report, int indent = -1);
// Human-readable, several lines, for terminals and the GUI's log.
std::string formatCoverageReport(const CoverageReport& report);

} // namespace qat
