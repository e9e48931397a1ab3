// Interop: float .tflite files exported from every zoo model (and from two graphs that
// cover the rest of the exporter's ops and padding paths) run in LiteRT and must agree
// with our own Network on 16 Fashion-MNIST sample images: per value
// |litert - ours| <= 1e-4 * max(1, |ours|), and the same top-1 class per image.
// LiteRT is @litertjs/core (official LiteRT in WASM, XNNPACK) driven by
// tests/interop/litert_runner.mjs under Node.js; scripts/setup installs it with npm. Without
// node or the package the tests skip with a message saying so.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "io/tflite/tflite_builder.h"
#include "ops/layer.h"
#include "qat/dataset.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/tflite_export.h"
#include "testing/litert.h"
#include "testing/tflite_test_graphs.h"

namespace qat {
namespace {

namespace fs = std::filesystem;
using namespace qat::testing;

constexpr uint64_t kSeed = 7;
constexpr int64_t kImages = 16;
// Float32 runtimes differ in summation order and transcendental implementations only.
constexpr double kRelTolerance = 1e-4;

const Dataset& sampleImages() {
    static const Dataset data = [] {
        auto splits = loadDataset("fashion-mnist-sample");
        QAT_ASSERT(splits.isOk());
        return splits->test.head(kImages);
    }();
    return data;
}

int64_t argmax(const float* v, int64_t n) {
    return static_cast<int64_t>(std::max_element(v, v + n) - v);
}

// Exports `graph`, runs the sample images through it in LiteRT and through our Network,
// and compares.
void expectLiteRtMatchesEngine(Graph& graph, const std::string& tag) {
    const Dataset& data = sampleImages();
    ASSERT_EQ(data.size(), kImages);
    ASSERT_EQ(data.sampleShape, graph.inputShape());

    TfliteExportReport report;
    auto model = exportFloatTfliteBytes(graph, &report);
    ASSERT_TRUE(model.isOk()) << model.message();

    Tensor batch(withBatch(kImages, data.sampleShape), data.images);
    auto net = Network::create(graph, kSeed);
    ASSERT_TRUE(net.isOk()) << net.message();
    const Tensor& ref = (*net)->forward(batch, Phase::Eval);
    const int64_t classes = ref.size() / kImages;
    ASSERT_EQ(ref.size(), kImages * classes);

    const LiteRtRun run = runLiteRt(*model, data.images, tag);
    ASSERT_TRUE(run.error.empty()) << run.error;
    const std::vector<float> lrt = as<float>(run.outputs);
    ASSERT_EQ(static_cast<int64_t>(lrt.size()), ref.size()) << run.summary;
    std::printf("[ LiteRT   ] %s: %lld bytes (weights %lld, biases %lld, metadata %lld); %s\n",
                tag.c_str(), static_cast<long long>(report.totalBytes),
                static_cast<long long>(report.weightBytes()),
                static_cast<long long>(report.biasBytes()),
                static_cast<long long>(report.metadataBytes), run.summary.c_str());

    double maxDiff = 0.0, worstRatio = 0.0;
    int64_t worst = 0;
    for (int64_t i = 0; i < ref.size(); ++i) {
        const double diff = std::abs(static_cast<double>(lrt[static_cast<size_t>(i)]) -
                                     static_cast<double>(ref[i]));
        const double allowed = kRelTolerance * std::max(1.0, std::abs(static_cast<double>(ref[i])));
        maxDiff = std::max(maxDiff, diff);
        if (diff / allowed > worstRatio) {
            worstRatio = diff / allowed;
            worst = i;
        }
    }
    EXPECT_LE(worstRatio, 1.0) << tag << ": max |diff| " << maxDiff << "; worst at sample "
                               << worst / classes << " value " << worst % classes << ": ours "
                               << ref[worst] << ", LiteRT " << lrt[static_cast<size_t>(worst)];
    for (int64_t s = 0; s < kImages; ++s) {
        EXPECT_EQ(argmax(lrt.data() + s * classes, classes),
                  argmax(ref.data() + s * classes, classes))
            << tag << ": top-1 differs for sample " << s;
    }
    std::printf("[ LiteRT   ] %s: max |diff| %.3g over %lld values\n", tag.c_str(), maxDiff,
                static_cast<long long>(ref.size()));
}

// "mobilenet-tiny" -> "MobilenetTiny" (test names are PascalCase).
std::string pascal(const std::string& name) {
    std::string out;
    bool upper = true;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
            upper = true;
            continue;
        }
        out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        upper = false;
    }
    return out;
}

