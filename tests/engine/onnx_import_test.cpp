// ONNX import: the PyTorch-written fixtures in tests/importers/ (see make_onnx_fixtures.py)
// reproduce PyTorch's stored outputs through qat::Network; hand-built graphs (written with
// tests/importers/onnx_writer.h) cover op variants, the coverage report, normalisation and
// the errors for malformed graphs. Malformed-byte robustness is import_fuzz_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "importers/npy.h"
#include "importers/onnx_writer.h"
#include "qat/dataset.h"
#include "qat/importers.h"
#include "qat/network.h"
#include "qat/tflite_export.h"
#include "qat/trainer.h"

namespace qat {
namespace {

namespace ow = qat::testing::onnxw;
using testing::readNpy;

// Importer + oneDNN vs PyTorch (both float32, different summation orders): measured
// differences are ~1e-6; these leave room without hiding a wrong weight layout (which
// shows up as errors of order 0.1).
constexpr double kTorchAbs = 1e-4;
constexpr double kTorchRel = 1e-3;

std::string fixturePath(const std::string& name) {
    return std::string(QAT_SOURCE_DIR) + "/tests/importers/" + name;
}

// NCHW [N,C,H,W] -> NHWC [N,H,W,C]; rank-2 data passes through.
Tensor toNhwc(const testing::NpyArray& a) {
    if (a.shape.size() != 4)
        return Tensor(a.shape, a.data);
    const int64_t n = a.shape[0], c = a.shape[1], h = a.shape[2], w = a.shape[3];
    Tensor t({n, h, w, c});
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x)
                    t[((b * h + y) * w + x) * c + ch] =
                        a.data[static_cast<size_t>(((b * c + ch) * h + y) * w + x)];
    return t;
}

void expectClose(const Tensor& got, const std::vector<float>& want, const std::string& what) {
    ASSERT_EQ(static_cast<size_t>(got.size()), want.size()) << what;
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double g = got[static_cast<int64_t>(i)], w = want[i];
        worst = std::max(worst, std::abs(g - w));
        ASSERT_LE(std::abs(g - w), kTorchAbs + kTorchRel * std::abs(w))
            << what << ": element " << i << " is " << g << ", expected " << w;
    }
    ::testing::Test::RecordProperty(what + "_max_abs_error", std::to_string(worst));
}

ImportResult importOk(const std::string& path, const ImportOptions& options = {}) {
    auto result = importModel(path, options);
    EXPECT_TRUE(result.isOk()) << result.message();
    if (!result)
        return {};
    EXPECT_TRUE(result->report.supported) << formatCoverageReport(result->report);
    return std::move(*result);
}

Tensor run(Graph& graph, const Tensor& input) {
    auto net = Network::create(graph);
    EXPECT_TRUE(net.isOk()) << net.message();
    if (!net)
        return {};
    return net.value()->forward(input, Phase::Eval);
}

int countType(const Graph& g, OpType type) {
    return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                          [&](const Node& n) { return n.type == type; }));
}

