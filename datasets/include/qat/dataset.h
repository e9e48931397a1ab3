// Image classification datasets: loaders for IDX (MNIST/Fashion-MNIST, raw or .gz),
// CIFAR-10 binary batches, and the tiny samples shipped in datasets/data.
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

// Resolves a name or a path:
//   "fashion-mnist"  Debian's /usr/share/datasets/fashion-mnist ($QATLAB_FASHION_MNIST_DIR
//                    replaces it), else the bundled sample, with a source saying so
//   "fashion-mnist-sample", "mnist-sample"  the samples in datasets/data (mnist-sample
//                    exists only if scripts/make_samples was run with $QATLAB_MNIST_DIR)
//   "mnist"          a directory given by $QATLAB_MNIST_DIR, else an error saying so
//   a directory      holding train-/t10k- IDX files, or CIFAR-10 data_batch_*.bin + test_batch.bin
//                    (or their parent directory); anything else: an error listing these
Result<DatasetSplits> loadDataset(const std::string& nameOrPath);

// The directory holding the bundled samples: $QATLAB_DATASETS if set, else the source
// tree's datasets/data if it exists, else the installed share/qatlab/datasets.
std::string sampleDataDir();

// Error naming the dataset and the model when shapes or class counts don't fit.
Status checkCompatible(const Dataset& data, const Shape& modelInput, int64_t modelClasses,
                       const std::string& modelName);

} // namespace qat
