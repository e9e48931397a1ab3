// Inverted dropout on [N, ...]. Phase::Train keeps each element with probability
// 1 - rate and scales it by 1 / (1 - rate), so Phase::Eval is the identity. The keep
// decision for element i in the c-th training forward of a layer is a hash of
// (seed, c, i): reproducible from the seed, and the same whatever the thread count.
// backward applies the mask of the last forward (identity if that forward was Eval).
#include <Eigen/Core>

#include <cmath>
#include <limits>

#include "ops/basic_layers.h"

namespace qat::ops {

namespace {

uint64_t splitMix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// A bijective 32-bit mixer (Wellons' "lowbias32"); 32-bit lanes keep it vectorizable.
inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// y = x * mask, mask = scale where hash(i) >= threshold and 0 elsewhere, for i in
// [begin, end). A plain function of values (not a lambda inside the OpenMP region) so
// that GCC vectorizes it: a scalar loop would branch on random keep decisions.
void dropoutChunk(const float* x, float* y, float* mask, int64_t begin, int64_t end, uint32_t key0,
                  uint32_t key1, uint32_t threshold, float scale) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
        const auto lo = static_cast<uint32_t>(i);
        const auto hi = static_cast<uint32_t>(static_cast<uint64_t>(i) >> 32);
        const uint32_t h = mix32(mix32(lo ^ key0) ^ key1 ^ hi);
        const float m = h >= threshold ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

class DropoutLayer final : public Layer {
public:
    DropoutLayer(const Node& node, uint64_t seed) : m_node(node), m_seed(seed) {}

    Status prepare(const std::vector<Shape>& srcShapes) override {
        QAT_RETURN_IF_ERROR(expectInputCount(OpType::Dropout, srcShapes, 1));
        // Absent rate = 0 (identity), as in Graph::finalize's shape inference.
        const double rate = m_node.attrs.getFloat("rate", 0.0);
        if (!(rate >= 0.0 && rate < 1.0))
            return Status::error(
                opError(OpType::Dropout,
                        "attribute 'rate' = " + std::to_string(rate) + " must be in [0, 1)"));
        const Shape& in = srcShapes[0];
        m_rate = rate;
        // Drop when hash < threshold: P(drop) = threshold / 2^32 = rate.
        m_threshold = static_cast<uint32_t>(std::min<double>(std::round(rate * 4294967296.0),
                                                             std::numeric_limits<uint32_t>::max()));
        m_scale = static_cast<float>(1.0 / (1.0 - rate));
        m_dstShape = in;
        return Status::ok();
    }

    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override {
        const int64_t n = dst.size();
        if (phase == Phase::Eval || m_rate == 0.0) {
            if (phase == Phase::Train)
                ++m_calls;
            m_masked = false;
            parallelCopy(src[0]->data(), dst.data(), n);
            return;
        }
        const uint64_t key = splitMix64(splitMix64(m_seed) ^ m_calls++);
        const uint32_t key0 = static_cast<uint32_t>(key);
        const uint32_t key1 = static_cast<uint32_t>(key >> 32);
        const uint32_t threshold = m_threshold;
        const float scale = m_scale;
        m_mask.resize(static_cast<size_t>(n));
        float* mask = m_mask.data();
        const float* x = src[0]->data();
        float* y = dst.data();
        parallelChunks(n, [=](int64_t begin, int64_t end) {
            dropoutChunk(x, y, mask, begin, end, key0, key1, threshold, scale);
        });
        m_masked = true;
    }

    void backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                  const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) override {
        if (!diffSrc[0])
            return;
        if (!m_masked) {
            parallelCopy(diffDst.data(), diffSrc[0]->data(), diffDst.size());
            return;
        }
        const float* dy = diffDst.data();
        const float* mask = m_mask.data();
        float* dx = diffSrc[0]->data();
        parallelChunks(diffDst.size(), [&](int64_t begin, int64_t end) {
            const Eigen::Index len = end - begin;
            Eigen::Map<Eigen::ArrayXf>(dx + begin, len) =
                Eigen::Map<const Eigen::ArrayXf>(dy + begin, len) *
                Eigen::Map<const Eigen::ArrayXf>(mask + begin, len);
        });
    }

private:
    const Node& m_node;
    uint64_t m_seed;
    uint64_t m_calls = 0; // training forwards so far; survives prepare()
    double m_rate = 0.0;
    uint32_t m_threshold = 0;
    float m_scale = 1.0f;
    bool m_masked = false; // the last forward applied m_mask
    std::vector<float> m_mask;
};

} // namespace

std::unique_ptr<Layer> makeDropoutLayer(const Node& node, uint64_t seed) {
    if (node.type != OpType::Dropout)
        return nullptr;
    return std::make_unique<DropoutLayer>(node, seed);
}

} // namespace qat::ops
