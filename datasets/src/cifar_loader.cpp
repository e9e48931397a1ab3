// CIFAR-10 binary loader (data_batch_1..5.bin, test_batch.bin from cifar-10-batches-bin).
// A record is 1 label byte then 3072 pixel bytes as three 32x32 planes R, G, B (CHW);
// we transpose to NHWC [N, 32, 32, 3] floats in [0, 1]. Every file is read and validated
// before the float buffer is allocated, so its size follows the data actually present.
#include <cctype>
#include <filesystem>
#include <fstream>

#include "dataset_io.h"
#include "qat/dataset.h"

namespace qat {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;
constexpr int64_t kChannels = 3;
constexpr int64_t kPlane = kSide * kSide;           // 1024
constexpr int64_t kPixelBytes = kPlane * kChannels; // 3072
constexpr int64_t kRecordBytes = 1 + kPixelBytes;   // 3073
constexpr int64_t kCifar100RecordBytes = 2 + kPixelBytes;
constexpr int kCifarClasses = 10;

Status validateBatch(const std::string& path, const datasets::FileBytes& file) {
    const auto size = static_cast<int64_t>(file.bytes.size());
    if (size == 0)
        return Status::error(path + ": the file is empty; expected CIFAR-10 records of " +
                             std::to_string(kRecordBytes) + " bytes");
    if (size % kRecordBytes != 0) {
        std::string msg = path + ": size " + datasets::describeSize(file) +
                          " is not a multiple of " + std::to_string(kRecordBytes) +
                          " (1 label byte + 3072 pixel bytes per CIFAR-10 record): ";
        if (size % kCifar100RecordBytes == 0)
            msg += "it looks like a CIFAR-100 file (3074-byte records), which is not supported";
        else
            msg += "the file is truncated or not a CIFAR-10 binary batch; download it again";
        return Status::error(msg);
    }
    for (int64_t r = 0; r < size / kRecordBytes; ++r) {
        const uint8_t label = file.bytes[static_cast<size_t>(r * kRecordBytes)];
        if (label >= kCifarClasses)
            return Status::error(path + ": label " + std::to_string(label) + " of record " +
                                 std::to_string(r) + " is outside 0.." +
                                 std::to_string(kCifarClasses - 1) +
                                 "; the file is corrupt or not a CIFAR-10 batch");
    }
    return Status::ok();
}

// batches.meta.txt: one class name per line (blank lines ignored), as shipped with
// cifar-10-batches-bin. Absent -> the standard names.
Result<std::vector<std::string>> readClassNames(const fs::path& dir) {
    const fs::path metaPath = dir / "batches.meta.txt";
    std::error_code ec;
    if (!fs::is_regular_file(metaPath, ec))
        return datasets::cifar10ClassNames();
    std::ifstream in(metaPath);
    if (!in)
        return Status::error(metaPath.string() + ": cannot open for reading; fix its "
                                                 "permissions or remove it to use the standard "
                                                 "CIFAR-10 class names");
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        size_t b = 0, e = line.size();
        while (b < e && std::isspace(static_cast<unsigned char>(line[b])))
            ++b;
        while (e > b && std::isspace(static_cast<unsigned char>(line[e - 1])))
            --e;
        if (e > b)
            names.push_back(line.substr(b, e - b));
    }
    if (names.size() != static_cast<size_t>(kCifarClasses))
        return Status::error(metaPath.string() + ": expected " + std::to_string(kCifarClasses) +
                             " class names, one per line, but found " +
                             std::to_string(names.size()) +
                             "; fix the file or remove it to use the standard names");
    return names;
}

} // namespace

Result<Dataset> loadCifar10Binary(const std::vector<std::string>& files) {
    if (files.empty())
        return Status::error("CIFAR-10: no batch files given; pass data_batch_1.bin .. "
                             "data_batch_5.bin or test_batch.bin");
    std::vector<datasets::FileBytes> batches;
    batches.reserve(files.size());
    int64_t records = 0;
    for (const std::string& path : files) {
        auto file = datasets::readFileBytes(path);
        if (!file)
            return file.status();
        QAT_RETURN_IF_ERROR(validateBatch(path, file.value()));
        records += static_cast<int64_t>(file->bytes.size()) / kRecordBytes;
        batches.push_back(std::move(file.value()));
    }
    auto classNames = readClassNames(fs::path(files.front()).parent_path());
    if (!classNames)
        return classNames.status();

    Dataset data;
    data.name = "cifar10";
    data.sampleShape = {kSide, kSide, kChannels};
    data.numClasses = kCifarClasses;
    data.classNames = std::move(classNames.value());
    data.labels.reserve(static_cast<size_t>(records));
    data.images.resize(static_cast<size_t>(records * kPixelBytes));

    const std::array<float, 256>& unit = datasets::unitFloatTable();
    float* dst = data.images.data();
    for (datasets::FileBytes& batch : batches) {
        const int64_t n = static_cast<int64_t>(batch.bytes.size()) / kRecordBytes;
        for (int64_t r = 0; r < n; ++r) {
            const uint8_t* rec = batch.bytes.data() + r * kRecordBytes;
            data.labels.push_back(rec[0]);
            const uint8_t* planes = rec + 1; // [C][H][W]
            for (int64_t p = 0; p < kPlane; ++p)
                for (int64_t c = 0; c < kChannels; ++c)
                    dst[p * kChannels + c] = unit[planes[c * kPlane + p]];
            dst += kPixelBytes;
        }
        batch.bytes = {}; // release each file as soon as it is converted
    }
    return data;
}

} // namespace qat
