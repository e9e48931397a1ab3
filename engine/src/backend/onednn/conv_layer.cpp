// Conv2D and DepthwiseConv2D on oneDNN convolution primitives (forward, backward data,
// backward weights), for float training.
//   src  [N,H,W,C] NHWC,  dst [N,OH,OW,Cout] NHWC
//   Conv2D weights    [Cout,kh,kw,C/groups] (OHWI); oneDNN logical {G,Cout/G,C/G,kh,kw}
//   Depthwise weights [1,kh,kw,C*mult]; a grouped conv with G=C, Cout/G=mult, C/G=1, so
//                     output channel c*mult+m reads input channel c (TFLite semantics)
//   dst[n,y,x,o] = bias[o] + sum_{i,j,ci in group(o)}
//                  src[n, y*sh - padTop + i*dh, x*sw - padLeft + j*dw, ci] * w[o,i,j,ci]
// Activations stay NHWC; oneDNN picks the weights layout (reordered each step, they are
// small). Where NHWC has only a reference kernel (Cin=1 first layers), the primitive
// gets a blocked dst and reorders bridge it (see LayoutBridge).
#include "backend/onednn/layers.h"

namespace qat::onednn {

namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

struct ConvPlan {
    dnnl::convolution_forward fwd;
    Args fwdArgs;
    LayoutBridge fwdSrc, fwdWeights, fwdDst;
    memory bias;

    dnnl::convolution_backward_weights bwdWeights;
    Args bwdWeightsArgs;
    LayoutBridge bwSrc, bwDiffDst, bwDiffWeights;
    memory diffBias;

    dnnl::convolution_backward_data bwdData;
    Args bwdDataArgs;
    LayoutBridge bdDiffSrc, bdWeights, bdDiffDst;

    SharedScratchpad scratchpad;
    std::string info;
};

// Everything a plan needs, resolved and validated from the node and the input shape.
struct ConvSpec {
    int64_t n = 0;
    ConvChannels c;
    bool hasBias = true;
    ConvGeometry g;
};

class ConvLayer final : public OneDnnLayer {
public:
    explicit ConvLayer(Node& node)
        : m_node(node), m_params(node, node.attrs.getInt("use_bias", 1) != 0) {}

    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::vector<ParamSlot> params() override { return m_params.slots(); }
    std::string implementationInfo() const override { return m_plan ? m_plan->info : ""; }

private:
    Result<ConvSpec> resolve(const std::vector<Shape>& srcShapes) const;
    static std::unique_ptr<ConvPlan> build(const ConvSpec& spec);

