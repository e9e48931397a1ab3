// Network: runs the layers of a finalized graph in topological order. Gradients of
// nodes with several consumers are summed. The softmax + cross-entropy pair is fused
// in backward: d(loss)/d(logits) = (softmax - onehot) / N.
#include "qat/network.h"

#include <algorithm>
#include <cmath>

#include "ops/layer.h"
#include "qat/quantize.h"
#include "quant/qat_layers.h"
#include "quant/quant_runtime.h"

namespace qat {

Network::Network(Graph& graph) : m_graph(graph) {}
Network::~Network() = default;

Result<std::unique_ptr<Network>> Network::create(Graph& graph, uint64_t seed) {
    return build(graph, nullptr, nullptr, seed);
}

Result<std::unique_ptr<Network>> Network::create(Graph& graph, const QuantPlan& plan,
                                                 const QatOptions& options, uint64_t seed) {
    return build(graph, &plan, &options, seed);
}

Result<std::unique_ptr<Network>> Network::build(Graph& graph, const QuantPlan* plan,
                                                const QatOptions* options, uint64_t seed) {
    if (!graph.isFinalized())
        return Status::error("internal: Network::create needs a finalized graph");
    if (!graph.hasAllParams())
        return Status::error(
            "model has uninitialized parameters; initialize or load weights first");
    std::unique_ptr<Network> net(new Network(graph));
    const size_t n = graph.nodes.size();
    net->m_layers.resize(n);
    net->m_inputIndex.resize(n);
    net->m_act.resize(n);
    net->m_diff.resize(n);
    net->m_scratch.resize(n);
    net->m_actQ.resize(n);
    net->m_useQ.assign(n, false);
    net->m_absorbed.assign(n, false);
    for (size_t i = 0; i < n; ++i)
        for (const auto& in : graph.nodes[i].inputs)
            net->m_inputIndex[i].push_back(graph.indexOf(in));
    if (plan) {
        QAT_RETURN_IF_ERROR(validatePlan(graph, *plan));
        net->m_quant = std::make_unique<QuantRuntime>(graph, *plan, *options);
        const QuantTopology& topo = net->m_quant->topology();
        for (size_t b = 0; b < topo.blocks.size(); ++b) {
            if (!topo.quantizeWeights[b])
                continue;
            const QuantBlock& blk = topo.blocks[b];
            const LayerQuantConfig* cfg = plan->find(blk.anchor);
            const size_t a = static_cast<size_t>(graph.indexOf(blk.anchor));
            Result<std::unique_ptr<Layer>> layer = Status::error("unset");
            if (!blk.bn.empty()) {
                const size_t bnIdx = static_cast<size_t>(graph.indexOf(blk.bn));
                layer = FoldedBnLayer::create(graph.nodes[a], graph.nodes[bnIdx], blk.weightAxis,
                                              cfg->weights, net->m_quant->bnFrozenFlag(), seed + a);
                if (!layer)
                    return layer.status();
                net->m_layers[bnIdx] = std::move(layer.value());
                net->m_inputIndex[bnIdx] = net->m_inputIndex[a];
                net->m_absorbed[a] = true;
            } else {
                layer =
                    QatWeightLayer::create(graph.nodes[a], blk.weightAxis, cfg->weights, seed + a);
                if (!layer)
                    return layer.status();
                net->m_layers[a] = std::move(layer.value());
            }
        }
    }
    for (size_t i = 0; i < n; ++i) {
        Node& node = graph.nodes[i];
        if (node.type == OpType::Input || net->m_layers[i] || net->m_absorbed[i])
            continue;
        auto layer = makeLayer(node, seed + i);
        if (!layer)
            return layer.status();
        net->m_layers[i] = std::move(layer.value());
    }
    net->m_outputIsSoftmax = graph.outputNode().type == OpType::Softmax;
    return net;
}

Status Network::prepare(int64_t batch) {
    for (size_t i = 0; i < m_graph.nodes.size(); ++i) {
        const Node& node = m_graph.nodes[i];
        if (!m_layers[i])
            continue;
        std::vector<Shape> shapes;
        for (int p : m_inputIndex[i])
            shapes.push_back(withBatch(batch, m_graph.nodes[static_cast<size_t>(p)].outputShape));
        QAT_RETURN_IF_ERROR(m_layers[i]->prepare(shapes).withContext("node '" + node.name + "'"));
        QAT_ASSERT(m_layers[i]->dstShape() == withBatch(batch, node.outputShape));
    }
    m_batch = batch;
    return Status::ok();
}

const Tensor& Network::forward(const Tensor& input, Phase phase) {
    const int64_t batch = input.dim(0);
    if (batch != m_batch) {
        Status st = prepare(batch);
        QAT_ASSERT(st.isOk()); // shapes were validated by Graph::finalize
    }
    std::vector<const Tensor*> src;
    for (size_t i = 0; i < m_graph.nodes.size(); ++i) {
        if (m_absorbed[i])
            continue;
        if (!m_layers[i]) {
            m_act[i] = input; // the Input node
        } else {
            src.clear();
            for (int p : m_inputIndex[i])
                src.push_back(&out(static_cast<size_t>(p)));
            m_act[i].resize(m_layers[i]->dstShape());
            m_layers[i]->forward(src, m_act[i], phase);
        }
        if (m_quant && m_quant->applies(i))
            m_useQ[i] = m_quant->apply(i, m_act[i], m_actQ[i], phase);
    }
    if (m_quant && phase == Phase::Train)
        m_quant->onTrainStep();
    return out(static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name)));
}

