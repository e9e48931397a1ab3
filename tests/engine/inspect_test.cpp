// Layer inspection: histogram and grid bookkeeping, scales equal to the engine's, a worked
// example recomputed here independently (its own loops and its own 128-bit rounding) that
// must equal the integer executor's output, SQNR ordering across bit widths, float models
// without grids, and single-layer sensitivity. Models: mnist-cnn trained one epoch on the
// bundled Fashion-MNIST sample (seed 1); cnn-bn and mobilenet-tiny untrained but calibrated.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "qat/inspect.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/trainer.h"

namespace qat {
namespace {

struct Prepared {
    DatasetSplits data;
    QuantizedModelFile file; // as re-read from disk
    std::string path;
};

Tensor firstImages(const Dataset& d, int64_t n) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        idx[static_cast<size_t>(i)] = i;
    Tensor batch;
    std::vector<int32_t> labels;
    d.gather(idx, 0, n, batch, labels);
    return batch;
}

// Zoo model -> (train) -> PTQ calibrate -> saveQuantizedModel -> loadQuantizedModel.
Prepared prepare(const std::string& zoo, int epochs, const std::string& preset) {
    Prepared p;
    auto data = loadDataset("fashion-mnist-sample");
    EXPECT_TRUE(data.isOk()) << data.message();
    p.data = std::move(data).value();
    auto g = loadModelOrZoo(zoo, p.data.train.sampleShape, 1);
    EXPECT_TRUE(g.isOk()) << g.message();
    Graph graph = std::move(g).value();
    if (epochs > 0) {
        auto net = Network::create(graph, 1);
        EXPECT_TRUE(net.isOk()) << net.message();
        TrainConfig cfg;
        cfg.epochs = epochs;
        cfg.seed = 1;
        cfg.evaluateEachEpoch = false;
        auto r = train(*net.value(), p.data.train, p.data.test, cfg);
        EXPECT_TRUE(r.isOk()) << r.message();
    }
    auto plan = makePlan(graph, preset);
    EXPECT_TRUE(plan.isOk()) << plan.message();
    auto qnet = Network::create(graph, plan.value(), QatOptions{});
    EXPECT_TRUE(qnet.isOk()) << qnet.message();
    EXPECT_TRUE(calibrate(*qnet.value(), p.data.train, 4, 64).isOk());
    p.path = (std::filesystem::temp_directory_path() /
              ("inspect_test_" + zoo + "_" + preset + "_" + std::to_string(::getpid()) + ".qatm"))
                 .string();
    EXPECT_TRUE(saveQuantizedModel(graph, plan.value(), qnet.value()->quantState(), p.path).isOk());
    auto file = loadQuantizedModel(p.path);
    EXPECT_TRUE(file.isOk()) << file.message();
    p.file = std::move(file).value();
    std::filesystem::remove(p.path);
    return p;
}

const Prepared& mnistCnn() {
    static const Prepared p = prepare("mnist-cnn", 1, "int8");
    return p;
}

std::unique_ptr<ModelInspector> inspectorFor(const Prepared& p, int64_t images = 8) {
    auto ins = ModelInspector::create(p.file, firstImages(p.data.test, images));
    EXPECT_TRUE(ins.isOk()) << ins.message();
    return ins.isOk() ? std::move(ins).value() : nullptr;
}

// TFLite's single-rounding MultiplyByQuantizedMultiplier, written out independently:
// x * m / 2^(31 - shift) rounded half up (add 2^(n-1), arithmetic shift right by n).
int32_t requantizeRef(int64_t x, int32_t m, int shift) {
    __extension__ typedef __int128 I128;
    const int n = 31 - shift;
    const I128 prod = static_cast<I128>(x) * m;
    return static_cast<int32_t>((prod + (static_cast<I128>(1) << (n - 1))) >> n);
}

struct Recomputed {
    int64_t bias = 0;
    int64_t accWithBias = 0;
    int32_t output = 0;
};

// Recomputes the example's accumulator and output from the integer model's tensors alone.
Recomputed recomputeOutput(const ModelInspector& ins, const std::string& layer, int64_t sample,
                           int64_t y, int64_t x, int64_t c) {
    const IntModel& m = *ins.intModel();
    const IntOp* op = nullptr;
    for (const auto& o : m.ops)
        if (o.node == layer &&
            (o.kind == IntOpKind::Conv2D || o.kind == IntOpKind::DepthwiseConv2D ||
             o.kind == IntOpKind::FullyConnected))
            op = &o;
    EXPECT_NE(op, nullptr) << layer;
    if (!op)
        return {};
    const IntTensor& in = m.tensors[static_cast<size_t>(op->inputs[0])];
    const IntTensor& w = m.tensors[static_cast<size_t>(op->inputs[1])];
    const IntTensor& b = m.tensors[static_cast<size_t>(op->inputs[2])];
    const IntTensor& out = m.tensors[static_cast<size_t>(op->outputs[0])];
    const auto& xs = ins.intTensors(sample)[static_cast<size_t>(op->inputs[0])];
    const int64_t cout = static_cast<int64_t>(b.ints.size());
    int64_t acc = 0;
    if (op->kind == IntOpKind::FullyConnected) {
        for (int64_t i = 0; i < in.shape[0]; ++i)
            acc += (xs[static_cast<size_t>(i)] - in.zeroPoints[0]) *
                   static_cast<int64_t>(w.ints[static_cast<size_t>(c * in.shape[0] + i)]);
    } else {
        const ConvGeometry& g = op->geom;
        for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = y * g.sh - g.padTop + ky * g.dh;
                const int64_t ix = x * g.sw - g.padLeft + kx * g.dw;
                if (iy < 0 || ix < 0 || iy >= in.shape[0] || ix >= in.shape[1])
                    continue;
                const int64_t cin = in.shape[2];
                if (op->kind == IntOpKind::DepthwiseConv2D) {
                    const int64_t xv = xs[static_cast<size_t>((iy * in.shape[1] + ix) * cin +
                                                              c / op->depthMultiplier)];
                    acc += (xv - in.zeroPoints[0]) *
                           w.ints[static_cast<size_t>((ky * g.kw + kx) * cout + c)];
                } else {
                    for (int64_t i = 0; i < cin; ++i) {
                        const int64_t xv =
                            xs[static_cast<size_t>((iy * in.shape[1] + ix) * cin + i)];
                        acc += (xv - in.zeroPoints[0]) *
                               w.ints[static_cast<size_t>(((c * g.kh + ky) * g.kw + kx) * cin + i)];
                    }
                }
            }
    }
    const int64_t bias = b.ints[static_cast<size_t>(c)];
    acc += bias;
    const size_t mc = op->multiplier.size() > 1 ? static_cast<size_t>(c) : 0;
    const int32_t v = requantizeRef(acc, op->multiplier[mc], op->shift[mc]) + out.zeroPoints[0];
    return {bias, acc, std::clamp(v, op->actMin, op->actMax)};
}

