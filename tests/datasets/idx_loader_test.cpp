// IDX loader tests on tiny files written per test: values, gzip handling, and every
// validation error (each must name the file). Global operator new is replaced to record
// the largest single allocation, so "no huge allocation for an absurd header" is checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "datasets/dataset_files.h"
#include "qat/dataset.h"

namespace {

std::atomic<size_t> g_largestAllocation{0};

} // namespace

void* operator new(std::size_t n) {
    size_t seen = g_largestAllocation.load(std::memory_order_relaxed);
    while (n > seen && !g_largestAllocation.compare_exchange_weak(seen, n))
        ;
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
// GCC sees the replaced operator new inlined as malloc and warns that free() does not
// match "new"; here it does, since both sides are replaced together.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
#pragma GCC diagnostic pop

namespace qat {
namespace {

using namespace qat::testing;
using ::testing::HasSubstr;

constexpr size_t kAllocationLimit = 1 << 20; // the absurd-header files are < 100 bytes

class IdxLoaderTest : public ::testing::Test {
protected:
    // Writes images and labels under the given names and loads them.
    Result<Dataset> load(const Bytes& images, const Bytes& labels,
                         const std::string& imagesName = "images-idx3-ubyte",
                         const std::string& labelsName = "labels-idx1-ubyte") {
        writeFile(dir.file(imagesName), images);
        writeFile(dir.file(labelsName), labels);
        return loadIdx(dir.file(imagesName), dir.file(labelsName));
    }
    std::string imagesPath(const std::string& name = "images-idx3-ubyte") const {
        return dir.file(name);
    }
    std::string labelsPath(const std::string& name = "labels-idx1-ubyte") const {
        return dir.file(name);
    }

    TempDir dir;
    // 3 images of 2x3: the pixels and labels most tests start from.
    const Bytes pixels{0, 255, 51, 1, 2, 3, 10, 20, 30, 40, 50, 60, 255, 254, 128, 127, 0, 9};
    const Bytes labelBytes{7, 0, 9};
};

TEST_F(IdxLoaderTest, LoadsUnitFloatsNhwcAndLabels) {
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(3, labelBytes));
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->size(), 3);
    EXPECT_EQ(data->sampleShape, (Shape{2, 3, 1}));
    EXPECT_EQ(data->numClasses, 10);
    EXPECT_EQ(data->labels, (std::vector<int32_t>{7, 0, 9}));
    ASSERT_EQ(data->images.size(), pixels.size());
    for (size_t i = 0; i < pixels.size(); ++i)
        EXPECT_EQ(data->images[i], static_cast<float>(pixels[i]) / 255.0f) << "pixel " << i;
    EXPECT_EQ(data->images[1], 1.0f); // 255 maps to exactly 1
    EXPECT_EQ(data->images[0], 0.0f);
    EXPECT_EQ(data->image(2)[0], 1.0f); // third image starts with 255
    EXPECT_EQ(data->name, "images-idx3-ubyte");
}

TEST_F(IdxLoaderTest, GzipAndRawGiveIdenticalData) {
    const Bytes images = idxImages(3, 2, 3, pixels), labels = idxLabels(3, labelBytes);
    auto raw = load(images, labels);
    auto gz =
        load(gzipBytes(images), gzipBytes(labels), "images-idx3-ubyte.gz", "labels-idx1-ubyte.gz");
    ASSERT_TRUE(raw) << raw.message();
    ASSERT_TRUE(gz) << gz.message();
    EXPECT_EQ(raw->images, gz->images);
    EXPECT_EQ(raw->labels, gz->labels);
    EXPECT_EQ(raw->sampleShape, gz->sampleShape);
    EXPECT_EQ(gz->name, "images-idx3-ubyte"); // ".gz" dropped from the name
}

TEST_F(IdxLoaderTest, DetectsGzipByMagicBytesNotExtension) {
    const Bytes images = idxImages(3, 2, 3, pixels), labels = idxLabels(3, labelBytes);
    // Gzip data without ".gz", and raw data named ".gz".
    auto data = load(gzipBytes(images), labels, "images.bin", "labels.gz");
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->labels, (std::vector<int32_t>{7, 0, 9}));
    EXPECT_EQ(data->images[1], 1.0f);
}

