// Dataset operations that do not depend on a file format: batch gathering, subsets and
// the dataset/model compatibility check. Images are NHWC, so a sample is one contiguous
// run of sampleSize() floats.
#include <cstring>

#include "qat/dataset.h"

namespace qat {

namespace {

// "32x32x3" (no brackets, as in user-facing messages).
std::string dimsToString(const Shape& shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i)
            s += 'x';
        s += std::to_string(shape[i]);
    }
    return s;
}

} // namespace

void Dataset::gather(const std::vector<int64_t>& idx, int64_t begin, int64_t end, Tensor& batch,
                     std::vector<int32_t>& batchLabels) const {
    QAT_ASSERT(0 <= begin && begin <= end && end <= static_cast<int64_t>(idx.size()));
    const int64_t n = end - begin;
    const int64_t stride = sampleSize();
    batch.resize(withBatch(n, sampleShape));
    batchLabels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t s = idx[static_cast<size_t>(begin + i)];
        QAT_ASSERT(0 <= s && s < size());
        std::memcpy(batch.data() + i * stride, image(s),
                    static_cast<size_t>(stride) * sizeof(float));
        batchLabels[static_cast<size_t>(i)] = labels[static_cast<size_t>(s)];
    }
}

Dataset Dataset::head(int64_t n) const {
    if (n <= 0 || n >= size())
        return *this;
    Dataset d;
    d.name = name;
    d.sampleShape = sampleShape;
    d.numClasses = numClasses;
    d.classNames = classNames;
    d.images.assign(images.begin(), images.begin() + n * sampleSize());
    d.labels.assign(labels.begin(), labels.begin() + n);
    return d;
}

Status checkCompatible(const Dataset& data, const Shape& modelInput, int64_t modelClasses,
                       const std::string& modelName) {
    const std::string dataset = "dataset '" + data.name + "'";
    const std::string model = "model '" + modelName + "'";
    if (data.size() == 0)
        return Status::error(dataset + " has no samples; load a dataset before using " + model);
    // Exact match, as the trainer requires: a vector-input model needs an [H,W,C] Input
    // followed by Flatten to take images.
    if (modelInput != data.sampleShape) {
        std::string msg = dataset + " has " + dimsToString(data.sampleShape) + " images but " +
                          model + " expects ";
        if (modelInput.size() == 1)
            return Status::error(msg + "vectors of " + std::to_string(modelInput[0]) +
                                 " values; give the model an Input of " +
                                 dimsToString(data.sampleShape) + " followed by Flatten");
        return Status::error(msg + dimsToString(modelInput) +
                             "; choose a model built for this input or another dataset");
    }
    if (modelClasses != data.numClasses)
        return Status::error(dataset + " has " + std::to_string(data.numClasses) + " classes but " +
                             model + " outputs " + std::to_string(modelClasses) +
                             "; change the model's last layer to " +
                             std::to_string(data.numClasses) + " units");
    return Status::ok();
}

} // namespace qat
