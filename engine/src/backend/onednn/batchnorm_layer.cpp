// BatchNorm on oneDNN batch-normalization primitives, normalizing over the last axis of
// [N,H,W,C] or [N,F] (any rank >= 2: statistics over every axis but the last).
//   dst = gamma * (src - mean) / sqrt(var + epsilon) + beta
// Train: mean/var are the batch statistics (biased variance, as oneDNN and PyTorch
// normalize), and the moving statistics are updated as
//   moving = (1 - momentum) * moving + momentum * batch
// with the unbiased batch variance (count/(count-1)), as PyTorch does. Eval: the moving
// statistics are used and nothing is updated. Backward follows the statistics of the
// last forward (batch statistics after Train; constants after Eval).
#include "backend/onednn/layers.h"

namespace qat::onednn {

namespace {

using dnnl::normalization_flags;
using dnnl::prop_kind;

struct BatchNormPlan {
    dnnl::batch_normalization_forward fwdTrain, fwdInfer;
    Args fwdTrainArgs, fwdInferArgs;
    dnnl::batch_normalization_backward bwdBatch, bwdGlobal;
    Args bwdBatchArgs, bwdGlobalArgs;
    memory::desc dataDesc;
    memory src, dst, diffSrc, diffDst;
    memory scale, shift, diffScale, diffShift, movingMean, movingVar;
    memory batchMean, batchVar;  // written by the training forward, read by backward
    memory spareDiffSrc;         // backward's diff_src when the caller needs none
    int64_t countPerChannel = 0; // elements averaged per channel
    SharedScratchpad scratchpad;
    std::string info;
};

class BatchNormLayer final : public OneDnnLayer {
public:
    explicit BatchNormLayer(Node& node) : m_node(node) {
        if (auto it = node.params.find("gamma"); it != node.params.end()) {
            m_gradGamma = Tensor(it->second.shape());
            m_gradBeta = Tensor(it->second.shape());
        }
    }

    Status prepare(const std::vector<Shape>& srcShapes) override;
    void forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) override;
    void backward(const std::vector<const Tensor*>& src, const Tensor& dst, const Tensor& diffDst,
                  const std::vector<Tensor*>& diffSrc) override;
    std::vector<ParamSlot> params() override;
    std::string implementationInfo() const override { return m_plan ? m_plan->info : ""; }

private:
    std::unique_ptr<BatchNormPlan> build(const memory::desc& data, int64_t count) const;
    void updateMovingStatistics(const BatchNormPlan& p);

