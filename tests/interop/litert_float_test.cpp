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
#include "testing/tflite_test_graphs.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 7;
constexpr int64_t kImages = 16;
// Float32 runtimes differ in summation order and transcendental implementations only.
constexpr double kRelTolerance = 1e-4;

std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

// $QAT_NODE, else the first `node` on PATH; empty if none.
std::string findNode() {
    if (const char* env = std::getenv("QAT_NODE"); env && *env)
        return ::access(env, X_OK) == 0 ? env : "";
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / "node";
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
    }
    return "";
}

struct LiteRt {
    std::string node;
    fs::path runner;
    std::string unavailable; // why the tests must skip; empty when usable
};

const LiteRt& liteRt() {
    static const LiteRt lrt = [] {
        LiteRt l;
        const fs::path dir = fs::path(QAT_SOURCE_DIR) / "tests" / "interop";
        l.runner = dir / "litert_runner.mjs";
        l.node = findNode();
        if (l.node.empty())
            l.unavailable = "Node.js (node) is not on PATH";
        else if (!fs::exists(dir / "node_modules" / "@litertjs" / "core" / "package.json"))
            l.unavailable = "the npm package @litertjs/core is not installed in " + dir.string();
        return l;
    }();
    return lrt;
}

#define SKIP_WITHOUT_LITERT()                                                                      \
    do {                                                                                           \
        if (!liteRt().unavailable.empty())                                                         \
            GTEST_SKIP() << "LiteRT interop test skipped: " << liteRt().unavailable                \
                         << " (run scripts/setup; it needs Node.js >= 20 and npm)";                \
    } while (0)

class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        m_path =
            fs::temp_directory_path() / ("qat_interop_" + std::to_string(::getpid()) + "_" + tag);
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

template <typename T> void writeRaw(const fs::path& path, const std::vector<T>& values) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(T)));
}

struct RunResult {
    std::vector<char> outputs; // raw bytes in the output's dtype
    std::string summary;       // the runner's JSON line
    std::string error;         // empty on success
};

// Runs the samples in `inputs` (raw, in the model input's dtype) through a .tflite file in
// LiteRT with litert_runner.mjs.
template <typename T>
RunResult runLiteRt(const std::vector<uint8_t>& model, const std::vector<T>& inputs,
                    const std::string& tag) {
    RunResult r;
    TempDir dir(tag);
    writeRaw(dir / "model.tflite", model);
    writeRaw(dir / "input.bin", inputs);
    const std::string cmd = shellQuote(liteRt().node) + " " + shellQuote(liteRt().runner) + " " +
                            shellQuote((dir / "model.tflite").string()) + " " +
                            shellQuote((dir / "input.bin").string()) + " " +
                            shellQuote((dir / "output.bin").string()) + " 2>" +
                            shellQuote((dir / "stderr.txt").string());
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) {
        r.error = "cannot start: " + cmd;
        return r;
    }
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
        r.summary.append(buf, n);
    const int status = ::pclose(pipe);
    while (!r.summary.empty() && (r.summary.back() == '\n' || r.summary.back() == '\r'))
        r.summary.pop_back();
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream err(dir / "stderr.txt");
        const std::string stderrText((std::istreambuf_iterator<char>(err)),
                                     std::istreambuf_iterator<char>());
        r.error = "runner failed (status " + std::to_string(status) + "): " + r.summary + "\n" +
                  stderrText.substr(0, 4000);
        return r;
    }
    std::ifstream out(dir / "output.bin", std::ios::binary);
    r.outputs.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
    return r;
}

template <typename T> std::vector<T> as(const std::vector<char>& bytes) {
    std::vector<T> values(bytes.size() / sizeof(T));
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(values.size() * sizeof(T)),
              reinterpret_cast<char*>(values.data()));
    return values;
}

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

    const RunResult run = runLiteRt(*model, data.images, tag);
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
    const RunResult run = runLiteRt(*model, samples, "int8-relu");
    ASSERT_TRUE(run.error.empty()) << run.error;
    std::printf("[ LiteRT   ] int8-relu: %s\n", run.summary.c_str());
    EXPECT_NE(run.summary.find("\"runs\":2"), std::string::npos) << run.summary;
    EXPECT_NE(run.summary.find("\"dtype\":\"int8\""), std::string::npos) << run.summary;
    const std::vector<int8_t> got = as<int8_t>(run.outputs);
    ASSERT_EQ(got.size(), samples.size());
    for (size_t i = 0; i < samples.size(); ++i)
        EXPECT_EQ(got[i], std::max<int8_t>(samples[i], -3)) << "value " << i;

    // A sample count that does not fill the batch is refused with a message.
    const RunResult bad = runLiteRt(*model, std::vector<int8_t>(12, 0), "int8-relu-partial");
    EXPECT_FALSE(bad.error.empty());
    EXPECT_NE(bad.error.find("whole number"), std::string::npos) << bad.error;
}

} // namespace
} // namespace qat