    Node& m_node;
    TrainableParams m_params;
    PlanCache<ConvPlan> m_plans;
    ConvPlan* m_plan = nullptr;
};

Result<ConvSpec> ConvLayer::resolve(const std::vector<Shape>& srcShapes) const {
    const std::string where = describe(m_node);
    if (srcShapes.size() != 1)
        return Status::error(where + ": expects 1 input, got " + std::to_string(srcShapes.size()));
    const Shape& in = srcShapes[0];
    if (in.size() != 4)
        return Status::error(where + ": expects an [N,H,W,C] input, got " + shapeToString(in));
    auto geometry = resolveGeometry(m_node, {in[1], in[2], in[3]});
    if (!geometry)
        return geometry.status();
    auto channels = resolveConvChannels(m_node, in[3]);
    if (!channels)
        return channels.status();
    ConvSpec spec;
    spec.n = in[0];
    spec.c = channels.value();
    spec.g = geometry.value();
    spec.hasBias = m_params.hasBias();
    return spec;
}

std::unique_ptr<ConvPlan> ConvLayer::build(const ConvSpec& spec) {
    const ConvGeometry& g = spec.g;
    auto& engine = cpuEngine();
    auto plan = std::make_unique<ConvPlan>();
    const memory::dims strides{g.sh, g.sw};
    const memory::dims dilates{g.dh - 1, g.dw - 1}; // oneDNN counts dilation from 0
    const memory::dims padL{g.padTop, g.padLeft};
    const memory::dims padR{g.padBottom, g.padRight};

    const ConvChannels& c = spec.c;
    const memory::desc srcUser = activationDesc(spec.n, c.inC, g.inH, g.inW);
    const memory::desc dstUser = activationDesc(spec.n, c.outC, g.outH, g.outW);
    const memory::desc weightsUser = convWeightsUserDesc(c, g.kh, g.kw);
    const memory::desc weightsAny = anyLayout(weightsUser);
    const memory::desc biasDesc = plainDesc({c.outC}, Tag::x);
    const dnnl::primitive_attr attr = userScratchpadAttr();

    // Forward: level 0 plain NHWC, 1 dst left to oneDNN, 2 src and dst left to oneDNN.
    auto fwdPd = pickLayouts<dnnl::convolution_forward::primitive_desc>(3, [&](int level) {
        const memory::desc s = level >= 2 ? anyLayout(srcUser) : srcUser;
        const memory::desc d = level >= 1 ? anyLayout(dstUser) : dstUser;
        auto desc =
            spec.hasBias
                ? dnnl::convolution_forward::desc(prop_kind::forward_training,
                                                  algorithm::convolution_direct, s, weightsAny,
                                                  biasDesc, d, strides, dilates, padL, padR)
                : dnnl::convolution_forward::desc(prop_kind::forward_training,
                                                  algorithm::convolution_direct, s, weightsAny, d,
                                                  strides, dilates, padL, padR);
        return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
    });
    plan->fwd = dnnl::convolution_forward(fwdPd);
    plan->fwdSrc.init(srcUser, fwdPd.src_desc(), LayoutBridge::Direction::In);
    plan->fwdWeights.init(weightsUser, fwdPd.weights_desc(), LayoutBridge::Direction::In);
    plan->fwdDst.init(dstUser, fwdPd.dst_desc(), LayoutBridge::Direction::Out);
    plan->fwdArgs = {{DNNL_ARG_SRC, plan->fwdSrc.arg()},
                     {DNNL_ARG_WEIGHTS, plan->fwdWeights.arg()},
                     {DNNL_ARG_DST, plan->fwdDst.arg()}};
    if (spec.hasBias) {
        plan->bias = memory(biasDesc, engine, DNNL_MEMORY_NONE);
        plan->fwdArgs[DNNL_ARG_BIAS] = plan->bias;
    }
    plan->scratchpad.add(fwdPd, plan->fwdArgs);

    // Backward weights: level 0 plain, 1 diff_dst left to oneDNN, 2 both.
    auto bwPd = pickLayouts<dnnl::convolution_backward_weights::primitive_desc>(3, [&](int level) {
        const memory::desc s = level >= 2 ? anyLayout(srcUser) : srcUser;
        const memory::desc d = level >= 1 ? anyLayout(dstUser) : dstUser;
        auto desc = spec.hasBias
                        ? dnnl::convolution_backward_weights::desc(algorithm::convolution_direct, s,
                                                                   weightsAny, biasDesc, d, strides,
                                                                   dilates, padL, padR)
                        : dnnl::convolution_backward_weights::desc(algorithm::convolution_direct, s,
                                                                   weightsAny, d, strides, dilates,
                                                                   padL, padR);
        return dnnl::convolution_backward_weights::primitive_desc(desc, attr, engine, fwdPd);
    });
    plan->bwdWeights = dnnl::convolution_backward_weights(bwPd);
    if (plan->fwdSrc.reorders() && bwPd.src_desc() == fwdPd.src_desc())
        plan->bwSrc.initShared(srcUser, plan->fwdSrc.arg(), LayoutBridge::Direction::In);
    else
        plan->bwSrc.init(srcUser, bwPd.src_desc(), LayoutBridge::Direction::In);
    plan->bwDiffDst.init(dstUser, bwPd.diff_dst_desc(), LayoutBridge::Direction::In);
    plan->bwDiffWeights.init(weightsUser, bwPd.diff_weights_desc(), LayoutBridge::Direction::Out);
    plan->bwdWeightsArgs = {{DNNL_ARG_SRC, plan->bwSrc.arg()},
                            {DNNL_ARG_DIFF_DST, plan->bwDiffDst.arg()},
                            {DNNL_ARG_DIFF_WEIGHTS, plan->bwDiffWeights.arg()}};
    if (spec.hasBias) {
        plan->diffBias = memory(biasDesc, engine, DNNL_MEMORY_NONE);
        plan->bwdWeightsArgs[DNNL_ARG_DIFF_BIAS] = plan->diffBias;
    }
    plan->scratchpad.add(bwPd, plan->bwdWeightsArgs);

    // Backward data: level 0 plain, 1 diff_dst left to oneDNN, 2 both.
    auto bdPd = pickLayouts<dnnl::convolution_backward_data::primitive_desc>(3, [&](int level) {
        const memory::desc s = level >= 2 ? anyLayout(srcUser) : srcUser;
        const memory::desc d = level >= 1 ? anyLayout(dstUser) : dstUser;
        dnnl::convolution_backward_data::desc desc(algorithm::convolution_direct, s, weightsAny, d,
                                                   strides, dilates, padL, padR);
        return dnnl::convolution_backward_data::primitive_desc(desc, attr, engine, fwdPd);
    });
    plan->bwdData = dnnl::convolution_backward_data(bdPd);
    plan->bdDiffSrc.init(srcUser, bdPd.diff_src_desc(), LayoutBridge::Direction::Out);
    // Backward data runs after backward weights and forward of the same step, so it can
    // reuse their reordered copies of diff_dst and weights when the layouts agree.
    if (plan->bwDiffDst.reorders() && bdPd.diff_dst_desc() == bwPd.diff_dst_desc())
        plan->bdDiffDst.initShared(dstUser, plan->bwDiffDst.arg(), LayoutBridge::Direction::In);
    else
        plan->bdDiffDst.init(dstUser, bdPd.diff_dst_desc(), LayoutBridge::Direction::In);
    if (plan->fwdWeights.reorders() && bdPd.weights_desc() == fwdPd.weights_desc())
        plan->bdWeights.initShared(weightsUser, plan->fwdWeights.arg(),
                                   LayoutBridge::Direction::In);
    else
        plan->bdWeights.init(weightsUser, bdPd.weights_desc(), LayoutBridge::Direction::In);
    plan->bwdDataArgs = {{DNNL_ARG_DIFF_SRC, plan->bdDiffSrc.arg()},
                         {DNNL_ARG_WEIGHTS, plan->bdWeights.arg()},
                         {DNNL_ARG_DIFF_DST, plan->bdDiffDst.arg()}};
    plan->scratchpad.add(bdPd, plan->bwdDataArgs);

    plan->scratchpad.allocate();
    plan->info =
        implName("fwd", fwdPd, plan->fwdSrc.reorders() || plan->fwdDst.reorders()) + " " +
        implName("bwd_weights", bwPd, plan->bwSrc.reorders() || plan->bwDiffDst.reorders()) + " " +
        implName("bwd_data", bdPd, plan->bdDiffSrc.reorders() || plan->bdDiffDst.reorders());
    return plan;
}

Status ConvLayer::prepare(const std::vector<Shape>& srcShapes) {
    auto spec = resolve(srcShapes);
    if (!spec)
        return spec.status();
    const ConvSpec& s = spec.value();
    QAT_RETURN_IF_ERROR(m_params.bind(convWeightsShape(s.c, s.g.kh, s.g.kw), s.c.outC));
    m_dstShape = {s.n, s.g.outH, s.g.outW, s.c.outC};
    if (ConvPlan* cached = m_plans.find(srcShapes)) {
        m_plan = cached;
        return Status::ok();
    }
    return guard(describe(m_node), [&] {
        m_plan = m_plans.insert(srcShapes, build(s));
        return Status::ok();
    });
}

void ConvLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) {
    ConvPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.fwdSrc.bind(src[0]->data());
        p.fwdSrc.sync(stream);
        p.fwdWeights.bind(m_params.weights->data());
        p.fwdWeights.sync(stream);
        if (m_params.bias)
            p.bias.set_data_handle(m_params.bias->data());
        p.fwdDst.bind(dst.data());
        p.fwd.execute(stream, p.fwdArgs);
        p.fwdDst.sync(stream);
    });
}