void expectExampleMatchesExecutor(const ModelInspector& ins, const std::string& layer,
                                  const InspectOptions& opts) {
    auto r = ins.inspect(layer, opts);
    ASSERT_TRUE(r.isOk()) << r.message();
    const WorkedExample& ex = r->example;
    ASSERT_TRUE(ex.available) << layer << ": " << ex.reason;
    const Recomputed independent = recomputeOutput(ins, layer, ex.sample, ex.y, ex.x, ex.c);
    // The executor's actual int8 output at that position, read from its tensors here.
    const IntModel& m = *ins.intModel();
    int outTensor = -1;
    for (const auto& o : m.ops)
        if (o.node == layer &&
            (o.kind == IntOpKind::Conv2D || o.kind == IntOpKind::DepthwiseConv2D ||
             o.kind == IntOpKind::FullyConnected))
            outTensor = o.outputs[0];
    ASSERT_GE(outTensor, 0);
    const int32_t actual = ins.intTensors(
        ex.sample)[static_cast<size_t>(outTensor)][static_cast<size_t>(ex.flatIndex)];
    EXPECT_EQ(independent.output, actual) << layer;
    EXPECT_EQ(independent.accWithBias, ex.accWithBias) << layer;
    EXPECT_EQ(ex.result, actual) << layer;
    EXPECT_EQ(ex.executorValue, actual) << layer;
    // The steps chain: Σ(x - z)w = Σxw - z Σw; + bias; clamp(round(.) + z_y).
    EXPECT_EQ(ex.accumulator, ex.sumXW - static_cast<int64_t>(ex.inputZeroPoint) * ex.sumW);
    EXPECT_EQ(ex.accWithBias, ex.accumulator + ex.bias);
    EXPECT_EQ(ex.beforeClamp, ex.scaled + ex.outputZeroPoint);
    EXPECT_NEAR(ex.scaled, ex.scaledExact, 0.5 + 1e-9);
    int64_t listed = 0;
    for (const auto& t : ex.terms) {
        EXPECT_EQ(t.product, static_cast<int64_t>(t.x - ex.inputZeroPoint) * t.w);
        ++listed;
    }
    EXPECT_EQ(listed, std::min<int64_t>(ex.termCount, opts.maxTerms));
    ASSERT_FALSE(ex.steps.empty());
    bool sawOutput = false;
    for (const auto& s : ex.steps)
        if (s.label == "Int8 output") {
            EXPECT_DOUBLE_EQ(s.number, ex.resultReal);
            sawOutput = true;
        }
    EXPECT_TRUE(sawOutput);
    EXPECT_NEAR(ex.resultReal, ex.outputScale * (actual - ex.outputZeroPoint), 1e-6);
}

