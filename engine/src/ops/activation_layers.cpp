// Element-wise activations, forward and backward, on tensors of any shape [N, ...]:
// ReLU, ReLU6, LeakyReLU, HardSwish, Sigmoid, Tanh. Kernels are Eigen array expressions
// over maps of the tensor buffers, run per thread chunk; piecewise derivatives are
// `omp simd` loops instead, because Eigen 3.4 does not vectorize select()/comparisons.
// At kinks the derivative is PyTorch's (ReLU'(0) = 0, ReLU6'(0) = ReLU6'(6) = 0,
// HardSwish'(3) = 1.5).
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

#include "ops/basic_layers.h"

namespace qat::ops {

namespace {

using Eigen::Index;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

inline ConstArrayMap view(const float* p, Index n) {
    return ConstArrayMap(p, n);
}
inline ArrayMap view(float* p, Index n) {
    return ArrayMap(p, n);
}

// One input, dst shaped like src. Subclasses supply the per-chunk kernels.
class ActivationLayer : public Layer {
public:
    explicit ActivationLayer(const Node& node) : m_node(node) {}

    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectInputCount(m_node.type, srcShapes, 1));
        QAT_RETURN_IF_ERROR(readAttrs());
        m_dstShape = srcShapes[0];
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) override {
        const float* x = src[0]->data();
        float* y = dst.data();
        parallelChunks(src[0]->size(), [&](int64_t begin, int64_t end) {
            forwardChunk(x + begin, y + begin, end - begin);
        });
    }

    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override {
        if (!diffSrc[0])
            return;
        const float* x = src[0]->data();
        const float* y = dst.data();
        const float* dy = diffDst.data();
        float* dx = diffSrc[0]->data();
        parallelChunks(src[0]->size(), [&](int64_t begin, int64_t end) {
            backwardChunk(x + begin, y + begin, dy + begin, dx + begin, end - begin);
        });
    }

protected:
    virtual Status readAttrs() { return Status::ok(); }
    // y = f(x) over n elements.
    virtual void forwardChunk(const float* x, float* y, Index n) const = 0;
    // dx = dy * f'(x); y = f(x) from the forward pass.
    virtual void backwardChunk(const float* x, const float* y, const float* dy, float* dx,
                               Index n) const = 0;

    const Node& m_node;
};

class ReluLayer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    void forwardChunk(const float* x, float* y, Index n) const override {
        view(y, n) = view(x, n).max(0.0f);
    }
    void backwardChunk(const float* x, const float* /*y*/, const float* dy, float* dx,
                       Index n) const override {
#pragma omp simd
        for (Index i = 0; i < n; ++i)
            dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    }
};

class Relu6Layer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    void forwardChunk(const float* x, float* y, Index n) const override {
        view(y, n) = view(x, n).max(0.0f).min(6.0f);
    }
    void backwardChunk(const float* x, const float* /*y*/, const float* dy, float* dx,
                       Index n) const override {
#pragma omp simd
        for (Index i = 0; i < n; ++i)
            dx[i] = x[i] > 0.0f && x[i] < 6.0f ? dy[i] : 0.0f;
    }
};

// y = x for x > 0, alpha * x otherwise.
class LeakyReluLayer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    Status readAttrs() override {
        const double alpha = m_node.attrs.getFloat("alpha", 0.01);
        if (!std::isfinite(alpha))
            return Status::error(opError(m_node.type, "attribute 'alpha' must be finite"));
        m_alpha = static_cast<float>(alpha);
        return Status::ok();
    }
    void forwardChunk(const float* x, float* y, Index n) const override {
        // Exact for both signs (one of the two terms is 0), and all packet ops.
        const auto xs = view(x, n);
        view(y, n) = xs.max(0.0f) + m_alpha * xs.min(0.0f);
    }
    void backwardChunk(const float* x, const float* /*y*/, const float* dy, float* dx,
                       Index n) const override {
        const float alpha = m_alpha;
#pragma omp simd
        for (Index i = 0; i < n; ++i) {
            const float slope = x[i] > 0.0f ? 1.0f : alpha;
            dx[i] = dy[i] * slope;
        }
    }

private:
    float m_alpha = 0.01f;
};

// y = x * relu6(x + 3) / 6;  y' = 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 above.
class HardSwishLayer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    void forwardChunk(const float* x, float* y, Index n) const override {
        const auto xs = view(x, n);
        view(y, n) = xs * (xs + 3.0f).max(0.0f).min(6.0f) * (1.0f / 6.0f);
    }
    void backwardChunk(const float* x, const float* /*y*/, const float* dy, float* dx,
                       Index n) const override {
        // The slope x/3 + 1/2 lies in [-1/2, 3/2] on [-3, 3] and outside it elsewhere, so
        // clamping it to bounds picked by the interval gives 0 / the slope / 1. Selecting
        // only between constants keeps the loop vectorizable under -ftrapping-math.
#pragma omp simd
        for (Index i = 0; i < n; ++i) {
            const float v = x[i];
            const float hi = v > 3.0f ? 1.0f : 1.5f;
            const float lo = v < -3.0f ? 0.0f : -0.5f;
            const float slope = std::max(std::min(v * (1.0f / 3.0f) + 0.5f, hi), lo);
            dx[i] = dy[i] * slope;
        }
    }
};

// y = 1 / (1 + exp(-x));  y' = y (1 - y).
class SigmoidLayer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    void forwardChunk(const float* x, float* y, Index n) const override {
        view(y, n) = view(x, n).logistic();
    }
    void backwardChunk(const float* /*x*/, const float* y, const float* dy, float* dx,
                       Index n) const override {
        const auto ys = view(y, n);
        view(dx, n) = view(dy, n) * ys * (1.0f - ys);
    }
};

// y = tanh(x);  y' = 1 - y^2.
class TanhLayer final : public ActivationLayer {
public:
    using ActivationLayer::ActivationLayer;

protected:
    void forwardChunk(const float* x, float* y, Index n) const override {
        view(y, n) = view(x, n).tanh();
    }
    void backwardChunk(const float* /*x*/, const float* y, const float* dy, float* dx,
                       Index n) const override {
        const auto ys = view(y, n);
        view(dx, n) = view(dy, n) * (1.0f - ys.square());
    }
};

} // namespace

std::unique_ptr<Layer> makeActivationLayer(const Node& node) {
    switch (node.type) {
    case OpType::ReLU:
        return std::make_unique<ReluLayer>(node);
    case OpType::ReLU6:
        return std::make_unique<Relu6Layer>(node);
    case OpType::LeakyReLU:
        return std::make_unique<LeakyReluLayer>(node);
    case OpType::HardSwish:
        return std::make_unique<HardSwishLayer>(node);
    case OpType::Sigmoid:
        return std::make_unique<SigmoidLayer>(node);
    case OpType::Tanh:
        return std::make_unique<TanhLayer>(node);
    default:
        return nullptr;
    }
}

} // namespace qat::ops
