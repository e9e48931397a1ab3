// Layer inspection (inspect.h): histograms, grids, SQNR, requantization multipliers, the
// worked integer example and single-layer sensitivity. Everything here reads the float
// graph, the plan and the observed ranges the same way the fake-quant network and the
// integer converter do, so the figures shown are the ones that deploy.
#include "qat/inspect.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ops/layer.h"
#include "qat/network.h"

namespace qat {

// ---------------------------------------------------------------- histograms and grids

int64_t Histogram::total() const {
    int64_t t = 0;
    for (int64_t c : counts)
        t += c;
    return t;
}

double Histogram::binWidth() const {
    return counts.empty() ? 0.0 : (hi - lo) / static_cast<double>(counts.size());
}

int64_t Histogram::maxCount() const {
    return counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
}

Histogram makeHistogram(const float* values, int64_t n, int bins, double extraLo, double extraHi) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (int64_t i = 0; i < n; ++i) {
        const double v = values[i];
        if (!std::isfinite(v))
            continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    if (std::isfinite(extraLo))
        lo = std::min(lo, extraLo);
    if (std::isfinite(extraHi))
        hi = std::max(hi, extraHi);
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi - lo <= 0.0) { // constant data: a unit-wide window around it
        const double pad = std::max(0.5, std::fabs(lo) * 0.05);
        lo -= pad;
        hi += pad;
    }
    if (bins <= 0)
        bins = static_cast<int>(
            std::clamp<double>(std::round(std::sqrt(static_cast<double>(n))), 16.0, 128.0));
    Histogram h;
    h.lo = lo;
    h.hi = hi;
    h.counts.assign(static_cast<size_t>(bins), 0);
    const double scale = static_cast<double>(bins) / (hi - lo);
    for (int64_t i = 0; i < n; ++i) {
        const double v = values[i];
        if (!std::isfinite(v))
            continue;
        const auto b = static_cast<int64_t>(std::floor((v - lo) * scale));
        ++h.counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))];
    }
    return h;
}

std::vector<double> gridLevels(const QuantParams& grid) {
    std::vector<double> levels;
    levels.reserve(static_cast<size_t>(gridLevelCount(grid)));
    for (int64_t q = grid.qmin; q <= grid.qmax; ++q)
        levels.push_back(static_cast<double>(grid.scale) * static_cast<double>(q - grid.zeroPoint));
    return levels;
}

GridUsage gridUsage(const float* values, int64_t n, const QuantParams& grid) {
    GridUsage u;
    u.codeCounts.assign(static_cast<size_t>(gridLevelCount(grid)), 0);
    for (int64_t i = 0; i < n; ++i) {
        // The unclamped code, with quantizeValue's float arithmetic.
        const float q = roundHalfAway(values[i] / grid.scale) + static_cast<float>(grid.zeroPoint);
        if (q < static_cast<float>(grid.qmin) || q > static_cast<float>(grid.qmax))
            ++u.clipped;
        ++u.codeCounts[static_cast<size_t>(quantizeValue(values[i], grid) - grid.qmin)];
    }
    for (int64_t c : u.codeCounts)
        u.levelsUsed += c > 0;
    u.fractionClipped = n > 0 ? static_cast<double>(u.clipped) / static_cast<double>(n) : 0.0;
    return u;
}

namespace {

// SQNR accumulated over several spans (signal and noise energies).
struct SqnrAccumulator {
    double signal = 0.0, noise = 0.0;
    void add(double ref, double approx) {
        signal += ref * ref;
        noise += (ref - approx) * (ref - approx);
    }
    double db() const {
        if (noise == 0.0)
            return std::numeric_limits<double>::infinity();
        if (signal == 0.0)
            return -std::numeric_limits<double>::infinity();
        return 10.0 * std::log10(signal / noise);
    }
};

std::string num(double v, int precision = 6) {
    if (std::isnan(v))
        return "n/a";
    if (std::isinf(v))
        return v > 0 ? "∞" : "−∞";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    std::string s(buf);
    // A typographic minus reads better in the teaching view.
    if (!s.empty() && s[0] == '-')
        s = "−" + s.substr(1);
    return s;
}

std::string inum(int64_t v) {
    std::string s = std::to_string(v < 0 ? -v : v);
    return v < 0 ? "−" + s : s;
}

// An integer in parentheses when negative, for use inside a formula: "3 · (−4)".
std::string pnum(int64_t v) {
    return v < 0 ? "(" + inum(v) + ")" : inum(v);
}

const char* roundingName(Rounding r) {
    return r == Rounding::Single ? "single rounding (LiteRT/XNNPACK)"
                                 : "double rounding (TFLite reference kernels)";
}

// The grid of a quantization point from the plan's topology and the observed ranges, as
// the integer converter chooses it. False when the point has no observed range.
bool pointGrid(const QuantTopology& topo, const QuantState& state, int point, QuantParams& grid) {
    if (point < 0)
        return false;
    const QuantPoint& p = topo.points[static_cast<size_t>(point)];
    if (p.fixed) {
        grid = p.fixedParams;
        return true;
    }
    for (const auto& r : state.ranges)
        if (r.owner == p.owner && r.initialized) {
            grid = chooseQuantParams(r.lo, r.hi, p.config);
            return true;
        }
    return false;
}

std::string describeBlock(const Graph& graph, const QuantBlock& b) {
    std::string s = opTypeName(graph.find(b.anchor)->type);
    if (!b.bn.empty())
        s += " + BatchNorm";
    if (!b.activation.empty())
        s += std::string(" + ") + opTypeName(graph.find(b.activation)->type);
    return s;
}

bool isIntegerWeighted(IntOpKind k) {
    return k == IntOpKind::Conv2D || k == IntOpKind::DepthwiseConv2D ||
           k == IntOpKind::FullyConnected;
}

} // namespace