double Network::crossEntropy(const std::vector<int32_t>& labels) const {
    const Tensor& o = out(static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name)));
    const int64_t n = o.dim(0);
    const int64_t k = o.size() / n;
    QAT_ASSERT(static_cast<int64_t>(labels.size()) == n);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float* row = o.data() + i * k;
        if (m_outputIsSoftmax) {
            total -=
                std::log(std::max(static_cast<double>(row[labels[static_cast<size_t>(i)]]), 1e-12));
        } else {
            double mx = *std::max_element(row, row + k);
            double sum = 0;
            for (int64_t j = 0; j < k; ++j)
                sum += std::exp(row[j] - mx);
            total -= row[labels[static_cast<size_t>(i)]] - mx - std::log(sum);
        }
    }
    return total / static_cast<double>(n);
}

void Network::backwardCrossEntropy(const std::vector<int32_t>& labels) {
    const size_t outIdx = static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name));
    // Softmax's fixed output grid is skipped here: the loss is taken on the float
    // probabilities (as tfmot does), so its gradient is the exact (p - onehot) / N.
    const Tensor& o = m_act[outIdx];
    const int64_t n = o.dim(0);
    const int64_t k = o.size() / n;
    Tensor diff(o.shape());
    const float invN = 1.0f / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i) {
        const float* row = o.data() + i * k;
        float* d = diff.data() + i * k;
        if (m_outputIsSoftmax) {
            for (int64_t j = 0; j < k; ++j)
                d[j] = row[j] * invN;
        } else {
            float mx = *std::max_element(row, row + k);
            float sum = 0;
            for (int64_t j = 0; j < k; ++j)
                sum += std::exp(row[j] - mx);
            for (int64_t j = 0; j < k; ++j)
                d[j] = std::exp(row[j] - mx) / sum * invN;
        }
        d[labels[static_cast<size_t>(i)]] -= invN;
    }
    if (m_outputIsSoftmax) {
        // The gradient above is w.r.t. the softmax input: start from its producer.
        const int producer = m_inputIndex[outIdx][0];
        backwardFrom(static_cast<size_t>(producer), diff);
    } else {
        backwardFrom(outIdx, diff);
    }
}

void Network::backward(const Tensor& diffOutput) {
    backwardFrom(static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name)), diffOutput);
}

