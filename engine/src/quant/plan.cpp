// Block analysis (where quantizers sit), presets, plan validation and plan JSON.
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "qat/quant_plan.h"

namespace qat {

using nlohmann::json;

bool isSameScaleOp(OpType type) {
    switch (type) {
    case OpType::MaxPool:
    case OpType::AvgPool:
    case OpType::Reshape:
    case OpType::Flatten:
    case OpType::ZeroPad:
    case OpType::Dropout:
        return true;
    default:
        return false;
    }
}

namespace {

bool isFusableActivation(OpType t) {
    return t == OpType::ReLU || t == OpType::ReLU6;
}

bool isStandaloneActivation(OpType t) {
    switch (t) {
    case OpType::ReLU:
    case OpType::ReLU6:
    case OpType::LeakyReLU:
    case OpType::HardSwish:
    case OpType::Sigmoid:
    case OpType::Tanh:
        return true;
    default:
        return false;
    }
}

// The single consumer of `name` if it has exactly one, and it's not the graph output's
// producer being shared elsewhere.
const Node* soleConsumer(const Graph& g, const std::string& name) {
    auto cons = g.consumers(name);
    if (cons.size() != 1)
        return nullptr;
    return g.find(cons[0]);
}

} // namespace

std::vector<QuantBlock> findQuantBlocks(const Graph& graph) {
    std::vector<QuantBlock> blocks;
    std::vector<bool> fused(graph.nodes.size(), false);
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
        const Node& node = graph.nodes[i];
        if (fused[i])
            continue;
        QuantBlock b;
        b.anchor = node.name;
        b.output = node.name;
        auto tryFuseActivation = [&]() {
            const Node* next = soleConsumer(graph, b.output);
            if (next && isFusableActivation(next->type) && node.name != graph.outputNode().name) {
                b.activation = next->name;
                b.output = next->name;
                fused[static_cast<size_t>(graph.indexOf(next->name))] = true;
            }
        };
        switch (node.type) {
        case OpType::Conv2D:
        case OpType::DepthwiseConv2D:
        case OpType::Dense: {
            b.kind = BlockKind::Weighted;
            b.weightAxis = node.type == OpType::DepthwiseConv2D ? 3 : 0;
            const Node* next = soleConsumer(graph, node.name);
            if (next && next->type == OpType::BatchNorm && node.name != graph.outputNode().name) {
                b.bn = next->name;
                b.output = next->name;
                fused[static_cast<size_t>(graph.indexOf(next->name))] = true;
            }
            if (b.output != graph.outputNode().name)
                tryFuseActivation();
            break;
        }
        case OpType::Add:
            b.kind = BlockKind::Add;
            if (b.output != graph.outputNode().name)
                tryFuseActivation();
            break;
        case OpType::Concat:
            b.kind = BlockKind::Concat;
            break;
        case OpType::GlobalAvgPool:
            b.kind = BlockKind::GlobalAvgPool;
            break;
        case OpType::Softmax:
            b.kind = BlockKind::Softmax;
            break;
        case OpType::BatchNorm:
            b.kind = BlockKind::BatchNorm;
            break;
        default:
            if (!isStandaloneActivation(node.type))
                continue; // Input and same-scale ops hold no quantizer of their own
            b.kind = BlockKind::Activation;
            break;
        }
        blocks.push_back(b);
    }
    return blocks;
}

const LayerQuantConfig* QuantPlan::find(const std::string& layer) const {
    for (const auto& l : layers)
        if (l.layer == layer)
            return &l;
    return nullptr;
}

LayerQuantConfig* QuantPlan::find(const std::string& layer) {
    for (auto& l : layers)
        if (l.layer == layer)
            return &l;
    return nullptr;
}

const std::vector<std::string>& presetNames() {
    static const std::vector<std::string> names = {"int8", "int8-per-tensor", "w4a8", "w4a4",
                                                   "w8a16"};
    return names;
}

