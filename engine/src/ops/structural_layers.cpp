// Structural layers, forward and backward: Add, Concat, Reshape, Flatten, ZeroPad.
// Shapes include the batch dimension first; attributes that name axes or shapes are per
// sample (graph.h), so a per-sample axis a is tensor axis a + 1. Data movement is
// memcpy over contiguous runs of the row-major buffers.
#include <Eigen/Core>

#include <algorithm>
#include <cstring>

#include "ops/basic_layers.h"

namespace qat::ops {

namespace {

using Eigen::Index;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

void copyFloats(const float* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

// dst = src[0] + src[1] + ... (2+ inputs of one shape); diffSrc[i] = diffDst.
class AddLayer final : public Layer {
public:
    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectMinInputCount(OpType::Add, srcShapes, 2));
        for (size_t i = 1; i < srcShapes.size(); ++i)
            if (srcShapes[i] != srcShapes[0])
                return Status::error(opError(
                    OpType::Add, "inputs must have equal shapes, but input " + std::to_string(i) +
                                     " is " + shapeToString(srcShapes[i]) + " and input 0 is " +
                                     shapeToString(srcShapes[0])));
        m_dstShape = srcShapes[0];
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        // Blocks small enough to stay in L1 while the 3rd, 4th... inputs are added on.
        constexpr int64_t kBlock = 2048;
        parallelChunks(dst.size(), [&](int64_t begin, int64_t end) {
            for (int64_t b = begin; b < end; b += kBlock) {
                const Index n = std::min(kBlock, end - b);
                ArrayMap y(dst.data() + b, n);
                y = ConstArrayMap(src[0]->data() + b, n) + ConstArrayMap(src[1]->data() + b, n);
                for (size_t i = 2; i < src.size(); ++i)
                    y += ConstArrayMap(src[i]->data() + b, n);
            }
        });
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        for (Tensor* d : diffSrc)
            if (d)
                parallelCopy(diffDst.data(), d->data(), diffDst.size());
    }
};

// Joins inputs along one axis; all other dimensions must match. Viewing each input as
// [outer, inner_i] with inner_i = prod(dims from the axis on), the output row o is the
// concatenation of the input rows o.
class ConcatLayer final : public Layer {
public:
    explicit ConcatLayer(const Node& node) : m_node(node) {}

    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectMinInputCount(OpType::Concat, srcShapes, 1));
        const Shape& first = srcShapes[0];
        const int64_t rank = static_cast<int64_t>(first.size());
        if (rank < 2)
            return Status::error(opError(OpType::Concat, "input 0 has shape " +
                                                             shapeToString(first) +
                                                             "; expected a batch and at least "
                                                             "one per-sample dimension"));
        const int64_t sampleRank = rank - 1;
        const int64_t axis = m_node.attrs.getInt("axis", -1);
        if (axis < -sampleRank || axis >= sampleRank)
            return Status::error(
                opError(OpType::Concat, "attribute 'axis' = " + std::to_string(axis) +
                                            " is out of range for per-sample rank " +
                                            std::to_string(sampleRank) + " (use " +
                                            std::to_string(-sampleRank) + ".." +
                                            std::to_string(sampleRank - 1) + ")"));
        const size_t tensorAxis = static_cast<size_t>(axis < 0 ? axis + rank : axis + 1);

        Shape dstShape = first;
        dstShape[tensorAxis] = 0;
        for (size_t i = 0; i < srcShapes.size(); ++i) {
            const Shape& s = srcShapes[i];
            bool compatible = s.size() == first.size();
            for (size_t d = 0; compatible && d < s.size(); ++d)
                compatible = d == tensorAxis || s[d] == first[d];
            if (!compatible)
                return Status::error(
                    opError(OpType::Concat, "input " + std::to_string(i) + " has shape " +
                                                shapeToString(s) + " but input 0 has " +
                                                shapeToString(first) +
                                                "; all dimensions except the concatenation axis (" +
                                                std::to_string(axis) + " per sample) must match"));
            dstShape[tensorAxis] += s[tensorAxis];
        }

        m_outer = 1;
        for (size_t d = 0; d < tensorAxis; ++d)
            m_outer *= first[d];
        m_inner.clear();
        for (const Shape& s : srcShapes) {
            int64_t inner = 1;
            for (size_t d = tensorAxis; d < s.size(); ++d)
                inner *= s[d];
            m_inner.push_back(inner);
        }
        m_innerTotal = shapeSize(dstShape) / std::max<int64_t>(1, m_outer);
        m_dstShape = dstShape;
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        parallelItems(m_outer, m_innerTotal, [&](int64_t o) {
            float* y = dst.data() + o * m_innerTotal;
            for (size_t i = 0; i < src.size(); ++i) {
                copyFloats(src[i]->data() + o * m_inner[i], y, m_inner[i]);
                y += m_inner[i];
            }
        });
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        parallelItems(m_outer, m_innerTotal, [&](int64_t o) {
            const float* dy = diffDst.data() + o * m_innerTotal;
            for (size_t i = 0; i < diffSrc.size(); ++i) {
                if (diffSrc[i])
                    copyFloats(dy, diffSrc[i]->data() + o * m_inner[i], m_inner[i]);
                dy += m_inner[i];
            }
        });
    }

private:
    const Node& m_node;
    int64_t m_outer = 0;
    int64_t m_innerTotal = 0;
    std::vector<int64_t> m_inner;
};

