// Softmax over the last axis of [N, ..., K], forward and backward.
//   forward:  y = exp(x - max(x)) / sum(exp(x - max(x)))   (per row; stable for any x)
//   backward: dx = y * (dy - sum(dy * y))                   (the Jacobian-vector product)
// Used when Softmax is not the loss head; the Network fuses softmax + cross-entropy.
#include <Eigen/Core>

#include "ops/basic_layers.h"

namespace qat::ops {

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

class SoftmaxLayer final : public Layer {
public:
    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectInputCount(OpType::Softmax, srcShapes, 1));
        const Shape& in = srcShapes[0];
        if (in.size() < 2 || in.back() < 1)
            return Status::error(
                opError(OpType::Softmax, "expects an input [N, ..., K] with K >= 1 classes "
                                         "on the last axis, got " +
                                             shapeToString(in)));
        m_classes = in.back();
        m_dstShape = in;
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        const int64_t k = m_classes;
        parallelItems(dst.size() / k, k, [&](int64_t r) {
            const ConstArrayMap x(src[0]->data() + r * k, k);
            ArrayMap y(dst.data() + r * k, k);
            y = (x - x.maxCoeff()).exp();
            y *= 1.0f / y.sum();
        });
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& dst,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        if (!diffSrc[0])
            return;
        const int64_t k = m_classes;
        parallelItems(dst.size() / k, k, [&](int64_t r) {
            const ConstArrayMap y(dst.data() + r * k, k);
            const ConstArrayMap dy(diffDst.data() + r * k, k);
            ArrayMap dx(diffSrc[0]->data() + r * k, k);
            dx = y * (dy - (dy * y).sum());
        });
    }

private:
    int64_t m_classes = 1;
};

} // namespace

std::unique_ptr<Layer> makeSoftmaxLayer(const Node& node) {
    if (node.type != OpType::Softmax)
        return nullptr;
    return std::make_unique<SoftmaxLayer>();
}

} // namespace qat::ops