TEST(Histogram, CountsSumToElementCount) {
    std::vector<float> v;
    for (int i = 0; i < 1000; ++i)
        v.push_back(std::sin(static_cast<float>(i)) * 3.0f);
    const Histogram h = makeHistogram(v.data(), static_cast<int64_t>(v.size()), 0, -5.0, 4.0);
    EXPECT_EQ(h.total(), 1000);
    EXPECT_DOUBLE_EQ(h.lo, -5.0);
    EXPECT_DOUBLE_EQ(h.hi, 4.0);
    EXPECT_EQ(h.counts.size(), 32u);                    // round(sqrt(1000))
    const Histogram c = makeHistogram(v.data(), 1, 10); // a single value
    EXPECT_EQ(c.total(), 1);
    EXPECT_GT(c.hi, c.lo);

    auto ins = inspectorFor(mnistCnn());
    ASSERT_TRUE(ins);
    for (const auto& layer : ins->layers()) {
        auto r = ins->inspect(layer);
        ASSERT_TRUE(r.isOk()) << r.message();
        EXPECT_EQ(r->activations.histogram.total(), r->activations.count) << layer;
        EXPECT_EQ(r->activations.count, 8 * shapeSize(r->activations.shape)) << layer;
        if (!r->weights.present)
            continue;
        EXPECT_EQ(r->weights.histogram.total(), r->weights.count) << layer;
        int64_t perChannel = 0;
        for (const auto& ch : r->weights.channels) {
            EXPECT_EQ(ch.histogram.total(), ch.count);
            perChannel += ch.count;
            int64_t codes = 0;
            for (int64_t k : ch.usage.codeCounts)
                codes += k;
            EXPECT_EQ(codes, ch.count);
            // The clipping range lies inside the histogram's axis.
            EXPECT_LE(ch.histogram.lo, ch.grid.min() + 1e-6);
            EXPECT_GE(ch.histogram.hi, ch.grid.max() - 1e-6);
        }
        EXPECT_EQ(perChannel, r->weights.count) << layer;
    }
}

