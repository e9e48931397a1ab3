// Image-folder datasets: exact pixels for every PNG flavour, JPEG within a tolerance, labels
// from class directories, the documented automatic split, loadDataset routing and the
// errors for broken folders. All image files are written at test time (image_files.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "datasets/image_files.h"
#include "qat/dataset.h"

namespace qat {
namespace {

namespace fs = std::filesystem;
using namespace qat::testing;
using ::testing::HasSubstr;

// JPEG at quality 95 on smooth test patterns: per-sample error stays well under this.
constexpr float kJpegTolerance = 12.0f / 255.0f;

// The split rule as documented in dataset.h, written out independently.
bool documentedIsTest(const std::string& relative) {
    uint64_t h = 14695981039346656037ULL; // FNV-1a 64 offset basis
    for (unsigned char c : relative) {
        h ^= c;
        h *= 1099511628211ULL; // FNV-1a 64 prime
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL; // SplitMix64 finalizer
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h % 6 == 0;
}

Dataset loadTrain(const fs::path& dir) {
    auto splits = loadImageFolder(dir.string());
    EXPECT_TRUE(splits) << splits.message();
    return splits ? splits->train : Dataset{};
}

// Two classes with one 8-bit PNG each in train/, and one test image.
fs::path writeSplitFolder(const TempDir& tmp, int channels, const TestImage& a,
                          const TestImage& b) {
    const fs::path root = tmp.path() / "set";
    writePng(root / "train" / "a" / "0.png", a);
    writePng(root / "train" / "b" / "0.png", b);
    writePng(root / "test" / "a" / "0.png", patternImage(a.width, a.height, channels, 9));
    return root;
}

void expectPixels(const Dataset& d, int64_t index, const std::vector<float>& expected) {
    ASSERT_EQ(d.sampleSize(), static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i)
        ASSERT_EQ(d.image(index)[i], expected[i]) << "sample " << i << " of image " << index;
}

std::vector<float> unit(const std::vector<uint8_t>& bytes) {
    std::vector<float> v;
    for (uint8_t b : bytes)
        v.push_back(static_cast<float>(b) / 255.0f);
    return v;
}

TEST(ImageFolder, GrayPngPixelsAreExact) {
    TempDir tmp;
    const TestImage a = patternImage(5, 3, 1, 1), b = patternImage(5, 3, 1, 2);
    const fs::path root = writeSplitFolder(tmp, 1, a, b);
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    const Dataset& train = splits->train;
    EXPECT_EQ(train.sampleShape, (Shape{3, 5, 1}));
    EXPECT_EQ(train.size(), 2);
    EXPECT_EQ(splits->test.size(), 1);
    expectPixels(train, 0, unit(a.pixels));
    expectPixels(train, 1, unit(b.pixels));
    EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(train.numClasses, 2);
    EXPECT_EQ(train.classNames, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(splits->test.classNames, train.classNames);
    EXPECT_EQ(train.name, "set/train");
    EXPECT_EQ(splits->test.name, "set/test");
    EXPECT_EQ(splits->source,
              "image folder " + root.string() + " (2 classes, 2 train / 1 test images, 5x3x1)");
}

TEST(ImageFolder, RgbPngPixelsAreExact) {
    TempDir tmp;
    const TestImage a = patternImage(4, 6, 3, 3), b = patternImage(4, 6, 3, 4);
    const Dataset train = loadTrain(writeSplitFolder(tmp, 3, a, b));
    EXPECT_EQ(train.sampleShape, (Shape{6, 4, 3}));
    expectPixels(train, 0, unit(a.pixels));
    expectPixels(train, 1, unit(b.pixels));
}

TEST(ImageFolder, RgbaPngDropsAlphaWithoutCompositing) {
    TempDir tmp;
    TestImage a = patternImage(4, 4, 4, 5);
    for (size_t i = 3; i < a.pixels.size(); i += 4)
        a.pixels[i] = static_cast<uint8_t>(i % 3 == 0 ? 0 : 128); // transparent / half
    const TestImage b = patternImage(4, 4, 4, 6);
    const Dataset train = loadTrain(writeSplitFolder(tmp, 4, a, b));
    ASSERT_EQ(train.sampleShape, (Shape{4, 4, 3}));
    std::vector<uint8_t> rgb;
    for (size_t i = 0; i < a.pixels.size(); ++i)
        if (i % 4 != 3)
            rgb.push_back(a.pixels[i]);
    expectPixels(train, 0, unit(rgb));
}

TEST(ImageFolder, GrayAlphaPngIsGray) {
    TempDir tmp;
    const TestImage a = patternImage(3, 3, 2, 7), b = patternImage(3, 3, 2, 8);
    const Dataset train = loadTrain(writeSplitFolder(tmp, 2, a, b));
    ASSERT_EQ(train.sampleShape, (Shape{3, 3, 1}));
    std::vector<uint8_t> gray;
    for (size_t i = 0; i < a.pixels.size(); i += 2)
        gray.push_back(a.pixels[i]);
    expectPixels(train, 0, unit(gray));
}

TEST(ImageFolder, SixteenBitPngKeepsFullPrecision) {
    TempDir tmp;
    const fs::path root = tmp.path() / "deep";
    std::vector<uint16_t> gray = {0, 1, 255, 256, 32768, 65534, 65535, 12345};
    std::vector<uint16_t> rgb(4 * 2 * 3);
    for (size_t i = 0; i < rgb.size(); ++i)
        rgb[i] = static_cast<uint16_t>(i * 2741 + 7);
    writePng16(root / "x" / "gray.png", 4, 2, 1, gray);
    writePng16(root / "y" / "rgb.png", 4, 2, 3, rgb);
    // Enough images that both splits are non-empty; their content is not checked.
    for (int i = 0; i < 12; ++i)
        writePng(root / "y" / (std::to_string(i) + "p.png"), patternImage(4, 2, 3, i));
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    ASSERT_EQ(splits->train.sampleShape, (Shape{2, 4, 3}));
    // Find the two 16-bit images wherever the split put them: by label and first sample.
    bool sawGray = false, sawRgb = false;
    for (const Dataset* d : {&splits->train, &splits->test})
        for (int64_t i = 0; i < d->size(); ++i) {
            const float* px = d->image(i);
            if (d->labels[static_cast<size_t>(i)] == 0) {
                sawGray = true;
                for (size_t p = 0; p < gray.size(); ++p)
                    for (size_t c = 0; c < 3; ++c) // gray replicated: the dataset is RGB
                        ASSERT_EQ(px[p * 3 + c], static_cast<float>(gray[p]) / 65535.0f) << p;
            } else if (px[0] == 7.0f / 65535.0f) {
                sawRgb = true;
                for (size_t s = 0; s < rgb.size(); ++s)
                    ASSERT_EQ(px[s], static_cast<float>(rgb[s]) / 65535.0f) << s;
            }
        }
    EXPECT_TRUE(sawGray);
    EXPECT_TRUE(sawRgb);
}

TEST(ImageFolder, PalettePngIsExpanded) {
    TempDir tmp;
    const std::vector<uint8_t> colormap = {255, 0, 0, 0, 128, 255, 10, 20, 30};
    const std::vector<uint8_t> indices = {0, 1, 2, 2, 1, 0};
    const fs::path root = tmp.path() / "pal";
    writePalettePng(root / "train" / "a" / "p.png", 3, 2, indices, colormap);
    writePng(root / "train" / "b" / "q.png", patternImage(3, 2, 3, 1));
    writePng(root / "test" / "b" / "q.png", patternImage(3, 2, 3, 2));
    const Dataset train = loadTrain(root);
    ASSERT_EQ(train.sampleShape, (Shape{2, 3, 3}));
    std::vector<uint8_t> rgb;
    for (uint8_t i : indices)
        for (int c = 0; c < 3; ++c)
            rgb.push_back(colormap[i * 3u + static_cast<unsigned>(c)]);
    expectPixels(train, 0, unit(rgb));
}

TEST(ImageFolder, GrayAndColorMixGivesRgbWithGrayReplicated) {
    TempDir tmp;
    const fs::path root = tmp.path() / "mix";
    const TestImage gray = patternImage(3, 3, 1, 1);
    writePng(root / "train" / "a" / "g.png", gray);
    writeJpeg(root / "train" / "b" / "c.jpg", patternImage(3, 3, 3, 2));
    writePng(root / "test" / "a" / "g.png", gray);
    const Dataset train = loadTrain(root);
    ASSERT_EQ(train.sampleShape, (Shape{3, 3, 3}));
    std::vector<uint8_t> rgb;
    for (uint8_t v : gray.pixels)
        rgb.insert(rgb.end(), {v, v, v});
    expectPixels(train, 0, unit(rgb));
}

TEST(ImageFolder, RgbImagesThatAreAllGrayGiveOneChannel) {
    TempDir tmp;
    const fs::path root = tmp.path() / "grayish";
    const TestImage gray = patternImage(4, 2, 1, 3);
    TestImage rgb{4, 2, 3, {}};
    for (uint8_t v : gray.pixels)
        rgb.pixels.insert(rgb.pixels.end(), {v, v, v});
    writePng(root / "train" / "a" / "rgb.png", rgb);
    writePng(root / "train" / "b" / "gray.png", gray);
    writePng(root / "test" / "b" / "gray.png", gray);
    const Dataset train = loadTrain(root);
    ASSERT_EQ(train.sampleShape, (Shape{2, 4, 1}));
    expectPixels(train, 0, unit(gray.pixels));
}

TEST(ImageFolder, JpegPixelsWithinTolerance) {
    TempDir tmp;
    const fs::path root = tmp.path() / "jpeg";
    TestImage smooth{16, 16, 3, {}};
    for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x)
            smooth.pixels.insert(smooth.pixels.end(),
                                 {static_cast<uint8_t>(x * 16), static_cast<uint8_t>(y * 16),
                                  static_cast<uint8_t>(128)});
    writeJpeg(root / "train" / "a" / "x.jpeg", smooth);
    writeJpeg(root / "train" / "b" / "y.JPG", smooth);
    writeJpeg(root / "test" / "a" / "z.jpg", smooth);
    const Dataset train = loadTrain(root);
    ASSERT_EQ(train.sampleShape, (Shape{16, 16, 3}));
    float worst = 0;
    for (size_t i = 0; i < smooth.pixels.size(); ++i)
        worst = std::max(worst, std::abs(train.image(0)[i] - smooth.pixels[i] / 255.0f));
    EXPECT_LE(worst, kJpegTolerance);
    EXPECT_EQ(train.labels, (std::vector<int32_t>{0, 1})); // y.JPG: extension in any case
}

TEST(ImageFolder, GrayJpegIsOneChannel) {
    TempDir tmp;
    const fs::path root = tmp.path() / "grayjpeg";
    TestImage ramp{8, 8, 1, {}};
    for (int i = 0; i < 64; ++i)
        ramp.pixels.push_back(static_cast<uint8_t>(i * 4));
    writeJpeg(root / "train" / "a" / "x.jpg", ramp);
    writeJpeg(root / "train" / "b" / "y.jpg", ramp);
    writeJpeg(root / "test" / "b" / "y.jpg", ramp);
    const Dataset train = loadTrain(root);
    ASSERT_EQ(train.sampleShape, (Shape{8, 8, 1}));
    for (size_t i = 0; i < ramp.pixels.size(); ++i)
        EXPECT_NEAR(train.image(1)[i], ramp.pixels[i] / 255.0f, kJpegTolerance) << i;
}

TEST(ImageFolder, MisnamedFileIsDecodedByContent) {
    TempDir tmp;
    const fs::path root = tmp.path() / "misnamed";
    const TestImage a = patternImage(2, 2, 1, 1);
    writePng(root / "train" / "a" / "really-a-png.jpg", a);
    writePng(root / "train" / "b" / "b.png", a);
    writePng(root / "test" / "b" / "b.png", a);
    const Dataset train = loadTrain(root);
    expectPixels(train, 0, unit(a.pixels));
}

TEST(ImageFolder, LabelsFollowSortedClassDirsAndIgnoreOtherFiles) {
    TempDir tmp;
    const fs::path root = tmp.path() / "labels";
    const TestImage img = patternImage(2, 2, 1, 0);
    // Created out of order; nested directories count; hidden and non-image files do not.
    for (const char* cls : {"zebra", "Apple", "mango"}) {
        writePng(root / "train" / cls / "2.png", img);
        writePng(root / "train" / cls / "1.png", img);
    }
    writePng(root / "train" / "mango" / "sub" / "0.png", img);
    writeText((root / "train" / "mango" / "notes.txt").string(), "not an image");
    writeText((root / "train" / "mango" / ".DS_Store").string(), "junk");
    writePng(root / "train" / "mango" / ".hidden.png", img);
    writePng(root / "train" / "mango" / ".cache" / "x.png", img);
    writePng(root / "train" / ".git" / "y.png", img); // a hidden "class" too
    writeText((root / "README.md").string(), "about this data");
    writePng(root / "test" / "mango" / "t.png", img);
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.classNames, (std::vector<std::string>{"Apple", "mango", "zebra"}));
    EXPECT_EQ(splits->train.labels, (std::vector<int32_t>{0, 0, 1, 1, 1, 2, 2}));
    EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{1}));
}