class LiteRtZoo : public ::testing::TestWithParam<std::string> {};

TEST_P(LiteRtZoo, FloatExportMatchesTheEngine) {
    SKIP_WITHOUT_LITERT();
    auto graph = loadModelOrZoo(GetParam(), std::nullopt, kSeed);
    ASSERT_TRUE(graph.isOk()) << graph.message();
    testing::randomizeStatistics(*graph, kSeed);
    expectLiteRtMatchesEngine(*graph, GetParam());
}

INSTANTIATE_TEST_SUITE_P(EveryZooModel, LiteRtZoo, ::testing::ValuesIn(zooModelNames()),
                         [](const auto& p) { return pascal(p.param); });

TEST(LiteRtZooList, CoversTheShippedModels) {
    // The parameterized suite above runs whatever zooModelNames() lists; make sure that is
    // the real zoo, not an empty list that would make it vacuous.
    EXPECT_GE(zooModelNames().size(), 5u);
}

TEST(LiteRtCoverage, ActivationsGraphMatchesTheEngine) {
    SKIP_WITHOUT_LITERT();
    Graph g = testing::activationsCoverageGraph();
    ASSERT_TRUE(g.finalize().isOk());
    g.initializeParams(kSeed);
    testing::randomizeStatistics(g, kSeed);
    expectLiteRtMatchesEngine(g, "activations-coverage");
}

TEST(LiteRtCoverage, StructureGraphMatchesTheEngine) {
    SKIP_WITHOUT_LITERT();
    Graph g = testing::structureCoverageGraph();
    ASSERT_TRUE(g.finalize().isOk());
    g.initializeParams(kSeed);
    testing::randomizeStatistics(g, kSeed);
    expectLiteRtMatchesEngine(g, "structure-coverage");
}

// The runner's protocol beyond float batch-1 models: int8 tensors (the dtype shim) and
// a batch-2 input fed four samples (two runs, outputs concatenated). RELU with identical
// input and output quantization is exact: q_out = max(q_in, zero_point).
TEST(LiteRtRunner, RunsInt8ModelsAndSplitsSamplesIntoBatches) {
    SKIP_WITHOUT_LITERT();
    namespace tfl = qat::tflite;
    tfl::TfliteBuilder b;
    const tfl::Quantization q{{0.5f}, {-3}, 0};
    const int32_t in = b.addTensor("input", {2, 8}, tfl::TensorType::Int8, 0, q);
    const int32_t out = b.addTensor("relu", {2, 8}, tfl::TensorType::Int8, 0, q);
    b.addOperator(tfl::BuiltinOp::Relu, 2, {in}, {out});
    b.setInputs({in});
    b.setOutputs({out});
    auto model = b.finish();
    ASSERT_TRUE(model.isOk()) << model.message();

    std::vector<int8_t> samples(4 * 8);
    for (size_t i = 0; i < samples.size(); ++i)
        samples[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 256) - 128);
    const LiteRtRun run = runLiteRt(*model, samples, "int8-relu");
    ASSERT_TRUE(run.error.empty()) << run.error;
    std::printf("[ LiteRT   ] int8-relu: %s\n", run.summary.c_str());
    EXPECT_NE(run.summary.find("\"runs\":2"), std::string::npos) << run.summary;
    EXPECT_NE(run.summary.find("\"dtype\":\"int8\""), std::string::npos) << run.summary;
    const std::vector<int8_t> got = as<int8_t>(run.outputs);
    ASSERT_EQ(got.size(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i)
        EXPECT_EQ(got[i], std::max<int8_t>(samples[i], -3)) << "value " << i;

    // A sample count that does not fill the batch is refused with a message.
    const LiteRtRun bad = runLiteRt(*model, std::vector<int8_t>(12, 0), "int8-relu-partial");
    EXPECT_FALSE(bad.error.empty());
    EXPECT_NE(bad.error.find("whole number"), std::string::npos) << bad.error;
}

} // namespace
} // namespace qat
