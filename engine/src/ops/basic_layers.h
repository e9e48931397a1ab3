// Internal to ops/: the factories behind makeBasicLayer() and the helpers the
// element-wise and structural layers share. Kernels map tensor buffers with Eigen (no
// copies) and split large tensors into one contiguous chunk per OpenMP thread, so every
// element is computed by the same code whatever the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/layer.h"

namespace qat::ops {

// Below this many elements a kernel runs on the calling thread: waking the OpenMP team
// costs more than it saves on memory-bound element-wise work.
inline constexpr int64_t kParallelMinElements = int64_t{1} << 16;

// Calls fn(begin, end) over [0, n): once on the calling thread when n is small,
// otherwise once per thread. Chunk lengths are multiples of 16 floats (64 bytes), so
// threads share at most the cache lines at chunk edges of an unaligned buffer.
template <typename Fn> void parallelChunks(int64_t n, const Fn& fn) {
    if (n <= 0)
        return;
    if (n < kParallelMinElements) {
        fn(int64_t{0}, n);
        return;
    }
#pragma omp parallel
    {
        const int64_t threads = omp_get_num_threads();
        const int64_t t = omp_get_thread_num();
        const int64_t chunk = ((n + threads - 1) / threads + 15) & ~int64_t{15};
        const int64_t begin = std::min(n, t * chunk);
        const int64_t end = std::min(n, begin + chunk);
        if (begin < end)
            fn(begin, end);
    }
}

// Calls fn(i) for i in [0, count), in parallel when count * itemElements is large.
// Items must be independent (they write disjoint outputs).
template <typename Fn> void parallelItems(int64_t count, int64_t itemElements, const Fn& fn) {
    if (count < 2 || count * itemElements < kParallelMinElements) {
        for (int64_t i = 0; i < count; ++i)
            fn(i);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i)
        fn(i);
}

// dst[0, n) = src[0, n), split across threads when large.
void parallelCopy(const float* src, float* dst, int64_t n);

// prepare() helpers: errors start with the op name so that, once the Network prefixes
// the node name, the message reads "node 'x': Concat: ...".
Status expectInputCount(OpType type, const std::vector<Shape>& srcShapes, size_t count);
Status expectMinInputCount(OpType type, const std::vector<Shape>& srcShapes, size_t count);
std::string opError(OpType type, const std::string& what);

// Each returns nullptr when node.type is not one of its types.
std::unique_ptr<Layer> makeActivationLayer(const Node& node);
std::unique_ptr<Layer> makeStructuralLayer(const Node& node);
std::unique_ptr<Layer> makeDropoutLayer(const Node& node, uint64_t seed);
std::unique_ptr<Layer> makeSoftmaxLayer(const Node& node);

} // namespace qat::ops