// ---------------------------------------------------------------- ModelInspector

Result<std::unique_ptr<ModelInspector>> ModelInspector::create(QuantizedModelFile model,
                                                               const Tensor& images,
                                                               Rounding rounding,
                                                               const CancelToken* cancel) {
    std::unique_ptr<ModelInspector> ins(new ModelInspector());
    ins->m_model = std::move(model);
    ins->m_rounding = rounding;
    Graph& graph = ins->m_model.graph;
    if (!graph.isFinalized())
        QAT_RETURN_IF_ERROR(graph.finalize());
    if (!graph.hasAllParams())
        return Status::error("the model has layers without parameters; train or load a model "
                             "file with weights before inspecting it");
    if (images.rank() < 1 || images.dim(0) < 1 ||
        images.shape() != withBatch(images.dim(0), graph.inputShape()))
        return Status::error("inspection images have shape " + shapeToString(images.shape()) +
                             " but the model expects [N]+" + shapeToString(graph.inputShape()));
    ins->m_images = images.dim(0);
    ins->m_blocks = findQuantBlocks(graph);
    auto cancelled = [&] { return cancel && cancel->isCancelled(); };

    {
        auto net = Network::create(graph);
        if (!net)
            return net.status();
        net.value()->forward(images, Phase::Eval);
        for (const auto& b : ins->m_blocks)
            ins->m_float.push_back(net.value()->activation(b.output));
    }
    if (cancelled())
        return Status::error("cancelled");
    if (!ins->m_model.quantized)
        return ins;

    const QuantPlan& plan = ins->m_model.plan;
    QAT_RETURN_IF_ERROR(validatePlan(graph, plan));
    ins->m_topo = analyzeQuantization(graph, plan);
    {
        auto net = Network::create(graph, plan, QatOptions{});
        if (!net)
            return net.status();
        QAT_RETURN_IF_ERROR(net.value()->setQuantState(ins->m_model.state));
        net.value()->forward(images, Phase::Eval);
        for (const auto& b : ins->m_blocks)
            ins->m_fqPre.push_back(net.value()->preQuantActivation(b.output));
    }
    if (cancelled())
        return Status::error("cancelled");

    auto converted = convertToIntModel(graph, plan, ins->m_model.state);
    if (!converted) {
        ins->m_intError = converted.message();
        return ins;
    }
    ins->m_int = std::move(converted).value();
    ins->m_hasInt = true;
    IntReferenceExecutor exec(ins->m_int, rounding);
    const int64_t sampleSize = shapeSize(graph.inputShape());
    Tensor one(withBatch(1, graph.inputShape()));
    for (int64_t s = 0; s < ins->m_images; ++s) {
        if (cancelled())
            return Status::error("cancelled");
        std::copy(images.data() + s * sampleSize, images.data() + (s + 1) * sampleSize, one.data());
        exec.run(one);
        ins->m_intTensors.push_back(exec.lastIntTensors());
    }
    return ins;
}

std::vector<std::string> ModelInspector::layers() const {
    std::vector<std::string> names;
    for (const auto& b : m_blocks)
        names.push_back(b.anchor);
    return names;
}

int ModelInspector::intTensorNamed(const std::string& name) const {
    for (size_t t = 0; t < m_int.tensors.size(); ++t)
        if (!m_int.tensors[t].isConstant && m_int.tensors[t].name == name)
            return static_cast<int>(t);
    return -1;
}

int ModelInspector::intOpOf(const QuantBlock& block) const {
    if (!m_hasInt)
        return -1;
    const int t = intTensorNamed(block.output);
    if (t < 0)
        return -1;
    for (size_t o = 0; o < m_int.ops.size(); ++o) {
        const IntOp& op = m_int.ops[o];
        if (op.outputs[0] == t && op.kind != IntOpKind::Quantize &&
            op.kind != IntOpKind::Dequantize)
            return static_cast<int>(o);
    }
    return -1;
}

