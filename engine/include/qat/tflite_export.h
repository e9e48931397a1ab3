// Export of a Graph to a TensorFlow Lite flatbuffer (.tflite, schema version 3).
//
// Float export (the size and accuracy baseline): float32 tensors, batch-1 input
// [1,H,W,C] (or [1,F]), NHWC throughout like the graph. Per node:
//   Conv2D / DepthwiseConv2D / Dense -> CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with a
//       bias always present; a BatchNorm that is the layer's only consumer is folded in
//       (w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps), per output
//       channel) and a ReLU/ReLU6 that is then the only consumer becomes the fused
//       activation (also after Add). Conv2D with groups == input channels becomes a
//       DEPTHWISE_CONV_2D; other grouped convolutions a CONV_2D version 6.
//   padding "same"/"valid" -> SAME/VALID; explicit pads -> SAME when they equal SAME's,
//       else PAD + VALID (MaxPool: PADV2 with the lowest float, so padding never wins;
//       AvgPool: PAD + VALID + a MUL that rescales edge windows to their in-bounds count).
//   MaxPool/AvgPool -> MAX_POOL_2D/AVERAGE_POOL_2D; GlobalAvgPool -> MEAN over [1,2];
//   Flatten/Reshape -> RESHAPE (shape tensor + new_shape); ZeroPad -> PAD; Add -> ADD
//   (chained for 3+ inputs); Concat -> CONCATENATION (axis + 1 for the batch); Softmax ->
//   SOFTMAX beta 1; ReLU, ReLU6, LeakyReLU, HardSwish, Sigmoid (LOGISTIC), Tanh 1:1;
//   Dropout is elided. Only nodes the output depends on are exported.
// A BatchNorm that cannot be folded is an error naming it (no MUL/ADD fallback).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"

namespace qat {

// Size of one exported operator's constant data. For fused blocks `layer` is the weighted
// node and `fusedNodes` the BatchNorm/activation nodes folded into it.
struct TfliteLayerSize {
    std::string layer;                   // graph node the operator implements
    std::string op;                      // TFLite builtin operator, e.g. "CONV_2D"
    std::vector<std::string> fusedNodes; // graph nodes folded into this operator
    std::string weightType;              // "FLOAT32", "INT8", "INT4", ... ("" = no weights)
    int64_t weightBytes = 0;
    int64_t biasBytes = 0;
};

// What an export produced. Filled by the float and the integer exporters alike.
struct TfliteExportReport {
    int64_t totalBytes = 0;              // the file's size
    std::vector<TfliteLayerSize> layers; // one entry per operator, in execution order
    // Everything that is not weights or biases: flatbuffer tables, tensor names, shape /
    // padding / axis constants, quantization parameters, alignment.
    int64_t metadataBytes = 0;

    int64_t weightBytes() const {
        int64_t n = 0;
        for (const auto& l : layers)
            n += l.weightBytes;
        return n;
    }
    int64_t biasBytes() const {
        int64_t n = 0;
        for (const auto& l : layers)
            n += l.biasBytes;
        return n;
    }
    // Sets totalBytes and derives metadataBytes from the layers.
    void setTotal(int64_t bytes) {
        totalBytes = bytes;
        metadataBytes = bytes - weightBytes() - biasBytes();
    }
};

// The float32 model as .tflite bytes. The graph must be finalized and have all parameters.
// Errors name the node (and op) that cannot be exported.
Result<std::vector<uint8_t>> exportFloatTfliteBytes(const Graph& graph,
                                                    TfliteExportReport* report = nullptr);
// The same, written atomically to `path` (temp file + rename; nothing is left behind on
// failure). Errors name the path or the node.
Status exportFloatTflite(const Graph& graph, const std::string& path,
                         TfliteExportReport* report = nullptr);

} // namespace qat
