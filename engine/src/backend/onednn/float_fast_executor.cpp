// Fast float32 inference executor on oneDNN (qat/float_fast.h). create() walks the
// finalized graph once in topological order, folds BatchNorms and fuses ReLU/ReLU6 into
// the weighted node before them, allocates one NHWC buffer per computed value for the
// fixed batch, and builds one step per executed node:
//   Conv2D, DepthwiseConv2D (a grouped conv with G = C, as conv_layer.cpp lays it out):
//     convolution forward_inference, folded weights [Cout,kh,kw,Cin/G] / [1,kh,kw,C*mult]
//     reordered once to the primitive's layout, f32 bias, post-op relu or clip(0, 6);
//   Dense: inner product forward_inference, the same weights/bias/post-op treatment;
//   MaxPool, AvgPool (padding excluded from the count), GlobalAvgPool: pooling
//     forward_inference;
//   everything else: the training network's layer (ops/layer.h) in Phase::Eval.
// Activations stay NHWC. Where NHWC has only a reference kernel (Cin = 1 first layers),
// pickLayouts lets the primitive choose src/dst and a LayoutBridge reorders around it,
// as the training layers do.
#include <algorithm>
#include <cstring>
#include <set>

#include "backend/onednn/context.h"
#include "graph/fusion.h"
#include "qat/float_fast.h"

namespace qat {

namespace onednn {

namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

class Step {
public:
    virtual ~Step() = default;
    virtual void run(dnnl::stream& s) = 0;
};

// A primitive bound once to the executor's buffers, with the reorders its src/dst need
// when the primitive runs in another layout than our NHWC.
struct PrimitiveStep final : Step {
    dnnl::primitive primitive;
    Args args;
    LayoutBridge src, dst;
    void run(dnnl::stream& s) override {
        src.sync(s);
        primitive.execute(s, args);
        dst.sync(s);
    }
};

// A training-network layer in Phase::Eval on its own copy of the node.
struct LayerStep final : Step {
    std::unique_ptr<Node> node;
    std::unique_ptr<Layer> layer;
    std::vector<const Tensor*> src;
    Tensor* dst = nullptr;
    void run(dnnl::stream& s) override {
        s.wait(); // the layer reads what the previous primitive wrote
        layer->forward(src, *dst, Phase::Eval);
    }
};

std::string where(const Node& node) {
    return "FloatFastExecutor: node '" + node.name + "' (" + opTypeName(node.type) + ")";
}

bool isWeighted(OpType t) {
    return t == OpType::Conv2D || t == OpType::DepthwiseConv2D || t == OpType::Dense;
}
bool isPool(OpType t) {
    return t == OpType::MaxPool || t == OpType::AvgPool || t == OpType::GlobalAvgPool;
}

using Block = FusedBlock;

// The fused ReLU / ReLU6 of a block as an eltwise post-op.
dnnl::primitive_attr activationAttr(const Block& block) {
    dnnl::primitive_attr attr = userScratchpadAttr();
    dnnl::post_ops po;
    if (block.activation && block.activation->type == OpType::ReLU)
        po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
    else if (block.activation && block.activation->type == OpType::ReLU6)
        po.append_eltwise(1.0f, algorithm::eltwise_clip, 0.0f, 6.0f);
    attr.set_post_ops(po);
    return attr;
}

struct FoldedParams {
    std::vector<float> weights, bias;
};

class OneDnnFloatExecutor final : public FloatFastExecutor {
public:
    explicit OneDnnFloatExecutor(int64_t batch) : m_batch(batch) {}

    Status build(const Graph& graph);

    const Tensor& run(const Tensor& input) override;
    int64_t batch() const override { return m_batch; }
    const std::vector<FloatFastStep>& steps() const override { return m_info; }
    std::string implementationInfo() const override;

private:
    Status addNode(size_t i);
    Status addWeighted(const Node& node, const Block& block);
    Status addConv(const Node& node, const Block& block);
    Status addDense(const Node& node, const Block& block);
    // An inner product over `rows` rows of k values to `units` outputs (Dense, or a
    // pointwise conv over the pixels), with its folded parameters.
    Status addInnerProduct(const Node& node, const Block& block, int64_t rows, int64_t k,
                           int64_t units, const FoldedParams& params, const char* kind);
    Status addPool(const Node& node);
    Status addLayer(const Node& node);

    bool canAlias(const Node& node) const;