TEST_F(IdxLoaderTest, ConcatenatedGzipMembersDecompressToConcatenation) {
    const Bytes images = idxImages(3, 2, 3, pixels);
    const Bytes first(images.begin(), images.begin() + 20), rest(images.begin() + 20, images.end());
    Bytes twoMembers = gzipBytes(first);
    const Bytes second = gzipBytes(rest);
    twoMembers.insert(twoMembers.end(), second.begin(), second.end());
    auto data = load(twoMembers, idxLabels(3, labelBytes));
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->images[17], 9.0f / 255.0f);
}

TEST_F(IdxLoaderTest, RejectsWrongImagesMagic) {
    auto data = load(idxImages(3, 2, 3, pixels, 0x00000804), idxLabels(3, labelBytes));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("0x00000804"));
    EXPECT_THAT(data.message(), HasSubstr("expected 0x00000803"));
}

TEST_F(IdxLoaderTest, RejectsWrongLabelsMagic) {
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(3, labelBytes, 0x12345678));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("expected 0x00000801"));
}

TEST_F(IdxLoaderTest, RejectsUnsupportedElementType) {
    // 0x0D = float32 IDX: valid IDX, but not unsigned byte.
    auto data = load(idxImages(3, 2, 3, pixels, 0x00000D03), idxLabels(3, labelBytes));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr("only unsigned byte"));
}

TEST_F(IdxLoaderTest, SwappedImagesAndLabelsAreExplained) {
    writeFile(imagesPath(), idxImages(3, 2, 3, pixels));
    writeFile(labelsPath(), idxLabels(3, labelBytes));
    auto data = loadIdx(labelsPath(), imagesPath());
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("swapped"));
}

TEST_F(IdxLoaderTest, RejectsTruncatedImagesFileWithExpectedAndActualBytes) {
    const Bytes shortPixels(pixels.begin(), pixels.end() - 5);
    auto data = load(idxImages(3, 2, 3, shortPixels), idxLabels(3, labelBytes));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("truncated"));
    EXPECT_THAT(data.message(), HasSubstr("34 bytes")); // 16 + 3*2*3 expected
    EXPECT_THAT(data.message(), HasSubstr("29 bytes")); // actual
}

TEST_F(IdxLoaderTest, TruncatedGzippedImagesSayDecompressedSize) {
    const Bytes shortPixels(pixels.begin(), pixels.end() - 5);
    auto data = load(gzipBytes(idxImages(3, 2, 3, shortPixels)), idxLabels(3, labelBytes),
                     "images-idx3-ubyte.gz");
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath("images-idx3-ubyte.gz")));
    EXPECT_THAT(data.message(), HasSubstr("29 bytes after decompression"));
}

TEST_F(IdxLoaderTest, RejectsImagesFileWithTrailingBytes) {
    Bytes morePixels = pixels;
    morePixels.push_back(1);
    auto data = load(idxImages(3, 2, 3, morePixels), idxLabels(3, labelBytes));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("1 extra bytes"));
}

TEST_F(IdxLoaderTest, RejectsTruncatedLabelsFile) {
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(3, {7, 0}));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("truncated"));
    EXPECT_THAT(data.message(), HasSubstr("11 bytes")); // 8 + 3 expected
    EXPECT_THAT(data.message(), HasSubstr("10 bytes")); // actual
}

TEST_F(IdxLoaderTest, RejectsHeaderShorterThanSixteenBytes) {
    auto data = load(Bytes{0, 0, 8, 3, 0, 0}, idxLabels(3, labelBytes));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("too short for an IDX images header"));
}

TEST_F(IdxLoaderTest, RejectsFileShorterThanMagic) {
    auto data = load(idxImages(3, 2, 3, pixels), Bytes{0, 0, 8});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("too short for an IDX file: the file has 3 bytes"));
}

TEST_F(IdxLoaderTest, RejectsLabelCountDifferentFromImageCount) {
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(2, {7, 0}));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("2 labels"));
    EXPECT_THAT(data.message(), HasSubstr("3 images"));
}

TEST_F(IdxLoaderTest, RejectsAbsurdCountWithoutHugeAllocation) {
    // 2^31 images of 1x1 would be 8 GiB of floats: small enough to be attempted, so the
    // allocation record (not a bad_alloc) is what shows the header was checked first.
    g_largestAllocation = 0;
    auto data = load(idxImages(0x80000000u, 1, 1, pixels), idxLabels(0x80000000u, labelBytes));
    const size_t largest = g_largestAllocation;
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("2147483648 images"));
    EXPECT_THAT(data.message(), HasSubstr("2147483664 bytes")); // 16 + 2^31
    EXPECT_LT(largest, kAllocationLimit);
}

