// loadDataset / sampleDataDir tests: the bundled sample, Debian's Fashion-MNIST (skipped
// when the package is absent), the fallback, $QATLAB_MNIST_DIR, directories of IDX files
// or CIFAR-10 batches, and the errors for everything else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "datasets/dataset_files.h"
#include "qat/dataset.h"

namespace qat {
namespace {

namespace fs = std::filesystem;
using namespace qat::testing;
using ::testing::HasSubstr;

constexpr const char* kDebianDir = "/usr/share/datasets/fashion-mnist";

std::vector<int64_t> classCounts(const Dataset& d) {
    std::vector<int64_t> counts(static_cast<size_t>(d.numClasses), 0);
    for (int32_t label : d.labels)
        ++counts.at(static_cast<size_t>(label));
    return counts;
}

bool debianFashionMnistInstalled() {
    return fs::exists(fs::path(kDebianDir) / "train-images-idx3-ubyte.gz");
}

TEST(LoadDataset, BundledSampleHas600TrainAnd300TestImages) {
    ScopedEnv samples("QATLAB_DATASETS", std::nullopt);
    auto splits = loadDataset("fashion-mnist-sample");
    ASSERT_TRUE(splits) << splits.message();
    const Dataset& train = splits->train;
    const Dataset& test = splits->test;
    EXPECT_EQ(train.size(), 600);
    EXPECT_EQ(test.size(), 300);
    EXPECT_EQ(train.sampleShape, (Shape{28, 28, 1}));
    EXPECT_EQ(train.images.size(), 600u * 784u);
    EXPECT_EQ(train.name, "fashion-mnist-sample/train");
    EXPECT_EQ(test.name, "fashion-mnist-sample/test");
    ASSERT_EQ(train.classNames.size(), 10u);
    EXPECT_EQ(train.classNames[0], "T-shirt/top");
    EXPECT_EQ(train.classNames[9], "Ankle boot");
    EXPECT_THAT(splits->source, HasSubstr("bundled sample"));
    // The test split was chosen class-balanced by scripts/make_samples; train is the first
    // 600, whose classes hold 55..66 images each.
    EXPECT_EQ(classCounts(test), std::vector<int64_t>(10, 30));
    for (int64_t n : classCounts(train))
        EXPECT_TRUE(n >= 55 && n <= 66) << n;
    const auto [lo, hi] = std::minmax_element(train.images.begin(), train.images.end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
}

TEST(LoadDataset, FashionMnistLoadsFullDebianSet) {
    if (!debianFashionMnistInstalled())
        GTEST_SKIP() << kDebianDir << " not found: install the Debian package "
                     << "dataset-fashion-mnist to run this test";
    ScopedEnv override("QATLAB_FASHION_MNIST_DIR", std::nullopt);
    const auto start = std::chrono::steady_clock::now();
    auto splits = loadDataset("fashion-mnist");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(splits) << splits.message();
    std::printf("loadDataset(\"fashion-mnist\"): %.3f s\n", seconds);
    EXPECT_EQ(splits->train.size(), 60000);
    EXPECT_EQ(splits->test.size(), 10000);
    EXPECT_EQ(splits->train.sampleShape, (Shape{28, 28, 1}));
    EXPECT_EQ(splits->train.name, "fashion-mnist/train");
    EXPECT_EQ(splits->test.classNames[7], "Sneaker");
    EXPECT_THAT(splits->source, HasSubstr(kDebianDir));
    EXPECT_EQ(classCounts(splits->train), std::vector<int64_t>(10, 6000));
    EXPECT_EQ(classCounts(splits->test), std::vector<int64_t>(10, 1000));

    // The bundled train sample is, as its README says, the first 600 of these images.
    ScopedEnv samples("QATLAB_DATASETS", std::nullopt);
    auto sample = loadDataset("fashion-mnist-sample");
    ASSERT_TRUE(sample) << sample.message();
    const Dataset head = splits->train.head(600);
    EXPECT_EQ(sample->train.images, head.images);
    EXPECT_EQ(sample->train.labels, head.labels);
}

TEST(LoadDataset, FashionMnistFallsBackToBundledSample) {
    TempDir empty;
    ScopedEnv override("QATLAB_FASHION_MNIST_DIR", empty.path().string());
    ScopedEnv samples("QATLAB_DATASETS", std::nullopt);
    auto splits = loadDataset("fashion-mnist");
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 600);
    EXPECT_EQ(splits->test.size(), 300);
    EXPECT_THAT(splits->source, HasSubstr("bundled Fashion-MNIST sample"));
    EXPECT_THAT(splits->source, HasSubstr("dataset-fashion-mnist"));
    EXPECT_THAT(splits->source, HasSubstr(empty.path().string()));
}

TEST(LoadDataset, FashionMnistWithoutDataOrSampleExplainsBoth) {
    TempDir empty;
    ScopedEnv override("QATLAB_FASHION_MNIST_DIR", empty.path().string());
    ScopedEnv samples("QATLAB_DATASETS", empty.path().string());
    auto splits = loadDataset("fashion-mnist");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("dataset-fashion-mnist"));
    EXPECT_THAT(splits.message(), HasSubstr("QATLAB_DATASETS"));
}

TEST(LoadDataset, MnistWithoutEnvironmentExplainsWhatToDo) {
    ScopedEnv mnist("QATLAB_MNIST_DIR", std::nullopt);
    auto splits = loadDataset("mnist");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("QATLAB_MNIST_DIR"));
    EXPECT_THAT(splits.message(), HasSubstr("train-images-idx3-ubyte.gz"));
}