    const Shape& inputShape(const Node& node, size_t k = 0) const {
        return m_graph->find(node.inputs[k])->outputShape;
    }
    // The buffer holding node `name`'s output.
    Tensor& value(const std::string& name) {
        return m_values[static_cast<size_t>(
            m_valueOf[static_cast<size_t>(m_graph->indexOf(name))])];
    }
    // Allocates node i's own buffer.
    Tensor& allocate(size_t i);
    // A step running `primitive` from node.inputs[0]'s buffer into node's, with reorders
    // around it when `pd` wants other layouts than srcUser / dstUser.
    std::unique_ptr<PrimitiveStep> activationStep(const Node& node, dnnl::primitive primitive,
                                                  const dnnl::primitive_desc_base& pd,
                                                  const memory::desc& srcUser,
                                                  const memory::desc& dstUser);
    // Adds the weights (reordered once to the layout `pd` picked) and the bias.
    static void bindParams(PrimitiveStep& step, const dnnl::primitive_desc_base& pd,
                           const memory::desc& weightsUser, const FoldedParams& params);
    void addPrimitive(const Node& node, const Block* block, const char* kind,
                      const dnnl::primitive_desc_base& pd, std::unique_ptr<PrimitiveStep> step);

    const Graph* m_graph = nullptr; // set during build() only

