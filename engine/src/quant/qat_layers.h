// Composite layers for quantization-aware training. Both wrap an ordinary conv/dense
// Layer built on a private "shadow" node whose weights are the fake-quantized ones, so
// the float kernels are reused unchanged:
//   QatWeightLayer   y = op(x, fq(W)) + b
//   FoldedBnLayer    simulated BatchNorm folding (Krishnamoorthi 2018 §3.2.2, PyTorch
//                    ConvBn2d): s = gamma / sqrt(running_var + eps),
//                    z = op(x, fq(W * s)),  u = z / s + b,
//                    training: y = gamma * (u - mean_B) / sqrt(var_B + eps) + beta
//                    frozen/eval: y = z + s * (b - running_mean) + beta   (exactly the folded conv)
// The straight-through estimator passes weight gradients where W (or W*s) fell inside
// the grid; s is treated as a constant in backward (its gradient through gamma is
// second order while weights stay inside the grid).
#pragma once

#include <memory>
#include <vector>

#include "ops/layer.h"
#include "qat/quant.h"

namespace qat {

struct WeightQuantSchedule {
    bool* bnFrozen = nullptr; // owned by the network's quant runtime
};

class QatWeightLayer : public Layer {
public:
    // node: Conv2D/DepthwiseConv2D/Dense. axis: weight output-channel axis.
    static Result<std::unique_ptr<Layer>> create(Node& node, int axis, const QuantizerConfig& cfg,
                                                 uint64_t seed);
    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::vector<ParamSlot> params() override;
    const std::vector<QuantParams>& weightParams() const { return m_params; }

private:
    QatWeightLayer(Node& node, int axis, const QuantizerConfig& cfg);
    Node& m_node;
    Node m_shadow;
    std::unique_ptr<Layer> m_inner;
    int m_axis;
    QuantizerConfig m_cfg;
    std::vector<QuantParams> m_params;
    std::vector<uint8_t> m_mask;
    Tensor m_gradW, m_gradB;
    bool m_hasBias;
};

class FoldedBnLayer : public Layer {
public:
    // conv: the Conv2D/DepthwiseConv2D/Dense node; bn: its BatchNorm. The layer stands at
    // the BN node and consumes the conv's inputs. bnFrozen is read each forward.
    static Result<std::unique_ptr<Layer>> create(Node& conv, Node& bn, int axis,
                                                 const QuantizerConfig& cfg, const bool* bnFrozen,
                                                 uint64_t seed);
    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::vector<ParamSlot> params() override;

private:
    FoldedBnLayer(Node& conv, Node& bn, int axis, const QuantizerConfig& cfg, const bool* frozen);
    void scaledWeights();
    Node& m_conv;
    Node& m_bn;
    Node m_shadow;
    std::unique_ptr<Layer> m_inner;
    int m_axis;
    QuantizerConfig m_cfg;
    const bool* m_frozen;
    bool m_hasBias;
    bool m_trainedLast = false; // whether the last forward used batch statistics
    std::vector<QuantParams> m_params;
    std::vector<uint8_t> m_mask;
    std::vector<float> m_s;      // gamma / sqrt(running_var + eps) per channel
    std::vector<float> m_invStd; // 1 / sqrt(var_B + eps) of the last training forward
    std::vector<float> m_mean;   // mean_B of the last training forward
    Tensor m_z;                  // conv output of the last forward
    Tensor m_diffZ;
    Tensor m_gradW, m_gradB, m_gradGamma, m_gradBeta;
};

} // namespace qat