bool hasNote(const CoverageReport& r, const std::string& text) {
    return std::any_of(r.notes.begin(), r.notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

class OnnxFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxFixture, MatchesPyTorch) {
    const std::string name = GetParam();
    auto input = readNpy(fixturePath(name + "_input.npy"));
    auto expected = readNpy(fixturePath(name + "_output.npy"));
    ASSERT_TRUE(input && expected) << "fixture data missing for " << name;
    ImportResult imported = importOk(fixturePath(name + ".onnx"));
    ASSERT_TRUE(imported.graph.has_value());
    const CoverageReport& report = imported.report;
    EXPECT_EQ(report.format, ModelFormat::Onnx);
    EXPECT_TRUE(report.unsupported.empty());
    EXPECT_GT(report.layers, 3);
    ASSERT_EQ(report.inputs.size(), 1u);
    ASSERT_EQ(report.outputs.size(), 1u);
    EXPECT_EQ(report.inputs[0].fileLayout, "NCHW");
    const Tensor x = toNhwc(*input);
    EXPECT_EQ(withBatch(x.dim(0), report.inputs[0].graphShape), x.shape());
    EXPECT_EQ(report.inputs[0].normalisation, "none");
    EXPECT_EQ(report.outputs[0].graphShape, Shape{10});
    const Tensor y = run(*imported.graph, x);
    expectClose(y, expected->data, name);
}

INSTANTIATE_TEST_SUITE_P(PyTorch, OnnxFixture,
                         ::testing::Values("plain_cnn", "dw_separable", "residual_add",
                                           "concat_net"));

TEST(OnnxImport, PlainCnnPermutesGemmColumnsAfterNchwFlatten) {
    ImportResult r = importOk(fixturePath("plain_cnn.onnx"));
    ASSERT_TRUE(r.graph);
    EXPECT_TRUE(hasNote(r.report, "weight columns were permuted"))
        << formatCoverageReport(r.report);
    EXPECT_EQ(countType(*r.graph, OpType::Flatten), 1);
    EXPECT_EQ(countType(*r.graph, OpType::Dense), 2);
    EXPECT_EQ(countType(*r.graph, OpType::BatchNorm), 1); // BatchNorm1d after fc1
    EXPECT_EQ(countType(*r.graph, OpType::LeakyReLU), 1);
    EXPECT_EQ(r.graph->outputNode().type, OpType::Softmax);
}

TEST(OnnxImport, DwSeparableMapsGroupsAndFoldsTheShapeChain) {
    ImportResult r = importOk(fixturePath("dw_separable.onnx"));
    ASSERT_TRUE(r.graph);
    const Graph& g = *r.graph;
    EXPECT_EQ(countType(g, OpType::DepthwiseConv2D), 2);
    bool multiplier2 = false, grouped4 = false;
    for (const Node& n : g.nodes) {
        multiplier2 = multiplier2 || (n.type == OpType::DepthwiseConv2D &&
                                      n.attrs.getInt("depth_multiplier", 1) == 2);
        grouped4 = grouped4 || (n.type == OpType::Conv2D && n.attrs.getInt("groups", 1) == 4);
    }
    EXPECT_TRUE(multiplier2);
    EXPECT_TRUE(grouped4);
    EXPECT_EQ(countType(g, OpType::HardSwish), 1);
    EXPECT_EQ(countType(g, OpType::ReLU6), 2);
    EXPECT_EQ(countType(g, OpType::GlobalAvgPool), 1);
    EXPECT_EQ(r.report.inputs[0].fileShape, (std::vector<int64_t>{-1, 3, 16, 16}));
    EXPECT_TRUE(hasNote(r.report, "imported as HardSwish"));
    EXPECT_TRUE(hasNote(r.report, "Shape")) << formatCoverageReport(r.report);
    EXPECT_TRUE(hasNote(r.report, "Gather"));
    EXPECT_TRUE(hasNote(r.report, "Unsqueeze"));
}

TEST(OnnxImport, ResidualAndConcatNetsKeepTheirStructure) {
    ImportResult res = importOk(fixturePath("residual_add.onnx"));
    ASSERT_TRUE(res.graph);
    EXPECT_EQ(countType(*res.graph, OpType::Add), 2);
    // ZeroPad2d, and the Pad torch writes before AvgPool2d(padding=1, count_include_pad).
    EXPECT_EQ(countType(*res.graph, OpType::ZeroPad), 2);
    ImportResult cat = importOk(fixturePath("concat_net.onnx"));
    ASSERT_TRUE(cat.graph);
    EXPECT_EQ(countType(*cat.graph, OpType::Concat), 1);
    EXPECT_EQ(countType(*cat.graph, OpType::BatchNorm), 1);
    EXPECT_TRUE(hasNote(cat.report, "MatMul + Add"));
}

TEST(OnnxImport, InputNormalisationIsBakedIntoALeadingNode) {
    auto input = readNpy(fixturePath("dw_separable_input.npy"));
    ASSERT_TRUE(input);
    const Tensor raw = toNhwc(*input);
    ImportOptions options;
    options.inputMean = {0.5f, 0.25f, 0.125f};
    options.inputScale = {2.0f};
    ImportResult normalised = importOk(fixturePath("dw_separable.onnx"), options);
    ImportResult plain = importOk(fixturePath("dw_separable.onnx"));
    ASSERT_TRUE(normalised.graph && plain.graph);
    EXPECT_EQ(normalised.report.layers, plain.report.layers + 1);
    EXPECT_NE(normalised.report.inputs[0].normalisation.find("input_normalization"),
              std::string::npos);
    Tensor manual = raw;
    for (int64_t i = 0; i < manual.size(); ++i)
        manual[i] = (manual[i] - options.inputMean[static_cast<size_t>(i % 3)]) * 2.0f;
    const Tensor want = run(*plain.graph, manual);
    const Tensor got = run(*normalised.graph, raw);
    expectClose(got, want.vec(), "normalised");
}

TEST(OnnxImport, NormalisationNeedsOneValueOrOnePerChannel) {
    ImportOptions options;
    options.inputMean = {0.1f, 0.2f};
    auto r = importModel(fixturePath("dw_separable.onnx"), options);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("3 channels"), std::string::npos) << r.message();
    options.inputMean = {};
    options.inputScale = {0.0f};
    EXPECT_FALSE(importModel(fixturePath("dw_separable.onnx"), options).isOk());
}