TEST(ImageFolder, AutomaticSplitIsStableAndAsDocumented) {
    TempDir tmp;
    const fs::path root = tmp.path() / "auto";
    const std::vector<std::string> classes = {"cat", "dog", "fox"};
    std::vector<int32_t> trainLabels, testLabels;
    std::vector<float> firstTestPixel;
    for (size_t c = 0; c < classes.size(); ++c)
        for (int i = 0; i < 30; ++i) {
            char name[16];
            std::snprintf(name, sizeof name, "%03d.png", i);
            const std::string relative = classes[c] + "/" + name;
            const TestImage img = patternImage(3, 2, 1, static_cast<int>(c) * 100 + i);
            writePng(root / relative, img);
            const bool isTest = documentedIsTest(relative);
            EXPECT_EQ(imageFolderIsTestImage(relative), isTest) << relative;
            (isTest ? testLabels : trainLabels).push_back(static_cast<int32_t>(c));
            if (isTest && firstTestPixel.empty())
                firstTestPixel = unit(img.pixels);
        }
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.labels, trainLabels);
    EXPECT_EQ(splits->test.labels, testLabels);
    EXPECT_GE(testLabels.size(), 5u); // about 1 in 6 of 90
    EXPECT_LE(testLabels.size(), 25u);
    expectPixels(splits->test, 0, firstTestPixel);
    EXPECT_THAT(splits->source, HasSubstr("test: 1 in 6 images chosen by a hash of their path"));
    // Stable against the thread count and repeated loads.
    const int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    auto again = loadImageFolder(root.string());
    omp_set_num_threads(threads);
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(again->train.images, splits->train.images);
    EXPECT_EQ(again->test.images, splits->test.images);
    EXPECT_EQ(again->test.labels, splits->test.labels);
}

