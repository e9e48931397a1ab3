// MaxPool, AvgPool and GlobalAvgPool on oneDNN pooling primitives, NHWC in and out.
//   MaxPool  dst[n,y,x,c] = max over the window of src (padding never wins)
//   AvgPool  dst[n,y,x,c] = mean over the window's in-bounds elements: "same" padding is
//            excluded from the count, as TFLite does
//   GlobalAvgPool [N,H,W,C] -> [N,C], the mean over H and W
// MaxPool keeps oneDNN's workspace (argmax) from the training forward for backward;
// evaluation runs an inference primitive that writes none.
#include "backend/onednn/layers.h"

namespace qat::onednn {

namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

struct PoolPlan {
    dnnl::pooling_forward fwdTrain;
    dnnl::pooling_forward fwdInfer; // MaxPool only
    Args fwdTrainArgs, fwdInferArgs;
    dnnl::pooling_backward bwd;
    Args bwdArgs;
    memory src, dst, diffSrc, diffDst, workspace;
    SharedScratchpad scratchpad;
    std::string info;
};

class PoolLayer final : public OneDnnLayer {
public:
    explicit PoolLayer(Node& node) : m_node(node) {}

    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::string implementationInfo() const override { return m_plan ? m_plan->info : ""; }

private:
    std::unique_ptr<PoolPlan> build(const Shape& in, const ConvGeometry& g) const;

    Node& m_node;
    PlanCache<PoolPlan> m_plans;
    PoolPlan* m_plan = nullptr;
};

std::unique_ptr<PoolPlan> PoolLayer::build(const Shape& in, const ConvGeometry& g) const {
    auto& engine = cpuEngine();
    auto plan = std::make_unique<PoolPlan>();
    const bool isMax = m_node.type == OpType::MaxPool;
    const algorithm alg = isMax ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
    const int64_t n = in[0], c = in[3];
    const memory::desc srcDesc = activationDesc(n, c, g.inH, g.inW);
    const memory::desc dstDesc = activationDesc(n, c, g.outH, g.outW);
    const memory::dims strides{g.sh, g.sw}, kernel{g.kh, g.kw};
    const memory::dims padL{g.padTop, g.padLeft}, padR{g.padBottom, g.padRight};
    const dnnl::primitive_attr attr = userScratchpadAttr();

    dnnl::pooling_forward::desc trainDesc(prop_kind::forward_training, alg, srcDesc, dstDesc,
                                          strides, kernel, padL, padR);
    dnnl::pooling_forward::primitive_desc trainPd(trainDesc, attr, engine);
    plan->fwdTrain = dnnl::pooling_forward(trainPd);
    plan->src = memory(srcDesc, engine, DNNL_MEMORY_NONE);
    plan->dst = memory(dstDesc, engine, DNNL_MEMORY_NONE);
    plan->fwdTrainArgs = {{DNNL_ARG_SRC, plan->src}, {DNNL_ARG_DST, plan->dst}};
    if (isMax) {
        plan->workspace = memory(trainPd.workspace_desc(), engine);
        plan->fwdTrainArgs[DNNL_ARG_WORKSPACE] = plan->workspace;
        dnnl::pooling_forward::desc inferDesc(prop_kind::forward_inference, alg, srcDesc, dstDesc,
                                              strides, kernel, padL, padR);
        dnnl::pooling_forward::primitive_desc inferPd(inferDesc, attr, engine);
        plan->fwdInfer = dnnl::pooling_forward(inferPd);
        plan->fwdInferArgs = {{DNNL_ARG_SRC, plan->src}, {DNNL_ARG_DST, plan->dst}};
        plan->scratchpad.add(inferPd, plan->fwdInferArgs);
    }
    plan->scratchpad.add(trainPd, plan->fwdTrainArgs);

    dnnl::pooling_backward::desc bwdDesc(alg, srcDesc, dstDesc, strides, kernel, padL, padR);
    dnnl::pooling_backward::primitive_desc bwdPd(bwdDesc, attr, engine, trainPd);
    plan->bwd = dnnl::pooling_backward(bwdPd);
    plan->diffSrc = memory(srcDesc, engine, DNNL_MEMORY_NONE);
    plan->diffDst = memory(dstDesc, engine, DNNL_MEMORY_NONE);
    plan->bwdArgs = {{DNNL_ARG_DIFF_SRC, plan->diffSrc}, {DNNL_ARG_DIFF_DST, plan->diffDst}};
    if (isMax)
        plan->bwdArgs[DNNL_ARG_WORKSPACE] = plan->workspace;
    plan->scratchpad.add(bwdPd, plan->bwdArgs);
    plan->scratchpad.allocate();
    plan->info = implName("fwd", trainPd) + " " + implName("bwd", bwdPd);
    return plan;
}

Status PoolLayer::prepare(const std::vector<Shape>& srcShapes) {
    const std::string where = describe(m_node);
    if (srcShapes.size() != 1)
        return Status::error(where + ": expects 1 input, got " + std::to_string(srcShapes.size()));
    const Shape& in = srcShapes[0];
    if (in.size() != 4)
        return Status::error(where + ": expects an [N,H,W,C] input, got " + shapeToString(in));
    ConvGeometry g;
    if (m_node.type == OpType::GlobalAvgPool) {
        g.kh = g.inH = in[1];
        g.kw = g.inW = in[2];
        g.outH = g.outW = 1;
        m_dstShape = {in[0], in[3]};
    } else {
        auto geometry = resolveGeometry(m_node, {in[1], in[2], in[3]});
        if (!geometry)
            return geometry.status();
        g = geometry.value();
        if (g.dh != 1 || g.dw != 1)
            return Status::error(where + ": pooling does not support dilations");
        m_dstShape = {in[0], g.outH, g.outW, in[3]};
    }
    if (PoolPlan* cached = m_plans.find(srcShapes)) {
        m_plan = cached;
        return Status::ok();
    }
    return guard(where, [&] {
        m_plan = m_plans.insert(srcShapes, build(in, g));
        return Status::ok();
    });
}

void PoolLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) {
    PoolPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.src.set_data_handle(const_cast<float*>(src[0]->data()));
        p.dst.set_data_handle(dst.data());
        if (phase == Phase::Eval && p.fwdInfer)
            p.fwdInfer.execute(stream, p.fwdInferArgs);
        else
            p.fwdTrain.execute(stream, p.fwdTrainArgs);
    });
}

void PoolLayer::backward(const std::vector<const Tensor*>& /*src*/, const Tensor& /*dst*/,
                         const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    if (diffSrc[0] == nullptr)
        return; // nothing upstream needs a gradient and pooling has no parameters
    PoolPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.diffDst.set_data_handle(const_cast<float*>(diffDst.data()));
        p.diffSrc.set_data_handle(diffSrc[0]->data());
        p.bwd.execute(stream, p.bwdArgs);
    });
}

} // namespace

std::unique_ptr<Layer> makePoolLayer(Node& node) {
    if (node.type != OpType::MaxPool && node.type != OpType::AvgPool &&
        node.type != OpType::GlobalAvgPool)
        return nullptr;
    return std::make_unique<PoolLayer>(node);
}

} // namespace qat::onednn
