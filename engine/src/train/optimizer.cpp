// Optimizers (SGD with momentum, Adam/AdamW) and learning-rate schedules.
// Update rules follow PyTorch's torch.optim.SGD (dampening 0, no Nesterov; L2 decay added
// to the gradient) and torch.optim.AdamW (decoupled decay, bias-corrected moments).
// Weight decay applies only to slots with ParamSlot::decay (not biases, not BatchNorm).
// Updates are element-wise over Eigen maps of the parameter buffers (no copies); large
// tensors are split into chunks across OpenMP threads. Every element's result must be a
// function of its inputs only (not of thread count or buffer alignment, which decides
// whether Eigen computes it in the scalar head or in SIMD packets), so only correctly
// rounded operations are used: see exactSqrt.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <type_traits>

#include "ops/layer.h"
#include "qat/trainer.h"

// sqrt, correctly rounded in every code path. Eigen's own float packet sqrt (under
// EIGEN_FAST_MATH, on by default) is rsqrt + one Newton step, 1-2 bits off the scalar
// std::sqrt Eigen uses for the unaligned head of a map: the same weights updated at two
// addresses would differ. The hardware packet sqrt is exact, like std::sqrt.
namespace qat::detail {
#ifdef EIGEN_VECTORIZE_SSE
inline __m128 sqrtPacket(__m128 x) {
    return _mm_sqrt_ps(x);
}
#endif
#ifdef EIGEN_VECTORIZE_AVX
inline __m256 sqrtPacket(__m256 x) {
    return _mm256_sqrt_ps(x);
}
#endif
#ifdef EIGEN_VECTORIZE_AVX512
inline __m512 sqrtPacket(__m512 x) {
    return _mm512_sqrt_ps(x);
}
#endif

struct ExactSqrtOp {
    float operator()(float x) const { return std::sqrt(x); }
    template <typename Packet> Packet packetOp(const Packet& x) const { return sqrtPacket(x); }
};
} // namespace qat::detail

template <> struct Eigen::internal::functor_traits<qat::detail::ExactSqrtOp> {
    enum {
        Cost = 14,
#ifdef EIGEN_VECTORIZE_SSE
        PacketAccess = Eigen::internal::packet_traits<float>::HasSqrt
#else
        PacketAccess = 0
#endif
    };
};

namespace qat {

namespace {

using VecMap = Eigen::Map<Eigen::ArrayXf>;

template <typename Derived> auto exactSqrt(const Eigen::ArrayBase<Derived>& x) {
    return x.unaryExpr(detail::ExactSqrtOp{});
}

// Below this many elements a tensor is updated by one thread; above it, in chunks of
// this size (a chunk is 256 KiB of float, enough to amortize the fork/join).
constexpr int64_t kChunk = 1 << 16;

// Calls fn(offset, count) over [0, n) in chunks, in parallel when n is large.
template <typename Fn> void forChunks(int64_t n, Fn&& fn) {
    if (n <= kChunk) {
        fn(int64_t{0}, n);
        return;
    }
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t begin = c * kChunk;
        fn(begin, std::min(kChunk, n - begin));
    }
}

// Per-slot state, allocated on the first step. The parameter list must keep its order
// and sizes across steps (it is the same Network's params() every time).
struct SlotState {
    Tensor a; // SGD: momentum buffer. Adam: first moment m.
    Tensor b; // Adam: second moment v.
};

void checkSlots(const std::vector<ParamSlot>& params, std::vector<SlotState>& state,
                bool twoBuffers) {
    if (state.empty()) {
        state.resize(params.size());
        for (size_t i = 0; i < params.size(); ++i) {
            QAT_ASSERT(params[i].value && params[i].grad);
            state[i].a = Tensor(params[i].value->shape(), 0.0f);
            if (twoBuffers)
                state[i].b = Tensor(params[i].value->shape(), 0.0f);
        }
    }
    QAT_ASSERT(state.size() == params.size());
}

// torch.optim.SGD, dampening 0, nesterov off:
//   g = grad + wd * w            (wd only where slot.decay)
//   buf = g                      (first step)
//   buf = momentum * buf + g     (later steps)
//   w -= lr * buf                (with momentum 0: w -= lr * g)
class Sgd final : public Optimizer {
public:
    Sgd(double momentum, double weightDecay) : m_momentum(momentum), m_weightDecay(weightDecay) {}

