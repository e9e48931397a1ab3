// IDX loader (MNIST, Fashion-MNIST): idx3-ubyte images + idx1-ubyte labels, raw or gzip.
// IDX: big-endian header, magic 0x0000TTDD (TT = 0x08 unsigned byte, DD = dimensions),
// then one uint32 per dimension, then the data row-major. Images become float32 NHWC
// [N, rows, cols, 1] in [0, 1]. Everything is validated before the float buffer exists.
#include <cstdio>
#include <filesystem>

#include "dataset_io.h"
#include "qat/dataset.h"

namespace qat {

namespace {

using datasets::describeSize;
using datasets::FileBytes;
using datasets::readBigEndian32;

constexpr uint32_t kImagesMagic = 0x00000803; // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801; // unsigned byte, 1 dimension
constexpr int64_t kImagesHeaderBytes = 16;
constexpr int64_t kLabelsHeaderBytes = 8;
constexpr int64_t kMaxSide = 4096;
constexpr int kIdxClasses = 10; // MNIST and Fashion-MNIST

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

// Why a magic number is wrong, in words a user can act on.
std::string magicProblem(uint32_t magic, uint32_t expected, const char* expectedKind) {
    std::string msg = "bad magic number " + hex32(magic) + ", expected " + hex32(expected) + " (" +
                      expectedKind + ")";
    if (magic == kImagesMagic)
        msg += "; this is an images file (idx3-ubyte): are images and labels swapped?";
    else if (magic == kLabelsMagic)
        msg += "; this is a labels file (idx1-ubyte): are images and labels swapped?";
    else if ((magic >> 16) == 0 && ((magic >> 8) & 0xFF) != 0x08)
        msg += "; IDX element type " + hex32((magic >> 8) & 0xFF) +
               " is not supported, only unsigned byte (0x08)";
    else
        msg += "; this is not an IDX file of that kind";
    return msg;
}

// Checked before the header length, so that a file of the wrong kind is named as such
// even when it is shorter than this kind's header.
Status checkMagic(const std::string& path, const FileBytes& file, uint32_t expected,
                  const char* expectedKind) {
    if (file.bytes.size() < 4)
        return Status::error(path + ": too short for an IDX file: the file has " +
                             describeSize(file));
    const uint32_t magic = readBigEndian32(file.bytes.data());
    if (magic != expected)
        return Status::error(path + ": " + magicProblem(magic, expected, expectedKind));
    return Status::ok();
}

std::string sizeMismatch(const FileBytes& file, int64_t expected, const std::string& what) {
    const auto actual = static_cast<int64_t>(file.bytes.size());
    if (actual < expected)
        return "truncated: the header promises " + what + ", " + std::to_string(expected) +
               " bytes in all, but the file has " + describeSize(file) +
               "; the file is incomplete, download it again";
    return "size mismatch: the header promises " + what + ", " + std::to_string(expected) +
           " bytes in all, but the file has " + describeSize(file) + " (" +
           std::to_string(actual - expected) +
           " extra bytes); the header is wrong or this is not an IDX file";
}

struct IdxImagesHeader {
    int64_t count = 0, rows = 0, cols = 0;
};

Result<IdxImagesHeader> parseImagesHeader(const std::string& path, const FileBytes& file) {
    const auto size = static_cast<int64_t>(file.bytes.size());
    QAT_RETURN_IF_ERROR(checkMagic(path, file, kImagesMagic, "idx3-ubyte images"));
    if (size < kImagesHeaderBytes)
        return Status::error(path + ": too short for an IDX images header (" +
                             std::to_string(kImagesHeaderBytes) + " bytes): the file has " +
                             describeSize(file));
    const uint8_t* p = file.bytes.data();
    IdxImagesHeader h;
    h.count = readBigEndian32(p + 4);
    h.rows = readBigEndian32(p + 8);
    h.cols = readBigEndian32(p + 12);
    if (h.rows < 1 || h.rows > kMaxSide || h.cols < 1 || h.cols > kMaxSide)
        return Status::error(path + ": implausible image size " + std::to_string(h.rows) + "x" +
                             std::to_string(h.cols) + " (rows and cols must be 1.." +
                             std::to_string(kMaxSide) + "); the header is corrupt");
    if (h.count == 0)
        return Status::error(path + ": the file holds no images (count 0)");
    // count < 2^32 and rows*cols <= 2^24, so this cannot overflow int64.
    const int64_t expected = kImagesHeaderBytes + h.count * h.rows * h.cols;
    if (expected != size)
        return Status::error(path + ": " +
                             sizeMismatch(file, expected,
                                          std::to_string(h.count) + " images of " +
                                              std::to_string(h.rows) + "x" +
                                              std::to_string(h.cols)));
    return h;
}

Result<int64_t> parseLabelsHeader(const std::string& path, const FileBytes& file) {
    const auto size = static_cast<int64_t>(file.bytes.size());
    QAT_RETURN_IF_ERROR(checkMagic(path, file, kLabelsMagic, "idx1-ubyte labels"));
    if (size < kLabelsHeaderBytes)
        return Status::error(path + ": too short for an IDX labels header (" +
                             std::to_string(kLabelsHeaderBytes) + " bytes): the file has " +
                             describeSize(file));
    const uint8_t* p = file.bytes.data();
    const int64_t count = readBigEndian32(p + 4);
    const int64_t expected = kLabelsHeaderBytes + count;
    if (expected != size)
        return Status::error(path + ": " +
                             sizeMismatch(file, expected, std::to_string(count) + " labels"));
    return count;
}

std::string datasetNameFromPath(const std::string& path) {
    std::string name = std::filesystem::path(path).filename().string();
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
        name.resize(name.size() - 3);
    return name;
}

} // namespace

Result<Dataset> loadIdx(const std::string& imagesPath, const std::string& labelsPath) {
    auto imagesFile = datasets::readFileBytes(imagesPath);
    if (!imagesFile)
        return imagesFile.status();
    auto header = parseImagesHeader(imagesPath, imagesFile.value());
    if (!header)
        return header.status();
    auto labelsFile = datasets::readFileBytes(labelsPath);
    if (!labelsFile)
        return labelsFile.status();
    auto labelCount = parseLabelsHeader(labelsPath, labelsFile.value());
    if (!labelCount)
        return labelCount.status();

    const IdxImagesHeader h = header.value();
    if (labelCount.value() != h.count)
        return Status::error(labelsPath + ": holds " + std::to_string(labelCount.value()) +
                             " labels but " + imagesPath + " holds " + std::to_string(h.count) +
                             " images; the two files must come from the same split (train or "
                             "t10k) of the same dataset");

    const uint8_t* labelBytes = labelsFile->bytes.data() + kLabelsHeaderBytes;
    for (int64_t i = 0; i < h.count; ++i) {
        if (labelBytes[i] >= kIdxClasses)
            return Status::error(labelsPath + ": label " + std::to_string(labelBytes[i]) +
                                 " of sample " + std::to_string(i) + " is outside 0.." +
                                 std::to_string(kIdxClasses - 1) +
                                 " (MNIST-style datasets have 10 classes); the file is corrupt "
                                 "or not a class-label file");
    }

    Dataset data;
    data.name = datasetNameFromPath(imagesPath);
    data.sampleShape = {h.rows, h.cols, 1};
    data.numClasses = kIdxClasses;
    data.labels.assign(labelBytes, labelBytes + h.count);
    const int64_t pixels = h.count * h.rows * h.cols;
    data.images.resize(static_cast<size_t>(pixels));
    // Row-major rows x cols with one channel is already NHWC.
    datasets::bytesToUnitFloats(imagesFile->bytes.data() + kImagesHeaderBytes, pixels,
                                data.images.data());
    return data;
}

} // namespace qat