bool ModelInspector::outputGrid(size_t block, QuantParams& grid, int& bits) const {
    if (!m_model.quantized)
        return false;
    const int point =
        m_topo.paramsOf[static_cast<size_t>(m_model.graph.indexOf(m_blocks[block].output))];
    if (!pointGrid(m_topo, m_model.state, point, grid))
        return false;
    bits = m_topo.points[static_cast<size_t>(point)].config.bits;
    return true;
}

void ModelInspector::inspectWeights(const QuantBlock& block, const InspectOptions& options,
                                    WeightInspection& out) const {
    if (!block.hasWeights())
        return;
    const size_t bi = static_cast<size_t>(&block - m_blocks.data());
    const LayerQuantConfig* cfg = m_model.quantized ? m_model.plan.find(block.anchor) : nullptr;
    QuantizerConfig qc = cfg ? cfg->weights : QuantizerConfig{};
    auto folded = foldedBlockWeights(m_model.graph, block, qc);
    if (!folded)
        return;
    out.present = true;
    out.quantized = m_model.quantized && m_topo.quantizeWeights[bi];
    out.bnFolded = !block.bn.empty();
    out.shape = folded->weights.shape();
    out.axis = folded->axis;
    out.config = qc;
    out.perAxis = out.quantized && folded->params.size() > 1;
    out.count = folded->weights.size();
    const float* w = folded->weights.data();
    const AxisSplit split = splitAxis(folded->weights.shape(), folded->axis);

    double allLo = kNotMeasured, allHi = kNotMeasured;
    SqnrAccumulator all;
    std::vector<float> values(static_cast<size_t>(split.outer * split.inner));
    for (int64_t c = 0; c < split.channels; ++c) {
        size_t k = 0;
        for (int64_t o = 0; o < split.outer; ++o)
            for (int64_t i = 0; i < split.inner; ++i)
                values[k++] = w[(o * split.channels + c) * split.inner + i];
        ChannelWeights ch;
        ch.channel = c;
        ch.count = static_cast<int64_t>(values.size());
        ch.dataMin = *std::min_element(values.begin(), values.end());
        ch.dataMax = *std::max_element(values.begin(), values.end());
        ch.foldedBias = folded->bias[static_cast<size_t>(c)];
        ch.quantized = out.quantized;
        double lo = kNotMeasured, hi = kNotMeasured;
        if (out.quantized) {
            ch.grid = folded->params[folded->params.size() > 1 ? static_cast<size_t>(c) : 0];
            lo = ch.grid.min();
            hi = ch.grid.max();
            allLo = std::isnan(allLo) ? lo : std::min(allLo, lo);
            allHi = std::isnan(allHi) ? hi : std::max(allHi, hi);
            ch.usage = gridUsage(values.data(), ch.count, ch.grid);
            SqnrAccumulator acc;
            for (float v : values) {
                const float q = fakeQuantValue(v, ch.grid);
                acc.add(v, q);
                all.add(v, q);
            }
            ch.sqnrDb = acc.db();
        }
        ch.histogram = makeHistogram(values.data(), ch.count, options.bins, lo, hi);
        out.channels.push_back(std::move(ch));
    }
    out.dataMin = *std::min_element(w, w + out.count);
    out.dataMax = *std::max_element(w, w + out.count);
    out.histogram = makeHistogram(w, out.count, options.bins, allLo, allHi);
    if (out.quantized)
        out.sqnrDb = all.db();
}

void ModelInspector::inspectActivations(size_t bi, const InspectOptions& options,
                                        ActivationInspection& out) const {
    const QuantBlock& b = m_blocks[bi];
    const Tensor& f = m_float[bi];
    out.node = b.output;
    out.shape = m_model.graph.find(b.output)->outputShape;
    out.count = f.size();
    out.dataMin = *std::min_element(f.data(), f.data() + f.size());
    out.dataMax = *std::max_element(f.data(), f.data() + f.size());
    out.quantized = outputGrid(bi, out.grid, out.bits);
    double lo = kNotMeasured, hi = kNotMeasured;
    if (out.quantized) {
        lo = out.grid.min();
        hi = out.grid.max();
        out.usage = gridUsage(f.data(), f.size(), out.grid);
        SqnrAccumulator own, fq;
        const Tensor& pre = m_fqPre[bi];
        for (int64_t i = 0; i < f.size(); ++i) {
            own.add(f[i], fakeQuantValue(f[i], out.grid));
            fq.add(f[i], fakeQuantValue(pre[i], out.grid));
        }
        out.gridOnlySqnrDb = own.db();
        out.fakeQuantSqnrDb = fq.db();
    } else if (m_model.quantized) {
        // A float layer of a quantized model: its output carries upstream error only.
        out.fakeQuantSqnrDb = sqnrDb(f.data(), m_fqPre[bi].data(), f.size());
    }
    out.histogram = makeHistogram(f.data(), f.size(), options.bins, lo, hi);

    const int t = m_hasInt ? intTensorNamed(b.output) : -1;
    if (t >= 0 && m_int.tensors[static_cast<size_t>(t)].type != IntDType::Float32) {
        const IntTensor& it = m_int.tensors[static_cast<size_t>(t)];
        const QuantParams p = it.params();
        const int64_t per = shapeSize(it.shape);
        SqnrAccumulator acc;
        for (int64_t s = 0; s < m_images; ++s) {
            const auto& q = m_intTensors[static_cast<size_t>(s)][static_cast<size_t>(t)];
            for (int64_t i = 0; i < per; ++i)
                acc.add(f[s * per + i], dequantizeValue(q[static_cast<size_t>(i)], p));
        }
        out.integerSqnrDb = acc.db();
    }
}

