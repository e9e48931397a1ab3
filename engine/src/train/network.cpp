// Network: runs the layers of a finalized graph in topological order. Gradients of
// nodes with several consumers are summed. The softmax + cross-entropy pair is fused
// in backward: d(loss)/d(logits) = (softmax - onehot) / N.
#include "qat/network.h"

#include <algorithm>
#include <cmath>

#include "ops/layer.h"

namespace qat {

Network::Network(Graph& graph) : m_graph(graph) {}
Network::~Network() = default;

Result<std::unique_ptr<Network>> Network::create(Graph& graph, uint64_t seed) {
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
    for (size_t i = 0; i < n; ++i) {
        Node& node = graph.nodes[i];
        for (const auto& in : node.inputs)
            net->m_inputIndex[i].push_back(graph.indexOf(in));
        if (node.type == OpType::Input)
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
        if (node.type == OpType::Input)
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
        if (!m_layers[i]) {
            m_act[i] = input; // the Input node
            continue;
        }
        src.clear();
        for (int p : m_inputIndex[i])
            src.push_back(&m_act[static_cast<size_t>(p)]);
        m_act[i].resize(m_layers[i]->dstShape());
        m_layers[i]->forward(src, m_act[i], phase);
    }
    return m_act[static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name))];
}

double Network::crossEntropy(const std::vector<int32_t>& labels) const {
    const Tensor& out = m_act[static_cast<size_t>(m_graph.indexOf(m_graph.outputNode().name))];
    const int64_t n = out.dim(0);
    const int64_t k = out.size() / n;
    QAT_ASSERT(static_cast<int64_t>(labels.size()) == n);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float* row = out.data() + i * k;
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
    const Tensor& out = m_act[outIdx];
    const int64_t n = out.dim(0);
    const int64_t k = out.size() / n;
    Tensor diff(out.shape());
    const float invN = 1.0f / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i) {
        const float* row = out.data() + i * k;
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
    for (size_t ii = start + 1; ii-- > 0;) {
        if (!has[ii] || !m_layers[ii])
            continue;
        src.clear();
        diffSrc.clear();
        const auto& inputs = m_inputIndex[ii];
        for (size_t k = 0; k < inputs.size(); ++k) {
            const size_t p = static_cast<size_t>(inputs[k]);
            src.push_back(&m_act[p]);
            if (!m_layers[p] && !m_needInputGrad) {
                diffSrc.push_back(nullptr); // the model input needs no gradient
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
            if (has[p]) {
                float* d = m_diff[p].data();
                const float* s = m_scratch[p].data();
                for (int64_t e = 0; e < m_diff[p].size(); ++e)
                    d[e] += s[e];
            }
            has[p] = true;
        }
    }
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
    return m_act[static_cast<size_t>(i)];
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