TEST(ImageFolder, SplitRuleKnownValues) {
    // Pinned so that a change of the documented rule cannot go unnoticed.
    int inTest = 0;
    for (int i = 0; i < 600; ++i) {
        const std::string p = "class/" + std::to_string(i) + ".png";
        EXPECT_EQ(imageFolderIsTestImage(p), documentedIsTest(p)) << p;
        inTest += imageFolderIsTestImage(p) ? 1 : 0;
    }
    EXPECT_NEAR(inTest, 100, 30);
}

TEST(ImageFolder, TrainWithoutTestDirectoryIsSplitByHash) {
    TempDir tmp;
    const fs::path root = tmp.path() / "trainonly";
    for (const char* cls : {"a", "b"})
        for (int i = 0; i < 12; ++i)
            writePng(root / "train" / cls / (std::to_string(i) + ".png"), patternImage(2, 2, 1, i));
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size() + splits->test.size(), 24);
    int64_t expectedTest = 0;
    for (const char* cls : {"a", "b"})
        for (int i = 0; i < 12; ++i)
            expectedTest += documentedIsTest(std::string(cls) + "/" + std::to_string(i) + ".png");
    EXPECT_EQ(splits->test.size(), expectedTest);
    EXPECT_THAT(splits->source, HasSubstr("no test/ directory"));
}

