// oneDNN backend plumbing shared by the layers in this directory: the CPU engine
// singleton, a per-thread stream, the one place dnnl::error becomes a Status, aligned
// scratch buffers, and LayoutBridge, which lets a primitive use the layout it prefers
// while our tensors stay plain row-major (NHWC activations, OHWI weights).
// Only files under backend/onednn include dnnl.hpp.
#pragma once

#include <dnnl.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ops/layer.h"
#include "qat/status.h"

namespace qat::onednn {

using dnnl::memory;
using Tag = dnnl::memory::format_tag;
using Args = std::unordered_map<int, dnnl::memory>;

// The process-wide CPU engine (thread-safe to share).
dnnl::engine& cpuEngine();
// A stream per calling thread: a network runs on one thread, but tests and the UI may
// run several networks on different threads.
dnnl::stream& cpuStream();

// Runs `fn` (which creates primitives) and turns oneDNN / allocation failures into a
// Status naming `where`. This is the backend's error boundary.
template <typename Fn> Status guard(const std::string& where, Fn&& fn) {
    try {
        return fn();
    } catch (const dnnl::error& e) {
        return Status::error(where + ": oneDNN error: " + e.what() + " (status " +
                             std::to_string(static_cast<int>(e.status)) + ")");
    } catch (const std::bad_alloc&) {
        return Status::error(where + ": out of memory while creating oneDNN primitives");
    }
}

// Executing a primitive that prepare() created successfully cannot fail on valid
// tensors; if it does, an invariant is broken. Prints file:line and aborts.
[[noreturn]] void executionFailed(const dnnl::error& e, const char* file, int line);

// Runs the statements in a primitive-execution context (variadic so that commas in the
// statements need no extra parentheses).
#define QAT_ONEDNN_EXECUTE(...)                                                                    \
    do {                                                                                           \
        try {                                                                                      \
            __VA_ARGS__;                                                                           \
        } catch (const dnnl::error& e) {                                                           \
            ::qat::onednn::executionFailed(e, __FILE__, __LINE__);                                 \
        }                                                                                          \
    } while (0)

// True for oneDNN's reference (plain C++ loop) implementations, which are one to two
// orders of magnitude slower than the jit ones; used to choose layouts.
bool isReferenceImpl(const dnnl::primitive_desc_base& pd);

// Creates a primitive descriptor for layout levels 0..levels-1 (0 = our plain layouts,
// higher = more arguments left to oneDNN as format_tag::any, bridged with reorders) and
// returns the first that is not a reference implementation; the first one created when
// every level falls back to a reference kernel. Throws the first dnnl::error when no
// level can be created at all.
template <typename Pd, typename Make> Pd pickLayouts(int levels, Make&& make) {
    std::optional<Pd> fallback;
    std::optional<dnnl::error> firstError;
    for (int level = 0; level < levels; ++level) {
        try {
            Pd pd = make(level);
            if (!isReferenceImpl(pd))
                return pd;
            if (!fallback)
                fallback = std::move(pd);
        } catch (const dnnl::error& e) {
            if (!firstError)
                firstError = e;
        }
    }
    if (fallback)
        return *fallback;
    throw *firstError;
}

// The same descriptor with the layout left to the primitive.
memory::desc anyLayout(const memory::desc& desc);

// A primitive attribute with a user-managed scratchpad, so that primitives do not
// share the library's global scratchpad (thread safety) and do not allocate per call.
dnnl::primitive_attr userScratchpadAttr();

// A 64-byte aligned byte buffer (oneDNN scratchpads, intermediate copies).
class AlignedBuffer {
public:
    void resize(size_t bytes);
    void* data() { return m_data.get(); }
    const void* data() const { return m_data.get(); }
    size_t size() const { return m_size; }

private:
    struct Free {
        void operator()(void* p) const { ::operator delete (p, std::align_val_t{64}); }
    };
    std::unique_ptr<void, Free> m_data;
    size_t m_size = 0;
};

// Scratchpads of the primitives of one layer plan: they never run concurrently, so
// they share one buffer sized for the largest.
class SharedScratchpad {
public:
    // Registers a primitive's scratchpad; returns the memory to pass as
    // DNNL_ARG_SCRATCHPAD. Valid once allocate() has run.
    void add(const dnnl::primitive_desc_base& pd, Args& args);
    void allocate();

private:
    std::vector<std::pair<memory::desc, Args*>> m_users;
    AlignedBuffer m_buffer;
};

// One primitive argument whose data lives in a plain tensor ("user" layout) while the
// primitive may want another ("inner" layout). When the two layouts are equal the
// primitive reads/writes the tensor directly; otherwise the bridge owns an inner buffer
// and a reorder primitive for the direction it was built for.
class LayoutBridge {
public:
    enum class Direction { In, Out }; // In: user -> inner before; Out: inner -> user after

