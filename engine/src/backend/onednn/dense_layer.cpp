// Dense (fully connected) on oneDNN inner-product primitives, for float training.
//   src [N,in], weights [units,in] (TFLite FULLY_CONNECTED), bias [units], dst [N,units]
//   dst[n,u] = bias[u] + sum_i src[n,i] * weights[u,i]
// Weights stay plain ("oi"): oneDNN's gemm kernel reads them directly, which measured
// faster than a blocked layout plus the per-step reorder it would need.
#include "backend/onednn/layers.h"

namespace qat::onednn {

namespace {

using dnnl::prop_kind;

struct DensePlan {
    dnnl::inner_product_forward fwd;
    Args fwdArgs;
    LayoutBridge fwdWeights;
    memory src, dst, bias;

    dnnl::inner_product_backward_weights bwdWeights;
    Args bwdWeightsArgs;
    LayoutBridge bwDiffWeights;
    memory bwSrc, bwDiffDst, diffBias;

    dnnl::inner_product_backward_data bwdData;
    Args bwdDataArgs;
    LayoutBridge bdWeights;
    memory bdDiffSrc, bdDiffDst;

    SharedScratchpad scratchpad;
    std::string info;
};

class DenseLayer final : public OneDnnLayer {
public:
    explicit DenseLayer(Node& node)
        : m_node(node), m_params(node, node.attrs.getInt("use_bias", 1) != 0) {}

    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::vector<ParamSlot> params() override { return m_params.slots(); }
    std::string implementationInfo() const override { return m_plan ? m_plan->info : ""; }

private:
    std::unique_ptr<DensePlan> build(int64_t n, int64_t in, int64_t units) const;

