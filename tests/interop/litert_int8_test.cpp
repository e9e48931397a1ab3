// Interop: integer .tflite files exported from QAT runs of every zoo model (int8,
// per-axis), plus per-tensor, mixed-precision, float-I/O and INT4-weight variants, run in
// LiteRT on 300 Fashion-MNIST sample images and must match QAT Lab's reference integer
// executor: within 1 LSB on >= 99.9% of output values and the same top-1 on >= 99.5% of
// images.
#include <gtest/gtest.h>

#include <cmath>

#include "qat/dataset.h"
#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/tflite_int_export.h"
#include "testing/litert.h"

namespace qat {
namespace {

using namespace qat::testing;

const DatasetSplits& sample() {
    static const DatasetSplits data = [] {
        auto d = loadDataset("fashion-mnist-sample");
        QAT_ASSERT(d.isOk());
        return std::move(d).value();
    }();
    return data;
}

struct Variant {
    std::string model;
    std::string preset = "int8";
    std::string floatLayer; // a layer the plan keeps float (mixed precision)
    bool floatIo = false;
    bool int4 = false;
};

Variant variant(const std::string& model, const std::string& preset = "int8",
                const std::string& floatLayer = "") {
    Variant v;
    v.model = model;
    v.preset = preset;
    v.floatLayer = floatLayer;
    return v;
}

// Float training, then QAT fine-tuning with the plan, then the integer model.
IntModel quantizedModel(const Variant& v, Graph& graph) {
    const DatasetSplits& data = sample();
    auto g = loadModelOrZoo(v.model, data.train.sampleShape, 3);
    EXPECT_TRUE(g.isOk()) << g.message();
    graph = std::move(g).value();
    {
        auto net = Network::create(graph, 3);
        TrainConfig cfg;
        cfg.epochs = 1;
        cfg.seed = 3;
        cfg.evaluateEachEpoch = false;
        EXPECT_TRUE(train(*net.value(), data.train, data.test, cfg).isOk());
    }
    auto plan = makePlan(graph, v.preset);
    EXPECT_TRUE(plan.isOk());
    if (!v.floatLayer.empty())
        plan->find(v.floatLayer)->enabled = false;
    QuantizeConfig qc;
    qc.mode = QuantMode::Qat;
    qc.train.epochs = 1;
    qc.train.lr = 1e-4;
    qc.train.seed = 3;
    qc.train.evaluateEachEpoch = false;
    qc.calibrationBatches = 8;
    qc.evalLimit = 64;
    auto q = quantizeModel(graph, plan.value(), data.train, data.test, qc);
    EXPECT_TRUE(q.isOk()) << q.message();
    IntConvertOptions co;
    co.floatIo = v.floatIo;
    auto m = convertToIntModel(graph, plan.value(), q->state, co);
    EXPECT_TRUE(m.isOk()) << m.message();
    return std::move(m).value();
}

void expectLiteRtMatchesIntegerEngine(const Variant& v) {
    Graph graph;
    const IntModel model = quantizedModel(v, graph);
    IntExportOptions eo;
    eo.int4Weights = v.int4;
    TfliteExportReport report;
    auto bytes = exportIntTfliteBytes(model, eo, &report);
    ASSERT_TRUE(bytes.isOk()) << bytes.message();

    const Dataset& test = sample().test;
    const int64_t n = test.size();
    Tensor batch(withBatch(n, test.sampleShape), test.images);
    IntReferenceExecutor exec(model);
    const Tensor ref = exec.run(batch);
    const int64_t classes = ref.size() / n;

    LiteRtRun run;
    std::vector<float> lrt(static_cast<size_t>(ref.size()));
    const IntTensor& inT = model.tensors[static_cast<size_t>(model.input)];
    if (v.floatIo) {
        run = runLiteRt(*bytes, test.images, v.model + "-int8-float-io");
        ASSERT_TRUE(run.error.empty()) << run.error;
        lrt = as<float>(run.outputs);
    } else {
        std::vector<int8_t> q(test.images.size());
        for (size_t i = 0; i < q.size(); ++i)
            q[i] = static_cast<int8_t>(quantizeValue(test.images[i], inT.params()));
        run = runLiteRt(*bytes, q, v.model + "-int8");
        ASSERT_TRUE(run.error.empty()) << run.error;
        const std::vector<int8_t> out = as<int8_t>(run.outputs);
        ASSERT_EQ(out.size(), exec.lastIntOutput().size()) << run.summary;
        int64_t off = 0, worst = 0;
        for (size_t i = 0; i < out.size(); ++i) {
            const int64_t d = std::llabs(static_cast<int64_t>(out[i]) - exec.lastIntOutput()[i]);
            worst = std::max(worst, d);
            off += d > 1;
        }
        const double within = 1.0 - static_cast<double>(off) / static_cast<double>(out.size());
        EXPECT_GE(within, 0.999) << v.model << ": worst difference " << worst << " LSB";
        const QuantParams op = model.tensors[static_cast<size_t>(model.output)].params();
        for (size_t i = 0; i < out.size(); ++i)
            lrt[i] = dequantizeValue(out[i], op);
    }
    ASSERT_EQ(static_cast<int64_t>(lrt.size()), ref.size()) << run.summary;
    int64_t agree = 0;
    double maxDiff = 0;
    for (int64_t s = 0; s < n; ++s) {
        const float* a = lrt.data() + s * classes;
        const float* b = ref.data() + s * classes;
        agree += (std::max_element(a, a + classes) - a) == (std::max_element(b, b + classes) - b);
        for (int64_t j = 0; j < classes; ++j)
            maxDiff = std::max(maxDiff, static_cast<double>(std::fabs(a[j] - b[j])));
    }
    const double agreement = static_cast<double>(agree) / static_cast<double>(n);
    EXPECT_GE(agreement, 0.995) << v.model;
    if (v.floatIo) { // dequantized softmax outputs: 1 LSB = 1/256
        EXPECT_LE(maxDiff, 1.0 / 256.0 + 1e-6) << v.model;
    }
    std::printf("[ LiteRT   ] %s %s%s%s%s: %lld bytes, top-1 agreement %.4f, %s\n", v.model.c_str(),
                v.preset.c_str(), v.floatLayer.empty() ? "" : (" float:" + v.floatLayer).c_str(),
                v.floatIo ? " float-io" : "", v.int4 ? " int4" : "",
                static_cast<long long>(report.totalBytes), agreement, run.summary.c_str());
}

TEST(LiteRtInt8, MnistCnn) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("mnist-cnn"));
}
TEST(LiteRtInt8, CnnBn) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("cnn-bn"));
}
TEST(LiteRtInt8, MobilenetTiny) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("mobilenet-tiny"));
}
TEST(LiteRtInt8, ResnetTiny) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("resnet-tiny"));
}
TEST(LiteRtInt8, InceptionTiny) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("inception-tiny"));
}
TEST(LiteRtInt8, CnnBnPerTensor) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("cnn-bn", "int8-per-tensor"));
}
TEST(LiteRtInt8, CnnBnMixedPrecision) {
    SKIP_WITHOUT_LITERT();
    expectLiteRtMatchesIntegerEngine(variant("cnn-bn", "int8", "conv2"));
}
TEST(LiteRtInt8, MobilenetTinyFloatIo) {
    SKIP_WITHOUT_LITERT();
    Variant v = variant("mobilenet-tiny");
    v.floatIo = true;
    expectLiteRtMatchesIntegerEngine(v);
}
TEST(LiteRtInt8, CnnBnInt4Weights) {
    SKIP_WITHOUT_LITERT();
    Variant v = variant("cnn-bn", "w4a8");
    v.int4 = true;
    expectLiteRtMatchesIntegerEngine(v);
}

} // namespace
} // namespace qat
