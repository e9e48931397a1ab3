// makeBasicLayer(): the element-wise and structural layers (Eigen/OpenMP), and the
// helpers they share. The layers themselves live in activation_layers.cpp,
// structural_layers.cpp, dropout_layer.cpp and softmax_layer.cpp. BatchNorm is not
// built here: makeBasicLayer() returns nullptr for it.
#include <cstring>

#include "ops/basic_layers.h"

namespace qat {

namespace ops {

void parallelCopy(const float* src, float* dst, int64_t n) {
    parallelChunks(n, [&](int64_t begin, int64_t end) {
        std::memcpy(dst + begin, src + begin, static_cast<size_t>(end - begin) * sizeof(float));
    });
}

std::string opError(OpType type, const std::string& what) {
    return std::string(opTypeName(type)) + ": " + what;
}

Status expectInputCount(OpType type, const std::vector<Shape>& srcShapes, size_t count) {
    if (srcShapes.size() != count)
        return Status::error(opError(type, "expects " + std::to_string(count) + " input" +
                                               (count == 1 ? "" : "s") + ", got " +
                                               std::to_string(srcShapes.size())));
    return Status::ok();
}

Status expectMinInputCount(OpType type, const std::vector<Shape>& srcShapes, size_t count) {
    if (srcShapes.size() < count)
        return Status::error(opError(type, "expects at least " + std::to_string(count) +
                                               " inputs, got " + std::to_string(srcShapes.size())));
    return Status::ok();
}

} // namespace ops

std::unique_ptr<Layer> makeBasicLayer(Node& node, uint64_t seed) {
    if (auto layer = ops::makeActivationLayer(node))
        return layer;
    if (auto layer = ops::makeStructuralLayer(node))
        return layer;
    if (auto layer = ops::makeDropoutLayer(node, seed))
        return layer;
    return ops::makeSoftmaxLayer(node);
}

} // namespace qat
