// CIFAR-10 binary loader tests: CHW -> NHWC conversion on a hand-made record, batch
// concatenation, class names from batches.meta.txt, and the validation errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datasets/dataset_files.h"
#include "qat/dataset.h"

namespace qat {
namespace {

using namespace qat::testing;
using ::testing::HasSubstr;

// NHWC index of channel c at (h, w) in a 32x32x3 image.
constexpr size_t nhwc(int h, int w, int c) {
    return static_cast<size_t>((h * 32 + w) * 3 + c);
}

TEST(CifarLoader, ConvertsChwRecordToNhwc) {
    TempDir dir;
    // Every plane byte is distinct per (c, h, w) modulo 256; a few are set by hand.
    Bytes rec = cifarRecord(
        7, [](int c, int h, int w) { return static_cast<uint8_t>((c * 85 + h * 32 + w) % 255); });
    rec[1 + 0 * 1024 + 0 * 32 + 1] = 255;  // R at (0, 1)
    rec[1 + 1 * 1024 + 0 * 32 + 0] = 255;  // G at (0, 0)
    rec[1 + 2 * 1024 + 1 * 32 + 2] = 255;  // B at (1, 2)
    rec[1 + 2 * 1024 + 31 * 32 + 31] = 0;  // B at (31, 31)
    rec[1 + 0 * 1024 + 31 * 32 + 31] = 51; // R at (31, 31)
    writeFile(dir.file("data_batch_1.bin"), rec);

    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_TRUE(data) << data.message();
    ASSERT_EQ(data->size(), 1);
    EXPECT_EQ(data->sampleShape, (Shape{32, 32, 3}));
    EXPECT_EQ(data->labels[0], 7);
    ASSERT_EQ(data->images.size(), 3072u);
    // Hand-checked positions: NHWC interleaves R, G, B of one pixel.
    EXPECT_EQ(data->images[1 * 3 + 0], 1.0f);   // R at (0, 1) -> index 3
    EXPECT_EQ(data->images[0 * 3 + 1], 1.0f);   // G at (0, 0) -> index 1
    EXPECT_EQ(data->images[34 * 3 + 2], 1.0f);  // B at (1, 2) -> index 104
    EXPECT_EQ(data->images[3071], 0.0f);        // B at (31, 31), last element
    EXPECT_EQ(data->images[3069], 51 / 255.0f); // R at (31, 31)
    for (int c = 0; c < 3; ++c)
        for (int h = 0; h < 32; ++h)
            for (int w = 0; w < 32; ++w)
                ASSERT_EQ(data->images[nhwc(h, w, c)],
                          rec[static_cast<size_t>(1 + c * 1024 + h * 32 + w)] / 255.0f)
                    << "c=" << c << " h=" << h << " w=" << w;
}

TEST(CifarLoader, ConcatenatesBatchesInOrder) {
    TempDir dir;
    writeFile(dir.file("a.bin"), cifarRecords({3, 9}));
    writeFile(dir.file("b.bin"), cifarRecords({0}));
    auto data = loadCifar10Binary({dir.file("a.bin"), dir.file("b.bin")});
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->labels, (std::vector<int32_t>{3, 9, 0}));
    EXPECT_EQ(data->images.size(), 3u * 3072u);
    EXPECT_EQ(data->numClasses, 10);
    EXPECT_EQ(data->name, "cifar10");
    // The third image is b.bin's first record: R at (0, 0) is (0*13 + 0) % 256 = 0, G is 101.
    EXPECT_EQ(data->image(2)[0], 0.0f);
    EXPECT_EQ(data->image(2)[1], 101 / 255.0f);
}

TEST(CifarLoader, GzippedBatchLoadsLikeRaw) {
    TempDir dir;
    const Bytes records = cifarRecords({1, 2});
    writeFile(dir.file("raw.bin"), records);
    writeFile(dir.file("packed.bin"), gzipBytes(records));
    auto raw = loadCifar10Binary({dir.file("raw.bin")});
    auto gz = loadCifar10Binary({dir.file("packed.bin")});
    ASSERT_TRUE(raw) << raw.message();
    ASSERT_TRUE(gz) << gz.message();
    EXPECT_EQ(raw->images, gz->images);
    EXPECT_EQ(raw->labels, gz->labels);
}

TEST(CifarLoader, UsesStandardClassNamesWithoutMeta) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({0}));
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_TRUE(data) << data.message();
    ASSERT_EQ(data->classNames.size(), 10u);
    EXPECT_EQ(data->classNames.front(), "airplane");
    EXPECT_EQ(data->classNames[3], "cat");
    EXPECT_EQ(data->classNames.back(), "truck");
}

TEST(CifarLoader, ReadsClassNamesFromBatchesMeta) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({0}));
    writeText(dir.file("batches.meta.txt"),
              "a0\r\nb1\r\n c2 \nd3\ne4\nf5\ng6\nh7\ni8\nj9 with space\n\n\n");
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_TRUE(data) << data.message();
    EXPECT_EQ(data->classNames, (std::vector<std::string>{"a0", "b1", "c2", "d3", "e4", "f5", "g6",
                                                          "h7", "i8", "j9 with space"}));
}

TEST(CifarLoader, RejectsBatchesMetaWithWrongCount) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({0}));
    writeText(dir.file("batches.meta.txt"), "cat\ndog\n");
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("batches.meta.txt")));
    EXPECT_THAT(data.message(), HasSubstr("found 2"));
}

TEST(CifarLoader, RejectsSizeNotMultipleOfRecord) {
    TempDir dir;
    Bytes records = cifarRecords({1, 2});
    records.pop_back();
    writeFile(dir.file("data_batch_1.bin"), records);
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("data_batch_1.bin")));
    EXPECT_THAT(data.message(), HasSubstr("6145 bytes"));
    EXPECT_THAT(data.message(), HasSubstr("not a multiple of 3073"));
}

TEST(CifarLoader, RecognizesCifar100RecordSize) {
    TempDir dir;
    writeFile(dir.file("train.bin"), Bytes(3074 * 2, 1));
    auto data = loadCifar10Binary({dir.file("train.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("train.bin")));
    EXPECT_THAT(data.message(), HasSubstr("CIFAR-100"));
}

TEST(CifarLoader, RejectsLabelOutOfRange) {
    TempDir dir;
    writeFile(dir.file("good.bin"), cifarRecords({1}));
    writeFile(dir.file("bad.bin"), cifarRecords({4, 5, 10}));
    auto data = loadCifar10Binary({dir.file("good.bin"), dir.file("bad.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("bad.bin")));
    EXPECT_THAT(data.message(), HasSubstr("label 10 of record 2"));
}

TEST(CifarLoader, RejectsEmptyFile) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), {});
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("data_batch_1.bin")));
    EXPECT_THAT(data.message(), HasSubstr("empty"));
}

TEST(CifarLoader, RejectsMissingFile) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({1}));
    auto data = loadCifar10Binary({dir.file("data_batch_1.bin"), dir.file("data_batch_2.bin")});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr(dir.file("data_batch_2.bin")));
    EXPECT_THAT(data.message(), HasSubstr("not found"));
}

TEST(CifarLoader, RejectsEmptyFileList) {
    auto data = loadCifar10Binary({});
    ASSERT_FALSE(data);
    EXPECT_THAT(data.message(), HasSubstr("no batch files"));
}

} // namespace
} // namespace qat
