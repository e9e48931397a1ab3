// Test helpers for the dataset loaders: a per-test temporary directory, scoped
// environment variables, and writers for tiny IDX and CIFAR-10 files (raw or gzip).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace qat::testing {

using Bytes = std::vector<uint8_t>;

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;
inline constexpr size_t kCifarRecordBytes = 3073;

// A fresh directory named after the running test, removed on destruction.
class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = std::filesystem::temp_directory_path() /
                 ("qat_datasets_" + std::string(info->test_suite_name()) + "_" + info->name() +
                  "_" + std::to_string(::getpid()));
        std::filesystem::remove_all(m_path);
        std::filesystem::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }
    std::string file(const std::string& name) const { return (m_path / name).string(); }

private:
    std::filesystem::path m_path;
};

// Sets (or with nullopt unsets) an environment variable, restoring it on destruction.
class ScopedEnv {
public:
    ScopedEnv(const char* name, std::optional<std::string> value) : m_name(name) {
        if (const char* old = std::getenv(name))
            m_old = old;
        apply(value);
    }
    ~ScopedEnv() { apply(m_old); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    void apply(const std::optional<std::string>& value) {
        if (value)
            ::setenv(m_name.c_str(), value->c_str(), 1);
        else
            ::unsetenv(m_name.c_str());
    }
    std::string m_name;
    std::optional<std::string> m_old;
};

inline void appendBigEndian32(Bytes& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<uint8_t>(v >> shift));
}

// IDX images: header (magic, count, rows, cols) followed by `pixels` verbatim, so tests
// can make the header disagree with the data.
inline Bytes idxImages(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels,
                       uint32_t magic = kIdxImagesMagic) {
    Bytes out;
    appendBigEndian32(out, magic);
    appendBigEndian32(out, count);
    appendBigEndian32(out, rows);
    appendBigEndian32(out, cols);
    out.insert(out.end(), pixels.begin(), pixels.end());
    return out;
}

inline Bytes idxLabels(uint32_t count, const Bytes& labels, uint32_t magic = kIdxLabelsMagic) {
    Bytes out;
    appendBigEndian32(out, magic);
    appendBigEndian32(out, count);
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
}

// One gzip member (RFC 1952), as `gzip` writes it.
inline Bytes gzipBytes(const Bytes& data) {
    z_stream zs{};
    EXPECT_EQ(
        deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    Bytes out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
    zs.next_in = const_cast<Bytef*>(data.data());
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

inline void writeFile(const std::string& path, const Bytes& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Deterministic pixel bytes for n images of rows x cols, covering 0 and 255.
inline Bytes patternPixels(size_t n, size_t rows, size_t cols) {
    Bytes pixels(n * rows * cols);
    for (size_t i = 0; i < pixels.size(); ++i)
        pixels[i] = static_cast<uint8_t>((i * 37 + 255) % 256);
    return pixels;
}

// Writes a complete, valid MNIST-style directory (train and t10k, raw or gzipped).
inline void writeIdxSplits(const std::filesystem::path& dir, uint32_t trainCount,
                           uint32_t testCount, bool gzip) {
    const auto write = [&](const std::string& split, uint32_t n) {
        Bytes labels(n);
        for (uint32_t i = 0; i < n; ++i)
            labels[i] = static_cast<uint8_t>(i % 10);
        const Bytes images = idxImages(n, 28, 28, patternPixels(n, 28, 28));
        const Bytes labelFile = idxLabels(n, labels);
        const std::string ext = gzip ? ".gz" : "";
        writeFile((dir / (split + "-images-idx3-ubyte" + ext)).string(),
                  gzip ? gzipBytes(images) : images);
        writeFile((dir / (split + "-labels-idx1-ubyte" + ext)).string(),
                  gzip ? gzipBytes(labelFile) : labelFile);
    };
    write("train", trainCount);
    write("t10k", testCount);
}

// CIFAR-10 record: label byte then R, G, B planes of 32x32; pixel(c, h, w) gives the byte.
template <typename PixelFn> Bytes cifarRecord(uint8_t label, PixelFn pixel) {
    Bytes rec;
    rec.reserve(kCifarRecordBytes);
    rec.push_back(label);
    for (int c = 0; c < 3; ++c)
        for (int h = 0; h < 32; ++h)
            for (int w = 0; w < 32; ++w)
                rec.push_back(pixel(c, h, w));
    return rec;
}

inline Bytes cifarRecords(const std::vector<uint8_t>& labels) {
    Bytes out;
    for (size_t i = 0; i < labels.size(); ++i) {
        const Bytes rec = cifarRecord(labels[i], [&](int c, int h, int w) {
            return static_cast<uint8_t>((i * 13 + static_cast<size_t>(c * 101 + h * 7 + w)) % 256);
        });
        out.insert(out.end(), rec.begin(), rec.end());
    }
    return out;
}

} // namespace qat::testing
