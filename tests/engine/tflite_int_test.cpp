// Integer .tflite export read back: the file holds exactly the integer model (every zoo
// model, per-tensor, mixed precision, float I/O, INT4 weights), the per-layer size
// report adds up, and failures (unwritable path, corrupt bytes) are clear and leave no file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <random>

#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"
#include "qat/tflite_export.h"
#include "qat/tflite_int_export.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

const DatasetSplits& sample() {
    static const DatasetSplits data = [] {
        auto d = loadDataset("fashion-mnist-sample");
        QAT_ASSERT(d.isOk());
        return std::move(d).value();
    }();
    return data;
}

struct Quantized {
    Graph graph;
    QuantPlan plan;
    IntModel model;
};

// PTQ of a freshly initialized zoo model (weights need not be trained for a file check).
Quantized quantize(const std::string& name, const std::string& preset,
                   const std::string& floatLayer, bool floatIo) {
    Quantized q;
    auto g = loadModelOrZoo(name, sample().train.sampleShape, 5);
    EXPECT_TRUE(g.isOk()) << g.message();
    q.graph = std::move(g).value();
    auto plan = makePlan(q.graph, preset);
    EXPECT_TRUE(plan.isOk());
    q.plan = plan.value();
    if (!floatLayer.empty())
        q.plan.find(floatLayer)->enabled = false;
    auto net = Network::create(q.graph, q.plan, QatOptions{});
    EXPECT_TRUE(net.isOk()) << net.message();
    EXPECT_TRUE(calibrate(*net.value(), sample().train, 4, 32).isOk());
    IntConvertOptions co;
    co.floatIo = floatIo;
    auto m = convertToIntModel(q.graph, q.plan, net.value()->quantState(), co);
    EXPECT_TRUE(m.isOk()) << m.message();
    q.model = std::move(m).value();
    return q;
}

void expectFileHoldsModel(const std::string& name, const std::string& preset = "int8",
                          const std::string& floatLayer = "", bool floatIo = false,
                          bool int4 = false) {
    Quantized q = quantize(name, preset, floatLayer, floatIo);
    IntExportOptions eo;
    eo.int4Weights = int4;
    TfliteExportReport report;
    auto bytes = exportIntTfliteBytes(q.model, eo, &report);
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    EXPECT_EQ(report.totalBytes, static_cast<int64_t>(bytes->size()));
    EXPECT_EQ(report.weightBytes() + report.biasBytes() + report.metadataBytes, report.totalBytes);
    auto v = validateIntTflite(*bytes, q.model, sample().test, 64);
    ASSERT_TRUE(v.isOk()) << v.message();
    EXPECT_EQ(v->images, 64);
    EXPECT_EQ(v->maxLsbDifference, 0) << name;
    EXPECT_EQ(v->maxAbsDifference, 0.0) << name;
    EXPECT_EQ(v->top1Agreements, 64) << name;
    EXPECT_TRUE(v->passed());
}

TEST(TfliteIntReadBack, EveryZooModel) {
    for (const auto& name : zooModelNames()) {
        SCOPED_TRACE(name);
        expectFileHoldsModel(name);
    }
}
TEST(TfliteIntReadBack, PerTensor) {
    expectFileHoldsModel("cnn-bn", "int8-per-tensor");
}
TEST(TfliteIntReadBack, MixedPrecision) {
    expectFileHoldsModel("cnn-bn", "int8", "conv2");
}
TEST(TfliteIntReadBack, FloatIo) {
    expectFileHoldsModel("mobilenet-tiny", "int8", "", true);
}
TEST(TfliteIntReadBack, Int4Weights) {
    expectFileHoldsModel("cnn-bn", "w4a8", "", false, true);
}

TEST(TfliteIntExport, SubEightBitWeightsKeepTheirGridAndShrinkAsInt4) {
    Quantized q = quantize("cnn-bn", "w4a8", "", false);
    TfliteExportReport r8, r4;
    auto b8 = exportIntTfliteBytes(q.model, {}, &r8);
    IntExportOptions eo;
    eo.int4Weights = true;
    auto b4 = exportIntTfliteBytes(q.model, eo, &r4);
    ASSERT_TRUE(b8.isOk() && b4.isOk());
    // Int8 containers hold only the 4-bit grid [-7, 7]: never silently re-quantized.
    auto back = readIntTflite(*b8);
    ASSERT_TRUE(back.isOk());
    for (const auto& t : back->tensors) {
        if (t.isConstant && t.type == IntDType::Int8) {
            for (int32_t v : t.ints) {
                ASSERT_LE(std::abs(v), 7) << t.name;
            }
        }
    }
    EXPECT_LT(r4.weightBytes() * 10, r8.weightBytes() * 6) << "INT4 packs two weights per byte";
}

TEST(TfliteIntExport, QuantizedFileIsAboutFourTimesSmallerThanFloat) {
    Quantized q = quantize("cnn-bn", "int8", "", false);
    auto f = exportFloatTfliteBytes(q.graph);
    auto i = exportIntTfliteBytes(q.model);
    ASSERT_TRUE(f.isOk() && i.isOk());
    const double ratio = static_cast<double>(i->size()) / static_cast<double>(f->size());
    std::printf("cnn-bn .tflite: float %zu bytes, int8 %zu bytes, ratio %.3f\n", f->size(),
                i->size(), ratio);
    EXPECT_LE(ratio, 0.27);
}

TEST(TfliteIntExport, UnwritablePathFailsAndLeavesNothing) {
    Quantized q = quantize("mnist-cnn", "int8", "", false);
    const fs::path dir =
        fs::temp_directory_path() / ("qat_int_export_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path missing = dir / "no-such-dir" / "model.tflite";
    Status st = exportIntTflite(q.model, missing.string());
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find(missing.string()), std::string::npos) << st.message();
    EXPECT_FALSE(fs::exists(missing));
    // A directory standing where the file should go.
    const fs::path blocker = dir / "model.tflite";
    fs::create_directories(blocker);
    st = exportIntTflite(q.model, blocker.string());
    EXPECT_FALSE(st.isOk());
    int leftovers = 0;
    for (const auto& e : fs::directory_iterator(dir))
        leftovers += e.path().filename().string().find(".tmp-") != std::string::npos;
    EXPECT_EQ(leftovers, 0);
    fs::remove_all(dir);
}

TEST(TfliteIntRead, CorruptBytesAreAClearError) {
    Quantized q = quantize("mnist-cnn", "int8", "", false);
    auto bytes = exportIntTfliteBytes(q.model);
    ASSERT_TRUE(bytes.isOk());
    std::vector<uint8_t> truncated(bytes->begin(),
                                   bytes->begin() + static_cast<std::ptrdiff_t>(bytes->size() / 2));
    EXPECT_FALSE(readIntTflite(truncated).isOk());
    std::vector<uint8_t> noise(4096);
    std::mt19937 rng(1);
    for (auto& b : noise)
        b = static_cast<uint8_t>(rng());
    EXPECT_FALSE(readIntTflite(noise).isOk());
    // Random byte flips never crash: each read either fails or yields a model.
    for (int i = 0; i < 200; ++i) {
        std::vector<uint8_t> m = *bytes;
        for (int k = 0; k < 4; ++k)
            m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        (void)readIntTflite(m);
    }
}

} // namespace
} // namespace qat