TEST(LoadDataset, MnistLoadsFromEnvironmentDirectory) {
    TempDir dir;
    writeIdxSplits(dir.path(), 20, 10, true);
    ScopedEnv mnist("QATLAB_MNIST_DIR", dir.path().string());
    auto splits = loadDataset("mnist");
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 20);
    EXPECT_EQ(splits->test.size(), 10);
    EXPECT_EQ(splits->train.name, "mnist/train");
    EXPECT_EQ(splits->train.classNames,
              (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
    EXPECT_THAT(splits->source, HasSubstr(dir.path().string()));
}

TEST(LoadDataset, MnistEnvironmentNotADirectory) {
    TempDir dir;
    ScopedEnv mnist("QATLAB_MNIST_DIR", dir.file("missing"));
    auto splits = loadDataset("mnist");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.file("missing")));
}

TEST(LoadDataset, MnistSampleAbsentExplainsHowToMakeIt) {
    TempDir empty;
    ScopedEnv samples("QATLAB_DATASETS", empty.path().string());
    auto splits = loadDataset("mnist-sample");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("scripts/make_samples"));
}

TEST(LoadDataset, MnistSampleLoadsWhenPresent) {
    TempDir samplesDir;
    fs::create_directories(samplesDir.path() / "mnist-sample");
    writeIdxSplits(samplesDir.path() / "mnist-sample", 30, 10, true);
    ScopedEnv samples("QATLAB_DATASETS", samplesDir.path().string());
    auto splits = loadDataset("mnist-sample");
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 30);
    EXPECT_EQ(splits->test.name, "mnist-sample/test");
    EXPECT_EQ(splits->test.classNames.at(3), "3");
}

TEST(LoadDataset, SampleDataDirHonorsEnvironment) {
    {
        ScopedEnv samples("QATLAB_DATASETS", "/some/where");
        EXPECT_EQ(sampleDataDir(), "/some/where");
    }
    ScopedEnv samples("QATLAB_DATASETS", std::nullopt);
    EXPECT_TRUE(fs::is_directory(fs::path(sampleDataDir()) / "fashion-mnist-sample"))
        << sampleDataDir();
}

TEST(LoadDataset, DirectoryWithIdxFilesRawAndGzip) {
    TempDir dir;
    const fs::path data = dir.path() / "my-digits";
    fs::create_directories(data);
    writeIdxSplits(data, 12, 8, false);
    // Replace the test labels by a gzipped copy in the "t10k-labels.idx1-ubyte" spelling.
    Bytes labels(8);
    for (size_t i = 0; i < labels.size(); ++i)
        labels[i] = static_cast<uint8_t>(9 - i);
    fs::remove(data / "t10k-labels-idx1-ubyte");
    writeFile((data / "t10k-labels.idx1-ubyte.gz").string(), gzipBytes(idxLabels(8, labels)));

    auto splits = loadDataset(data.string() + "/");
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 12);
    EXPECT_EQ(splits->test.size(), 8);
    EXPECT_EQ(splits->train.name, "my-digits/train");
    EXPECT_EQ(splits->test.labels.front(), 9);
    EXPECT_EQ(splits->test.labels.back(), 2);
    EXPECT_THAT(splits->source, HasSubstr(data.string()));
    EXPECT_TRUE(splits->train.classNames.empty()); // the path names neither MNIST nor fashion
}

TEST(LoadDataset, RelativeDirectoryIsNamedAfterItself) {
    TempDir dir;
    const fs::path data = dir.path() / "digits";
    fs::create_directories(data);
    writeIdxSplits(data, 10, 10, false);
    const fs::path cwd = fs::current_path();
    fs::current_path(data);
    auto splits = loadDataset(".");
    fs::current_path(cwd);
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.name, "digits/train");
}