// An imported model fine-tunes on the dataset it fits and exports like a zoo model; the
// exported .tflite imports back to the same function.
TEST(OnnxImport, ImportedModelTrainsAndRoundTripsThroughTflite) {
    ImportResult r = importOk(fixturePath("residual_add.onnx"));
    ASSERT_TRUE(r.graph);
    auto data = loadDataset("fashion-mnist-sample");
    ASSERT_TRUE(data.isOk()) << data.message();
    ASSERT_EQ(data->train.sampleShape, r.graph->inputShape());
    auto net = Network::create(*r.graph, 1);
    ASSERT_TRUE(net.isOk()) << net.message();
    TrainConfig config;
    config.limitTrain = 128;
    config.limitTest = 64;
    config.batch = 32;
    auto trained = train(*net.value(), data->train, data->test, config, nullptr, {});
    ASSERT_TRUE(trained.isOk()) << trained.message();
    EXPECT_TRUE(std::isfinite(trained->epochs.back().trainLoss));

    auto bytes = exportFloatTfliteBytes(*r.graph);
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    auto back = importTfliteBytes(*bytes, "residual_add.tflite");
    ASSERT_TRUE(back.isOk()) << back.message();
    ASSERT_TRUE(back->graph) << formatCoverageReport(back->report);
    Tensor x({4, 28, 28, 1});
    for (int64_t i = 0; i < x.size(); ++i)
        x[i] = data->test.images[static_cast<size_t>(i)];
    const Tensor want = net.value()->forward(x, Phase::Eval);
    const Tensor got = run(*back->graph, x);
    expectClose(got, want.vec(), "tflite_round_trip");
}

// ---- hand-built graphs ----

ow::NodeSpec node(std::string op, std::string name, std::vector<std::string> in,
                  std::vector<std::string> out, std::vector<ow::AttrSpec> attrs = {}) {
    return {std::move(op), std::move(name), std::move(in), std::move(out), std::move(attrs), ""};
}

std::vector<float> ramp(size_t n, float scale = 0.1f) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
    return v;
}

// x [N,1,4,4] -> Conv 2x2 (2 channels) -> `rest` ...
ow::ModelSpec convModel() {
    ow::ModelSpec m;
    m.inputs = {{"x", {-1, 1, 4, 4}}};
    m.initializers = {ow::floats("w", {2, 1, 2, 2}, ramp(8)), ow::floats("b", {2}, {0.1f, -0.1f})};
    m.nodes = {
        node("Conv", "conv", {"x", "w", "b"}, {"c"}, {ow::attrInts("kernel_shape", {2, 2})})};
    return m;
}

Result<ImportResult> importSpec(const ow::ModelSpec& m) {
    return importOnnxBytes(m.bytes(), "test.onnx");
}

