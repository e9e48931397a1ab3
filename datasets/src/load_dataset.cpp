// Dataset resolution: maps a name ("fashion-mnist", "mnist", the bundled samples) or a
// directory (IDX, CIFAR-10, image folder) to train/test splits, and locates the bundled
// samples. Environment: QATLAB_DATASETS (samples dir), QATLAB_MNIST_DIR,
// QATLAB_FASHION_MNIST_DIR (replaces Debian's /usr/share/datasets/fashion-mnist).
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "dataset_io.h"
#include "qat/dataset.h"

#ifndef QAT_DATASETS_DIR
#error "QAT_DATASETS_DIR must name the source tree's datasets/data directory"
#endif
#ifndef QAT_INSTALL_DATASETS_DIR
#error "QAT_INSTALL_DATASETS_DIR must name the installed datasets directory"
#endif

namespace qat {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kAcceptedNames =
    "accepted: fashion-mnist, fashion-mnist-sample, mnist (needs $QATLAB_MNIST_DIR), "
    "mnist-sample, or a directory holding train-/t10k- IDX files "
    "(train-images-idx3-ubyte[.gz] ...) or CIFAR-10 binary batches (data_batch_1.bin .. "
    "data_batch_5.bin, test_batch.bin), or an image folder of PNG/JPEG files with one "
    "subdirectory per class (DIR/<class>/*.png, or DIR/train/<class>/ and DIR/test/<class>/)";

std::string envOr(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

// Absolute and normalized, for naming; the path as given if the working directory is gone.
fs::path normalized(const fs::path& p) {
    std::error_code ec;
    const fs::path abs = fs::absolute(p, ec);
    return (ec ? p : abs).lexically_normal();
}

bool isDirectory(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

bool isFile(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// The four files of an MNIST-style directory; empty strings for files not found.
struct IdxFiles {
    std::array<std::string, 4> paths; // train images, train labels, t10k images, t10k labels
    std::vector<std::string> missing;
    bool any() const { return missing.size() < paths.size(); }
    bool complete() const { return missing.empty(); }
};

IdxFiles findIdxFiles(const fs::path& dir) {
    // Both the canonical "train-images-idx3-ubyte" and the common "train-images.idx3-ubyte"
    // spellings, raw or gzipped.
    static const std::array<std::array<const char*, 2>, 4> kStems = {{
        {"train-images", "idx3"},
        {"train-labels", "idx1"},
        {"t10k-images", "idx3"},
        {"t10k-labels", "idx1"},
    }};
    IdxFiles files;
    for (size_t i = 0; i < kStems.size(); ++i) {
        const std::string base = kStems[i][0], dims = kStems[i][1];
        for (const std::string& stem : {base + "-" + dims + "-ubyte", base + "." + dims + "-ubyte"})
            for (const char* ext : {"", ".gz"})
                if (files.paths[i].empty() && isFile(dir / (stem + ext)))
                    files.paths[i] = (dir / (stem + ext)).string();
        if (files.paths[i].empty())
            files.missing.push_back(base + "-" + dims + "-ubyte[.gz]");
    }
    return files;
}

std::string joined(const std::vector<std::string>& items) {
    std::string s;
    for (const auto& item : items) {
        if (!s.empty())
            s += ", ";
        s += item;
    }
    return s;
}

Result<DatasetSplits> loadIdxSplits(const IdxFiles& files, const std::string& name,
                                    const std::vector<std::string>& classNames,
                                    const std::string& source) {
    QAT_ASSERT(files.complete());
    auto train = loadIdx(files.paths[0], files.paths[1]);
    if (!train)
        return train.status();
    auto test = loadIdx(files.paths[2], files.paths[3]);
    if (!test)
        return test.status();
    if (test->sampleShape != train->sampleShape)
        return Status::error(files.paths[2] + ": test images are " +
                             shapeToString(test->sampleShape) + " but the train images in " +
                             files.paths[0] + " are " + shapeToString(train->sampleShape) +
                             "; both splits must come from the same dataset");
    DatasetSplits splits{std::move(train.value()), std::move(test.value()), source};
    splits.train.name = name + "/train";
    splits.test.name = name + "/test";
    splits.train.classNames = splits.test.classNames = classNames;
    return splits;
}

std::string splitSizes(const DatasetSplits& s) {
    return std::to_string(s.train.size()) + " train / " + std::to_string(s.test.size()) +
           " test images";
}

Result<DatasetSplits> loadIdxDirectory(const fs::path& dir, const std::string& name,
                                       const std::vector<std::string>& classNames,
                                       const std::string& sourcePrefix) {
    const IdxFiles files = findIdxFiles(dir);
    if (!files.complete())
        return Status::error(dir.string() + ": missing " + joined(files.missing) +
                             "; the directory must hold the train- and t10k- images and "
                             "labels files");
    auto splits = loadIdxSplits(files, name, classNames, "");
    if (splits)
        splits->source =
            sourcePrefix + " " + dir.string() + " (" + splitSizes(splits.value()) + ")";
    return splits;
}

Result<DatasetSplits> loadSample(const std::string& sampleName,
                                 const std::vector<std::string>& classNames) {
    const fs::path dir = fs::path(sampleDataDir()) / sampleName;
    if (!isDirectory(dir))
        return Status::error("the bundled sample '" + sampleName + "' is not in " +
                             dir.parent_path().string() +
                             "; set QATLAB_DATASETS to the directory holding it or reinstall");
    return loadIdxDirectory(dir, sampleName, classNames, "bundled sample");
}

Result<DatasetSplits> loadFashionMnist() {
    const std::string dir = envOr("QATLAB_FASHION_MNIST_DIR", kDebianFashionMnistDir);
    const IdxFiles files = findIdxFiles(dir);
    if (files.any())
        return loadIdxDirectory(dir, "fashion-mnist", datasets::fashionMnistClassNames(),
                                "Fashion-MNIST from");
    auto sample = loadSample("fashion-mnist-sample", datasets::fashionMnistClassNames());
    if (!sample)
        return Status::error("Fashion-MNIST is not in " + dir +
                             " (install the Debian package dataset-fashion-mnist) and the "
                             "bundled sample failed to load: " +
                             sample.message());
    sample->source = "bundled Fashion-MNIST sample (" + splitSizes(sample.value()) + ") from " +
                     sampleDataDir() + "/fashion-mnist-sample, because " + dir +
                     " has no Fashion-MNIST files; install the Debian package "
                     "dataset-fashion-mnist for the full 60000/10000";
    return sample;
}

Result<DatasetSplits> loadMnist() {
    const std::string dir = envOr("QATLAB_MNIST_DIR", "");
    if (dir.empty())
        return Status::error("MNIST is not packaged by Debian: download the four IDX files "
                             "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                             "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into a "
                             "directory and set QATLAB_MNIST_DIR to it, or use fashion-mnist");
    if (!isDirectory(dir))
        return Status::error("QATLAB_MNIST_DIR=" + dir +
                             " is not a directory; point it at the directory holding the "
                             "MNIST IDX files");
    return loadIdxDirectory(dir, "mnist", datasets::mnistClassNames(), "MNIST from");
}

Result<DatasetSplits> loadMnistSample() {
    const fs::path dir = fs::path(sampleDataDir()) / "mnist-sample";
    if (!isDirectory(dir))
        return Status::error(
            "no MNIST sample in " + dir.parent_path().string() +
            ": Debian packages no MNIST, so none is bundled; make one with "
            "QATLAB_MNIST_DIR=<dir with the MNIST IDX files> scripts/make_samples, or use "
            "fashion-mnist-sample");
    return loadSample("mnist-sample", datasets::mnistClassNames());
}

Result<DatasetSplits> loadCifarDirectory(const fs::path& dir) {
    std::vector<std::string> trainFiles;
    for (int i = 1; i <= 5; ++i) {
        const fs::path p = dir / ("data_batch_" + std::to_string(i) + ".bin");
        if (isFile(p))
            trainFiles.push_back(p.string());
    }
    const fs::path testFile = dir / "test_batch.bin";
    if (trainFiles.empty() || !isFile(testFile))
        return Status::error(dir.string() + ": incomplete CIFAR-10 binary batches: need " +
                             (trainFiles.empty() ? "data_batch_1.bin .. data_batch_5.bin" : "") +
                             (trainFiles.empty() && !isFile(testFile) ? " and " : "") +
                             (isFile(testFile) ? "" : "test_batch.bin") +
                             " (from cifar-10-binary.tar.gz)");
    auto train = loadCifar10Binary(trainFiles);
    if (!train)
        return train.status();
    auto test = loadCifar10Binary({testFile.string()});
    if (!test)
        return test.status();
    DatasetSplits splits{std::move(train.value()), std::move(test.value()), ""};
    splits.train.name = "cifar10/train";
    splits.test.name = "cifar10/test";
    splits.source = "CIFAR-10 binary batches in " + dir.string() + " (" + splitSizes(splits) + ")";
    return splits;
}

bool hasCifarFiles(const fs::path& dir) {
    return isFile(dir / "test_batch.bin") || isFile(dir / "data_batch_1.bin");
}

// Class names for an IDX directory, guessed from its path; empty when it says nothing.
std::vector<std::string> guessIdxClassNames(const fs::path& dir) {
    std::string text = normalized(dir).string();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (text.find("fashion") != std::string::npos)
        return datasets::fashionMnistClassNames();
    if (text.find("mnist") != std::string::npos)
        return datasets::mnistClassNames();
    return {};
}

Result<DatasetSplits> loadDirectory(const fs::path& dir) {
    if (findIdxFiles(dir).any()) {
        fs::path named = normalized(dir);
        if (named.filename().empty())
            named = named.parent_path(); // "dir/" and "." -> the directory's own name
        const std::string name = named.filename().string();
        return loadIdxDirectory(dir, name.empty() ? "idx" : name, guessIdxClassNames(dir),
                                "IDX files in");
    }
    if (hasCifarFiles(dir))
        return loadCifarDirectory(dir);
    if (hasCifarFiles(dir / "cifar-10-batches-bin"))
        return loadCifarDirectory(dir / "cifar-10-batches-bin");
    if (looksLikeImageFolder(dir.string()))
        return loadImageFolder(dir.string());
    return Status::error(dir.string() + ": holds no dataset files; " + kAcceptedNames);
}

} // namespace

std::string sampleDataDir() {
    const std::string overridden = envOr("QATLAB_DATASETS", "");
    if (!overridden.empty())
        return overridden;
    if (isDirectory(QAT_DATASETS_DIR))
        return QAT_DATASETS_DIR; // running from a build tree
    return QAT_INSTALL_DATASETS_DIR;
}

Result<DatasetSplits> loadDataset(const std::string& nameOrPath) {
    if (nameOrPath == "fashion-mnist")
        return loadFashionMnist();
    if (nameOrPath == "fashion-mnist-sample")
        return loadSample("fashion-mnist-sample", datasets::fashionMnistClassNames());
    if (nameOrPath == "mnist")
        return loadMnist();
    if (nameOrPath == "mnist-sample")
        return loadMnistSample();
    if (nameOrPath.empty())
        return Status::error(std::string("no dataset given; ") + kAcceptedNames);
    std::error_code ec;
    const fs::file_status st = fs::status(nameOrPath, ec);
    if (fs::is_directory(st))
        return loadDirectory(nameOrPath);
    if (fs::exists(st))
        return Status::error(nameOrPath +
                             ": is a file; pass the directory that holds the dataset files (" +
                             kAcceptedNames + ")");
    return Status::error("unknown dataset '" + nameOrPath +
                         "': not a known name and no such directory; " + kAcceptedNames);
}

} // namespace qat