    void init(const memory::desc& user, const memory::desc& inner, Direction dir);
    // Makes the bridge pass `shared` (owned and filled elsewhere, e.g. the weights the
    // forward pass already reordered) and never reorder.
    void initShared(const memory::desc& user, const memory& shared, Direction dir);
    // The memory to pass to the primitive (set once into its Args).
    const memory& arg() const { return m_same ? m_user : m_inner; }
    bool reorders() const { return !m_same; }
    // Points the user memory at a tensor buffer; oneDNN takes non-const pointers.
    void bind(const float* data) { m_user.set_data_handle(const_cast<float*>(data)); }
    // Runs the reorder (if any) in the bridge's direction.
    void sync(dnnl::stream& s);

private:
    memory m_user;
    memory m_inner;
    dnnl::reorder m_reorder;
    bool m_same = true;
    bool m_hasReorder = false;
    bool m_inIsUser = true;
};

// Plain descriptors for our layouts. dims are oneDNN's logical order.
memory::desc plainDesc(const memory::dims& dims, Tag tag);
// NHWC activations [N,H,W,C] as oneDNN's logical {N,C,H,W}. For C == 1 the bytes are
// identical to NCHW, and that tag is what oneDNN's first-convolution kernels accept.
memory::desc activationDesc(int64_t n, int64_t c, int64_t h, int64_t w);

// A copy of `data` (laid out as `user`) in layout `want`, made once: weights reordered at
// plan or executor creation.
memory reorderedCopy(const memory::desc& user, const void* data, const memory::desc& want);

// Channels of a Conv2D or DepthwiseConv2D node for `inC` input channels. A depthwise conv
// is a grouped conv with groups = inC and outC = inC * depth_multiplier.
struct ConvChannels {
    int64_t inC = 0, outC = 0, groups = 1;
    bool depthwise = false;
};
// Errors name the node and the attribute (filters, groups, depth_multiplier).
Result<ConvChannels> resolveConvChannels(const Node& node, int64_t inC);
// The node's weights as stored (Conv2D [Cout,kh,kw,Cin/G] OHWI; depthwise
// [1,kh,kw,C*mult]) in oneDNN's logical dims {G,Cout/G,Cin/G,kh,kw} (or {O,I,kh,kw}).
memory::desc convWeightsUserDesc(const ConvChannels& c, int64_t kh, int64_t kw);
// A 1x1, stride-1, unpadded, ungrouped convolution: over NHWC, an inner product of the
// batch * H * W pixels with the [outC, inC] weights (both executors run it as one).
inline bool isPointwise(const ConvGeometry& g, bool grouped) {
    return !grouped && g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.padTop == 0 &&
           g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0;
}
inline bool isPointwise(const ConvChannels& c, const ConvGeometry& g) {
    return isPointwise(g, c.depthwise || c.groups != 1);
}
// The stored weights' shape: [1,kh,kw,outC] (depthwise) or [outC,kh,kw,inC/groups].
Shape convWeightsShape(const ConvChannels& c, int64_t kh, int64_t kw);

// Parameter lookup shared by the layers: the node's tensor with the expected shape, or
// an error naming the node and the parameter.
Result<Tensor*> requireParam(Node& node, const std::string& name, const Shape& shape);

// Primitives for one set of input shapes. A layer keeps a few plans so that alternating
// batch sizes (training batches, the last partial batch, evaluation batches) do not
// rebuild primitives; the least recently prepared plan is dropped beyond kMaxPlans.
template <typename Plan> class PlanCache {
public:
    static constexpr size_t kMaxPlans = 6;

    Plan* find(const std::vector<Shape>& key) {
        for (size_t i = 0; i < m_entries.size(); ++i)
            if (m_entries[i].first == key) {
                // Move to the back: most recently used.
                std::rotate(m_entries.begin() + static_cast<std::ptrdiff_t>(i),
                            m_entries.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                            m_entries.end());
                return m_entries.back().second.get();
            }
        return nullptr;
    }
    Plan* insert(std::vector<Shape> key, std::unique_ptr<Plan> plan) {
        if (m_entries.size() >= kMaxPlans)
            m_entries.erase(m_entries.begin());
        m_entries.emplace_back(std::move(key), std::move(plan));
        return m_entries.back().second.get();
    }

private:
    std::vector<std::pair<std::vector<Shape>, std::unique_ptr<Plan>>> m_entries;
};

// Trainable weights and optional bias read from the node's tensors, with the gradient
// tensors owned here (sized at construction when the node has its parameters, so that
// params() is usable before prepare()).
class TrainableParams {
public:
    TrainableParams(Node& node, bool hasBias);
    // Validates the parameter shapes (bias: [outChannels]) and caches pointers to them.
    Status bind(const Shape& weightsShape, int64_t outChannels);
    bool hasBias() const { return m_hasBias; }
    std::vector<ParamSlot> slots();

    Tensor* weights = nullptr;
    Tensor* bias = nullptr;
    Tensor gradWeights;
    Tensor gradBias;

private:
    Node& m_node;
    bool m_hasBias;
};

// "Conv2D 'conv1'": how errors name a node.
std::string describe(const Node& node);

} // namespace qat::onednn