    int64_t m_batch;
    std::vector<Tensor> m_values; // per node index; only the nodes that own a buffer
    std::vector<int> m_valueOf;   // node index -> index into m_values holding its output
    std::set<std::string> m_live, m_absorbed; // node names
    std::vector<std::unique_ptr<Step>> m_steps;
    std::vector<FloatFastStep> m_info;
    SharedScratchpad m_scratchpad;
    size_t m_input = 0, m_output = 0;
};

// Flatten / Reshape / Dropout (identity in Eval) need no step when every reader is a
// primitive: those bind raw buffers, and the bytes are the same under the new shape.
bool OneDnnFloatExecutor::canAlias(const Node& node) const {
    if (node.type != OpType::Flatten && node.type != OpType::Reshape &&
        node.type != OpType::Dropout)
        return false;
    if (&node == &m_graph->outputNode())
        return false;
    for (const auto& name : m_graph->consumers(node.name)) {
        const OpType t = m_graph->find(name)->type;
        if (m_live.count(name) && !isWeighted(t) && !isPool(t))
            return false;
    }
    return true;
}

Tensor& OneDnnFloatExecutor::allocate(size_t i) {
    m_values[i] = Tensor(withBatch(m_batch, m_graph->nodes[i].outputShape));
    m_valueOf[i] = static_cast<int>(i);
    return m_values[i];
}

std::unique_ptr<PrimitiveStep>
OneDnnFloatExecutor::activationStep(const Node& node, dnnl::primitive primitive,
                                    const dnnl::primitive_desc_base& pd,
                                    const memory::desc& srcUser, const memory::desc& dstUser) {
    auto step = std::make_unique<PrimitiveStep>();
    step->primitive = std::move(primitive);
    step->src.init(srcUser, pd.src_desc(0), LayoutBridge::Direction::In);
    step->src.bind(value(node.inputs[0]).data());
    step->dst.init(dstUser, pd.dst_desc(0), LayoutBridge::Direction::Out);
    step->dst.bind(value(node.name).data());
    step->args = {{DNNL_ARG_SRC, step->src.arg()}, {DNNL_ARG_DST, step->dst.arg()}};
    return step;
}

void OneDnnFloatExecutor::bindParams(PrimitiveStep& step, const dnnl::primitive_desc_base& pd,
                                     const memory::desc& weightsUser, const FoldedParams& params) {
    const memory weights = reorderedCopy(weightsUser, params.weights.data(), pd.weights_desc(0));
    memory bias(plainDesc({static_cast<int64_t>(params.bias.size())}, Tag::x), cpuEngine());
    std::memcpy(bias.get_data_handle(), params.bias.data(), params.bias.size() * sizeof(float));
    step.args[DNNL_ARG_WEIGHTS] = weights;
    step.args[DNNL_ARG_BIAS] = bias;
}

void OneDnnFloatExecutor::addPrimitive(const Node& node, const Block* block, const char* kind,
                                       const dnnl::primitive_desc_base& pd,
                                       std::unique_ptr<PrimitiveStep> step) {
    m_scratchpad.add(pd, step->args);
    FloatFastStep info;
    info.node = node.name;
    if (block)
        info.fused = block->fused;
    info.implementation = std::string(kind) + "=" + pd.impl_info_str() +
                          (step->src.reorders() || step->dst.reorders() ? "+reorder" : "");
    m_info.push_back(std::move(info));
    m_steps.push_back(std::move(step));
}

Status OneDnnFloatExecutor::addWeighted(const Node& node, const Block& block) {
    m_absorbed.insert(block.fused.begin(), block.fused.end());
    const auto last = static_cast<size_t>(m_graph->indexOf(block.last->name));
    allocate(last);
    for (const auto& name : block.fused)
        m_valueOf[static_cast<size_t>(m_graph->indexOf(name))] = static_cast<int>(last);
    m_valueOf[static_cast<size_t>(m_graph->indexOf(node.name))] = static_cast<int>(last);
    return guard(where(node), [&] {
        return node.type == OpType::Dense ? addDense(node, block) : addConv(node, block);
    });
}

// Weights and bias of a weighted node with `block`'s BatchNorm folded in. `wantW` is the
// weights' expected shape; weights are [outer, channels, inner] around the output channel.
Result<FoldedParams> foldedParams(const Node& node, const Block& block, const Shape& wantW,
                                  int64_t outer, int64_t channels, int64_t inner) {
    auto w = node.params.find("weights");
    if (w == node.params.end() || w->second.shape() != wantW)
        return Status::error(
            where(node) + ": weights " +
            (w == node.params.end() ? std::string("missing") : shapeToString(w->second.shape())) +
            ", expected " + shapeToString(wantW));
    FoldedParams p;
    p.weights = w->second.vec();
    p.bias.assign(static_cast<size_t>(channels), 0.0f);
    if (node.attrs.getInt("use_bias", 1) != 0) {
        auto b = node.params.find("bias");
        if (b == node.params.end() || b->second.shape() != Shape{channels})
            return Status::error(where(node) + ": bias " +
                                 (b == node.params.end() ? std::string("missing")
                                                         : shapeToString(b->second.shape())) +
                                 ", expected " + shapeToString({channels}));
        p.bias = b->second.vec();
    }
    if (block.batchNorm) {
        auto scale = foldBatchNorm(*block.batchNorm, node, p.bias);
        if (!scale)
            return scale.status().withContext("FloatFastExecutor");
        scaleChannels(p.weights, outer, channels, inner, *scale);
    }
    return p;
}

Status OneDnnFloatExecutor::addConv(const Node& node, const Block& block) {
    const Shape& in = inputShape(node);
    if (in.size() != 3)
        return Status::error(where(node) + ": expects an [H,W,C] input, got " + shapeToString(in));
    auto geometry = resolveGeometry(node, in);
    if (!geometry)
        return geometry.status().withContext(where(node));
    const ConvGeometry& g = *geometry;
    auto channels = resolveConvChannels(node, in[2]);
    if (!channels)
        return channels.status();
    const ConvChannels& c = channels.value();
    const int64_t taps = g.kh * g.kw;
    const Shape wantW = convWeightsShape(c, g.kh, g.kw);
    auto params = c.depthwise
                      ? foldedParams(node, block, wantW, taps, c.outC, 1)
                      : foldedParams(node, block, wantW, 1, c.outC, taps * (c.inC / c.groups));
    if (!params)
        return params.status();

    if (isPointwise(c, g)) {
        // A 1x1, stride-1, unpadded convolution over NHWC is an inner product over the
        // batch * H * W pixels; oneDNN's is faster than its 1x1 convolution here (measured
        // on mobilenet-tiny at batch 64: 0.96 -> 0.79-0.88 ms; the int8 executor does the
        // same, so the fp32/int8 comparison stays like for like).
        return addInnerProduct(node, block, m_batch * g.inH * g.inW, c.inC, c.outC, *params,
                               "conv1x1");
    }
    const memory::desc srcUser = activationDesc(m_batch, c.inC, g.inH, g.inW);
    const memory::desc dstUser = activationDesc(m_batch, c.outC, g.outH, g.outW);
    const memory::desc weightsUser = convWeightsUserDesc(c, g.kh, g.kw);
    const memory::desc biasDesc = plainDesc({c.outC}, Tag::x);
    const dnnl::primitive_attr attr = activationAttr(block);

    // Level 0 plain NHWC, 1 dst left to oneDNN, 2 src and dst left to oneDNN.
    using Pd = dnnl::convolution_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(3, [&](int level) {
        const dnnl::convolution_forward::desc d(
            prop_kind::forward_inference, algorithm::convolution_direct,
            level >= 2 ? anyLayout(srcUser) : srcUser, anyLayout(weightsUser), biasDesc,
            level >= 1 ? anyLayout(dstUser) : dstUser, {g.sh, g.sw}, {g.dh - 1, g.dw - 1},
            {g.padTop, g.padLeft}, {g.padBottom, g.padRight});
        return Pd(d, attr, cpuEngine());
    });
    auto step = activationStep(node, dnnl::convolution_forward(pd), pd, srcUser, dstUser);
    bindParams(*step, pd, weightsUser, *params);
    addPrimitive(node, &block, "conv", pd, std::move(step));
    return Status::ok();
}

Status OneDnnFloatExecutor::addDense(const Node& node, const Block& block) {
    const int64_t k = shapeSize(inputShape(node));
    const int64_t units = node.attrs.getInt("units", 0);
    if (units < 1 || node.outputShape != Shape{units})
        return Status::error(where(node) +
                             ": attribute 'units' must be >= 1 and match the "
                             "output " +
                             shapeToString(node.outputShape));
    auto params = foldedParams(node, block, {units, k}, 1, units, k);
    if (!params)
        return params.status();
    return addInnerProduct(node, block, m_batch, k, units, *params, "dense");
}

Status OneDnnFloatExecutor::addInnerProduct(const Node& node, const Block& block, int64_t rows,
                                            int64_t k, int64_t units, const FoldedParams& params,
                                            const char* kind) {
    const memory::desc srcDesc = plainDesc({rows, k}, Tag::nc);
    const memory::desc dstDesc = plainDesc({rows, units}, Tag::nc);
    const memory::desc weightsUser = plainDesc({units, k}, Tag::oi);
    const memory::desc biasDesc = plainDesc({units}, Tag::x);
    const dnnl::primitive_attr attr = activationAttr(block);
    using Pd = dnnl::inner_product_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const memory::desc weights = level == 0 ? anyLayout(weightsUser) : weightsUser;
        return Pd({prop_kind::forward_inference, srcDesc, weights, biasDesc, dstDesc}, attr,
                  cpuEngine());
    });
    auto step = activationStep(node, dnnl::inner_product_forward(pd), pd, srcDesc, dstDesc);
    bindParams(*step, pd, weightsUser, params);
    addPrimitive(node, &block, kind, pd, std::move(step));
    return Status::ok();
}

