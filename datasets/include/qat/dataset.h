// Image classification datasets: loaders for IDX (MNIST/Fashion-MNIST, raw or .gz),
// CIFAR-10 binary batches, folders of PNG/JPEG images (one directory per class), and the
// tiny samples shipped in datasets/data.
// Images are float32 NHWC in [0, 1]; labels are class indices. Every loader validates
// magic numbers, sizes and shapes and names the file in its error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

struct Dataset {
    std::string name;  // e.g. "fashion-mnist/train"
    Shape sampleShape; // [H, W, C]
    int numClasses = 10;
    std::vector<float> images; // size() * shapeSize(sampleShape), NHWC, [0,1]
    std::vector<int32_t> labels;
    std::vector<std::string> classNames; // may be empty

    int64_t size() const { return static_cast<int64_t>(labels.size()); }
    int64_t sampleSize() const { return shapeSize(sampleShape); }
    const float* image(int64_t i) const { return images.data() + i * sampleSize(); }
    // Copies samples idx[begin, end) into a batch tensor [n, H, W, C] and labels.
    void gather(const std::vector<int64_t>& idx, int64_t begin, int64_t end, Tensor& batch,
                std::vector<int32_t>& batchLabels) const;
    // First n samples (or all when n <= 0 or n >= size()).
    Dataset head(int64_t n) const;
};

struct DatasetSplits {
    Dataset train;
    Dataset test;
    std::string source; // where it was loaded from, for display
};

// IDX pair (images idx3 ubyte, labels idx1 ubyte); gzip files (magic 1f 8b, whatever the
// name) are decompressed. Labels must be 0..9.
Result<Dataset> loadIdx(const std::string& imagesPath, const std::string& labelsPath);
// CIFAR-10 binary batches (each record: 1 label byte + 3072 bytes CHW).
Result<Dataset> loadCifar10Binary(const std::vector<std::string>& files);

// ---- Image folders ------------------------------------------------------------------------
// Layout (class names = the sorted names of the class directories; label = index in them):
//   DIR/train/<class>/...  and  DIR/test/<class>/...   explicit splits. test/ may also be
//       called val/ or validation/. Every train class needs at least one image; a class may
//       be missing from test (or its directory empty), but a test class that is not a train
//       class is an error. With train/ and no test/ directory, test is split off train/ as
//       below.
//   DIR/<class>/...        no split: an image goes to test when a stable hash of its path
//       relative to DIR ("cat/001.png": FNV-1a 64 of the UTF-8 bytes, then the SplitMix64
//       finalizer) is 0 mod kImageFolderTestEvery (6), i.e. about 1 in 6 per class. The
//       split is the same on every run and platform and ignores directory order; adding or
//       removing images never moves other images between splits.
// Files: *.png, *.jpg, *.jpeg (any case) anywhere below a class directory, sorted by that
// relative path (byte order); hidden files and directories (".name") and files with other
// extensions are ignored. The format is read from the content, so a misnamed JPEG works,
// but a file with an image extension that does not decode is an error naming it.
// Pixels: all images must have the same width and height (otherwise an error names two
// files and their sizes; resize them beforehand). If every image is grayscale (a gray
// PNG/JPEG, or RGB with R == G == B everywhere) the dataset has C = 1, otherwise C = 3 and
// gray images are replicated to RGB. Alpha and PNG transparency are dropped (not
// composited), palettes expanded, 8-bit samples map to v/255 and 16-bit ones to v/65535.
// Images are float32 NHWC in [0, 1], train images first by class then by path.
// Limits (ImageFolderOptions): 2..1000 classes, 1024 pixels per side, 4 GiB of float
// images, each with an error saying which limit was hit. Decoding runs in parallel
// (OpenMP threads, as set by setNumThreads); the result does not depend on the thread count.
// numClasses is the number of class directories: the CLI and the app fit zoo models to it
// (loadModelOrZoo's numClasses), and checkCompatible explains a model that does not fit.
inline constexpr int kImageFolderTestEvery = 6;

struct ImageFolderOptions {
    int maxClasses = 1000;
    int maxSide = 1024;                  // width and height, checked from each file's header
    int64_t maxBytes = int64_t{4} << 30; // float images of both splits
};

// Loads an image folder; DatasetSplits::source reads e.g. "image folder /data/pets (5
// classes, 1000 train / 200 test images, 32x32x3; test: 1 in 6 images chosen by a hash of
// their path)".
Result<DatasetSplits> loadImageFolder(const std::string& dir,
                                      const ImageFolderOptions& options = {});
// True when the relative path ("cat/001.png") goes to test in an automatic split.
bool imageFolderIsTestImage(const std::string& relativePath);
// True when dir has a non-hidden subdirectory or an image file: loadDataset then treats it
// as an image folder (after IDX and CIFAR-10 files, which take precedence).
bool looksLikeImageFolder(const std::string& dir);

// Resolves a name or a path:
//   "fashion-mnist"  Debian's /usr/share/datasets/fashion-mnist ($QATLAB_FASHION_MNIST_DIR
//                    replaces it), else the bundled sample, with a source saying so
//   "fashion-mnist-sample", "mnist-sample"  the samples in datasets/data (mnist-sample
//                    exists only if scripts/make_samples was run with $QATLAB_MNIST_DIR)
//   "mnist"          a directory given by $QATLAB_MNIST_DIR, else an error saying so
//   a directory      holding train-/t10k- IDX files, or CIFAR-10 data_batch_*.bin + test_batch.bin
//                    (or their parent directory), or an image folder (see loadImageFolder);
//                    anything else: an error listing these
Result<DatasetSplits> loadDataset(const std::string& nameOrPath);

// The directory holding the bundled samples: $QATLAB_DATASETS if set, else the source
// tree's datasets/data if it exists, else the installed share/qatlab/datasets.
std::string sampleDataDir();

// Error naming the dataset and the model when shapes or class counts don't fit.
Status checkCompatible(const Dataset& data, const Shape& modelInput, int64_t modelClasses,
                       const std::string& modelName);

} // namespace qat