    void step(std::vector<ParamSlot>& params, double lr) override {
        checkSlots(params, m_state, false);
        const float lrF = static_cast<float>(lr);
        const float mom = static_cast<float>(m_momentum);
        const bool first = m_steps == 0;
        for (size_t i = 0; i < params.size(); ++i) {
            ParamSlot& slot = params[i];
            const int64_t n = slot.value->size();
            QAT_ASSERT(slot.grad->size() == n && m_state[i].a.size() == n);
            const float wd = slot.decay ? static_cast<float>(m_weightDecay) : 0.0f;
            float* w = slot.value->data();
            const float* g = slot.grad->data();
            float* buf = m_state[i].a.data();
            forChunks(n, [&](int64_t off, int64_t count) {
                VecMap wv(w + off, count);
                Eigen::Map<const Eigen::ArrayXf> gv(g + off, count);
                VecMap bv(buf + off, count);
                if (mom == 0.0f) {
                    wv -= lrF * (gv + wd * wv);
                    return;
                }
                if (first)
                    bv = gv + wd * wv;
                else
                    bv = mom * bv + (gv + wd * wv);
                wv -= lrF * bv;
            });
        }
        ++m_steps;
    }

private:
    double m_momentum;
    double m_weightDecay;
    int64_t m_steps = 0;
    std::vector<SlotState> m_state;
};

// torch.optim.AdamW (amsgrad off); with weightDecay 0 it is torch.optim.Adam:
//   t += 1
//   w *= 1 - lr * wd             (decoupled decay, only where slot.decay)
//   m = b1 * m + (1 - b1) * g
//   v = b2 * v + (1 - b2) * g^2
//   w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam final : public Optimizer {
public:
    Adam(double beta1, double beta2, double eps, double weightDecay)
        : m_beta1(beta1), m_beta2(beta2), m_eps(eps), m_weightDecay(weightDecay) {}

    void step(std::vector<ParamSlot>& params, double lr) override {
        checkSlots(params, m_state, true);
        ++m_steps;
        const double t = static_cast<double>(m_steps);
        // Bias corrections in double: 1 - 0.999^t loses digits in float for small t.
        const double bc1 = 1.0 - std::pow(m_beta1, t);
        const double bc2 = 1.0 - std::pow(m_beta2, t);
        const float stepSize = static_cast<float>(lr / bc1);
        const float sqrtBc2 = static_cast<float>(std::sqrt(bc2));
        const float b1 = static_cast<float>(m_beta1);
        const float b2 = static_cast<float>(m_beta2);
        // 1 - beta in double, as PyTorch does: 1 - float(0.999) is off by 1.3e-5 relative.
        const float oneMinusB1 = static_cast<float>(1.0 - m_beta1);
        const float oneMinusB2 = static_cast<float>(1.0 - m_beta2);
        const float eps = static_cast<float>(m_eps);
        for (size_t i = 0; i < params.size(); ++i) {
            ParamSlot& slot = params[i];
            const int64_t n = slot.value->size();
            QAT_ASSERT(slot.grad->size() == n && m_state[i].a.size() == n);
            const float decayFactor =
                slot.decay ? static_cast<float>(1.0 - lr * m_weightDecay) : 1.0f;
            float* w = slot.value->data();
            const float* g = slot.grad->data();
            float* m = m_state[i].a.data();
            float* v = m_state[i].b.data();
            forChunks(n, [&](int64_t off, int64_t count) {
                VecMap wv(w + off, count);
                Eigen::Map<const Eigen::ArrayXf> gv(g + off, count);
                VecMap mv(m + off, count);
                VecMap vv(v + off, count);
                mv = b1 * mv + oneMinusB1 * gv;
                vv = b2 * vv + oneMinusB2 * gv.square();
                if (decayFactor != 1.0f)
                    wv *= decayFactor;
                wv -= stepSize * mv / (exactSqrt(vv) / sqrtBc2 + eps);
            });
        }
    }

private:
    double m_beta1, m_beta2, m_eps, m_weightDecay;
    int64_t m_steps = 0;
    std::vector<SlotState> m_state;
};

} // namespace

std::unique_ptr<Optimizer> makeOptimizer(const TrainConfig& config) {
    switch (config.optimizer) {
    case OptimizerKind::Sgd:
        return std::make_unique<Sgd>(config.momentum, config.weightDecay);
    case OptimizerKind::Adam:
        return std::make_unique<Adam>(config.beta1, config.beta2, config.eps, config.weightDecay);
    }
    QAT_ASSERT(false && "unknown OptimizerKind");
    return nullptr;
}

// `step` is the 0-based global index of the step about to be taken.
//   Constant: lr
//   Step:     lr * gamma^floor(epoch / stepSize), epoch = step / stepsPerEpoch (0-based)
//   Cosine:   lr * (1 + cos(pi * step / total)) / 2, total = epochs * stepsPerEpoch,
//             so the first step uses lr and the rate reaches 0 at the end of training.
double learningRateAt(const TrainConfig& config, int64_t step, int64_t stepsPerEpoch) {
    QAT_ASSERT(stepsPerEpoch >= 1 && step >= 0);
    switch (config.schedule) {
    case LrSchedule::Constant:
        return config.lr;
    case LrSchedule::Step: {
        const int64_t epoch = step / stepsPerEpoch;
        const int64_t decays = epoch / std::max<int64_t>(1, config.stepSize);
        return config.lr * std::pow(config.stepGamma, static_cast<double>(decays));
    }
    case LrSchedule::Cosine: {
        const int64_t total = std::max<int64_t>(1, config.epochs) * stepsPerEpoch;
        const double progress =
            std::min(1.0, static_cast<double>(step) / static_cast<double>(total));
        return config.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    }
    QAT_ASSERT(false && "unknown LrSchedule");
    return config.lr;
}

} // namespace qat