void ModelInspector::fillRequantization(const IntOp& op, LayerInspection& out) const {
    const auto& tensors = m_int.tensors;
    auto effective = [](int32_t m, int s) { return std::ldexp(static_cast<double>(m), s - 31); };
    const IntTensor& in0 = tensors[static_cast<size_t>(op.inputs[0])];
    const IntTensor& dst = tensors[static_cast<size_t>(op.outputs[0])];
    if (isIntegerWeighted(op.kind)) {
        const IntTensor& w = tensors[static_cast<size_t>(op.inputs[1])];
        const IntTensor& bias = tensors[static_cast<size_t>(op.inputs[2])];
        const size_t channels = bias.ints.size() + bias.ints64.size();
        for (size_t c = 0; c < channels; ++c) {
            const size_t mc = op.multiplier.size() > 1 ? c : 0;
            Requantization r;
            r.label = "channel " + std::to_string(c);
            r.channel = static_cast<int64_t>(c);
            r.multiplier = op.multiplier[mc];
            r.shift = op.shift[mc];
            r.effective = effective(r.multiplier, r.shift);
            const double ws = w.scales[w.scales.size() > 1 ? c : 0];
            r.intended =
                static_cast<double>(in0.scales[0]) * ws / static_cast<double>(dst.scales[0]);
            r.bias = bias.ints.empty() ? bias.ints64[c] : bias.ints[c];
            r.hasBias = true;
            out.requantization.push_back(r);
        }
    } else if (op.kind == IntOpKind::Add) {
        const IntTensor& in1 = tensors[static_cast<size_t>(op.inputs[1])];
        const double twiceMax = 2.0 * static_cast<double>(std::max(in0.scales[0], in1.scales[0]));
        for (int k = 0; k < 2; ++k) {
            Requantization r;
            r.label = "input " + std::to_string(k);
            r.multiplier = op.inputMultiplier[k];
            r.shift = op.inputShift[k];
            r.effective = effective(r.multiplier, r.shift);
            r.intended = static_cast<double>(k == 0 ? in0.scales[0] : in1.scales[0]) / twiceMax;
            out.requantization.push_back(r);
        }
        Requantization r;
        r.label = "output";
        r.multiplier = op.multiplier[0];
        r.shift = op.shift[0];
        r.effective = effective(r.multiplier, r.shift);
        r.intended =
            twiceMax / (std::ldexp(1.0, op.leftShift) * static_cast<double>(dst.scales[0]));
        out.requantization.push_back(r);
    } else if (op.kind == IntOpKind::Mean && !op.multiplier.empty()) {
        Requantization r;
        r.label = "output";
        r.multiplier = op.multiplier[0];
        r.shift = op.shift[0];
        r.effective = effective(r.multiplier, r.shift);
        r.intended = static_cast<double>(in0.scales[0]) / static_cast<double>(dst.scales[0]);
        out.requantization.push_back(r);
    }
}

