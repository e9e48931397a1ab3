// Image-folder datasets: one directory per class holding PNG/JPEG files, either split
// (DIR/train/<class>, DIR/test/<class>) or not (DIR/<class>, test split by a hash of each
// file's path). The layout and every rule are documented at loadImageFolder in dataset.h.
// Files are listed and sorted first, decoded in parallel (OpenMP) into per-file slots and
// then checked in sorted order, so results and error messages never depend on threads.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <new>
#include <system_error>

#include "dataset_io.h"
#include "image_decode.h"
#include "qat/dataset.h"

namespace qat {

namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions = ".png, .jpg, .jpeg";

struct ImageFile {
    fs::path path;
    std::string relative; // to the split root, '/'-separated: "cat/001.png"
    int32_t label = 0;
};

struct Slot {
    datasets::DecodedImage image;
    std::string error; // empty when decoded
};

bool isHidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name[0] == '.';
}

bool hasImageExtension(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool isDirectory(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

std::string joined(const std::vector<std::string>& items, size_t limit) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < limit; ++i)
        s += (i ? ", " : "") + items[i];
    if (items.size() > limit)
        s += ", ... (" + std::to_string(items.size()) + " in all)";
    return s;
}

std::string gib(int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
    return text;
}

// Sorted names of the non-hidden subdirectories of dir (symlinks to directories count).
Result<std::vector<std::string>> subdirectories(const fs::path& dir) {
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!isHidden(it->path()) && isDirectory(it->path()))
            names.push_back(it->path().filename().string());
    if (ec)
        return Status::error(dir.string() + ": cannot list the directory (" + ec.message() + ")");
    std::sort(names.begin(), names.end());
    return names;
}

// Image files anywhere below classDir, hidden files and directories skipped, sorted by
// their path relative to splitRoot.
Status listImages(const fs::path& splitRoot, const std::string& className, int32_t label,
                  std::vector<ImageFile>& out) {
    const fs::path classDir = splitRoot / className;
    std::vector<ImageFile> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(classDir, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (isHidden(it->path())) {
            it.disable_recursion_pending();
            continue;
        }
        std::error_code fileEc;
        if (!it->is_regular_file(fileEc) || !hasImageExtension(it->path()))
            continue;
        files.push_back(
            {it->path(), it->path().lexically_relative(splitRoot).generic_string(), label});
    }
    if (ec)
        return Status::error(classDir.string() + ": cannot list the directory (" + ec.message() +
                             ")");
    std::sort(files.begin(), files.end(),
              [](const ImageFile& a, const ImageFile& b) { return a.relative < b.relative; });
    out.insert(out.end(), std::make_move_iterator(files.begin()),
               std::make_move_iterator(files.end()));
    return Status::ok();
}

Status checkClassCount(const fs::path& splitRoot, const std::vector<std::string>& classes,
                       const ImageFolderOptions& options) {
    if (classes.empty())
        return Status::error(splitRoot.string() +
                             ": no class directories; put the images of each class in a "
                             "subdirectory named after the class (" +
                             splitRoot.string() + "/<class>/*.png)");
    if (classes.size() < 2)
        return Status::error(splitRoot.string() + ": only one class directory ('" +
                             classes.front() +
                             "'); a classifier needs at least two classes, one subdirectory each");
    if (classes.size() > static_cast<size_t>(options.maxClasses))
        return Status::error(splitRoot.string() + ": " + std::to_string(classes.size()) +
                             " class directories, more than the limit of " +
                             std::to_string(options.maxClasses) +
                             "; check that this is the right directory (one subdirectory per "
                             "class)");
    return Status::ok();
}

// The class directories of splitRoot (sorted, 2..maxClasses of them) and their images;
// every class must hold at least one image.
Result<std::vector<ImageFile>> listClasses(const fs::path& splitRoot,
                                           std::vector<std::string>& classes,
                                           const ImageFolderOptions& options) {
    auto names = subdirectories(splitRoot);
    if (!names)
        return names.status();
    classes = std::move(names.value());
    QAT_RETURN_IF_ERROR(checkClassCount(splitRoot, classes, options));
    std::vector<ImageFile> files;
    for (size_t c = 0; c < classes.size(); ++c) {
        const size_t before = files.size();
        QAT_RETURN_IF_ERROR(listImages(splitRoot, classes[c], static_cast<int32_t>(c), files));
        if (files.size() == before)
            return Status::error((splitRoot / classes[c]).string() + ": class '" + classes[c] +
                                 "' holds no images (" + kImageExtensions +
                                 "); add images or remove the directory");
    }
    return files;
}

// Test classes must be train classes; a train class may be missing from test.
Result<std::vector<ImageFile>> listTestClasses(const fs::path& testRoot, const fs::path& trainRoot,
                                               const std::vector<std::string>& classes) {
    auto testClasses = subdirectories(testRoot);
    if (!testClasses)
        return testClasses.status();
    std::vector<ImageFile> files;
    for (const std::string& name : testClasses.value()) {
        const auto it = std::lower_bound(classes.begin(), classes.end(), name);
        if (it == classes.end() || *it != name)
            return Status::error((testRoot / name).string() + ": test class '" + name +
                                 "' has no directory in " + trainRoot.string() +
                                 " (classes: " + joined(classes, 10) +
                                 "); rename it or add training images for it");
        QAT_RETURN_IF_ERROR(
            listImages(testRoot, name, static_cast<int32_t>(it - classes.begin()), files));
    }
    return files;
}