namespace {

struct PresetSpec {
    int weightBits;
    int activationBits;
    bool perAxisConv;
    bool symmetricActivations;
};

std::optional<PresetSpec> presetSpec(const std::string& name) {
    if (name == "int8")
        return PresetSpec{8, 8, true, false};
    if (name == "int8-per-tensor")
        return PresetSpec{8, 8, false, false};
    if (name == "w4a8")
        return PresetSpec{4, 8, true, false};
    if (name == "w4a4")
        return PresetSpec{4, 4, true, false};
    if (name == "w8a16")
        return PresetSpec{8, 16, true, true}; // TFLite's int16x8: symmetric int16 activations
    return std::nullopt;
}

QuantizerConfig activationConfig(const PresetSpec& s) {
    QuantizerConfig c;
    c.bits = s.activationBits;
    c.symmetric = s.symmetricActivations;
    c.narrowRange = false;
    c.perAxis = false;
    c.estimator = RangeEstimator::Ema;
    c.emaDecay = 0.999;
    return c;
}

} // namespace

Result<QuantPlan> makePlan(const Graph& graph, const std::string& preset) {
    auto spec = presetSpec(preset);
    if (!spec) {
        std::string names;
        for (const auto& n : presetNames())
            names += (names.empty() ? "" : ", ") + n;
        return Status::error("unknown preset '" + preset + "' (available: " + names + ")");
    }
    QuantPlan plan;
    plan.preset = preset;
    plan.input = activationConfig(*spec);
    for (const auto& b : findQuantBlocks(graph)) {
        LayerQuantConfig l;
        l.layer = b.anchor;
        l.activations = activationConfig(*spec);
        if (b.hasWeights()) {
            const OpType t = graph.find(b.anchor)->type;
            l.weights.bits = spec->weightBits;
            l.weights.symmetric = true;
            l.weights.narrowRange = true;
            l.weights.perAxis = spec->perAxisConv && t != OpType::Dense;
            l.weights.estimator = RangeEstimator::MinMax;
        }
        plan.layers.push_back(l);
    }
    return plan;
}

namespace {

Status checkQuantizer(const std::string& where, const QuantizerConfig& q, int minBits,
                      int maxBits) {
    if (q.bits < minBits || q.bits > maxBits)
        return Status::error(where + ".bits = " + std::to_string(q.bits) + " is out of range " +
                             std::to_string(minBits) + "-" + std::to_string(maxBits));
    if (!(q.emaDecay > 0.0 && q.emaDecay < 1.0))
        return Status::error(where + ".ema_decay must be in (0, 1)");
    if (!(q.percentile >= 50.0 && q.percentile <= 100.0))
        return Status::error(where + ".percentile must be in [50, 100]");
    if (q.narrowRange && !q.symmetric)
        return Status::error(where + ".narrow_range needs symmetric = true");
    return Status::ok();
}

} // namespace

Status validatePlan(const Graph& graph, const QuantPlan& plan) {
    QAT_RETURN_IF_ERROR(checkQuantizer("input", plan.input, 2, 16));
    if (plan.input.perAxis)
        return Status::error("input.per_axis: activations are quantized per tensor");
    const auto blocks = findQuantBlocks(graph);
    for (const auto& l : plan.layers) {
        auto it = std::find_if(blocks.begin(), blocks.end(),
                               [&](const QuantBlock& b) { return b.anchor == l.layer; });
        if (it == blocks.end()) {
            if (!graph.find(l.layer))
                return Status::error("layer '" + l.layer + "': the model has no such layer");
            return Status::error("layer '" + l.layer +
                                 "': not a quantizable layer (it is fused into another block or "
                                 "shares its input's parameters)");
        }
        const std::string where = "layer '" + l.layer + "'";
        QAT_RETURN_IF_ERROR(checkQuantizer(where + " activations", l.activations, 2, 16));
        if (l.activations.perAxis)
            return Status::error(where + " activations.per_axis: activations are quantized per "
                                         "tensor");
        if (it->hasWeights()) {
            QAT_RETURN_IF_ERROR(checkQuantizer(where + " weights", l.weights, 2, 8));
        } else if (l.weights.perAxis) {
            return Status::error(where + " weights.per_axis: a " +
                                 std::string(opTypeName(graph.find(l.layer)->type)) +
                                 " layer has no weights and no output channels to quantize per "
                                 "axis");
        }
    }
    for (const auto& b : blocks)
        if (!plan.find(b.anchor))
            return Status::error("layer '" + b.anchor + "': missing from the plan");
    return Status::ok();
}

