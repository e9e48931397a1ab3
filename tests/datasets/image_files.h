// Test helpers for image-folder datasets: PNG and JPEG files written at test time (libpng's
// simplified write API, libjpeg's compressor), so no binary fixtures live in git.
#pragma once

#include <png.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>
// jpeglib.h needs size_t and FILE declared first
#include <jpeglib.h>

#include "datasets/dataset_files.h"

namespace qat::testing {

// A w x h image with `channels` interleaved samples per pixel (row-major).
struct TestImage {
    int width = 0;
    int height = 0;
    int channels = 1; // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    std::vector<uint8_t> pixels;
};

// Deterministic content: sample (x, y, c) of image `seed`.
inline TestImage patternImage(int width, int height, int channels, int seed) {
    TestImage img{width, height, channels, {}};
    img.pixels.resize(static_cast<size_t>(width * height * channels));
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < channels; ++c)
                img.pixels[static_cast<size_t>((y * width + x) * channels + c)] =
                    static_cast<uint8_t>((seed * 53 + x * 31 + y * 17 + c * 71) % 256);
    return img;
}

inline png_uint_32 pngFormat(int channels) {
    switch (channels) {
    case 1:
        return PNG_FORMAT_GRAY;
    case 2:
        return PNG_FORMAT_GA;
    case 3:
        return PNG_FORMAT_RGB;
    default:
        return PNG_FORMAT_RGBA;
    }
}

// 8-bit PNG (gray, gray+alpha, RGB or RGBA), samples written verbatim.
inline void writePng(const std::filesystem::path& path, const TestImage& img) {
    std::filesystem::create_directories(path.parent_path());
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(img.width);
    image.height = static_cast<png_uint_32>(img.height);
    image.format = pngFormat(img.channels);
    ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, img.pixels.data(), 0, nullptr))
        << path << ": " << image.message;
}

// 16-bit PNG without alpha (gray or RGB): the simplified API writes "linear" 16-bit samples
// verbatim (plus a gAMA chunk, which the loader ignores).
inline void writePng16(const std::filesystem::path& path, int width, int height, int channels,
                       const std::vector<uint16_t>& samples) {
    std::filesystem::create_directories(path.parent_path());
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = channels == 1 ? PNG_FORMAT_LINEAR_Y : PNG_FORMAT_LINEAR_RGB;
    ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, samples.data(), 0, nullptr))
        << path << ": " << image.message;
}

// Palette PNG: each pixel an index into `colormap` (RGB triples).
inline void writePalettePng(const std::filesystem::path& path, int width, int height,
                            const std::vector<uint8_t>& indices,
                            const std::vector<uint8_t>& colormap) {
    std::filesystem::create_directories(path.parent_path());
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = PNG_FORMAT_RGB_COLORMAP;
    image.colormap_entries = static_cast<png_uint_32>(colormap.size() / 3);
    ASSERT_TRUE(
        png_image_write_to_file(&image, path.c_str(), 0, indices.data(), 0, colormap.data()))
        << path << ": " << image.message;
}

// Baseline JPEG (gray or RGB) at the given quality; libjpeg's default error handler exits,
// which is fine for writing test files.
inline std::vector<uint8_t> jpegBytes(const TestImage& img, int quality) {
    jpeg_compress_struct cinfo{};
    jpeg_error_mgr err{};
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(img.width);
    cinfo.image_height = static_cast<JDIMENSION>(img.height);
    cinfo.input_components = img.channels;
    cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = static_cast<size_t>(img.width * img.channels);
    while (cinfo.next_scanline < cinfo.image_height) {
        auto* row = const_cast<JSAMPROW>(img.pixels.data() + cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    std::vector<uint8_t> bytes(buffer, buffer + size);
    std::free(buffer);
    return bytes;
}

inline void writeJpeg(const std::filesystem::path& path, const TestImage& img, int quality = 95) {
    std::filesystem::create_directories(path.parent_path());
    writeFile(path.string(), jpegBytes(img, quality));
}

inline Bytes readBytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

} // namespace qat::testing