TEST(ImageFolder, ValDirectoryServesAsTest) {
    TempDir tmp;
    const fs::path root = tmp.path() / "withval";
    const TestImage img = patternImage(2, 2, 1, 1);
    writePng(root / "train" / "a" / "0.png", img);
    writePng(root / "train" / "b" / "0.png", img);
    writePng(root / "val" / "b" / "0.png", img);
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{1}));
}

TEST(ImageFolder, ClassMissingFromTestIsFine) {
    TempDir tmp;
    const fs::path root = tmp.path() / "partial";
    const TestImage img = patternImage(2, 2, 3, 1);
    for (const char* cls : {"a", "b", "c"})
        writePng(root / "train" / cls / "0.png", img);
    writePng(root / "test" / "c" / "0.png", img);
    fs::create_directories(root / "test" / "a"); // empty test class directory: fine too
    auto splits = loadImageFolder(root.string());
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{2}));
    EXPECT_EQ(splits->test.numClasses, 3);
}

TEST(ImageFolder, UnknownTestClassIsAnError) {
    TempDir tmp;
    const fs::path root = tmp.path() / "unknown";
    const TestImage img = patternImage(2, 2, 1, 1);
    writePng(root / "train" / "a" / "0.png", img);
    writePng(root / "train" / "b" / "0.png", img);
    writePng(root / "test" / "giraffe" / "0.png", img);
    auto splits = loadImageFolder(root.string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("test class 'giraffe'"));
    EXPECT_THAT(splits.message(), HasSubstr((root / "train").string()));
}