// FNV-1a 64 over the bytes, then the SplitMix64 finalizer so that the low bits mix.
uint64_t stableHash(const std::string& text) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

Slot decodeFile(const ImageFile& file, int maxSide, int expectWidth, int expectHeight) {
    Slot slot;
    try {
        auto bytes = datasets::readFileBytes(file.path.string());
        if (!bytes) {
            slot.error = bytes.message();
            return slot;
        }
        auto image = datasets::decodeImage(bytes->bytes.data(), bytes->bytes.size(), maxSide);
        if (!image) {
            slot.error = file.path.string() + ": " + image.message();
            return slot;
        }
        slot.image = std::move(image.value());
        // A size mismatch fails the load: keep the size for the message, not the pixels.
        if (expectWidth > 0 &&
            (slot.image.width != expectWidth || slot.image.height != expectHeight))
            slot.image.pixels = {};
    } catch (const std::bad_alloc&) {
        slot.error = file.path.string() + ": out of memory while decoding";
    }
    return slot;
}

// dst[H*W*channels] in [0, 1]; a gray image given 3 channels is replicated, an all-gray
// RGB image given 1 channel keeps its (equal) first sample.
void toUnitFloats(const datasets::DecodedImage& img, int channels, float* dst) {
    const std::array<float, 256>& unit = datasets::unitFloatTable();
    const size_t pixels = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
    const size_t srcChannels = static_cast<size_t>(img.channels);
    const size_t dstChannels = static_cast<size_t>(channels);
    const uint8_t* src = img.pixels.data();
    for (size_t p = 0; p < pixels; ++p)
        for (size_t c = 0; c < dstChannels; ++c) {
            const size_t s = p * srcChannels + std::min(c, srcChannels - 1);
            dst[p * dstChannels + c] =
                img.sixteenBit
                    ? static_cast<float>((uint32_t{src[2 * s]} << 8) | src[2 * s + 1]) / 65535.0f
                    : unit[src[s]];
        }
}

struct SplitFiles {
    std::vector<ImageFile> train;
    std::vector<ImageFile> test;
    std::string splitNote; // how test was chosen, for the source line ("" for train/test dirs)
};

void splitByHash(std::vector<ImageFile> files, SplitFiles& out, const std::string& of) {
    for (ImageFile& f : files)
        (imageFolderIsTestImage(f.relative) ? out.test : out.train).push_back(std::move(f));
    out.splitNote = "; test: 1 in " + std::to_string(kImageFolderTestEvery) + " images" + of +
                    " chosen by a hash of their path";
}

Result<SplitFiles> listFiles(const fs::path& root, std::vector<std::string>& classes,
                             const ImageFolderOptions& options) {
    SplitFiles split;
    const fs::path trainRoot = root / "train";
    if (isDirectory(trainRoot)) {
        auto train = listClasses(trainRoot, classes, options);
        if (!train)
            return train.status();
        for (const char* testName : {"test", "val", "validation"}) {
            if (!isDirectory(root / testName))
                continue;
            auto test = listTestClasses(root / testName, trainRoot, classes);
            if (!test)
                return test.status();
            split.train = std::move(train.value());
            split.test = std::move(test.value());
            if (split.test.empty())
                return Status::error((root / testName).string() + ": holds no images (" +
                                     kImageExtensions + ") in its class directories");
            return split;
        }
        splitByHash(std::move(train.value()), split, " of train/ (no test/ directory)");
        return split;
    }
    if (isDirectory(root / "test"))
        return Status::error(root.string() +
                             ": has test/ but no train/; put the training images in "
                             "train/<class>/, or move the class directories up for an "
                             "automatic test split");
    auto files = listClasses(root, classes, options);
    if (!files)
        return files.status();
    splitByHash(std::move(files.value()), split, "");
    return split;
}

std::string sizeText(int w, int h) {
    return std::to_string(w) + "x" + std::to_string(h);
}

} // namespace

bool imageFolderIsTestImage(const std::string& relativePath) {
    return stableHash(relativePath) % kImageFolderTestEvery == 0;
}

bool looksLikeImageFolder(const std::string& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (isHidden(it->path()))
            continue;
        if (isDirectory(it->path()) || hasImageExtension(it->path()))
            return true;
    }
    return false;
}

