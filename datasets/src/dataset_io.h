// Internal helpers shared by the dataset loaders: whole-file reading with transparent
// gzip decompression (detected by the 1f 8b magic bytes, not the extension), pixel
// conversion, and the class-name tables. Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "qat/status.h"

namespace qat::datasets {

// Upper bound on a dataset file's (decompressed) size. Full MNIST train images are 47 MB
// and a CIFAR-10 batch 30 MB; the cap keeps a corrupt or hostile file (a gzip bomb) from
// exhausting memory. Allocations never exceed what the file actually holds.
inline constexpr int64_t kMaxFileBytes = int64_t{1} << 30;

struct FileBytes {
    std::vector<uint8_t> bytes; // decompressed contents
    bool gzip = false;          // the file was gzip-compressed
};

// Reads a whole file; gzip files (any number of members) are decompressed. Errors name
// the path and say what is wrong (missing, unreadable, corrupt or truncated gzip, too big).
Result<FileBytes> readFileBytes(const std::string& path);

// "N bytes" or "N bytes after decompression", for size mismatch messages.
std::string describeSize(const FileBytes& file);

// table[b] = b / 255.0f (correctly rounded, so 255 maps to exactly 1.0f).
const std::array<float, 256>& unitFloatTable();
// dst[i] = src[i] / 255 for n bytes, via unitFloatTable().
void bytesToUnitFloats(const uint8_t* src, int64_t n, float* dst);

// Reads a 32-bit big-endian unsigned integer (the IDX header byte order).
inline uint32_t readBigEndian32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

const std::vector<std::string>& fashionMnistClassNames();
const std::vector<std::string>& mnistClassNames();
const std::vector<std::string>& cifar10ClassNames();

} // namespace qat::datasets