Status OneDnnFloatExecutor::addPool(const Node& node) {
    const Shape& in = inputShape(node);
    if (in.size() != 3)
        return Status::error(where(node) + ": expects an [H,W,C] input, got " + shapeToString(in));
    ConvGeometry g;
    if (node.type == OpType::GlobalAvgPool) {
        g.kh = g.inH = in[0];
        g.kw = g.inW = in[1];
        g.outH = g.outW = 1;
    } else {
        auto geometry = resolveGeometry(node, in);
        if (!geometry)
            return geometry.status().withContext(where(node));
        g = *geometry;
        if (g.dh != 1 || g.dw != 1)
            return Status::error(where(node) + ": pooling does not support dilations");
    }
    const int64_t c = in[2];
    const algorithm alg = node.type == OpType::MaxPool ? algorithm::pooling_max
                                                       : algorithm::pooling_avg_exclude_padding;
    const memory::desc srcUser = activationDesc(m_batch, c, g.inH, g.inW);
    const memory::desc dstUser = activationDesc(m_batch, c, g.outH, g.outW);
    const dnnl::primitive_attr attr = userScratchpadAttr();
    using Pd = dnnl::pooling_forward::primitive_desc;
    const Pd pd = pickLayouts<Pd>(2, [&](int level) {
        const dnnl::pooling_forward::desc d(
            prop_kind::forward_inference, alg, level == 0 ? srcUser : anyLayout(srcUser),
            level == 0 ? dstUser : anyLayout(dstUser), {g.sh, g.sw}, {g.kh, g.kw},
            {g.padTop, g.padLeft}, {g.padBottom, g.padRight});
        return Pd(d, attr, cpuEngine());
    });
    auto step = activationStep(node, dnnl::pooling_forward(pd), pd, srcUser, dstUser);
    addPrimitive(node, nullptr, "pool", pd, std::move(step));
    return Status::ok();
}