// ---- errors ------------------------------------------------------------------------------

// A valid two-class folder (train a/b, test a) plus `extra` written under train/b.
fs::path validFolder(const TempDir& tmp) {
    const fs::path root = tmp.path() / "bad";
    const TestImage img = patternImage(4, 4, 3, 1);
    writePng(root / "train" / "a" / "0.png", img);
    writePng(root / "train" / "b" / "0.png", img);
    writePng(root / "test" / "a" / "0.png", img);
    return root;
}

void expectErrorNaming(const fs::path& root, const fs::path& file, const std::string& what) {
    auto splits = loadImageFolder(root.string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr(file.string()));
    EXPECT_THAT(splits.message(), HasSubstr(what));
    // The same error through loadDataset, which the CLI and the app use.
    auto viaLoadDataset = loadDataset(root.string());
    ASSERT_FALSE(viaLoadDataset);
    EXPECT_EQ(viaLoadDataset.message(), splits.message());
}

// Writes `bytes` as `relative` into a valid folder and expects an error naming that file.
void expectBadFile(const std::string& relative, const Bytes& bytes, const std::string& what) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    writeFile((root / relative).string(), bytes);
    expectErrorNaming(root, root / relative, what);
}

Bytes pngBytes(const TestImage& img) {
    TempDir tmp;
    writePng(tmp.path() / "x.png", img);
    return readBytes(tmp.path() / "x.png");
}

TEST(ImageFolderErrors, CorruptPngNamesTheFile) {
    Bytes bytes = pngBytes(patternImage(4, 4, 3, 2));
    for (size_t i = 40; i < bytes.size() - 16; ++i) // scramble past the header, into IDAT
        bytes[i] ^= 0x5a;
    expectBadFile("train/b/1.png", bytes, "corrupt PNG");
}

TEST(ImageFolderErrors, TruncatedPngNamesTheFile) {
    Bytes bytes = pngBytes(patternImage(4, 4, 3, 2));
    bytes.resize(bytes.size() / 2);
    expectBadFile("test/a/1.png", bytes, "truncated");
}

TEST(ImageFolderErrors, TruncatedJpegNamesTheFile) {
    Bytes bytes = jpegBytes(patternImage(4, 4, 3, 2), 90);
    bytes.resize(bytes.size() * 2 / 3);
    expectBadFile("train/a/1.jpg", bytes, "truncated");
}

TEST(ImageFolderErrors, GarbageJpegNamesTheFile) {
    Bytes bytes = jpegBytes(patternImage(4, 4, 3, 2), 90);
    for (size_t i = 3; i < bytes.size(); ++i) // keep the FF D8 FF start, garble the rest
        bytes[i] = static_cast<uint8_t>(i * 7);
    expectBadFile("train/a/1.jpeg", bytes, "corrupt JPEG");
}

TEST(ImageFolderErrors, ImageExtensionWithOtherContentNamesTheFile) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    const fs::path bad = root / "train" / "a" / "notes.png";
    writeText(bad.string(), "hello");
    expectErrorNaming(root, bad, "not a PNG or JPEG file");
    writeFile(bad.string(), {});
    expectErrorNaming(root, bad, "empty");
}

TEST(ImageFolderErrors, MixedSizesNameTwoFilesAndSizes) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    const fs::path other = root / "train" / "b" / "1.png";
    writePng(other, patternImage(5, 3, 3, 2));
    expectErrorNaming(root, other, "is 5x3");
    auto splits = loadImageFolder(root.string());
    EXPECT_THAT(splits.message(), HasSubstr((root / "train" / "a" / "0.png").string() + " is 4x4"));
}

TEST(ImageFolderErrors, EmptyClassDirectory) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    fs::create_directories(root / "train" / "c");
    writeText((root / "train" / "c" / "readme.txt").string(), "nothing here");
    expectErrorNaming(root, root / "train" / "c", "class 'c' holds no images");
}

