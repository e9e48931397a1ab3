// PNG and JPEG decoding from memory for the image-folder loader (libpng, libjpeg-turbo).
// Corrupt or truncated data is an error, never a crash: the libraries' longjmp-based error
// handling is confined to small C-style functions in image_decode.cpp. Not public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qat/status.h"

namespace qat::datasets {

// Decoded pixels, row-major HWC. channels is 1 (gray) or 3 (RGB): alpha is dropped and
// palettes expanded. sixteenBit: each sample is 2 bytes, big-endian (as PNG stores it).
struct DecodedImage {
    int width = 0;
    int height = 0;
    int channels = 0;
    bool sixteenBit = false;
    bool allGray = false; // channels == 1, or R == G == B in every pixel
    std::vector<uint8_t> pixels;
};

enum class ImageFormat { Unknown, Png, Jpeg };

// By content (magic bytes), not by file name.
ImageFormat detectImageFormat(const uint8_t* data, size_t size);

// Decodes a PNG or JPEG. Images wider or taller than maxSide are rejected from the header,
// before any pixel memory is allocated. Errors say what is wrong (without the file name).
Result<DecodedImage> decodeImage(const uint8_t* data, size_t size, int maxSide);

} // namespace qat::datasets
