// Fast float32 inference executor on oneDNN: the fp32 baseline int8 latency is compared
// with, built the way the int8 executor (qat/int_fast.h) is, so that the ratio measures
// the arithmetic and not the plumbing. Computes what Network::forward(x, Phase::Eval)
// computes, up to float rounding:
//   Conv2D / DepthwiseConv2D / Dense: a following BatchNorm that is their only consumer
//     is folded into weights and bias (graph/batchnorm_fold.h, as the float .tflite
//     export folds), and a following ReLU / ReLU6 that is then the only consumer runs as
//     a fused eltwise post-op (relu / clip 0..6); forward_inference primitives, weights
//     reordered once to the layout the primitive picks; activations stay NHWC;
//   MaxPool / AvgPool / GlobalAvgPool: oneDNN pooling forward_inference;
//   Flatten / Reshape / Dropout read only by convolutions, dense layers or pools: no
//     step (the consumer reads the producer's buffer, the same bytes);
//   everything else (Add, Concat, Softmax, ZeroPad, standalone activations, a BatchNorm
//     that cannot be folded, ...): the training network's layers in Phase::Eval.
// Primitives are created for one batch size. Nodes the output does not depend on are
// not run. The executor copies what it needs from the graph at create().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

// One executed step: the node whose computation it starts, the nodes folded into it
// (BatchNorm, activation, Dropouts in between) and how it runs.
struct FloatFastStep {
    std::string node;
    std::vector<std::string> fused;
    // "conv=<oneDNN impl>" (with "+reorder" when activations are reordered around it),
    // "pool=...", "dense=...", or "layer" for a training-network layer.
    std::string implementation;
};

class FloatFastExecutor {
public:
    virtual ~FloatFastExecutor() = default;
    // The graph must be finalized and have all parameters. Errors name the node that
    // cannot be prepared (bad parameter shapes, a BatchNorm that cannot be folded, ...).
    static Result<std::unique_ptr<FloatFastExecutor>> create(const Graph& graph, int64_t batch);

    // input: NHWC [batch, sample...]. Returns the output node's activation [batch, ...].
    virtual const Tensor& run(const Tensor& input) = 0;
    virtual int64_t batch() const = 0;
    virtual const std::vector<FloatFastStep>& steps() const = 0;
    // One line per step: "node[+fused...]: implementation".
    virtual std::string implementationInfo() const = 0;
};

} // namespace qat