TEST(OnnxImport, ListsEveryUnsupportedOpAndBuildsNoGraph) {
    ow::ModelSpec m = convModel();
    m.nodes.push_back(node("Erf", "erf1", {"c"}, {"e"}));
    m.nodes.push_back(node("Sin", "sin1", {"e"}, {"s"}));
    // Downstream of unsupported ops, but its own attribute is unsupported too.
    m.nodes.push_back(
        node("Pad", "reflect_pad", {"s", "pads"}, {"p"}, {ow::attrString("mode", "reflect")}));
    m.initializers.push_back(ow::ints("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}));
    m.nodes.push_back(node("Relu", "relu", {"p"}, {"y"}));
    m.nodes.push_back(node("Relu", "relu2", {"c"}, {"y2"}));
    m.nodes.push_back(node("ai.onnx.contrib-op", "custom", {"y2"}, {"y3"}));
    m.nodes.back().domain = "com.example";
    m.outputs = {{"y", {-1, 2, 5, 5}}, {"y3", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_FALSE(r->report.supported);
    EXPECT_FALSE(r->graph.has_value());
    EXPECT_EQ(r->report.layers, 0);
    std::vector<std::string> names;
    for (const UnsupportedOp& op : r->report.unsupported)
        names.push_back(op.nodeName + ":" + op.opType);
    EXPECT_EQ(names, (std::vector<std::string>{"erf1:Erf", "sin1:Sin", "reflect_pad:Pad",
                                               "custom:com.example::ai.onnx.contrib-op",
                                               "y3:(graph output)"}))
        << formatCoverageReport(r->report);
    const std::string json = coverageReportToJson(r->report);
    EXPECT_NE(json.find("\"supported\":false"), std::string::npos);
    EXPECT_NE(json.find("\"unsupported_ops\":[{"), std::string::npos);
    EXPECT_NE(json.find("reflect"), std::string::npos);
}

TEST(OnnxImport, CyclicGraphIsAnError) {
    ow::ModelSpec m;
    m.inputs = {{"x", {1, 4}}};
    m.outputs = {{"b", {1, 4}}};
    m.nodes = {node("Add", "a", {"x", "b"}, {"a_out"}), node("Relu", "r", {"a_out"}, {"b"})};
    auto r = importSpec(m);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("cycle"), std::string::npos) << r.message();
    EXPECT_NE(r.message().find("'a'"), std::string::npos) << r.message();
}

TEST(OnnxImport, MissingInitializerIsAnError) {
    ow::ModelSpec m = convModel();
    m.initializers.erase(m.initializers.begin()); // drop "w"
    m.outputs = {{"c", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("'w'"), std::string::npos) << r.message();
    EXPECT_NE(r.message().find("missing initializer"), std::string::npos) << r.message();
}

TEST(OnnxImport, DimensionsLargerThanTheDataAreAnError) {
    ow::ModelSpec m = convModel();
    m.initializers[0] = ow::floats("w", {1 << 20, 1 << 20, 2, 2}, ramp(8));
    m.outputs = {{"c", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("initializer 'w'"), std::string::npos) << r.message();
}

TEST(OnnxImport, AbsurdInputDimensionsAreAnError) {
    ow::ModelSpec m = convModel();
    m.inputs = {{"x", {1, 1, 1 << 20, 1 << 20}}};
    m.outputs = {{"c", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("input 'x'"), std::string::npos) << r.message();
}

TEST(OnnxImport, TensorWrittenTwiceIsAnError) {
    ow::ModelSpec m = convModel();
    m.nodes.push_back(node("Relu", "again", {"x"}, {"c"}));
    m.outputs = {{"c", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("written by two nodes"), std::string::npos) << r.message();
}

TEST(OnnxImport, ClipBecomesReluOrRelu6AndOtherBoundsAreReported) {
    for (int64_t opset : {6, 13}) {
        ow::ModelSpec m = convModel();
        m.opset = opset;
        if (opset >= 11) {
            m.initializers.push_back(ow::floats("zero", {}, {0.0f}));
            m.initializers.push_back(ow::floats("six", {}, {6.0f}));
            m.initializers.push_back(ow::floats("one", {}, {1.0f}));
            m.nodes.push_back(node("Clip", "clip6", {"c", "zero", "six"}, {"r6"}));
            m.nodes.push_back(node("Clip", "clip0", {"r6", "zero"}, {"r"}));
            m.nodes.push_back(node("Clip", "clip1", {"r", "zero", "one"}, {"y"}));
        } else {
            m.nodes.push_back(node("Clip", "clip6", {"c"}, {"r6"},
                                   {ow::attrFloat("min", 0), ow::attrFloat("max", 6)}));
            m.nodes.push_back(node("Clip", "clip0", {"r6"}, {"r"}, {ow::attrFloat("min", 0)}));
            m.nodes.push_back(node("Clip", "clip1", {"r"}, {"y"},
                                   {ow::attrFloat("min", 0), ow::attrFloat("max", 1)}));
        }
        m.outputs = {{"y", {-1, 2, 3, 3}}};
        auto r = importSpec(m);
        ASSERT_TRUE(r.isOk()) << r.message();
        ASSERT_EQ(r->report.unsupported.size(), 1u) << formatCoverageReport(r->report);
        EXPECT_EQ(r->report.unsupported[0].nodeName, "clip1");
        m.nodes.pop_back();
        m.outputs = {{"r", {-1, 2, 3, 3}}};
        auto ok = importSpec(m);
        ASSERT_TRUE(ok.isOk() && ok->graph) << "opset " << opset;
        EXPECT_EQ(countType(*ok->graph, OpType::ReLU6), 1);
        EXPECT_EQ(countType(*ok->graph, OpType::ReLU), 1);
    }
}

TEST(OnnxImport, MatMulPlusConstantAddBecomesDenseWithBias) {
    ow::ModelSpec m;
    m.inputs = {{"x", {-1, 3}}};
    m.outputs = {{"y", {-1, 2}}};
    const std::vector<float> w = {1, 2, 3, 4, 5, 6}; // [3,2]
    m.initializers = {ow::floats("w", {3, 2}, w), ow::floats("b", {2}, {0.5f, -1.0f})};
    m.nodes = {node("MatMul", "mm", {"x", "w"}, {"h"}), node("Add", "bias", {"h", "b"}, {"y"})};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk() && r->graph) << r.message();
    EXPECT_EQ(r->report.layers, 1);
    Tensor x({2, 3}, std::vector<float>{1, 0, -1, 0.5f, 2, 1});
    const Tensor y = run(*r->graph, x);
    for (int b = 0; b < 2; ++b)
        for (int u = 0; u < 2; ++u) {
            float want = u == 0 ? 0.5f : -1.0f;
            for (int k = 0; k < 3; ++k)
                want += x[b * 3 + k] * w[static_cast<size_t>(k * 2 + u)];
            EXPECT_NEAR(y[b * 2 + u], want, 1e-5);
        }
    // A MatMul whose output also feeds something else keeps its Add unrepresentable.
    m.nodes.push_back(node("Relu", "side", {"h"}, {"s"}));
    m.outputs.push_back({"s", {-1, 2}});
    auto shared = importSpec(m);
    ASSERT_TRUE(shared.isOk());
    EXPECT_EQ(shared->report.unsupported[0].nodeName, "bias");
}

TEST(OnnxImport, SameLowerPutsTheExtraPaddingFirst) {
    for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
        ow::ModelSpec m = convModel();
        m.nodes[0].attrs.push_back(ow::attrString("auto_pad", mode));
        m.outputs = {{"c", {-1, 2, 4, 4}}};
        auto r = importSpec(m);
        ASSERT_TRUE(r.isOk() && r->graph) << r.message();
        const Node* conv = r->graph->find("conv");
        ASSERT_NE(conv, nullptr);
        const auto pads = conv->attrs.getInts("pads", {});
        EXPECT_EQ(pads, std::string(mode) == "SAME_UPPER" ? (std::vector<int64_t>{0, 0, 1, 1})
                                                          : (std::vector<int64_t>{1, 1, 0, 0}));
        EXPECT_EQ(conv->outputShape, (Shape{4, 4, 2}));
    }
}

// PyTorch's ceil_mode: a last partial window where it starts inside the input.
TEST(OnnxImport, CeilModeMaxPoolKeepsThePartialWindow) {
    ow::ModelSpec m;
    m.inputs = {{"x", {1, 1, 5, 5}}};
    m.outputs = {{"y", {1, 1, 3, 3}}};
    m.nodes = {node("MaxPool", "pool", {"x"}, {"y"},
                    {ow::attrInts("kernel_shape", {2, 2}), ow::attrInts("strides", {2, 2}),
                     ow::attrInt("ceil_mode", 1)})};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk() && r->graph) << r.message();
    Tensor x({1, 5, 5, 1});
    for (int64_t i = 0; i < 25; ++i)
        x[i] = static_cast<float>(i);
    const Tensor y = run(*r->graph, x);
    ASSERT_EQ(y.shape(), (Shape{1, 3, 3, 1}));
    for (int64_t row = 0; row < 3; ++row)
        for (int64_t col = 0; col < 3; ++col)
            EXPECT_EQ(y[row * 3 + col], static_cast<float>(5 * std::min<int64_t>(2 * row + 1, 4) +
                                                           std::min<int64_t>(2 * col + 1, 4)));
}

TEST(OnnxImport, AveragePoolCountsPaddingOnlyWithCountIncludePad) {
    for (int64_t include : {0, 1}) {
        ow::ModelSpec m;
        m.inputs = {{"x", {1, 1, 4, 4}}};
        m.outputs = {{"y", {1, 1, 2, 2}}};
        m.nodes = {
            node("AveragePool", "pool", {"x"}, {"y"},
                 {ow::attrInts("kernel_shape", {3, 3}), ow::attrInts("strides", {2, 2}),
                  ow::attrInts("pads", {1, 1, 1, 1}), ow::attrInt("count_include_pad", include)})};
        auto r = importSpec(m);
        ASSERT_TRUE(r.isOk() && r->graph) << r.message();
        EXPECT_EQ(countType(*r->graph, OpType::ZeroPad), include);
        Tensor x({1, 4, 4, 1});
        for (int64_t i = 0; i < 16; ++i)
            x[i] = static_cast<float>(i);
        const Tensor y = run(*r->graph, x);
        // Window sums 10, 24, 51, 90 over 4, 6, 6, 9 in-bounds elements (of 9).
        const float sums[] = {10, 24, 51, 90};
        const float counts[] = {4, 6, 6, 9};
        for (int k = 0; k < 4; ++k)
            EXPECT_NEAR(y[k], sums[k] / (include ? 9.0f : counts[k]), 1e-5) << k;
    }
}

TEST(OnnxImport, PadOfChannelsAndSpaceIsExact) {
    ow::ModelSpec m;
    m.inputs = {{"x", {-1, 2, 3, 3}}};
    m.outputs = {{"y", {-1, 5, 3, 4}}};
    // [n_b, c_b, h_b, w_b, n_e, c_e, h_e, w_e]
    m.initializers = {ow::ints("pads", {8}, {0, 1, 0, 1, 0, 2, 0, 0})};
    m.nodes = {node("Pad", "pad", {"x", "pads"}, {"y"})};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk() && r->graph) << r.message();
    Tensor x({1, 3, 3, 2});
    for (int64_t i = 0; i < x.size(); ++i)
        x[i] = static_cast<float>(i + 1);
    const Tensor y = run(*r->graph, x);
    ASSERT_EQ(y.shape(), (Shape{1, 3, 4, 5}));
    for (int64_t h = 0; h < 3; ++h)
        for (int64_t w = 0; w < 4; ++w)
            for (int64_t c = 0; c < 5; ++c) {
                const bool inside = w >= 1 && c >= 1 && c <= 2;
                EXPECT_EQ(y[(h * 4 + w) * 5 + c], inside ? x[(h * 3 + w - 1) * 2 + c - 1] : 0.0f);
            }
}

TEST(OnnxImport, ReshapeThatMovesTheBatchIsReported) {
    ow::ModelSpec m = convModel();
    m.initializers.push_back(ow::ints("shape", {2}, {-1, 9}));
    m.nodes.push_back(node("Reshape", "to_rows", {"c", "shape"}, {"y"}));
    m.outputs = {{"y", {-1, 9}}};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_EQ(r->report.unsupported.size(), 1u);
    EXPECT_EQ(r->report.unsupported[0].nodeName, "to_rows");
    EXPECT_NE(r->report.unsupported[0].reason.find("batch"), std::string::npos);
}

TEST(OnnxImport, FlattenedNchwOutputIsReported) {
    ow::ModelSpec m = convModel();
    m.nodes.push_back(node("Flatten", "flat", {"c"}, {"y"}));
    m.outputs = {{"y", {-1, 18}}};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_EQ(r->report.unsupported.size(), 1u);
    EXPECT_EQ(r->report.unsupported[0].opType, "(graph output)");
}

TEST(OnnxImport, ArithmeticOnTheSymbolicBatchIsReported) {
    ow::ModelSpec m = convModel();
    m.initializers.push_back(ow::ints("zero", {1}, {0}));
    m.initializers.push_back(ow::ints("two", {}, {2}));
    m.initializers.push_back(ow::ints("rest", {1}, {-1}));
    m.nodes.push_back(node("Shape", "shape", {"c"}, {"s"}));
    m.nodes.push_back(node("Gather", "batch", {"s", "zero"}, {"n"}));
    m.nodes.push_back(node("Mul", "twice", {"n", "two"}, {"n2"}));
    m.nodes.push_back(node("Concat", "target", {"n2", "rest"}, {"t"}, {ow::attrInt("axis", 0)}));
    m.nodes.push_back(node("Reshape", "reshape", {"c", "t"}, {"y"}));
    m.outputs = {{"y", {-1, 9}}};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_FALSE(r->report.unsupported.empty());
    EXPECT_EQ(r->report.unsupported[0].nodeName, "twice");
    EXPECT_NE(r->report.unsupported[0].reason.find("batch"), std::string::npos);
}

TEST(OnnxImport, GraphWithTwoInputsIsReported) {
    ow::ModelSpec m = convModel();
    m.inputs.push_back({"extra", {-1, 2, 3, 3}});
    m.nodes.push_back(node("Add", "sum", {"c", "extra"}, {"y"}));
    m.outputs = {{"y", {-1, 2, 3, 3}}};
    auto r = importSpec(m);
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_EQ(r->report.unsupported.size(), 1u);
    EXPECT_EQ(r->report.unsupported[0].nodeName, "extra");
    EXPECT_EQ(r->report.unsupported[0].opType, "(graph input)");
}

TEST(OnnxImport, OutputOptionPicksOneOutputAndSkipsWhatItDoesNotNeed) {
    ow::ModelSpec m = convModel();
    m.nodes.push_back(node("Relu", "relu", {"c"}, {"y"}));
    m.nodes.push_back(node("Erf", "erf", {"c"}, {"e"})); // only the second output needs it
    m.outputs = {{"y", {-1, 2, 3, 3}}, {"e", {-1, 2, 3, 3}}};
    auto both = importSpec(m);
    ASSERT_TRUE(both.isOk()) << both.message();
    EXPECT_EQ(both->report.unsupported.size(), 2u) << formatCoverageReport(both->report);
    ImportOptions options;
    options.outputName = "y";
    auto one = importOnnxBytes(m.bytes(), "two_outputs.onnx", options);
    ASSERT_TRUE(one.isOk()) << one.message();
    ASSERT_TRUE(one->graph) << formatCoverageReport(one->report);
    EXPECT_EQ(one->graph->outputNode().name, "relu");
    EXPECT_TRUE(hasNote(one->report, "1 nodes that the imported output does not depend on"));
    // An intermediate tensor works too: the graph is cut there.
    options.outputName = "c";
    auto cut = importOnnxBytes(m.bytes(), "two_outputs.onnx", options);
    ASSERT_TRUE(cut.isOk() && cut->graph) << cut.message();
    EXPECT_EQ(cut->report.layers, 1);
    options.outputName = "nope";
    auto missing = importOnnxBytes(m.bytes(), "two_outputs.onnx", options);
    ASSERT_FALSE(missing.isOk());
    EXPECT_NE(missing.message().find("'nope'"), std::string::npos) << missing.message();
}

TEST(OnnxImport, JsonReportOfASupportedModel) {
    ImportResult r = importOk(fixturePath("concat_net.onnx"));
    const std::string json = coverageReportToJson(r.report, 2);
    for (const char* key : {"\"supported\": true", "\"unsupported_ops\": []", "\"inputs\"",
                            "\"outputs\"", "\"layers\"", "\"graph_shape\""})
        EXPECT_NE(json.find(key), std::string::npos) << key << " missing in " << json;
}

} // namespace
} // namespace qat
