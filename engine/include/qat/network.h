// Network: executes a finalized Graph over batches, forward and backward.
// Holds one Layer per node, activations and gradients per node. Parameters live in the
// Graph's nodes (so saving a trained model is saving the graph). A Softmax output node
// trains with the fused softmax + cross-entropy gradient (p - onehot) / N.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "qat/graph.h"
#include "qat/status.h"
#include "qat/tensor.h"

namespace qat {

// Training runs batch statistics, dropout, observers and STE masks; Eval is inference.
enum class Phase { Train, Eval };

struct ParamSlot {
    std::string name; // "<node>/<param>"
    Tensor* value = nullptr;
    Tensor* grad = nullptr;
    bool decay = true; // weight decay applies (false for biases and BN parameters)
};

class Layer;
class QuantRuntime;
struct QuantPlan;
struct QatOptions;
struct QuantState;
struct QuantTopology;
struct QuantParams;

class Network {
public:
    // graph must be finalized and have all parameters; it must outlive the Network.
    static Result<std::unique_ptr<Network>> create(Graph& graph, uint64_t seed = 0);
    // A fake-quant network for PTQ evaluation and QAT: quantizers where the plan's
    // topology puts them, BatchNorm folded into weighted blocks (quantize.h).
    static Result<std::unique_ptr<Network>> create(Graph& graph, const QuantPlan& plan,
                                                   const QatOptions& options, uint64_t seed = 0);
    ~Network();

    // input: [N, sample shape...]. Returns the output node's activation [N, ...].
    // Prepares layers when the batch size changes.
    const Tensor& forward(const Tensor& input, Phase phase);

    // Mean cross-entropy of the last forward's output against labels (class indices);
    // the output must be a Softmax node or logits (log-softmax is applied then).
    double crossEntropy(const std::vector<int32_t>& labels) const;
    // Backward pass from the cross-entropy loss above; fills parameter gradients.
    void backwardCrossEntropy(const std::vector<int32_t>& labels);
    // Backward pass from an arbitrary gradient w.r.t. the output activation.
    void backward(const Tensor& diffOutput);

    std::vector<ParamSlot> params();

    // Quantization (all no-ops / nullptr on a float network).
    bool isQuantized() const { return m_quant != nullptr; }
    void setFakeQuantEnabled(bool on);
    void setCalibrating(bool on); // observers update in Phase::Eval too
    QuantState quantState() const;
    Status setQuantState(const QuantState& state);
    const QuantTopology* topology() const;
    const QuantPlan* plan() const;
    // Parameters of a quantization point (index into topology()->points).
    QuantParams pointParams(int point) const;
    int64_t trainSteps() const;
    // The float activation of a node before its fake-quant (== activation() on float nets).
    const Tensor& preQuantActivation(const std::string& nodeName) const;
    Graph& graph() { return m_graph; }
    // Activation of any node from the last forward (for inspection and tests).
    const Tensor& activation(const std::string& nodeName) const;
    // Gradient w.r.t. the model input from the last backward; computed only after
    // setComputeInputGradient(true) (tests, saliency), since training never needs it.
    const Tensor& inputGradient() const;
    void setComputeInputGradient(bool on) { m_needInputGrad = on; }

private:
    Network(Graph& graph);
    static Result<std::unique_ptr<Network>> build(Graph& graph, const QuantPlan* plan,
                                                  const QatOptions* options, uint64_t seed);
    Status prepare(int64_t batch);
    const Tensor& out(size_t i) const { return m_useQ[i] ? m_actQ[i] : m_act[i]; }
    void backwardFrom(size_t startNode, const Tensor& diff);

    Graph& m_graph;
    std::vector<std::unique_ptr<Layer>> m_layers; // index = node index; nullptr for Input
    std::vector<std::vector<int>> m_inputIndex;   // producer node indices per node
    std::vector<Tensor> m_act;
    std::vector<Tensor> m_diff;
    std::vector<Tensor> m_scratch;
    std::deque<Tensor> m_extra;   // gradients of operands repeated within one node
    std::vector<Tensor> m_actQ;   // fake-quantized outputs (quantized networks)
    std::vector<bool> m_useQ;     // consumers read m_actQ[i]
    std::vector<bool> m_absorbed; // node executed inside another node's layer (conv of a folded BN)
    std::unique_ptr<QuantRuntime> m_quant;
    int64_t m_batch = 0;
    bool m_outputIsSoftmax = false;
    bool m_needInputGrad = false;
};

// Top-1 accuracy of probabilities/logits [N, classes] against labels.
double top1Accuracy(const Tensor& scores, const int32_t* labels, int64_t count);

} // namespace qat
