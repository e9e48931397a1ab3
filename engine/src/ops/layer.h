// Layer: the executable form of one graph node (forward and backward over a batch).
// Shapes passed to layers include the batch dimension first (NHWC). A layer reads its
// parameters from the Node it was made from (the Graph outlives the Network) and owns
// the gradient tensors for them. Validation happens in prepare(); forward/backward are
// hot paths and validate nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/network.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

class Layer {
public:
    virtual ~Layer() = default;
    Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;

    // Called before the first forward and whenever the batch size changes. srcShapes
    // include the batch dimension. Creates primitives/scratch for these shapes. Must
    // set dstShape().
    virtual Status prepare(const std::vector<Shape>& srcShapes) = 0;
    const Shape& dstShape() const { return m_dstShape; }

    // dst is resized by the caller to dstShape() before the call.
    virtual void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) = 0;

    // Computes gradients w.r.t. parameters (overwriting the grad tensors) and w.r.t.
    // inputs. diffSrc[i] is pre-sized like src[i] and is overwritten; it is nullptr when
    // that input needs no gradient. src/dst are the tensors of the last forward (Train).
    virtual void backward(const std::vector<const Tensor*>& src, const Tensor& dst,
                          const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) = 0;

    virtual std::vector<ParamSlot> params() { return {}; }

protected:
    Shape m_dstShape;
};

// Factories. Each returns nullptr when the node's type is not theirs.
// backend/onednn: Conv2D, DepthwiseConv2D, Dense, MaxPool, AvgPool, GlobalAvgPool, BatchNorm.
std::unique_ptr<Layer> makeOneDnnLayer(Node& node);
// ops/: everything else (activations, Add, Concat, Reshape, Flatten, ZeroPad,
// Dropout, Softmax).
std::unique_ptr<Layer> makeBasicLayer(Node& node, uint64_t seed);

// Dispatches to the factories above; error names the node when no layer exists.
Result<std::unique_ptr<Layer>> makeLayer(Node& node, uint64_t seed);

} // namespace qat