Status OneDnnFloatExecutor::addLayer(const Node& node) {
    auto step = std::make_unique<LayerStep>();
    step->node = std::make_unique<Node>(node);
    auto layer = makeLayer(*step->node, 0);
    if (!layer)
        return layer.status().withContext("FloatFastExecutor");
    step->layer = std::move(layer).value();
    std::vector<Shape> shapes;
    for (const auto& in : node.inputs) {
        Tensor& src = value(in);
        // Aliases only feed primitives (canAlias), so a layer's inputs have their shapes.
        QAT_ASSERT(src.shape() == withBatch(m_batch, m_graph->find(in)->outputShape));
        step->src.push_back(&src);
        shapes.push_back(src.shape());
    }
    QAT_RETURN_IF_ERROR(
        guard(where(node), [&] { return step->layer->prepare(shapes).withContext(where(node)); }));
    step->dst = &value(node.name);
    if (step->layer->dstShape() != step->dst->shape())
        return Status::error(where(node) + ": the layer computes " +
                             shapeToString(step->layer->dstShape()) + ", the graph says " +
                             shapeToString(step->dst->shape()));
    m_info.push_back({node.name, {}, "layer"});
    m_steps.push_back(std::move(step));
    return Status::ok();
}

Status OneDnnFloatExecutor::addNode(size_t i) {
    const Node& node = m_graph->nodes[i];
    if (isWeighted(node.type))
        return addWeighted(node, fuseFollowers(*m_graph, m_live, node));
    if (canAlias(node)) {
        m_valueOf[i] = m_valueOf[static_cast<size_t>(m_graph->indexOf(node.inputs[0]))];
        return Status::ok();
    }
    allocate(i);
    if (isPool(node.type))
        return guard(where(node), [&] { return addPool(node); });
    return addLayer(node);
}

Status OneDnnFloatExecutor::build(const Graph& graph) {
    if (m_batch < 1)
        return Status::error("FloatFastExecutor: batch must be at least 1, got " +
                             std::to_string(m_batch));
    if (!graph.isFinalized())
        return Status::error("FloatFastExecutor: the graph must be finalized");
    // Parameters are validated per node (missing or mis-shaped ones are named there).
    m_graph = &graph;
    const size_t n = graph.nodes.size();
    m_input = static_cast<size_t>(graph.indexOf(graph.inputNode().name));
    m_output = static_cast<size_t>(graph.indexOf(graph.outputNode().name));
    m_live = liveNodes(graph);

    m_values.assign(n, Tensor());
    m_valueOf.assign(n, -1);
    allocate(m_input);
    Status status = Status::ok();
    for (size_t i = 0; i < n && status.isOk(); ++i) {
        const Node& node = graph.nodes[i];
        if (i == m_input || !m_live.count(node.name) || m_absorbed.count(node.name))
            continue;
        status = addNode(i);
    }
    if (status.isOk())
        m_scratchpad.allocate();
    m_graph = nullptr;
    return status;
}

const Tensor& OneDnnFloatExecutor::run(const Tensor& input) {
    Tensor& in = m_values[m_input];
    QAT_ASSERT(input.size() == in.size());
    std::memcpy(in.data(), input.data(), static_cast<size_t>(in.size()) * sizeof(float));
    dnnl::stream& s = cpuStream();
    QAT_ONEDNN_EXECUTE(for (auto& step : m_steps) step->run(s); s.wait());
    return m_values[static_cast<size_t>(m_valueOf[m_output])];
}

std::string OneDnnFloatExecutor::implementationInfo() const {
    std::string text;
    for (const auto& step : m_info) {
        text += step.node;
        for (const auto& f : step.fused)
            text += "+" + f;
        text += ": " + step.implementation + "\n";
    }
    return text;
}

} // namespace

} // namespace onednn

Result<std::unique_ptr<FloatFastExecutor>> FloatFastExecutor::create(const Graph& graph,
                                                                     int64_t batch) {
    auto exec = std::make_unique<onednn::OneDnnFloatExecutor>(batch);
    QAT_RETURN_IF_ERROR(exec->build(graph));
    return std::unique_ptr<FloatFastExecutor>(std::move(exec));
}

} // namespace qat