TEST(ImageFolderErrors, NoImagesAtAll) {
    TempDir tmp;
    const fs::path root = tmp.path() / "noimages";
    fs::create_directories(root / "a");
    fs::create_directories(root / "b");
    writeText((root / "a" / "x.txt").string(), "text");
    expectErrorNaming(root, root / "a", "holds no images");
}

TEST(ImageFolderErrors, ImagesWithoutClassDirectories) {
    TempDir tmp;
    const fs::path root = tmp.path() / "flat";
    writePng(root / "0.png", patternImage(2, 2, 1, 0));
    expectErrorNaming(root, root, "no class directories");
}

TEST(ImageFolderErrors, OneClassIsNotEnough) {
    TempDir tmp;
    const fs::path root = tmp.path() / "one";
    writePng(root / "only" / "0.png", patternImage(2, 2, 1, 0));
    expectErrorNaming(root, root, "at least two classes");
}

TEST(ImageFolderErrors, TooManyClasses) {
    TempDir tmp;
    const fs::path root = tmp.path() / "many";
    for (int c = 0; c <= 1000; ++c)
        fs::create_directories(root / (std::to_string(c) + "c")); // GCC 12: no "c" + to_string
    expectErrorNaming(root, root, "1001 class directories, more than the limit of 1000");
}

TEST(ImageFolderErrors, ImageTooLarge) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    ImageFolderOptions options;
    options.maxSide = 3;
    auto splits = loadImageFolder(root.string(), options);
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr((root / "train" / "a" / "0.png").string()));
    EXPECT_THAT(splits.message(), HasSubstr("4x4, larger than the 3 pixel limit"));
}

TEST(ImageFolderErrors, MemoryLimit) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    ImageFolderOptions options;
    options.maxBytes = 100; // 3 images of 4x4x3 floats need 576 bytes
    auto splits = loadImageFolder(root.string(), options);
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("limit"));
    EXPECT_THAT(splits.message(), HasSubstr("3 images of 4x4"));
}

TEST(ImageFolderErrors, TestWithoutTrain) {
    TempDir tmp;
    const fs::path root = tmp.path() / "testonly";
    writePng(root / "test" / "a" / "0.png", patternImage(2, 2, 1, 0));
    expectErrorNaming(root, root, "no train/");
}

// ---- loadDataset -------------------------------------------------------------------------

TEST(ImageFolder, LoadDatasetRecognizesImageFolder) {
    TempDir tmp;
    const fs::path root = validFolder(tmp);
    auto splits = loadDataset(root.string() + "/");
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size(), 2);
    EXPECT_THAT(splits->source, HasSubstr("image folder " + root.string() + " (2 classes"));
    EXPECT_EQ(splits->train.name, "bad/train");
}

TEST(ImageFolder, UnrecognizedDirectoryErrorMentionsImageFolders) {
    TempDir tmp;
    auto splits = loadDataset(tmp.path().string());
    ASSERT_FALSE(splits);
    EXPECT_THAT(splits.message(), HasSubstr("image folder"));
    EXPECT_THAT(splits.message(), HasSubstr("DIR/<class>/"));
}

// Decoding speed on many small files; QATLAB_IMAGE_FOLDER_BENCH_N sets the count (default
// 1200, quick enough for every run).
TEST(ImageFolder, DecodesManySmallFilesQuickly) {
    const char* env = std::getenv("QATLAB_IMAGE_FOLDER_BENCH_N");
    const int n = env ? std::atoi(env) : 1200;
    TempDir tmp;
    const fs::path root = tmp.path() / "many-small";
    for (int i = 0; i < n; ++i)
        writePng(root / ("class" + std::to_string(i % 10)) / (std::to_string(i) + ".png"),
                 patternImage(28, 28, i % 2 ? 3 : 1, i));
    const auto start = std::chrono::steady_clock::now();
    auto splits = loadImageFolder(root.string());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(splits) << splits.message();
    EXPECT_EQ(splits->train.size() + splits->test.size(), n);
    std::printf("%d PNGs of 28x28 decoded in %.3f s with %d OpenMP threads\n", n, seconds,
                omp_get_max_threads());
    EXPECT_LT(seconds, 0.01 * n + 2.0); // generous: thousands of small files in seconds
}

} // namespace
} // namespace qat