Result<DatasetSplits> loadImageFolder(const std::string& dir, const ImageFolderOptions& options) {
    std::error_code ec;
    fs::path root = fs::absolute(dir, ec);
    root = (ec ? fs::path(dir) : root).lexically_normal();
    if (root.has_parent_path() && root.filename().empty())
        root = root.parent_path(); // "dir/" -> "dir"
    if (!isDirectory(root))
        return Status::error(dir + ": not a directory; an image folder is a directory with one "
                                   "subdirectory of images per class");

    std::vector<std::string> classes;
    auto listed = listFiles(root, classes, options);
    if (!listed)
        return listed.status();
    SplitFiles& split = listed.value();
    if (split.train.empty() || split.test.empty())
        return Status::error(
            root.string() + ": the automatic split put " + std::to_string(split.train.size()) +
            " images in train and " + std::to_string(split.test.size()) + " in test (1 in " +
            std::to_string(kImageFolderTestEvery) +
            " go to test by a hash of their path); add images, or give train/ and test/ "
            "directories");

    std::vector<ImageFile> files = std::move(split.train);
    const size_t trainCount = files.size();
    files.insert(files.end(), std::make_move_iterator(split.test.begin()),
                 std::make_move_iterator(split.test.end()));
    const auto n = static_cast<int64_t>(files.size());

    // The first image fixes the size; check the memory that size needs before decoding all.
    std::vector<Slot> slots(files.size());
    slots[0] = decodeFile(files[0], options.maxSide, 0, 0);
    if (!slots[0].error.empty())
        return Status::error(slots[0].error);
    const int width = slots[0].image.width, height = slots[0].image.height;
    const int64_t pixelsPerImage = int64_t{width} * height;
    const int64_t minBytes = n * pixelsPerImage * slots[0].image.channels * 4;
    if (minBytes > options.maxBytes)
        return Status::error(root.string() + ": " + std::to_string(n) + " images of " +
                             sizeText(width, height) + " need at least " + gib(minBytes) +
                             " as float, more than the " + gib(options.maxBytes) +
                             " limit; use smaller images or fewer of them");

#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t i = 1; i < n; ++i)
        slots[static_cast<size_t>(i)] =
            decodeFile(files[static_cast<size_t>(i)], options.maxSide, width, height);

    // Checked in file order, so the same file is named whatever the thread timing.
    std::vector<size_t> failed, otherSize;
    bool allGray = true;
    for (size_t i = 0; i < slots.size(); ++i) {
        if (!slots[i].error.empty())
            failed.push_back(i);
        else if (slots[i].image.width != width || slots[i].image.height != height)
            otherSize.push_back(i);
        else
            allGray = allGray && slots[i].image.allGray;
    }
    if (!failed.empty())
        return Status::error(slots[failed[0]].error +
                             (failed.size() > 1 ? " (and " + std::to_string(failed.size() - 1) +
                                                      " more files that failed to decode)"
                                                : ""));
    if (!otherSize.empty()) {
        const Slot& other = slots[otherSize[0]];
        return Status::error(root.string() + ": images differ in size: " + files[0].path.string() +
                             " is " + sizeText(width, height) + " but " +
                             files[otherSize[0]].path.string() + " is " +
                             sizeText(other.image.width, other.image.height) + " (" +
                             std::to_string(otherSize.size()) + " of " + std::to_string(n) +
                             " images are not " + sizeText(width, height) +
                             "); all images must have one size: resize them first, "
                             "e.g. mogrify -resize " +
                             sizeText(width, height) + "! -path OUT */*.png");
    }

    const int channels = allGray ? 1 : 3;
    const int64_t sampleSize = pixelsPerImage * channels;
    const int64_t floatBytes = n * sampleSize * 4;
    if (floatBytes > options.maxBytes)
        return Status::error(root.string() + ": " + std::to_string(n) + " images of " +
                             sizeText(width, height) + "x" + std::to_string(channels) + " need " +
                             gib(floatBytes) + " as float, more than the " + gib(options.maxBytes) +
                             " limit; use smaller images or fewer");

    const std::string name = root.filename().empty() ? "images" : root.filename().string();
    DatasetSplits splits;
    Dataset* parts[2] = {&splits.train, &splits.test};
    for (Dataset* d : parts) {
        d->name = name + (d == &splits.train ? "/train" : "/test");
        d->sampleShape = {height, width, channels};
        d->numClasses = static_cast<int>(classes.size());
        d->classNames = classes;
    }
    const auto trainN = static_cast<int64_t>(trainCount);
    try {
        splits.train.images.resize(static_cast<size_t>(trainN * sampleSize));
        splits.test.images.resize(static_cast<size_t>((n - trainN) * sampleSize));
    } catch (const std::bad_alloc&) {
        return Status::error(root.string() + ": out of memory for " + gib(floatBytes) +
                             " of images");
    }
    for (int64_t i = 0; i < n; ++i)
        (i < trainN ? splits.train : splits.test)
            .labels.push_back(files[static_cast<size_t>(i)].label);

#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        Dataset& d = i < trainN ? splits.train : splits.test;
        const int64_t row = i < trainN ? i : i - trainN;
        Slot& slot = slots[static_cast<size_t>(i)];
        toUnitFloats(slot.image, channels, d.images.data() + row * sampleSize);
        slot.image.pixels = {};
    }

    splits.source = "image folder " + root.string() + " (" + std::to_string(classes.size()) +
                    " classes, " + std::to_string(splits.train.size()) + " train / " +
                    std::to_string(splits.test.size()) + " test images, " +
                    sizeText(width, height) + "x" + std::to_string(channels) + split.splitNote +
                    ")";
    return splits;
}

} // namespace qat
