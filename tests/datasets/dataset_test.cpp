// Dataset operations independent of file formats: gather, head, checkCompatible.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qat/dataset.h"

namespace qat {
namespace {

using ::testing::HasSubstr;

// n samples of 2x2x1; every value of sample i is i + k / 10 (k = 0..3), label i % 3.
Dataset makeDataset(int64_t n) {
    Dataset d;
    d.name = "toy/train";
    d.sampleShape = {2, 2, 1};
    d.numClasses = 3;
    d.classNames = {"a", "b", "c"};
    for (int64_t i = 0; i < n; ++i) {
        for (int k = 0; k < 4; ++k)
            d.images.push_back(static_cast<float>(i) + static_cast<float>(k) / 10.0f);
        d.labels.push_back(static_cast<int32_t>(i % 3));
    }
    return d;
}

Dataset cifarLike() {
    Dataset d;
    d.name = "cifar10/train";
    d.sampleShape = {32, 32, 3};
    d.numClasses = 10;
    d.images.assign(2 * 3072, 0.5f);
    d.labels = {1, 2};
    return d;
}

TEST(Dataset, GatherCopiesIndexedSamplesIntoBatch) {
    const Dataset d = makeDataset(5);
    const std::vector<int64_t> idx{4, 0, 3, 1, 2};
    Tensor batch;
    std::vector<int32_t> labels;
    d.gather(idx, 1, 4, batch, labels); // samples 0, 3, 1
    EXPECT_EQ(batch.shape(), (Shape{3, 2, 2, 1}));
    EXPECT_EQ(labels, (std::vector<int32_t>{0, 0, 1}));
    const std::vector<float> expected{0.0f, 0.1f, 0.2f, 0.3f, 3.0f, 3.1f,
                                      3.2f, 3.3f, 1.0f, 1.1f, 1.2f, 1.3f};
    EXPECT_EQ(batch.vec(), expected);
}

TEST(Dataset, GatherReusesBatchForSmallerLastBatch) {
    const Dataset d = makeDataset(5);
    const std::vector<int64_t> idx{0, 1, 2, 3, 4};
    Tensor batch;
    std::vector<int32_t> labels;
    d.gather(idx, 0, 3, batch, labels);
    d.gather(idx, 3, 5, batch, labels);
    EXPECT_EQ(batch.shape(), (Shape{2, 2, 2, 1}));
    EXPECT_EQ(batch.size(), 8);
    EXPECT_EQ(batch[0], 3.0f);
    EXPECT_EQ(batch[7], 4.3f);
    EXPECT_EQ(labels, (std::vector<int32_t>{0, 1}));
}

TEST(Dataset, GatherEmptyRangeGivesEmptyBatch) {
    const Dataset d = makeDataset(2);
    Tensor batch;
    std::vector<int32_t> labels{5};
    d.gather({0, 1}, 1, 1, batch, labels);
    EXPECT_EQ(batch.shape(), (Shape{0, 2, 2, 1}));
    EXPECT_TRUE(labels.empty());
}

TEST(DatasetDeathTest, GatherOutOfRangeIndexAborts) {
    const Dataset d = makeDataset(2);
    Tensor batch;
    std::vector<int32_t> labels;
    EXPECT_DEATH(d.gather({0, 2}, 0, 2, batch, labels), "internal invariant broken");
    EXPECT_DEATH(d.gather({0, 1}, 0, 3, batch, labels), "internal invariant broken");
}

TEST(Dataset, HeadTakesFirstSamples) {
    const Dataset d = makeDataset(5);
    const Dataset h = d.head(2);
    EXPECT_EQ(h.size(), 2);
    EXPECT_EQ(h.images, (std::vector<float>(d.images.begin(), d.images.begin() + 8)));
    EXPECT_EQ(h.labels, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(h.sampleShape, d.sampleShape);
    EXPECT_EQ(h.numClasses, 3);
    EXPECT_EQ(h.classNames, d.classNames);
    EXPECT_EQ(h.name, d.name);
}

TEST(Dataset, HeadOfZeroNegativeOrTooManyIsEverything) {
    const Dataset d = makeDataset(5);
    for (int64_t n : {int64_t{0}, int64_t{-1}, int64_t{5}, int64_t{99}}) {
        const Dataset h = d.head(n);
        EXPECT_EQ(h.size(), 5) << n;
        EXPECT_EQ(h.images, d.images) << n;
    }
}

TEST(CheckCompatible, AcceptsMatchingShapeAndClasses) {
    EXPECT_TRUE(checkCompatible(cifarLike(), {32, 32, 3}, 10, "resnet").isOk());
}

TEST(CheckCompatible, FlatVectorInputNeedsFlatten) {
    // Same element count, but the trainer feeds [N,H,W,C]: the model must flatten itself.
    const Status s = checkCompatible(cifarLike(), {3072}, 10, "mlp");
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr("model 'mlp' expects vectors of 3072 values"));
    EXPECT_THAT(s.message(), HasSubstr("Input of 32x32x3 followed by Flatten"));
}

TEST(CheckCompatible, ShapeMismatchNamesDatasetAndModel) {
    const Status s = checkCompatible(cifarLike(), {28, 28, 1}, 10, "cnn-bn");
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr("dataset 'cifar10/train' has 32x32x3 images but model "
                                       "'cnn-bn' expects 28x28x1"));
}

TEST(CheckCompatible, FlatMismatchStatesBothSizes) {
    const Status s = checkCompatible(cifarLike(), {784}, 10, "mlp");
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr("dataset 'cifar10/train' has 32x32x3 images but model "
                                       "'mlp' expects vectors of 784 values"));
}

TEST(CheckCompatible, ClassCountMismatch) {
    const Status s = checkCompatible(cifarLike(), {32, 32, 3}, 100, "resnet");
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(),
                HasSubstr("dataset 'cifar10/train' has 10 classes but model 'resnet' outputs 100"));
}

TEST(CheckCompatible, EmptyDatasetIsRejected) {
    Dataset d = cifarLike();
    d.images.clear();
    d.labels.clear();
    const Status s = checkCompatible(d, {32, 32, 3}, 10, "resnet");
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr("no samples"));
}

} // namespace
} // namespace qat