void ModelInspector::workExample(size_t bi, const IntOp& op, const InspectOptions& options,
                                 WorkedExample& ex) const {
    ex.opName = intOpKindName(op.kind);
    if (!isIntegerWeighted(op.kind)) {
        ex.reason = std::string("the worked example covers integer CONV_2D, DEPTHWISE_CONV_2D "
                                "and FULLY_CONNECTED layers; this layer runs as ") +
                    ex.opName;
        return;
    }
    if (options.exampleSample < 0 || options.exampleSample >= m_images) {
        ex.reason = "image " + std::to_string(options.exampleSample) + " is not among the " +
                    std::to_string(m_images) + " inspected images";
        return;
    }
    const auto& tensors = m_int.tensors;
    const IntTensor& inT = tensors[static_cast<size_t>(op.inputs[0])];
    const IntTensor& wT = tensors[static_cast<size_t>(op.inputs[1])];
    const IntTensor& bT = tensors[static_cast<size_t>(op.inputs[2])];
    const IntTensor& outT = tensors[static_cast<size_t>(op.outputs[0])];
    const auto& sampleInts = m_intTensors[static_cast<size_t>(options.exampleSample)];
    const std::vector<int32_t>& xs = sampleInts[static_cast<size_t>(op.inputs[0])];
    const std::vector<int32_t>& ys = sampleInts[static_cast<size_t>(op.outputs[0])];
    const int64_t cout = static_cast<int64_t>(bT.ints.size() + bT.ints64.size());
    const bool dense = op.kind == IntOpKind::FullyConnected;
    const bool depthwise = op.kind == IntOpKind::DepthwiseConv2D;
    const ConvGeometry& g = op.geom;
    const int64_t outH = dense ? 1 : g.outH, outW = dense ? 1 : g.outW;
    const int32_t zx = inT.zeroPoints[0];

    // Visits the in-bounds terms of output (oy, ox, c) in the executor's order; returns
    // the number of padding positions skipped.
    auto visit = [&](int64_t oy, int64_t ox, int64_t c, auto&& term) -> int64_t {
        if (dense) {
            const int64_t k = inT.shape[0];
            for (int64_t i = 0; i < k; ++i)
                term(WorkedTerm{0, 0, i, 0, 0, xs[static_cast<size_t>(i)],
                                wT.ints[static_cast<size_t>(c * k + i)], 0});
            return 0;
        }
        const int64_t h = inT.shape[0], wd = inT.shape[1], cin = inT.shape[2];
        int64_t padding = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy * g.sh - g.padTop + ky * g.dh;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.sw - g.padLeft + kx * g.dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                    padding += depthwise ? 1 : cin;
                    continue;
                }
                const int64_t base = (iy * wd + ix) * cin;
                if (depthwise) {
                    const int64_t ic = c / op.depthMultiplier;
                    term(WorkedTerm{iy, ix, ic, ky, kx, xs[static_cast<size_t>(base + ic)],
                                    wT.ints[static_cast<size_t>((ky * g.kw + kx) * cout + c)], 0});
                } else {
                    const int64_t wb = ((c * g.kh + ky) * g.kw + kx) * cin;
                    for (int64_t i = 0; i < cin; ++i)
                        term(WorkedTerm{iy, ix, i, ky, kx, xs[static_cast<size_t>(base + i)],
                                        wT.ints[static_cast<size_t>(wb + i)], 0});
                }
            }
        }
        return padding;
    };
    auto accumulator = [&](int64_t oy, int64_t ox, int64_t c) {
        int64_t acc = 0;
        visit(oy, ox, c, [&](const WorkedTerm& t) { acc += static_cast<int64_t>(t.x - zx) * t.w; });
        return acc;
    };

    if (options.examplePosition) {
        const auto [py, px, pc] = *options.examplePosition;
        if (py < 0 || py >= outH || px < 0 || px >= outW || pc < 0 || pc >= cout) {
            ex.reason = "position (" + std::to_string(py) + ", " + std::to_string(px) + ", " +
                        std::to_string(pc) + ") is outside the " + std::to_string(outH) + "×" +
                        std::to_string(outW) + "×" + std::to_string(cout) + " output";
            return;
        }
        ex.y = py;
        ex.x = px;
        ex.c = pc;
    } else {
        int64_t best = -1;
        for (int64_t oy = 0; oy < outH; ++oy)
            for (int64_t ox = 0; ox < outW; ++ox)
                for (int64_t c = 0; c < cout; ++c) {
                    const int64_t a = std::llabs(accumulator(oy, ox, c));
                    if (a > best) {
                        best = a;
                        ex.y = oy;
                        ex.x = ox;
                        ex.c = c;
                    }
                }
    }
    ex.sample = options.exampleSample;
    ex.flatIndex = (ex.y * outW + ex.x) * cout + ex.c;
    ex.rounding = m_rounding;
    ex.inputScale = inT.scales[0];
    ex.inputZeroPoint = zx;
    ex.weightScale = wT.scales[wT.scales.size() > 1 ? static_cast<size_t>(ex.c) : 0];
    ex.outputScale = outT.scales[0];
    ex.outputZeroPoint = outT.zeroPoints[0];

    ex.paddingTerms = visit(ex.y, ex.x, ex.c, [&](WorkedTerm t) {
        t.product = static_cast<int64_t>(t.x - zx) * t.w;
        ex.sumXW += static_cast<int64_t>(t.x) * t.w;
        ex.sumW += t.w;
        ex.accumulator += t.product;
        if (static_cast<int>(ex.terms.size()) < options.maxTerms)
            ex.terms.push_back(t);
        ++ex.termCount;
    });
    ex.bias =
        bT.ints.empty() ? bT.ints64[static_cast<size_t>(ex.c)] : bT.ints[static_cast<size_t>(ex.c)];
    ex.accWithBias = ex.accumulator + ex.bias;
    const size_t mc = op.multiplier.size() > 1 ? static_cast<size_t>(ex.c) : 0;
    ex.multiplier = op.multiplier[mc];
    ex.shift = op.shift[mc];
    ex.scaledExact = static_cast<double>(ex.accWithBias) *
                     std::ldexp(static_cast<double>(ex.multiplier), ex.shift - 31);
    ex.scaled = multiplyByQuantizedMultiplier(ex.accWithBias, ex.multiplier, ex.shift, m_rounding);
    ex.beforeClamp = ex.scaled + ex.outputZeroPoint;
    ex.actMin = op.actMin;
    ex.actMax = op.actMax;
    ex.result = std::clamp(ex.beforeClamp, op.actMin, op.actMax);
    ex.resultReal = static_cast<double>(ex.outputScale) * (ex.result - ex.outputZeroPoint);
    ex.executorValue = ys[static_cast<size_t>(ex.flatIndex)];
    const int64_t perSample = m_float[bi].size() / m_images;
    const int64_t at = ex.sample * perSample + ex.flatIndex;
    ex.floatValue = m_float[bi][at];
    QuantParams grid;
    int bits = 0;
    ex.fakeQuantValue =
        outputGrid(bi, grid, bits) ? fakeQuantValue(m_fqPre[bi][at], grid) : m_fqPre[bi][at];

    // The steps, in the order TFLite's integer kernel performs them.
    const std::string where = dense ? "y[" + std::to_string(ex.c) + "]"
                                    : "y[" + std::to_string(ex.y) + ", " + std::to_string(ex.x) +
                                          ", " + std::to_string(ex.c) + "]";
    auto add = [&](std::string label, std::string formula, std::string value, double number) {
        ex.steps.push_back(
            WorkedStep{std::move(label), std::move(formula), std::move(value), number});
    };
    {
        std::string field;
        if (dense) {
            field = "all " + std::to_string(inT.shape[0]) + " inputs × row " +
                    std::to_string(ex.c) + " of the weights";
        } else {
            const int64_t y0 = ex.y * g.sh - g.padTop, x0 = ex.x * g.sw - g.padLeft;
            field = "input rows " + inum(y0) + "…" + inum(y0 + (g.kh - 1) * g.dh) + ", columns " +
                    inum(x0) + "…" + inum(x0 + (g.kw - 1) * g.dw) +
                    (depthwise           ? ", channel " + std::to_string(ex.c / op.depthMultiplier)
                     : inT.shape[2] == 1 ? std::string(", its only channel")
                                         : ", all " + std::to_string(inT.shape[2]) + " channels") +
                    " (" + std::to_string(g.kh) + "×" + std::to_string(g.kw) + " kernel)";
        }
        add("Receptive field", where + " of image " + std::to_string(ex.sample) + " reads " + field,
            std::to_string(ex.termCount) + " terms" +
                (ex.paddingTerms ? " (+" + std::to_string(ex.paddingTerms) +
                                       " in the padding, which add (z_x − z_x)·w = 0)"
                                 : ""),
            static_cast<double>(ex.termCount));
    }
    add("Products", "Σ x_q · w_q over the int8 inputs and weights", "= " + inum(ex.sumXW),
        static_cast<double>(ex.sumXW));
    add("Input zero point", "− z_x · Σ w_q = −" + pnum(zx) + " · " + pnum(ex.sumW),
        "= " + inum(-static_cast<int64_t>(zx) * ex.sumW),
        static_cast<double>(-static_cast<int64_t>(zx) * ex.sumW));
    add("Accumulator (int32)", "acc = Σ (x_q − z_x) · w_q", "= " + inum(ex.accumulator),
        static_cast<double>(ex.accumulator));
    add("+ bias (int32)",
        "b_q = round(b / (s_x · s_w)) = " + inum(ex.bias) +
            ";  acc + b_q = " + inum(ex.accumulator) + " + " + pnum(ex.bias),
        "= " + inum(ex.accWithBias), static_cast<double>(ex.accWithBias));
    add("Multiplier",
        "M = m · 2^(shift − 31) = " + std::to_string(ex.multiplier) + " · 2^(" + inum(ex.shift) +
            " − 31) ≈ s_x · s_w / s_y = " + num(ex.inputScale) + " · " + num(ex.weightScale) +
            " / " + num(ex.outputScale),
        "M = " + num(std::ldexp(static_cast<double>(ex.multiplier), ex.shift - 31), 8),
        std::ldexp(static_cast<double>(ex.multiplier), ex.shift - 31));
    add("Requantize",
        "(acc + b_q) · M = " + inum(ex.accWithBias) + " · M = " + num(ex.scaledExact, 8) +
            ", rounded (" + roundingName(m_rounding) + ")",
        "= " + inum(ex.scaled), static_cast<double>(ex.scaled));
    add("+ output zero point",
        inum(ex.scaled) + " + z_y = " + inum(ex.scaled) + " + " + pnum(ex.outputZeroPoint),
        "= " + inum(ex.beforeClamp), static_cast<double>(ex.beforeClamp));
    {
        std::string why = "the output grid";
        if (op.activation == FusedActivation::Relu)
            why = "fused ReLU: q ≥ z_y";
        else if (op.activation == FusedActivation::Relu6)
            why = "fused ReLU6: z_y ≤ q ≤ z_y + round(6 / s_y)";
        add("Clamp",
            "clamp(" + inum(ex.beforeClamp) + ", " + inum(ex.actMin) + ", " + inum(ex.actMax) +
                ")  — " + why,
            "= " + inum(ex.result), static_cast<double>(ex.result));
    }
    add("Int8 output",
        "real = s_y · (q_y − z_y) = " + num(ex.outputScale) + " · (" + inum(ex.result) + " − " +
            pnum(ex.outputZeroPoint) + ")",
        "q_y = " + inum(ex.result) + "  →  " + num(ex.resultReal), ex.resultReal);
    add("Integer executor", "IntReferenceExecutor's output at this position",
        "q = " + inum(ex.executorValue) +
            (ex.executorValue == ex.result ? " (matches)" : " (DIFFERS from the steps above)"),
        static_cast<double>(ex.executorValue));
    add("Fake-quant network", "the simulated network's value at this position",
        "= " + num(ex.fakeQuantValue), static_cast<double>(ex.fakeQuantValue));
    const double lsb = (ex.resultReal - static_cast<double>(ex.floatValue)) / ex.outputScale;
    add("Float network", "the float model's value; integer − float",
        "= " + num(ex.floatValue) + "  (error " + num(ex.resultReal - ex.floatValue, 3) + " = " +
            num(lsb, 3) + " LSB)",
        static_cast<double>(ex.floatValue));
    ex.available = true;
}

