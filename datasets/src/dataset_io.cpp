// Whole-file reading for the dataset loaders, with in-memory gzip decompression (zlib
// inflate, gzip wrapper, multi-member). Buffers grow with the data actually present, so
// a header claiming a huge size cannot make us allocate more than the file holds.
#include "dataset_io.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <system_error>

namespace qat::datasets {

namespace {

namespace fs = std::filesystem;

std::string mib(int64_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

Result<std::vector<uint8_t>> readRaw(const std::string& path) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found)
        return Status::error(path + ": file not found; check the path");
    if (ec)
        return Status::error(path + ": cannot access (" + ec.message() + ")");
    if (fs::is_directory(st))
        return Status::error(path + ": is a directory, expected a data file");
    const auto size = fs::file_size(path, ec);
    if (ec)
        return Status::error(path + ": cannot determine the file size (" + ec.message() + ")");
    if (size > static_cast<uintmax_t>(kMaxFileBytes))
        return Status::error(path + ": file is " + mib(static_cast<int64_t>(size)) +
                             ", larger than the " + mib(kMaxFileBytes) +
                             " limit for one dataset file; split it or check that it is the "
                             "right file");

    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file)
        return Status::error(path + ": cannot open for reading (" +
                             std::error_code(errno, std::generic_category()).message() +
                             "); check the permissions");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    const size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), file.get());
    if (got != bytes.size())
        return Status::error(path + ": read only " + std::to_string(got) + " of " +
                             std::to_string(bytes.size()) +
                             " bytes; the file changed while reading or the disk has an error");
    return bytes;
}

bool hasGzipMagic(const uint8_t* p, size_t n) {
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

// The last four bytes of a gzip member hold its uncompressed size mod 2^32. Only a hint
// for the first allocation: a tampered trailer must not make us allocate gigabytes.
size_t initialInflateCapacity(const std::vector<uint8_t>& compressed) {
    const size_t n = compressed.size();
    const uint8_t* t = compressed.data() + n - 4;
    const size_t isize =
        uint32_t{t[0]} | (uint32_t{t[1]} << 8) | (uint32_t{t[2]} << 16) | (uint32_t{t[3]} << 24);
    const size_t plausible = 8 * n + (64 << 10);
    return std::max<size_t>(std::min(isize, plausible), 4096);
}

struct InflateStream {
    z_stream zs{};
    bool initialized = false;
    ~InflateStream() {
        if (initialized)
            inflateEnd(&zs);
    }
};

Result<std::vector<uint8_t>> gunzip(const std::string& path,
                                    const std::vector<uint8_t>& compressed) {
    InflateStream stream;
    z_stream& zs = stream.zs;
    // 16 + MAX_WBITS: expect and verify the gzip wrapper (header, CRC-32, length).
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return Status::error(path + ": cannot initialize zlib");
    stream.initialized = true;

    // Compressed input is capped at kMaxFileBytes (1 GiB) by readRaw, so it fits in uInt.
    zs.next_in = const_cast<Bytef*>(compressed.data());
    zs.avail_in = static_cast<uInt>(compressed.size());

    std::vector<uint8_t> out(initialInflateCapacity(compressed));
    size_t produced = 0;
    for (;;) {
        if (produced == out.size()) {
            if (out.size() >= static_cast<size_t>(kMaxFileBytes))
                return Status::error(path + ": decompresses to more than " + mib(kMaxFileBytes) +
                                     ", the limit for one dataset file; the file is corrupt "
                                     "or not a dataset file");
            out.resize(std::min(out.size() * 2, static_cast<size_t>(kMaxFileBytes)));
        }
        zs.next_out = out.data() + produced;
        zs.avail_out = static_cast<uInt>(
            std::min<size_t>(out.size() - produced, std::numeric_limits<uInt>::max()));
        const int ret = inflate(&zs, Z_NO_FLUSH);
        produced = static_cast<size_t>(zs.next_out - out.data());
        if (ret == Z_STREAM_END) {
            if (zs.avail_in == 0)
                break;
            // Concatenated gzip members decompress to the concatenation (as gzip -d does).
            if (!hasGzipMagic(zs.next_in, zs.avail_in))
                return Status::error(path + ": " + std::to_string(zs.avail_in) +
                                     " bytes of unexpected data after the gzip stream; the "
                                     "file is corrupt, download it again");
            if (inflateReset(&zs) != Z_OK)
                return Status::error(path + ": cannot reset zlib");
            continue;
        }
        if (ret == Z_OK)
            continue;
        if (ret == Z_BUF_ERROR && zs.avail_out == 0)
            continue; // output full: grow and go on
        if (ret == Z_BUF_ERROR)
            return Status::error(path +
                                 ": truncated gzip file (the compressed stream ends "
                                 "early after " +
                                 std::to_string(produced) +
                                 " decompressed bytes); download it again");
        return Status::error(path + ": corrupt gzip data (" +
                             std::string(zs.msg ? zs.msg : "zlib error " + std::to_string(ret)) +
                             "); download it again");
    }
    out.resize(produced);
    return out;
}

} // namespace

Result<FileBytes> readFileBytes(const std::string& path) {
    auto raw = readRaw(path);
    if (!raw)
        return raw.status();
    FileBytes file;
    if (!hasGzipMagic(raw->data(), raw->size())) {
        file.bytes = std::move(raw.value());
        return file;
    }
    if (raw->size() < 18) // 10-byte header + 8-byte trailer is the smallest gzip member
        return Status::error(path + ": truncated gzip file (" + std::to_string(raw->size()) +
                             " bytes); download it again");
    auto inflated = gunzip(path, raw.value());
    if (!inflated)
        return inflated.status();
    file.bytes = std::move(inflated.value());
    file.gzip = true;
    return file;
}

std::string describeSize(const FileBytes& file) {
    return std::to_string(file.bytes.size()) +
           (file.gzip ? " bytes after decompression" : " bytes");
}

const std::array<float, 256>& unitFloatTable() {
    // Division rather than multiplying by 1/255, which would map 255 to 0.99999994f.
    static const std::array<float, 256> kTable = [] {
        std::array<float, 256> t{};
        for (size_t i = 0; i < t.size(); ++i)
            t[i] = static_cast<float>(i) / 255.0f;
        return t;
    }();
    return kTable;
}

void bytesToUnitFloats(const uint8_t* src, int64_t n, float* dst) {
    const std::array<float, 256>& table = unitFloatTable();
    for (int64_t i = 0; i < n; ++i)
        dst[i] = table[src[i]];
}

const std::vector<std::string>& fashionMnistClassNames() {
    static const std::vector<std::string> kNames = {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return kNames;
}

const std::vector<std::string>& mnistClassNames() {
    static const std::vector<std::string> kNames = {"0", "1", "2", "3", "4",
                                                    "5", "6", "7", "8", "9"};
    return kNames;
}

const std::vector<std::string>& cifar10ClassNames() {
    static const std::vector<std::string> kNames = {
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
    return kNames;
}

} // namespace qat::datasets