// Reshape and Flatten: the same elements in the same order under a new shape.
class ReshapeLayer final : public Layer {
public:
    explicit ReshapeLayer(const Node& node) : m_node(node) {}

    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectInputCount(m_node.type, srcShapes, 1));
        const Shape& in = srcShapes[0];
        if (in.empty())
            return Status::error(opError(m_node.type, "input has no batch dimension"));
        const Shape sampleIn(in.begin() + 1, in.end());
        const int64_t sampleSize = shapeSize(sampleIn);
        if (m_node.type == OpType::Flatten) {
            m_dstShape = {in[0], sampleSize};
            return Status::ok();
        }

        if (!m_node.attrs.has("shape"))
            return Status::error(
                opError(m_node.type, "attribute 'shape' (per-sample target shape) is missing"));
        Shape target = m_node.attrs.getInts("shape", {});
        int inferred = -1;
        int64_t known = 1;
        for (size_t d = 0; d < target.size(); ++d) {
            if (target[d] == -1) {
                if (inferred >= 0)
                    return Status::error(opError(m_node.type, "attribute 'shape' " +
                                                                  shapeToString(target) +
                                                                  " has more than one -1"));
                inferred = static_cast<int>(d);
            } else if (target[d] <= 0) {
                return Status::error(
                    opError(m_node.type, "attribute 'shape' " + shapeToString(target) +
                                             " has a dimension that is neither positive nor -1"));
            } else {
                known *= target[d];
            }
        }
        if (inferred >= 0) {
            if (sampleSize % known != 0)
                return Status::error(opError(
                    m_node.type, "cannot reshape " + shapeToString(sampleIn) + " (" +
                                     std::to_string(sampleSize) + " elements per sample) to " +
                                     shapeToString(target) + ": " + std::to_string(sampleSize) +
                                     " is not a multiple of " + std::to_string(known)));
            target[static_cast<size_t>(inferred)] = sampleSize / known;
        } else if (known != sampleSize) {
            return Status::error(opError(m_node.type, "cannot reshape " + shapeToString(sampleIn) +
                                                          " (" + std::to_string(sampleSize) +
                                                          " elements per sample) to " +
                                                          shapeToString(target) + " (" +
                                                          std::to_string(known) + " elements)"));
        }
        m_dstShape = withBatch(in[0], target);
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        parallelCopy(src[0]->data(), dst.data(), dst.size());
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        if (diffSrc[0])
            parallelCopy(diffDst.data(), diffSrc[0]->data(), diffDst.size());
    }

private:
    const Node& m_node;
};

// [N,H,W,C] -> [N, top+H+bottom, left+W+right, C] with zeros around the input.
class ZeroPadLayer final : public Layer {
public:
    explicit ZeroPadLayer(const Node& node) : m_node(node) {}

    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectInputCount(OpType::ZeroPad, srcShapes, 1));
        const Shape& in = srcShapes[0];
        if (in.size() != 4)
            return Status::error(
                opError(OpType::ZeroPad, "expects an [N,H,W,C] input, got " + shapeToString(in)));
        const auto pads = m_node.attrs.getInts("pads", {});
        if (pads.size() != 4 ||
            std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
            return Status::error(opError(OpType::ZeroPad,
                                         "attribute 'pads' must be [top,left,bottom,right] "
                                         "with every entry >= 0"));
        m_top = pads[0];
        m_left = pads[1];
        m_h = in[1];
        m_w = in[2];
        m_c = in[3];
        m_dstShape = {in[0], m_top + m_h + pads[2], m_left + m_w + pads[3], m_c};
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        const int64_t outH = m_dstShape[1];
        const int64_t outRow = m_dstShape[2] * m_c; // floats per output row
        const int64_t inRow = m_w * m_c;
        const int64_t leftFloats = m_left * m_c;
        const int64_t rightFloats = outRow - leftFloats - inRow;
        parallelItems(m_dstShape[0] * outH, outRow, [&](int64_t row) {
            const int64_t n = row / outH;
            const int64_t h = row % outH - m_top;
            float* y = dst.data() + row * outRow;
            if (h < 0 || h >= m_h) {
                std::fill_n(y, outRow, 0.0f);
                return;
            }
            std::fill_n(y, leftFloats, 0.0f);
            copyFloats(src[0]->data() + (n * m_h + h) * inRow, y + leftFloats, inRow);
            std::fill_n(y + leftFloats + inRow, rightFloats, 0.0f);
        });
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        if (!diffSrc[0])
            return;
        const int64_t outH = m_dstShape[1];
        const int64_t outRow = m_dstShape[2] * m_c;
        const int64_t inRow = m_w * m_c;
        const int64_t batch = m_dstShape[0];
        parallelItems(batch * m_h, inRow, [&](int64_t row) {
            const int64_t n = row / m_h;
            const int64_t h = row % m_h;
            copyFloats(diffDst.data() + (n * outH + h + m_top) * outRow + m_left * m_c,
                       diffSrc[0]->data() + row * inRow, inRow);
        });
    }

private:
    const Node& m_node;
    int64_t m_top = 0, m_left = 0, m_h = 0, m_w = 0, m_c = 0;
};

} // namespace

std::unique_ptr<Layer> makeStructuralLayer(const Node& node) {
    switch (node.type) {
    case OpType::Add:
        return std::make_unique<AddLayer>();
    case OpType::Concat:
        return std::make_unique<ConcatLayer>(node);
    case OpType::Reshape:
    case OpType::Flatten:
        return std::make_unique<ReshapeLayer>(node);
    case OpType::ZeroPad:
        return std::make_unique<ZeroPadLayer>(node);
    default:
        return nullptr;
    }
}

} // namespace qat::ops