Result<LayerInspection> ModelInspector::inspect(const std::string& layer,
                                                const InspectOptions& options) const {
    size_t bi = m_blocks.size();
    for (size_t b = 0; b < m_blocks.size(); ++b)
        if (m_blocks[b].anchor == layer)
            bi = b;
    if (bi == m_blocks.size())
        return Status::error("'" + layer + "' is not a quantizable layer of this model");
    const QuantBlock& block = m_blocks[bi];
    LayerInspection out;
    out.layer = layer;
    out.block = block;
    out.opType = opTypeName(m_model.graph.find(block.anchor)->type);
    out.description = describeBlock(m_model.graph, block);
    out.modelQuantized = m_model.quantized;
    out.images = m_images;
    if (m_model.quantized) {
        const LayerQuantConfig* cfg = m_model.plan.find(layer);
        out.layerQuantized = cfg && cfg->enabled;
    }
    inspectWeights(block, options, out.weights);
    inspectActivations(bi, options, out.activations);

    if (!m_model.quantized) {
        out.note = "This run is a float model: it has no quantization plan, so there are no "
                   "grids, integer multipliers or quantization error to show.";
        out.example.reason = "the model is not quantized";
        return out;
    }
    if (!out.layerQuantized)
        out.note = "The plan keeps this layer in float; its output is quantized only where a "
                   "quantized layer reads it.";
    if (!m_hasInt) {
        out.example.reason = "no integer model: " + m_intError;
        if (out.note.empty())
            out.note = "The integer model could not be built: " + m_intError;
        return out;
    }
    const int opIndex = intOpOf(block);
    if (opIndex < 0) {
        out.example.reason = "the integer model has no integer op for this layer";
        return out;
    }
    const IntOp& op = m_int.ops[static_cast<size_t>(opIndex)];
    out.intOpName = intOpKindName(op.kind);
    const IntTensor& in0 = m_int.tensors[static_cast<size_t>(op.inputs[0])];
    if (in0.type != IntDType::Float32) {
        out.hasInputGrid = true;
        out.inputGrid = in0.params();
    }
    fillRequantization(op, out);
    workExample(bi, op, options, out.example);
    return out;
}