namespace {

json quantizerToJson(const QuantizerConfig& q) {
    return json{{"bits", q.bits},
                {"symmetric", q.symmetric},
                {"narrow_range", q.narrowRange},
                {"per_axis", q.perAxis},
                {"estimator", estimatorName(q.estimator)},
                {"ema_decay", q.emaDecay},
                {"percentile", q.percentile}};
}

Status quantizerFromJson(const json& j, QuantizerConfig& q, const std::string& where) {
    if (!j.is_object())
        return Status::error(where + ": expected an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        const json& v = it.value();
        const std::string field = where + "." + key;
        if (key == "bits") {
            if (!v.is_number_integer())
                return Status::error(field + ": expected an integer");
            q.bits = v.get<int>();
        } else if (key == "symmetric" || key == "narrow_range" || key == "per_axis") {
            if (!v.is_boolean())
                return Status::error(field + ": expected true or false");
            (key == "symmetric"      ? q.symmetric
             : key == "narrow_range" ? q.narrowRange
                                     : q.perAxis) = v.get<bool>();
        } else if (key == "estimator") {
            if (!v.is_string())
                return Status::error(field + ": expected a string");
            auto e = estimatorFromName(v.get<std::string>());
            if (!e)
                return e.status().withContext(field);
            q.estimator = e.value();
        } else if (key == "ema_decay" || key == "percentile") {
            if (!v.is_number())
                return Status::error(field + ": expected a number");
            (key == "ema_decay" ? q.emaDecay : q.percentile) = v.get<double>();
        } else {
            return Status::error(field + ": unknown field");
        }
    }
    return Status::ok();
}

} // namespace

std::string planToJson(const QuantPlan& plan) {
    json layers = json::object();
    for (const auto& l : plan.layers)
        layers[l.layer] = json{{"enabled", l.enabled},
                               {"weights", quantizerToJson(l.weights)},
                               {"activations", quantizerToJson(l.activations)}};
    json j{{"format", "qatlab-plan"},
           {"version", QuantPlan::kVersion},
           {"preset", plan.preset},
           {"input", quantizerToJson(plan.input)},
           {"layers", layers}};
    return j.dump(2);
}

