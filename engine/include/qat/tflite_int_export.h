// Export of the integer model (int_model.h) to a full-integer .tflite.
// Integer tensors keep their grids exactly: int8 activations (int16 for 9-16 bit grids),
// symmetric int8 weights per axis (quantized_dimension 0 for CONV_2D/FULLY_CONNECTED,
// 3 for DEPTHWISE_CONV_2D) or per tensor, int32 biases (int64 with int16 activations).
// Weights of 2-7 bits are written honestly: by default as int8 tensors that hold only
// the low-bit grid's values (every runtime loads them); with int4Weights, 2-4 bit
// weights become TensorType INT4 (packed two per byte, low nibble first; CONV_2D v7,
// DEPTHWISE_CONV_2D v7, FULLY_CONNECTED v10 — only runtimes that know INT4 load these).
// Float layers of mixed-precision models are written as float ops between DEQUANTIZE and
// QUANTIZE. Operator versions follow TFLite's op_version.cc for int8 (DESIGN.md).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "qat/dataset.h"

#include "qat/int_model.h"
#include "qat/tflite_export.h"

namespace qat {

struct IntExportOptions {
    bool int4Weights = false;
};

// warnings (optional) receives what the file cannot express exactly, e.g. activation
// grids narrower than 8 bits (TFLite clamps int8 tensors to [-128, 127] only).
Result<std::vector<uint8_t>> exportIntTfliteBytes(const IntModel& model,
                                                  const IntExportOptions& options = {},
                                                  TfliteExportReport* report = nullptr,
                                                  std::vector<std::string>* warnings = nullptr);
Status exportIntTflite(const IntModel& model, const std::string& path,
                       const IntExportOptions& options = {}, TfliteExportReport* report = nullptr,
                       std::vector<std::string>* warnings = nullptr);

// Reads an integer (or mixed-precision) .tflite back into an IntModel: exactly what the
// file holds, with requantization parameters recomputed from its scales as a runtime does.
Result<IntModel> readIntTflite(std::span<const uint8_t> bytes);

// Export validation: the model read back from the file vs the integer model it came
// from, both on the reference executor, over the first `count` images.
struct ExportValidation {
    int64_t images = 0;
    int64_t values = 0;           // output values compared
    int64_t maxLsbDifference = 0; // integer outputs
    int64_t valuesOverOneLsb = 0;
    double maxAbsDifference = 0; // float outputs (float-I/O models)
    int64_t top1Agreements = 0;
    bool passed() const {
        return valuesOverOneLsb == 0 && maxAbsDifference <= 1.0 / 256 && top1Agreements == images;
    }
};
Result<ExportValidation> validateIntTflite(std::span<const uint8_t> bytes, const IntModel& model,
                                           const Dataset& images, int64_t count = 64);

} // namespace qat