    Node& m_node;
    Tensor* m_gamma = nullptr;
    Tensor* m_beta = nullptr;
    Tensor* m_movingMean = nullptr;
    Tensor* m_movingVar = nullptr;
    Tensor m_gradGamma, m_gradBeta;
    float m_epsilon = 1e-5f;
    float m_momentum = 0.1f;
    Phase m_lastPhase = Phase::Train;
    PlanCache<BatchNormPlan> m_plans;
    BatchNormPlan* m_plan = nullptr;
};

std::unique_ptr<BatchNormPlan> BatchNormLayer::build(const memory::desc& data,
                                                     int64_t count) const {
    auto& engine = cpuEngine();
    auto plan = std::make_unique<BatchNormPlan>();
    plan->dataDesc = data;
    plan->countPerChannel = count;
    const int64_t c = data.dims()[1];
    const memory::desc channelDesc = plainDesc({c}, Tag::x);
    const dnnl::primitive_attr attr = userScratchpadAttr();
    const auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    const auto globalFlags = flags | normalization_flags::use_global_stats;

    auto none = [&](const memory::desc& d) { return memory(d, engine, DNNL_MEMORY_NONE); };
    plan->src = none(data);
    plan->dst = none(data);
    plan->diffSrc = none(data);
    plan->diffDst = none(data);
    plan->scale = none(channelDesc);
    plan->shift = none(channelDesc);
    plan->diffScale = none(channelDesc);
    plan->diffShift = none(channelDesc);
    plan->movingMean = none(channelDesc);
    plan->movingVar = none(channelDesc);
    plan->batchMean = memory(channelDesc, engine);
    plan->batchVar = memory(channelDesc, engine);

    dnnl::batch_normalization_forward::primitive_desc trainPd(
        {prop_kind::forward_training, data, m_epsilon, flags}, attr, engine);
    plan->fwdTrain = dnnl::batch_normalization_forward(trainPd);
    plan->fwdTrainArgs = {{DNNL_ARG_SRC, plan->src},        {DNNL_ARG_DST, plan->dst},
                          {DNNL_ARG_SCALE, plan->scale},    {DNNL_ARG_SHIFT, plan->shift},
                          {DNNL_ARG_MEAN, plan->batchMean}, {DNNL_ARG_VARIANCE, plan->batchVar}};
    plan->scratchpad.add(trainPd, plan->fwdTrainArgs);

    dnnl::batch_normalization_forward::primitive_desc inferPd(
        {prop_kind::forward_inference, data, m_epsilon, globalFlags}, attr, engine);
    plan->fwdInfer = dnnl::batch_normalization_forward(inferPd);
    plan->fwdInferArgs = {{DNNL_ARG_SRC, plan->src},         {DNNL_ARG_DST, plan->dst},
                          {DNNL_ARG_SCALE, plan->scale},     {DNNL_ARG_SHIFT, plan->shift},
                          {DNNL_ARG_MEAN, plan->movingMean}, {DNNL_ARG_VARIANCE, plan->movingVar}};
    plan->scratchpad.add(inferPd, plan->fwdInferArgs);

    dnnl::batch_normalization_backward::primitive_desc bwdBatchPd(
        {prop_kind::backward, data, data, m_epsilon, flags}, attr, engine, trainPd);
    plan->bwdBatch = dnnl::batch_normalization_backward(bwdBatchPd);
    plan->bwdBatchArgs = {{DNNL_ARG_SRC, plan->src},
                          {DNNL_ARG_MEAN, plan->batchMean},
                          {DNNL_ARG_VARIANCE, plan->batchVar},
                          {DNNL_ARG_DIFF_DST, plan->diffDst},
                          {DNNL_ARG_SCALE, plan->scale},
                          // unused by the math, but oneDNN 2.6 rejects the call without it
                          {DNNL_ARG_SHIFT, plan->shift},
                          {DNNL_ARG_DIFF_SRC, plan->diffSrc},
                          {DNNL_ARG_DIFF_SCALE, plan->diffScale},
                          {DNNL_ARG_DIFF_SHIFT, plan->diffShift}};
    plan->scratchpad.add(bwdBatchPd, plan->bwdBatchArgs);

    // Backward with constant (moving) statistics, for a backward after an Eval forward.
    dnnl::batch_normalization_forward::primitive_desc globalHintPd(
        {prop_kind::forward_training, data, m_epsilon, globalFlags}, attr, engine);
    dnnl::batch_normalization_backward::primitive_desc bwdGlobalPd(
        {prop_kind::backward, data, data, m_epsilon, globalFlags}, attr, engine, globalHintPd);
    plan->bwdGlobal = dnnl::batch_normalization_backward(bwdGlobalPd);
    plan->bwdGlobalArgs = plan->bwdBatchArgs;
    plan->bwdGlobalArgs[DNNL_ARG_MEAN] = plan->movingMean;
    plan->bwdGlobalArgs[DNNL_ARG_VARIANCE] = plan->movingVar;
    plan->scratchpad.add(bwdGlobalPd, plan->bwdGlobalArgs);

    plan->scratchpad.allocate();
    plan->info = implName("fwd", trainPd) + " " + implName("fwd_inference", inferPd) + " " +
                 implName("bwd", bwdBatchPd);
    return plan;
}

Status BatchNormLayer::prepare(const std::vector<Shape>& srcShapes) {
    const std::string where = describe(m_node);
    if (srcShapes.size() != 1)
        return Status::error(where + ": expects 1 input, got " + std::to_string(srcShapes.size()));
    const Shape& in = srcShapes[0];
    if (in.size() < 2)
        return Status::error(where + ": expects an [N,...,C] input of rank >= 2, got " +
                             shapeToString(in));
    const int64_t c = in.back();
    const int64_t count = shapeSize(in) / std::max<int64_t>(c, 1);
    if (c < 1 || count < 1)
        return Status::error(where + ": empty input " + shapeToString(in));
    Tensor** targets[] = {&m_gamma, &m_beta, &m_movingMean, &m_movingVar};
    const char* names[] = {"gamma", "beta", "moving_mean", "moving_var"};
    for (size_t i = 0; i < 4; ++i) {
        auto p = requireParam(m_node, names[i], {c});
        if (!p)
            return p.status();
        *targets[i] = p.value();
    }
    if (m_gradGamma.shape() != Shape{c}) {
        m_gradGamma = Tensor({c});
        m_gradBeta = Tensor({c});
    }
    const double epsilon = m_node.attrs.getFloat("epsilon", 1e-5);
    const double momentum = m_node.attrs.getFloat("momentum", 0.1);
    if (!(epsilon > 0))
        return Status::error(where + ": epsilon must be > 0");
    if (!(momentum >= 0 && momentum <= 1))
        return Status::error(where + ": momentum must be in [0, 1]");
    m_epsilon = static_cast<float>(epsilon);
    m_momentum = static_cast<float>(momentum);
    m_dstShape = in;
    if (BatchNormPlan* cached = m_plans.find(srcShapes)) {
        m_plan = cached;
        return Status::ok();
    }
    // Rank 4 keeps its spatial dims (oneDNN's NHWC kernels); otherwise every axis but the
    // last folds into the batch: [M, C, 1, 1] with M = count.
    const memory::desc data = in.size() == 4 ? activationDesc(in[0], c, in[1], in[2])
                                             : plainDesc({count, c, 1, 1}, Tag::nhwc);
    return guard(where, [&] {
        m_plan = m_plans.insert(srcShapes, build(data, count));
        return Status::ok();
    });
}

void BatchNormLayer::forward(const std::vector<const Tensor*>& src, Tensor& dst, Phase phase) {
    BatchNormPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    m_lastPhase = phase;
    QAT_ONEDNN_EXECUTE({
        p.src.set_data_handle(const_cast<float*>(src[0]->data()));
        p.dst.set_data_handle(dst.data());
        p.scale.set_data_handle(m_gamma->data());
        p.shift.set_data_handle(m_beta->data());
        if (phase == Phase::Eval) {
            p.movingMean.set_data_handle(m_movingMean->data());
            p.movingVar.set_data_handle(m_movingVar->data());
            p.fwdInfer.execute(stream, p.fwdInferArgs);
        } else {
            p.fwdTrain.execute(stream, p.fwdTrainArgs);
        }
    });
    if (phase == Phase::Train)
        updateMovingStatistics(p);
}

void BatchNormLayer::updateMovingStatistics(const BatchNormPlan& p) {
    const float* mean = static_cast<const float*>(p.batchMean.get_data_handle());
    const float* var = static_cast<const float*>(p.batchVar.get_data_handle());
    const int64_t count = p.countPerChannel;
    const float unbias =
        count > 1 ? static_cast<float>(count) / static_cast<float>(count - 1) : 1.0f;
    const float m = m_momentum;
    float* movingMean = m_movingMean->data();
    float* movingVar = m_movingVar->data();
    for (int64_t c = 0; c < m_movingMean->size(); ++c) {
        movingMean[c] = (1.0f - m) * movingMean[c] + m * mean[c];
        movingVar[c] = (1.0f - m) * movingVar[c] + m * var[c] * unbias;
    }
}

void BatchNormLayer::backward(const std::vector<const Tensor*>& src, const Tensor& /*dst*/,
                              const Tensor& diffDst, const std::vector<Tensor*>& diffSrc) {
    BatchNormPlan& p = *m_plan;
    dnnl::stream& stream = cpuStream();
    QAT_ONEDNN_EXECUTE({
        p.src.set_data_handle(const_cast<float*>(src[0]->data()));
        p.diffDst.set_data_handle(const_cast<float*>(diffDst.data()));
        p.scale.set_data_handle(m_gamma->data());
        p.shift.set_data_handle(m_beta->data());
        p.diffScale.set_data_handle(m_gradGamma.data());
        p.diffShift.set_data_handle(m_gradBeta.data());
        if (diffSrc[0] != nullptr) {
            p.diffSrc.set_data_handle(diffSrc[0]->data());
        } else {
            // oneDNN always produces diff_src; give it a buffer once.
            if (!p.spareDiffSrc)
                p.spareDiffSrc = memory(p.dataDesc, cpuEngine());
            p.diffSrc.set_data_handle(p.spareDiffSrc.get_data_handle());
        }
        if (m_lastPhase == Phase::Eval) {
            p.movingMean.set_data_handle(m_movingMean->data());
            p.movingVar.set_data_handle(m_movingVar->data());
            p.bwdGlobal.execute(stream, p.bwdGlobalArgs);
        } else {
            p.bwdBatch.execute(stream, p.bwdBatchArgs);
        }
    });
}

std::vector<ParamSlot> BatchNormLayer::params() {
    std::vector<ParamSlot> out;
    if (auto it = m_node.params.find("gamma"); it != m_node.params.end())
        out.push_back({m_node.name + "/gamma", &it->second, &m_gradGamma, false});
    if (auto it = m_node.params.find("beta"); it != m_node.params.end())
        out.push_back({m_node.name + "/beta", &it->second, &m_gradBeta, false});
    return out;
}

} // namespace

std::unique_ptr<Layer> makeBatchNormLayer(Node& node) {
    if (node.type != OpType::BatchNorm)
        return nullptr;
    return std::make_unique<BatchNormLayer>(node);
}

} // namespace qat::onednn
