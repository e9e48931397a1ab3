// PTQ calibration and the folded weights of a weighted block.
#include "qat/quantize.h"

#include <cmath>

#include "ops/layer.h"
#include "qat/network.h"
#include "quant/observer.h"

namespace qat {

Status calibrate(Network& net, const Dataset& data, int64_t batches, int64_t batchSize,
                 const CancelToken* cancel) {
    if (!net.isQuantized())
        return Status::error("calibration needs a quantized network");
    if (batches < 1 || batchSize < 1)
        return Status::error("calibration needs at least one batch of at least one image");
    if (data.size() == 0)
        return Status::error("dataset '" + data.name + "' is empty");
    net.setFakeQuantEnabled(false);
    net.setCalibrating(true);
    std::vector<int64_t> order(static_cast<size_t>(data.size()));
    for (int64_t i = 0; i < data.size(); ++i)
        order[static_cast<size_t>(i)] = i;
    Tensor batch;
    std::vector<int32_t> labels;
    for (int64_t b = 0; b < batches; ++b) {
        if (cancel && cancel->isCancelled())
            break;
        const int64_t begin = (b * batchSize) % data.size();
        const int64_t end = std::min(begin + batchSize, data.size());
        data.gather(order, begin, end, batch, labels);
        net.forward(batch, Phase::Eval);
    }
    net.setCalibrating(false);
    net.setFakeQuantEnabled(true);
    return Status::ok();
}

Result<FoldedWeights> foldedBlockWeights(const Graph& graph, const QuantBlock& block,
                                         const QuantizerConfig& config) {
    const Node* node = graph.find(block.anchor);
    if (!node || !block.hasWeights())
        return Status::error("layer '" + block.anchor + "' has no weights");
    FoldedWeights f;
    f.axis = block.weightAxis;
    f.weights = node->params.at("weights");
    const AxisSplit split = splitAxis(f.weights.shape(), f.axis);
    const int64_t channels = split.channels;
    f.bias.assign(static_cast<size_t>(channels), 0.0f);
    if (auto it = node->params.find("bias"); it != node->params.end())
        for (int64_t c = 0; c < channels; ++c)
            f.bias[static_cast<size_t>(c)] = it->second[c];
    if (!block.bn.empty()) {
        const Node* bn = graph.find(block.bn);
        const Tensor& gamma = bn->params.at("gamma");
        const Tensor& beta = bn->params.at("beta");
        const Tensor& mean = bn->params.at("moving_mean");
        const Tensor& var = bn->params.at("moving_var");
        const double eps = bn->attrs.getFloat("epsilon", 1e-5);
        std::vector<float> s(static_cast<size_t>(channels));
        for (int64_t c = 0; c < channels; ++c) {
            float sc = gamma[c] / static_cast<float>(std::sqrt(static_cast<double>(var[c]) + eps));
            if (std::fabs(sc) < 1e-12f)
                sc = sc < 0 ? -1e-12f : 1e-12f; // as in training's FoldedBnLayer
            s[static_cast<size_t>(c)] = sc;
            f.bias[static_cast<size_t>(c)] =
                sc * (f.bias[static_cast<size_t>(c)] - mean[c]) + beta[c];
        }
        float* w = f.weights.data();
        for (int64_t o = 0; o < split.outer; ++o)
            for (int64_t c = 0; c < channels; ++c)
                for (int64_t i = 0; i < split.inner; ++i)
                    w[(o * channels + c) * split.inner + i] *= s[static_cast<size_t>(c)];
    }
    f.params = weightQuantParams(f.weights, f.axis, config);
    return f;
}

} // namespace qat

namespace qat {

const char* quantModeName(QuantMode mode) {
    return mode == QuantMode::Ptq ? "ptq" : "qat";
}

Result<QuantizeResult> quantizeModel(Graph& graph, const QuantPlan& plan, const Dataset& trainSet,
                                     const Dataset& testSet, const QuantizeConfig& config,
                                     const CancelToken* cancel, const TrainCallbacks& callbacks) {
    QuantizeResult result;
    {
        auto floatNet = Network::create(graph, config.train.seed);
        if (!floatNet)
            return floatNet.status();
        auto eval = evaluate(*floatNet.value(), testSet, 256, config.evalLimit, cancel);
        if (!eval)
            return eval.status();
        result.floatAccuracy = eval->accuracy;
    }
    auto qnet = Network::create(graph, plan, config.qat, config.train.seed);
    if (!qnet)
        return qnet.status();
    Network& net = *qnet.value();
    QAT_RETURN_IF_ERROR(
        calibrate(net, trainSet, config.calibrationBatches, config.calibrationBatchSize, cancel));
    if (cancel && cancel->isCancelled()) {
        result.cancelled = true;
        return result;
    }
    if (config.mode == QuantMode::Qat) {
        auto trained = train(net, trainSet, testSet, config.train, cancel, callbacks);
        if (!trained)
            return trained.status();
        result.training = trained.value();
        if (trained->cancelled) {
            result.cancelled = true;
            result.state = net.quantState();
            return result;
        }
    }
    auto eval = evaluate(net, testSet, 256, config.evalLimit, cancel);
    if (!eval)
        return eval.status();
    result.fakeQuantAccuracy = eval->accuracy;
    result.state = net.quantState();
    result.cancelled = cancel && cancel->isCancelled();
    return result;
}

} // namespace qat

#include <nlohmann/json.hpp>

#include "qat/model_io.h"

namespace qat {

Status saveQuantizedModel(const Graph& graph, const QuantPlan& plan, const QuantState& state,
                          const std::string& path) {
    nlohmann::json ranges = nlohmann::json::array();
    for (const auto& r : state.ranges)
        ranges.push_back(
            {{"owner", r.owner}, {"lo", r.lo}, {"hi", r.hi}, {"initialized", r.initialized}});
    const nlohmann::json meta{
        {"quantization",
         {{"plan", nlohmann::json::parse(planToJson(plan))}, {"ranges", std::move(ranges)}}}};
    return saveModel(graph, path, meta.dump());
}

Result<QuantizedModelFile> loadQuantizedModel(const std::string& path) {
    auto file = loadModelFile(path);
    if (!file)
        return file.status();
    QuantizedModelFile out;
    out.graph = std::move(file->graph);
    if (file->metadata.empty())
        return out;
    const auto meta = nlohmann::json::parse(file->metadata, nullptr, false);
    if (meta.is_discarded() || !meta.contains("quantization"))
        return out;
    const auto& q = meta["quantization"];
    if (!q.is_object() || !q.contains("plan") || !q.contains("ranges") || !q["ranges"].is_array())
        return Status::error(path +
                             ": quantization metadata is incomplete (needs plan and ranges)");
    auto plan = planFromJson(q["plan"].dump(), out.graph, path + " (plan)");
    if (!plan)
        return plan.status();
    out.plan = std::move(plan).value();
    for (const auto& r : q["ranges"]) {
        if (!r.is_object() || !r.contains("owner") || !r["owner"].is_string() ||
            !r.contains("lo") || !r["lo"].is_number() || !r.contains("hi") || !r["hi"].is_number())
            return Status::error(path + ": a quantization range entry is malformed");
        ObservedRange o;
        o.owner = r["owner"].get<std::string>();
        o.lo = r["lo"].get<float>();
        o.hi = r["hi"].get<float>();
        o.initialized = r.value("initialized", true);
        out.state.ranges.push_back(o);
    }
    out.quantized = true;
    return out;
}

} // namespace qat