Result<QuantPlan> planFromJson(const std::string& text, const Graph& graph,
                               const std::string& sourceName) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return Status::error(sourceName + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object())
        return Status::error(sourceName + ": expected a JSON object");
    if (j.contains("format") && j["format"] != "qatlab-plan")
        return Status::error(sourceName + ": not a QAT Lab plan (format is not 'qatlab-plan')");
    if (!j.contains("version") || !j["version"].is_number_integer())
        return Status::error(sourceName + ": missing integer field 'version'");
    const int version = j["version"].get<int>();
    if (version > QuantPlan::kVersion)
        return Status::error(sourceName + ": plan version " + std::to_string(version) +
                             " is newer than this QAT Lab supports (" +
                             std::to_string(QuantPlan::kVersion) + ")");
    const std::string preset = j.value("preset", std::string("int8"));
    auto plan = makePlan(graph, preset);
    if (!plan)
        return plan.status().withContext(sourceName);
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        if (key == "format" || key == "version" || key == "preset")
            continue;
        if (key == "input") {
            QAT_RETURN_IF_ERROR(
                quantizerFromJson(it.value(), plan->input, "input").withContext(sourceName));
        } else if (key == "layers") {
            if (!it.value().is_object())
                return Status::error(sourceName + ": 'layers' must be an object keyed by layer");
            for (auto lt = it.value().begin(); lt != it.value().end(); ++lt) {
                LayerQuantConfig* l = plan->find(lt.key());
                const std::string where = "layer '" + lt.key() + "'";
                if (!l) {
                    if (!graph.find(lt.key()))
                        return Status::error(sourceName + ": " + where +
                                             ": the model has no such layer");
                    return Status::error(sourceName + ": " + where +
                                         ": not a quantizable layer (fused into another block or "
                                         "sharing its input's parameters)");
                }
                if (!lt.value().is_object())
                    return Status::error(sourceName + ": " + where + ": expected an object");
                for (auto ft = lt.value().begin(); ft != lt.value().end(); ++ft) {
                    if (ft.key() == "enabled") {
                        if (!ft.value().is_boolean())
                            return Status::error(sourceName + ": " + where +
                                                 ".enabled: expected true or false");
                        l->enabled = ft.value().get<bool>();
                    } else if (ft.key() == "weights" || ft.key() == "activations") {
                        QAT_RETURN_IF_ERROR(
                            quantizerFromJson(ft.value(),
                                              ft.key() == "weights" ? l->weights : l->activations,
                                              where + " " + ft.key())
                                .withContext(sourceName));
                    } else {
                        return Status::error(sourceName + ": " + where + "." + ft.key() +
                                             ": unknown field");
                    }
                }
            }
        } else {
            return Status::error(sourceName + ": unknown field '" + key + "'");
        }
    }
    QAT_RETURN_IF_ERROR(validatePlan(graph, plan.value()).withContext(sourceName));
    return plan;
}

Result<QuantPlan> loadPlan(const std::string& path, const Graph& graph) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status::error(path + ": cannot open plan file");
    std::ostringstream ss;
    ss << in.rdbuf();
    return planFromJson(ss.str(), graph, path);
}

Status savePlan(const QuantPlan& plan, const std::string& path) {
    return writeFileAtomically(path, planToJson(plan) + "\n");
}

} // namespace qat