TEST(Grid, LevelCountIsQmaxMinusQminPlusOne) {
    for (int bits : {2, 3, 4, 8}) {
        for (bool narrow : {false, true}) {
            QuantizerConfig cfg;
            cfg.bits = bits;
            cfg.narrowRange = narrow;
            cfg.symmetric = narrow;
            const QuantParams p = chooseQuantParams(-1.3f, 2.1f, cfg);
            const auto levels = gridLevels(p);
            ASSERT_EQ(static_cast<int64_t>(levels.size()), p.qmax - p.qmin + 1);
            EXPECT_EQ(gridLevelCount(p), static_cast<int64_t>(levels.size()));
            EXPECT_NEAR(levels.front(), p.min(), 1e-6);
            EXPECT_NEAR(levels.back(), p.max(), 1e-6);
            for (size_t i = 1; i < levels.size(); ++i)
                EXPECT_NEAR(levels[i] - levels[i - 1], p.scale, 1e-6);
        }
    }
    QuantParams p;
    p.scale = 0.5f;
    p.zeroPoint = 0;
    p.qmin = -7;
    p.qmax = 7;
    std::vector<float> v{0.0f, 0.24f, 0.26f, 3.5f, 3.74f, 3.76f, -10.0f};
    const GridUsage u = gridUsage(v.data(), static_cast<int64_t>(v.size()), p);
    EXPECT_EQ(u.clipped, 2);    // 3.76 -> code 8 and -10 -> -20 saturate; 3.74 -> 7 does not
    EXPECT_EQ(u.levelsUsed, 4); // codes 0, 1, 7, -7
    EXPECT_NEAR(u.fractionClipped, 2.0 / 7.0, 1e-12);
}

TEST(Inspect, ScalesEqualTheEngines) {
    const Prepared& p = mnistCnn();
    auto ins = inspectorFor(p);
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->quantized());
    ASSERT_NE(ins->intModel(), nullptr) << ins->integerError();
    auto r = ins->inspect("conv1");
    ASSERT_TRUE(r.isOk()) << r.message();
    // Weights: the grid foldedBlockWeights computes for the plan's config.
    const QuantBlock& block = r->block;
    auto folded = foldedBlockWeights(p.file.graph, block, p.file.plan.find("conv1")->weights);
    ASSERT_TRUE(folded.isOk());
    ASSERT_EQ(r->weights.channels.size(), folded->params.size()); // per-axis: 12 channels
    EXPECT_TRUE(r->weights.perAxis);
    for (size_t c = 0; c < folded->params.size(); ++c) {
        EXPECT_EQ(r->weights.channels[c].grid, folded->params[c]);
        EXPECT_EQ(r->weights.channels[c].grid.qmin, -127); // narrow range
    }
    // Activations: the integer model's output tensor grid.
    const IntModel& m = *ins->intModel();
    bool found = false;
    for (const auto& t : m.tensors)
        if (t.name == r->activations.node && !t.isConstant) {
            EXPECT_EQ(r->activations.grid.scale, t.scales[0]);
            EXPECT_EQ(r->activations.grid.zeroPoint, t.zeroPoints[0]);
            found = true;
        }
    EXPECT_TRUE(found);
    // Multipliers: the op's, encoding s_x * s_w / s_y within QuantizeMultiplier's precision.
    ASSERT_EQ(r->requantization.size(), 12u);
    for (const auto& q : r->requantization) {
        int32_t mm;
        int sh;
        quantizeMultiplier(q.intended, mm, sh);
        EXPECT_EQ(q.multiplier, mm);
        EXPECT_EQ(q.shift, sh);
        EXPECT_NEAR(q.effective / q.intended, 1.0, 1e-8);
        EXPECT_TRUE(q.hasBias);
    }
}