    Node& m_node;
    TrainableParams m_params;
    PlanCache<DensePlan> m_plans;
    DensePlan* m_plan = nullptr;
};

std::unique_ptr<DensePlan> DenseLayer::build(int64_t n, int64_t in, int64_t units) const {
    auto& engine = cpuEngine();
    auto plan = std::make_unique<DensePlan>();
    const memory::desc srcDesc = plainDesc({n, in}, Tag::nc);
    const memory::desc dstDesc = plainDesc({n, units}, Tag::nc);
    const memory::desc weightsUser = plainDesc({units, in}, Tag::oi);
    const memory::desc biasDesc = plainDesc({units}, Tag::x);
    const bool hasBias = m_params.hasBias();
    const dnnl::primitive_attr attr = userScratchpadAttr();
    auto weightsAt = [&](int level) { return level == 0 ? weightsUser : anyLayout(weightsUser); };

    auto fwdPd = pickLayouts<dnnl::inner_product_forward::primitive_desc>(2, [&](int level) {
        auto desc = hasBias
                        ? dnnl::inner_product_forward::desc(prop_kind::forward_training, srcDesc,
                                                            weightsAt(level), biasDesc, dstDesc)
                        : dnnl::inner_product_forward::desc(prop_kind::forward_training, srcDesc,
                                                            weightsAt(level), dstDesc);
        return dnnl::inner_product_forward::primitive_desc(desc, attr, engine);
    });
    plan->fwd = dnnl::inner_product_forward(fwdPd);
    plan->src = memory(srcDesc, engine, DNNL_MEMORY_NONE);
    plan->dst = memory(dstDesc, engine, DNNL_MEMORY_NONE);
    plan->fwdWeights.init(weightsUser, fwdPd.weights_desc(), LayoutBridge::Direction::In);
    plan->fwdArgs = {{DNNL_ARG_SRC, plan->src},
                     {DNNL_ARG_WEIGHTS, plan->fwdWeights.arg()},
                     {DNNL_ARG_DST, plan->dst}};
    if (hasBias) {
        plan->bias = memory(biasDesc, engine, DNNL_MEMORY_NONE);
        plan->fwdArgs[DNNL_ARG_BIAS] = plan->bias;
    }
    plan->scratchpad.add(fwdPd, plan->fwdArgs);

    auto bwPd =
        pickLayouts<dnnl::inner_product_backward_weights::primitive_desc>(2, [&](int level) {
            auto desc = hasBias
                            ? dnnl::inner_product_backward_weights::desc(srcDesc, weightsAt(level),
                                                                         biasDesc, dstDesc)
                            : dnnl::inner_product_backward_weights::desc(srcDesc, weightsAt(level),
                                                                         dstDesc);
            return dnnl::inner_product_backward_weights::primitive_desc(desc, attr, engine, fwdPd);
        });
    plan->bwdWeights = dnnl::inner_product_backward_weights(bwPd);
    plan->bwSrc = memory(srcDesc, engine, DNNL_MEMORY_NONE);
    plan->bwDiffDst = memory(dstDesc, engine, DNNL_MEMORY_NONE);
    plan->bwDiffWeights.init(weightsUser, bwPd.diff_weights_desc(), LayoutBridge::Direction::Out);
    plan->bwdWeightsArgs = {{DNNL_ARG_SRC, plan->bwSrc},
                            {DNNL_ARG_DIFF_DST, plan->bwDiffDst},
                            {DNNL_ARG_DIFF_WEIGHTS, plan->bwDiffWeights.arg()}};
    if (hasBias) {
        plan->diffBias = memory(biasDesc, engine, DNNL_MEMORY_NONE);
        plan->bwdWeightsArgs[DNNL_ARG_DIFF_BIAS] = plan->diffBias;
    }
    plan->scratchpad.add(bwPd, plan->bwdWeightsArgs);

    auto bdPd = pickLayouts<dnnl::inner_product_backward_data::primitive_desc>(2, [&](int level) {
        dnnl::inner_product_backward_data::desc desc(srcDesc, weightsAt(level), dstDesc);
        return dnnl::inner_product_backward_data::primitive_desc(desc, attr, engine, fwdPd);
    });
    plan->bwdData = dnnl::inner_product_backward_data(bdPd);
    plan->bdDiffSrc = memory(srcDesc, engine, DNNL_MEMORY_NONE);
    plan->bdDiffDst = memory(dstDesc, engine, DNNL_MEMORY_NONE);
    if (plan->fwdWeights.reorders() && bdPd.weights_desc() == fwdPd.weights_desc())
        plan->bdWeights.initShared(weightsUser, plan->fwdWeights.arg(),
                                   LayoutBridge::Direction::In);
    else
        plan->bdWeights.init(weightsUser, bdPd.weights_desc(), LayoutBridge::Direction::In);
    plan->bwdDataArgs = {{DNNL_ARG_DIFF_SRC, plan->bdDiffSrc},
                         {DNNL_ARG_WEIGHTS, plan->bdWeights.arg()},
                         {DNNL_ARG_DIFF_DST, plan->bdDiffDst}};
    plan->scratchpad.add(bdPd, plan->bwdDataArgs);

    plan->scratchpad.allocate();
    plan->info = implName("fwd", fwdPd) + " " + implName("bwd_weights", bwPd) + " " +
                 implName("bwd_data", bdPd);
    return plan;
}

Status DenseLayer::prepare(const std::vector<Shape>& srcShapes) {
    const std::string where = describe(m_node);
    if (srcShapes.size() != 1)
        return Status::error(where + ": expects 1 input, got " + std::to_string(srcShapes.size()));
    const Shape& in = srcShapes[0];
    if (in.size() != 2)
        return Status::error(where + ": expects an [N,features] input (add a Flatten), got " +
                             shapeToString(in));
    const int64_t units = m_node.attrs.getInt("units", 0);
    if (units < 1)
        return Status::error(where + ": attribute 'units' must be >= 1");
    QAT_RETURN_IF_ERROR(m_params.bind({units, in[1]}, units));
    m_dstShape = {in[0], units};
    if (DensePlan* cached = m_plans.find(srcShapes)) {
        m_plan = cached;
        return Status::ok();
    }
    return guard(where, [&] {
        m_plan = m_plans.insert(srcShapes, build(in[0], in[1], units));
        return Status::ok();
    });
}

void DenseLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase /*phase*/) {
    DensePlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.src.set_data_handle(const_cast<float*>(src[0]->data()));
        p.fwdWeights.bind(m_params.weights->data());
        p.fwdWeights.sync(stream);
        if (m_params.bias)
            p.bias.set_data_handle(m_params.bias->data());
        p.dst.set_data_handle(dst.data());
        p.fwd.execute(stream, p.fwdArgs);
    });
}

void DenseLayer::backward(const std::vector<const Tensor*>& src, const Tensor& /*dst*/,
                          const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    DensePlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    float* diffDstData = const_cast<float*>(diffDst.data());
    QAT_ONEDNN_EXECUTE({
        p.bwSrc.set_data_handle(const_cast<float*>(src[0]->data()));
        p.bwDiffDst.set_data_handle(diffDstData);
        p.bwDiffWeights.bind(m_params.gradWeights.data());
        if (m_params.bias)
            p.diffBias.set_data_handle(m_params.gradBias.data());
        p.bwdWeights.execute(stream, p.bwdWeightsArgs);
        p.bwDiffWeights.sync(stream);
        if (diffSrc[0] != nullptr) {
            p.bdDiffDst.set_data_handle(diffDstData);
            p.bdWeights.bind(m_params.weights->data());
            p.bdWeights.sync(stream);
            p.bdDiffSrc.set_data_handle(diffSrc[0]->data());
            p.bwdData.execute(stream, p.bwdDataArgs);
        }
    });
}

} // namespace

std::unique_ptr<Layer> makeDenseLayer(Node& node) {
    if (node.type != OpType::Dense)
        return nullptr;
    return std::make_unique<DenseLayer>(node);
}

} // namespace qat::onednn