namespace qat {

QuantParams softmaxOutputParams(const QuantizerConfig& config) {
    QuantParams p;
    p.qmin = static_cast<int32_t>(config.qmin());
    p.qmax = static_cast<int32_t>(config.qmax());
    if (config.symmetric) {
        p.zeroPoint = 0;
        p.scale = 1.0f / static_cast<float>(p.qmax + 1);
    } else {
        p.zeroPoint = p.qmin;
        p.scale = 1.0f / static_cast<float>(p.qmax - p.qmin + 1);
    }
    return p;
}

QuantTopology analyzeQuantization(const Graph& graph, const QuantPlan& plan) {
    QuantTopology t;
    const size_t n = graph.nodes.size();
    t.blocks = findQuantBlocks(graph);
    t.paramsOf.assign(n, -1);
    t.applyFq.assign(n, false);
    t.observes.assign(n, false);
    t.blockOf.assign(n, -1);
    t.quantizeWeights.assign(t.blocks.size(), false);

    auto idx = [&](const std::string& name) { return static_cast<size_t>(graph.indexOf(name)); };
    std::vector<int> blockByOutput(n, -1);
    for (size_t b = 0; b < t.blocks.size(); ++b) {
        const QuantBlock& blk = t.blocks[b];
        for (const std::string* name : {&blk.anchor, &blk.bn, &blk.activation})
            if (!name->empty())
                t.blockOf[idx(*name)] = static_cast<int>(b);
        blockByOutput[idx(blk.output)] = static_cast<int>(b);
        const LayerQuantConfig* cfg = plan.find(blk.anchor);
        t.quantizeWeights[b] = blk.hasWeights() && cfg && cfg->enabled;
    }

    // Does any enabled block consume `node` (directly or through same-scale ops)?
    std::function<bool(const std::string&)> feedsQuantized = [&](const std::string& name) {
        for (const auto& c : graph.consumers(name)) {
            const Node* cn = graph.find(c);
            if (isSameScaleOp(cn->type)) {
                if (feedsQuantized(c))
                    return true;
                continue;
            }
            const int b = t.blockOf[idx(c)];
            if (b >= 0) {
                const LayerQuantConfig* cfg = plan.find(t.blocks[static_cast<size_t>(b)].anchor);
                if (cfg && cfg->enabled)
                    return true;
            }
        }
        return false;
    };

    for (size_t i = 0; i < n; ++i) {
        const Node& node = graph.nodes[i];
        if (node.type == OpType::Input) {
            QuantPoint p;
            p.owner = node.name;
            p.config = plan.input;
            t.points.push_back(p);
            t.paramsOf[i] = static_cast<int>(t.points.size() - 1);
            t.applyFq[i] = t.observes[i] = true;
            continue;
        }
        if (isSameScaleOp(node.type)) {
            t.paramsOf[i] = t.paramsOf[idx(node.inputs[0])];
            // Averaging leaves the grid: requantize with the inherited parameters.
            t.applyFq[i] = node.type == OpType::AvgPool && t.paramsOf[i] >= 0;
            continue;
        }
        const int b = blockByOutput[i];
        if (b < 0)
            continue; // inside a block: no quantizer
        const QuantBlock& blk = t.blocks[static_cast<size_t>(b)];
        const LayerQuantConfig* cfg = plan.find(blk.anchor);
        if (!cfg)
            continue;
        if (!cfg->enabled && !feedsQuantized(node.name))
            continue; // float layer feeding float layers: stays float
        QuantPoint p;
        p.owner = node.name;
        p.config = cfg->activations;
        if (blk.kind == BlockKind::Softmax || node.type == OpType::Sigmoid) {
            // TFLite's fixed output grids: [0, 1) over the whole integer range.
            p.fixed = true;
            p.fixedParams = softmaxOutputParams(cfg->activations);
        } else if (node.type == OpType::Tanh) {
            p.fixed = true; // [-1, 1): scale 1/128 at 8 bits, zero point 0
            p.fixedParams.qmin = static_cast<int32_t>(cfg->activations.qmin());
            p.fixedParams.qmax = static_cast<int32_t>(cfg->activations.qmax());
            p.fixedParams.zeroPoint = 0;
            p.fixedParams.scale = 1.0f / static_cast<float>(p.fixedParams.qmax + 1);
        }
        t.points.push_back(p);
        t.paramsOf[i] = static_cast<int>(t.points.size() - 1);
        t.applyFq[i] = true;
        t.observes[i] = !p.fixed;
    }

    // Concat: inputs share the Concat's grid. Producers (through same-scale chains with a
    // single consumer) defer their quantizer to the Concat: fq(concat(a, b)) equals
    // concat(fq(a), fq(b)) for one grid, and the Concat's observer sees the float inputs.
    for (size_t i = 0; i < n; ++i) {
        const Node& node = graph.nodes[i];
        if (node.type != OpType::Concat || t.paramsOf[i] < 0)
            continue;
        const int shared = t.paramsOf[i];
        for (const auto& in : node.inputs) {
            std::vector<size_t> chain;
            size_t k = idx(in);
            while (isSameScaleOp(graph.nodes[k].type) &&
                   graph.consumers(graph.nodes[k].name).size() == 1) {
                chain.push_back(k);
                k = idx(graph.nodes[k].inputs[0]);
            }
            if (graph.consumers(graph.nodes[k].name).size() != 1 ||
                graph.nodes[k].type == OpType::Input || t.paramsOf[k] < 0)
                continue; // shared producer: keeps its own grid (the Concat requantizes)
            t.points[static_cast<size_t>(t.paramsOf[k])].owner.clear();
            t.paramsOf[k] = shared;
            t.applyFq[k] = false;
            t.observes[k] = false;
            for (size_t c : chain) {
                t.paramsOf[c] = shared;
                t.applyFq[c] = false;
            }
        }
    }
    return t;
}

} // namespace qat