std::vector<LayerError> ModelInspector::layerErrors() const {
    std::vector<LayerError> errors;
    InspectOptions opts;
    opts.bins = 1;
    for (size_t b = 0; b < m_blocks.size(); ++b) {
        LayerError e;
        e.layer = m_blocks[b].anchor;
        WeightInspection w;
        inspectWeights(m_blocks[b], opts, w);
        ActivationInspection a;
        inspectActivations(b, opts, a);
        e.quantized = w.quantized || a.quantized;
        e.weightSqnrDb = w.sqnrDb;
        e.fakeQuantSqnrDb = a.fakeQuantSqnrDb;
        e.integerSqnrDb = a.integerSqnrDb;
        errors.push_back(e);
    }
    return errors;
}

// ---------------------------------------------------------------- sensitivity

Result<QuantPlan> singleLayerPlan(const Graph& graph, const QuantPlan& plan,
                                  const std::string& layer) {
    const LayerQuantConfig* cfg = plan.find(layer);
    if (!cfg)
        return Status::error("'" + layer + "' is not a layer of the quantization plan");
    if (!cfg->enabled)
        return Status::error("the plan keeps '" + layer +
                             "' in float; there is no quantization of it to measure");
    QuantPlan single = plan;
    for (auto& l : single.layers)
        l.enabled = l.layer == layer;
    QAT_RETURN_IF_ERROR(validatePlan(graph, single));
    return single;
}