TEST(Inspect, WorkedExampleReproducesExecutorOutput) {
    auto ins = inspectorFor(mnistCnn());
    ASSERT_TRUE(ins);
    InspectOptions opts;
    expectExampleMatchesExecutor(*ins, "conv1", opts); // position of the largest |acc|
    {
        auto r = ins->inspect("conv1", opts);
        ASSERT_TRUE(r.isOk());
        // No output position of image 0 has a larger |accumulator| (before the bias).
        const int64_t best = std::llabs(r->example.accumulator);
        for (int64_t y = 0; y < 26; ++y)
            for (int64_t x = 0; x < 26; ++x)
                for (int64_t c = 0; c < 12; ++c) {
                    const Recomputed rc = recomputeOutput(*ins, "conv1", 0, y, x, c);
                    ASSERT_LE(std::llabs(rc.accWithBias - rc.bias), best)
                        << y << "," << x << "," << c;
                }
    }
    expectExampleMatchesExecutor(*ins, "dense1", opts);
    opts.exampleSample = 5;
    opts.examplePosition = std::array<int64_t, 3>{0, 25, 3}; // a border position
    expectExampleMatchesExecutor(*ins, "conv1", opts);
    opts.examplePosition = std::array<int64_t, 3>{0, 0, 7};
    expectExampleMatchesExecutor(*ins, "dense1", opts);
    // Out-of-range requests are explained, not clamped.
    opts.examplePosition = std::array<int64_t, 3>{26, 0, 0};
    auto r = ins->inspect("conv1", opts);
    ASSERT_TRUE(r.isOk());
    EXPECT_FALSE(r->example.available);
    EXPECT_NE(r->example.reason.find("outside"), std::string::npos) << r->example.reason;
    // Layers without an integer conv/FC say why.
    r = ins->inspect("softmax");
    ASSERT_TRUE(r.isOk());
    EXPECT_FALSE(r->example.available);
    EXPECT_FALSE(r->example.reason.empty());
}

TEST(Inspect, WorkedExampleWithFoldedBatchNormAndDepthwise) {
    for (const std::string zoo : {"cnn-bn", "mobilenet-tiny"}) {
        const Prepared p = prepare(zoo, 0, "int8");
        auto ins = inspectorFor(p, 4);
        ASSERT_TRUE(ins);
        for (const auto& layer : ins->layers()) {
            auto r = ins->inspect(layer);
            ASSERT_TRUE(r.isOk()) << r.message();
            if (!r->weights.present)
                continue;
            EXPECT_EQ(r->weights.bnFolded, !r->block.bn.empty()) << layer;
            InspectOptions opts;
            opts.exampleSample = 3;
            expectExampleMatchesExecutor(*ins, layer, opts);
        }
    }
}

TEST(Inspect, EightBitLayerHasHigherSqnrThanThreeBit) {
    const Prepared& p = mnistCnn();
    QuantizedModelFile three = p.file;
    LayerQuantConfig* cfg = three.plan.find("conv1");
    ASSERT_NE(cfg, nullptr);
    cfg->weights.bits = 3;
    cfg->activations.bits = 3;
    auto ins8 = inspectorFor(p);
    auto ins3 = ModelInspector::create(three, firstImages(p.data.test, 8));
    ASSERT_TRUE(ins8);
    ASSERT_TRUE(ins3.isOk()) << ins3.message();
    auto r8 = ins8->inspect("conv1");
    auto r3 = ins3.value()->inspect("conv1");
    ASSERT_TRUE(r8.isOk() && r3.isOk());
    EXPECT_EQ(r3->weights.channels[0].grid.qmax - r3->weights.channels[0].grid.qmin + 1, 7);
    EXPECT_EQ(gridLevelCount(r3->activations.grid), 8);
    EXPECT_GT(r8->weights.sqnrDb, r3->weights.sqnrDb + 10.0);
    EXPECT_GT(r8->activations.gridOnlySqnrDb, r3->activations.gridOnlySqnrDb + 10.0);
    EXPECT_GT(r8->activations.fakeQuantSqnrDb, r3->activations.fakeQuantSqnrDb + 10.0);
    EXPECT_GT(r8->activations.integerSqnrDb, r3->activations.integerSqnrDb + 10.0);
    // Around 6 dB per bit: an 8-bit weight grid is well above 30 dB.
    EXPECT_GT(r8->weights.sqnrDb, 30.0);
    // layerErrors() agrees with inspect().
    for (const auto& e : ins8->layerErrors())
        if (e.layer == "conv1") {
            EXPECT_DOUBLE_EQ(e.weightSqnrDb, r8->weights.sqnrDb);
            EXPECT_DOUBLE_EQ(e.integerSqnrDb, r8->activations.integerSqnrDb);
        }
}