TEST_F(IdxLoaderTest, RejectsAbsurdCountInGzipWithoutHugeAllocation) {
    g_largestAllocation = 0;
    auto data = load(gzipBytes(idxImages(0x80000000u, 28, 28, pixels)), idxLabels(3, labelBytes),
                     "images-idx3-ubyte.gz");
    const size_t largest = g_largestAllocation;
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath("images-idx3-ubyte.gz")));
    EXPECT_THAT(data.message(), HasSubstr("truncated"));
    EXPECT_LT(largest, kAllocationLimit);
}

TEST_F(IdxLoaderTest, RejectsAbsurdLabelCountWithoutHugeAllocation) {
    g_largestAllocation = 0;
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(0xFFFFFFFFu, labelBytes));
    const size_t largest = g_largestAllocation;
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("4294967295 labels"));
    EXPECT_LT(largest, kAllocationLimit);
}

TEST_F(IdxLoaderTest, RejectsImplausibleDimensions) {
    for (auto [rows, cols] :
         {std::pair<uint32_t, uint32_t>{0, 3}, {2, 0}, {4097, 1}, {1, 0x80000000u}}) {
        auto data = load(idxImages(3, rows, cols, pixels), idxLabels(3, labelBytes));
        ASSERT_FALSE(data) << rows << "x" << cols;
        EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
        EXPECT_THAT(data.message(), HasSubstr("implausible image size " + std::to_string(rows) +
                                              "x" + std::to_string(cols)));
    }
}

TEST_F(IdxLoaderTest, AcceptsLargestAllowedSide) {
    const Bytes big(4096, 200);
    auto data = load(idxImages(1, 1, 4096, big), idxLabels(1, {3}));
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->sampleShape, (Shape{1, 4096, 1}));
}

TEST_F(IdxLoaderTest, RejectsZeroImages) {
    auto data = load(idxImages(0, 2, 3, {}), idxLabels(0, {}));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath()));
    EXPECT_THAT(data.message(), HasSubstr("no images"));
}

TEST_F(IdxLoaderTest, RejectsLabelOutOfRange) {
    auto data = load(idxImages(3, 2, 3, pixels), idxLabels(3, {7, 10, 9}));
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(labelsPath()));
    EXPECT_THAT(data.message(), HasSubstr("label 10 of sample 1"));
    EXPECT_THAT(data.message(), HasSubstr("0..9"));
}

TEST_F(IdxLoaderTest, RejectsMissingFile) {
    writeFile(labelsPath(), idxLabels(3, labelBytes));
    auto data = loadIdx(dir.file("nope-idx3-ubyte.gz"), labelsPath());
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("nope-idx3-ubyte.gz")));
    EXPECT_THAT(data.message(), HasSubstr("not found"));
}

TEST_F(IdxLoaderTest, RejectsDirectoryGivenAsFile) {
    writeFile(labelsPath(), idxLabels(3, labelBytes));
    auto data = loadIdx(dir.path().string(), labelsPath());
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr("is a directory"));
}

TEST_F(IdxLoaderTest, RejectsTruncatedGzipStream) {
    Bytes gz = gzipBytes(idxImages(3, 2, 3, pixels));
    gz.erase(gz.end() - 12, gz.end()); // cut into the deflate data and drop the trailer
    auto data = load(gz, idxLabels(3, labelBytes), "images-idx3-ubyte.gz");
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath("images-idx3-ubyte.gz")));
    EXPECT_THAT(data.message(), HasSubstr("truncated gzip"));
}

TEST_F(IdxLoaderTest, RejectsGzipWithBadChecksum) {
    Bytes gz = gzipBytes(idxImages(3, 2, 3, pixels));
    gz[gz.size() - 8] ^= 0xFF; // first byte of the CRC-32 trailer
    auto data = load(gz, idxLabels(3, labelBytes), "images-idx3-ubyte.gz");
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(imagesPath("images-idx3-ubyte.gz")));
    EXPECT_THAT(data.message(), HasSubstr("corrupt gzip"));
}

TEST_F(IdxLoaderTest, RejectsGarbageAfterGzipStream) {
    Bytes gz = gzipBytes(idxImages(3, 2, 3, pixels));
    gz.insert(gz.end(), {'j', 'u', 'n', 'k'});
    auto data = load(gz, idxLabels(3, labelBytes), "images-idx3-ubyte.gz");
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr("4 bytes of unexpected data after the gzip stream"));
}

} // namespace
} // namespace qat