Result<SensitivityResult> layerSensitivity(const QuantizedModelFile& model,
                                           const std::string& layer, const Dataset& test,
                                           int64_t images, const CancelToken* cancel,
                                           const std::function<void(double)>& progress) {
    if (!model.quantized)
        return Status::error("the model is not quantized (no plan); sensitivity needs the "
                             "plan's grids");
    Graph graph = model.graph;
    if (!graph.isFinalized())
        QAT_RETURN_IF_ERROR(graph.finalize());
    auto plan = singleLayerPlan(graph, model.plan, layer);
    if (!plan)
        return plan.status();
    if (test.sampleShape != graph.inputShape())
        return Status::error("dataset '" + test.name + "' has " + shapeToString(test.sampleShape) +
                             " images but the model expects " + shapeToString(graph.inputShape()));
    const int64_t n = std::min(images, test.size());
    if (n < 1)
        return Status::error("sensitivity needs at least one test image");

    const QuantTopology topo = analyzeQuantization(graph, plan.value());
    QuantState state;
    for (const auto& p : topo.points) {
        if (p.owner.empty() || p.fixed)
            continue;
        auto it = std::find_if(model.state.ranges.begin(), model.state.ranges.end(),
                               [&](const ObservedRange& r) { return r.owner == p.owner; });
        if (it == model.state.ranges.end() || !it->initialized)
            return Status::error("the model file has no observed range for '" + p.owner +
                                 "', which quantizing '" + layer + "' alone needs");
        state.ranges.push_back(*it);
    }
    const QuantBlock* block = nullptr;
    for (const auto& b : topo.blocks)
        if (b.anchor == layer)
            block = &b;
    QAT_ASSERT(block != nullptr);
    const int outIdx = graph.indexOf(block->output);
    QuantParams grid;
    const bool gridded = pointGrid(topo, state, topo.paramsOf[static_cast<size_t>(outIdx)], grid);

    auto floatNet = Network::create(graph);
    if (!floatNet)
        return floatNet.status();
    auto qNet = Network::create(graph, plan.value(), QatOptions{});
    if (!qNet)
        return qNet.status();
    QAT_RETURN_IF_ERROR(qNet.value()->setQuantState(state));

    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        order[static_cast<size_t>(i)] = i;
    constexpr int64_t kBatch = 64;
    Tensor batch;
    std::vector<int32_t> labels;
    double correctFloat = 0, correctQuant = 0;
    SqnrAccumulator err;
    for (int64_t b = 0; b < n; b += kBatch) {
        if (cancel && cancel->isCancelled())
            return Status::error("cancelled");
        const int64_t e = std::min(n, b + kBatch);
        test.gather(order, b, e, batch, labels);
        const Tensor& fo = floatNet.value()->forward(batch, Phase::Eval);
        correctFloat += top1Accuracy(fo, labels.data(), e - b) * static_cast<double>(e - b);
        const Tensor fBlock = floatNet.value()->activation(block->output);
        const Tensor& qo = qNet.value()->forward(batch, Phase::Eval);
        correctQuant += top1Accuracy(qo, labels.data(), e - b) * static_cast<double>(e - b);
        const Tensor& qBlock = qNet.value()->preQuantActivation(block->output);
        for (int64_t i = 0; i < fBlock.size(); ++i)
            err.add(fBlock[i], gridded ? fakeQuantValue(qBlock[i], grid) : qBlock[i]);
        if (progress)
            progress(static_cast<double>(e) / static_cast<double>(n));
    }
    SensitivityResult r;
    r.layer = layer;
    r.images = n;
    r.floatAccuracy = std::round(correctFloat) / static_cast<double>(n);
    r.quantizedAccuracy = std::round(correctQuant) / static_cast<double>(n);
    r.accuracyDrop = r.floatAccuracy - r.quantizedAccuracy;
    r.outputSqnrDb = err.db();
    return r;
}

} // namespace qat