void ConvLayer::backward(const std::vector<const Tensor*>& src, const Tensor& /*dst*/,
                         const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    ConvPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.bwSrc.bind(src[0]->data());
        p.bwSrc.sync(stream);
        p.bwDiffDst.bind(diffDst.data());
        p.bwDiffDst.sync(stream);
        p.bwDiffWeights.bind(m_params.gradWeights.data());
        if (m_params.bias)
            p.diffBias.set_data_handle(m_params.gradBias.data());
        p.bwdWeights.execute(stream, p.bwdWeightsArgs);
        p.bwDiffWeights.sync(stream);
        // The first layer of a network gets no diffSrc: skipping backward data there
        // saves a full convolution's worth of work.
        if (diffSrc[0] != nullptr) {
            p.bdDiffDst.bind(diffDst.data());
            p.bdDiffDst.sync(stream);
            p.bdWeights.bind(m_params.weights->data());
            p.bdWeights.sync(stream);
            p.bdDiffSrc.bind(diffSrc[0]->data());
            p.bwdData.execute(stream, p.bwdDataArgs);
            p.bdDiffSrc.sync(stream);
        }
    });
}

} // namespace

std::unique_ptr<Layer> makeConvLayer(Node& node) {
    if (node.type != OpType::Conv2D && node.type != OpType::DepthwiseConv2D)
        return nullptr;
    return std::make_unique<ConvLayer>(node);
}

} // namespace qat::onednn