TEST(LoadDataset, DirectoryNamedFashionGetsFashionClassNames) {
    TempDir dir;
    const fs::path data = dir.path() / "Fashion-MNIST";
    fs::create_directories(data);
    writeIdxSplits(data, 10, 10, true);
    auto splits = loadDataset(data.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.classNames.at(8), "Bag");
}

TEST(LoadDataset, DirectoryMissingIdxFileNamesIt) {
    TempDir dir;
    writeIdxSplits(dir.path(), 10, 10, false);
    fs::remove(dir.path() / "t10k-images-idx3-ubyte");
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.path().string()));
    EXPECT_THAT(splits.message(), HasSubstr("t10k-images-idx3-ubyte[.gz]"));
}

TEST(LoadDataset, CorruptFileInDirectoryNamesThatFile) {
    TempDir dir;
    writeIdxSplits(dir.path(), 10, 10, false);
    writeFile(dir.file("t10k-labels-idx1-ubyte"), idxLabels(10, Bytes(10, 11)));
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.file("t10k-labels-idx1-ubyte")));
    EXPECT_THAT(splits.message(), HasSubstr("label 11"));
}

TEST(LoadDataset, SplitsWithDifferentImageSizesAreRejected) {
    TempDir dir;
    writeIdxSplits(dir.path(), 10, 2, false);
    writeFile(dir.file("t10k-images-idx3-ubyte"), idxImages(2, 14, 14, patternPixels(2, 14, 14)));
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("[14x14x1]"));
    EXPECT_THAT(splits.message(), HasSubstr("[28x28x1]"));
}

TEST(LoadDataset, DirectoryWithCifarBatches) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({1, 2, 3}));
    writeFile(dir.file("data_batch_2.bin"), cifarRecords({4}));
    writeFile(dir.file("test_batch.bin"), cifarRecords({5, 6}));
    auto splits = loadDataset(dir.path().string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.labels, (std::vector<int32_t>{1, 2, 3, 4}));
    EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{5, 6}));
    EXPECT_EQ(splits->train.name, "cifar10/train");
    EXPECT_EQ(splits->test.name, "cifar10/test");
    EXPECT_EQ(splits->train.sampleShape, (Shape{32, 32, 3}));
    EXPECT_THAT(splits->source, HasSubstr("CIFAR-10"));
}

TEST(LoadDataset, ParentOfCifarBatchesDirectory) {
    TempDir dir;
    const fs::path batches = dir.path() / "cifar-10-batches-bin";
    fs::create_directories(batches);
    writeFile((batches / "data_batch_1.bin").string(), cifarRecords({1}));
    writeFile((batches / "test_batch.bin").string(), cifarRecords({2}));
    auto splits = loadDataset(dir.path().string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 1);
    EXPECT_THAT(splits->source, HasSubstr(batches.string()));
}

TEST(LoadDataset, CifarWithoutTestBatchNamesIt) {
    TempDir dir;
    writeFile(dir.file("data_batch_1.bin"), cifarRecords({1}));
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.path().string()));
    EXPECT_THAT(splits.message(), HasSubstr("test_batch.bin"));
}

TEST(LoadDataset, CifarTruncatedBatchNamesIt) {
    TempDir dir;
    Bytes records = cifarRecords({1, 2});
    records.resize(4000);
    writeFile(dir.file("data_batch_1.bin"), records);
    writeFile(dir.file("test_batch.bin"), cifarRecords({2}));
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.file("data_batch_1.bin")));
    EXPECT_THAT(splits.message(), HasSubstr("3073"));
}

TEST(LoadDataset, EmptyDirectoryListsAcceptedInputs) {
    TempDir dir;
    auto splits = loadDataset(dir.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.path().string()));
    EXPECT_THAT(splits.message(), HasSubstr("data_batch_1.bin"));
}

TEST(LoadDataset, UnknownNameListsAcceptedNames) {
    auto splits = loadDataset("imagenet");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("unknown dataset 'imagenet'"));
    for (const char* accepted :
         {"fashion-mnist,", "fashion-mnist-sample", "mnist (needs", "mnist-sample", "CIFAR-10"})
        EXPECT_THAT(splits.message(), HasSubstr(accepted));
}

TEST(LoadDataset, EmptyNameIsRejected) {
    auto splits = loadDataset("");
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("no dataset given"));
}

TEST(LoadDataset, FilePathIsRejectedWithHint) {
    TempDir dir;
    writeIdxSplits(dir.path(), 10, 10, false);
    auto splits = loadDataset(dir.file("train-images-idx3-ubyte"));
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(dir.file("train-images-idx3-ubyte")));
    EXPECT_THAT(splits.message(), HasSubstr("is a file"));
}

} // namespace
} // namespace qat