TEST(Inspect, FloatModelHasHistogramsButNoGrid) {
    const Prepared& p = mnistCnn();
    QuantizedModelFile f;
    f.graph = p.file.graph;
    f.quantized = false;
    auto ins = ModelInspector::create(f, firstImages(p.data.test, 4));
    ASSERT_TRUE(ins.isOk()) << ins.message();
    auto r = ins.value()->inspect("conv1");
    ASSERT_TRUE(r.isOk());
    EXPECT_FALSE(r->modelQuantized);
    EXPECT_TRUE(r->weights.present);
    EXPECT_FALSE(r->weights.quantized);
    EXPECT_FALSE(r->activations.quantized);
    EXPECT_TRUE(std::isnan(r->weights.sqnrDb));
    EXPECT_TRUE(std::isnan(r->activations.integerSqnrDb));
    EXPECT_TRUE(r->requantization.empty());
    EXPECT_FALSE(r->example.available);
    EXPECT_FALSE(r->note.empty());
    EXPECT_EQ(r->weights.histogram.total(), r->weights.count);
    EXPECT_EQ(ins.value()->intModel(), nullptr);
}

TEST(Inspect, RejectsImagesOfTheWrongShape) {
    const Prepared& p = mnistCnn();
    auto ins = ModelInspector::create(p.file, Tensor({2, 32, 32, 3}));
    ASSERT_FALSE(ins.isOk());
    EXPECT_NE(ins.message().find("expects"), std::string::npos) << ins.message();
    auto good = inspectorFor(p, 2);
    ASSERT_TRUE(good);
    EXPECT_FALSE(good->inspect("no_such_layer").isOk());
}

TEST(Sensitivity, OneLayerQuantizedCostsLittleAtEightBitsAndMoreAtTwo) {
    const Prepared& p = mnistCnn();
    auto s8 = layerSensitivity(p.file, "conv1", p.data.test, 200);
    ASSERT_TRUE(s8.isOk()) << s8.message();
    EXPECT_EQ(s8->images, std::min<int64_t>(200, p.data.test.size()));
    // The float accuracy is the float model's on the same images.
    {
        Graph g = p.file.graph;
        auto net = Network::create(g);
        ASSERT_TRUE(net.isOk());
        auto ev = evaluate(*net.value(), p.data.test, 256, s8->images);
        ASSERT_TRUE(ev.isOk());
        EXPECT_NEAR(s8->floatAccuracy, ev->accuracy, 1e-9);
    }
    EXPECT_LT(std::fabs(s8->accuracyDrop), 0.05);
    EXPECT_GT(s8->outputSqnrDb, 20.0);

    QuantizedModelFile two = p.file;
    two.plan.find("conv1")->weights.bits = 2;
    two.plan.find("conv1")->activations.bits = 2;
    auto s2 = layerSensitivity(two, "conv1", p.data.test, 200);
    ASSERT_TRUE(s2.isOk()) << s2.message();
    EXPECT_LT(s2->outputSqnrDb, s8->outputSqnrDb - 10.0);
    EXPECT_GT(s2->accuracyDrop, s8->accuracyDrop);

    auto plan = singleLayerPlan(p.file.graph, p.file.plan, "dense1");
    ASSERT_TRUE(plan.isOk());
    for (const auto& l : plan->layers)
        EXPECT_EQ(l.enabled, l.layer == "dense1") << l.layer;

    CancelToken cancel;
    cancel.cancel();
    auto c = layerSensitivity(p.file, "conv1", p.data.test, 200, &cancel);
    ASSERT_FALSE(c.isOk());
    EXPECT_EQ(c.message(), "cancelled");
}

} // namespace
} // namespace qat