void Network::backwardFrom(size_t start, const Tensor& diff) {
    const size_t n = m_graph.nodes.size();
    std::vector<bool> has(n, false);
    m_diff[start] = diff;
    has[start] = true;
    std::vector<const Tensor*> src;
    std::vector<Tensor*> diffSrc;
    m_extra.clear();
    for (size_t ii = start + 1; ii-- > 0;) {
        if (!has[ii] || !m_layers[ii])
            continue;
        if (m_quant)
            m_quant->maskGradient(ii, m_diff[ii]); // straight-through: zero where clipped
        src.clear();
        diffSrc.clear();
        const auto& inputs = m_inputIndex[ii];
        for (size_t k = 0; k < inputs.size(); ++k) {
            const size_t p = static_cast<size_t>(inputs[k]);
            src.push_back(&out(p));
            // An operand repeated within this node (Add(x, x)) must not alias the first.
            const bool repeated =
                std::find(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(k),
                          inputs[k]) != inputs.begin() + static_cast<std::ptrdiff_t>(k);
            if (!m_layers[p] && !m_needInputGrad) {
                diffSrc.push_back(nullptr); // the model input needs no gradient
            } else if (repeated) {
                m_extra.emplace_back(m_act[p].shape());
                diffSrc.push_back(&m_extra.back());
            } else if (!has[p]) {
                m_diff[p].resize(m_act[p].shape());
                diffSrc.push_back(&m_diff[p]);
            } else {
                // Fan-out: compute into scratch, then accumulate.
                m_scratch[p].resize(m_act[p].shape());
                diffSrc.push_back(&m_scratch[p]);
            }
        }
        m_layers[ii]->backward(src, m_act[ii], m_diff[ii], diffSrc);
        for (size_t k = 0; k < inputs.size(); ++k) {
            const size_t p = static_cast<size_t>(inputs[k]);
            if (!diffSrc[k])
                continue;
            if (diffSrc[k] == &m_diff[p]) { // first gradient for p: written in place
                has[p] = true;
                continue;
            }
            // Fan-out scratch or a repeated operand: accumulate.
            float* d = m_diff[p].data();
            const float* s = diffSrc[k]->data();
            for (int64_t e = 0; e < m_diff[p].size(); ++e)
                d[e] += s[e];
        }
    }
    // The input's own quantizer: no gradient for inputs clipped by its grid.
    const size_t in = static_cast<size_t>(m_graph.indexOf(m_graph.inputNode().name));
    if (m_quant && m_needInputGrad && has[in])
        m_quant->maskGradient(in, m_diff[in]);
}

std::vector<ParamSlot> Network::params() {
    std::vector<ParamSlot> all;
    for (auto& layer : m_layers)
        if (layer)
            for (auto& p : layer->params())
                all.push_back(p);
    return all;
}

const Tensor& Network::activation(const std::string& nodeName) const {
    int i = m_graph.indexOf(nodeName);
    QAT_ASSERT(i >= 0);
    return out(static_cast<size_t>(i));
}

const Tensor& Network::preQuantActivation(const std::string& nodeName) const {
    int i = m_graph.indexOf(nodeName);
    QAT_ASSERT(i >= 0);
    return m_act[static_cast<size_t>(i)];
}

void Network::setFakeQuantEnabled(bool on) {
    if (m_quant)
        m_quant->setFakeQuantEnabled(on);
}

void Network::setCalibrating(bool on) {
    if (m_quant)
        m_quant->setCalibrating(on);
}

QuantState Network::quantState() const {
    return m_quant ? m_quant->state() : QuantState{};
}

Status Network::setQuantState(const QuantState& state) {
    if (!m_quant)
        return Status::error("this network is not quantized");
    return m_quant->setState(state);
}

const QuantTopology* Network::topology() const {
    return m_quant ? &m_quant->topology() : nullptr;
}

const QuantPlan* Network::plan() const {
    return m_quant ? &m_quant->plan() : nullptr;
}

QuantParams Network::pointParams(int point) const {
    QAT_ASSERT(m_quant);
    return m_quant->pointParams(point);
}

int64_t Network::trainSteps() const {
    return m_quant ? m_quant->trainSteps() : 0;
}

const Tensor& Network::inputGradient() const {
    return m_diff[static_cast<size_t>(m_graph.indexOf(m_graph.inputNode().name))];
}

double top1Accuracy(const Tensor& scores, const int32_t* labels, int64_t count) {
    if (count == 0)
        return 0.0;
    const int64_t k = scores.size() / scores.dim(0);
    int64_t correct = 0;
    for (int64_t i = 0; i < count; ++i) {
        const float* row = scores.data() + i * k;
        if (std::max_element(row, row + k) - row == labels[i])
            ++correct;
    }
    return static_cast<double>(correct) / static_cast<double>(count);
}

} // namespace qat
