// Float .tflite import: every zoo model (and the exporter's two coverage graphs, which use
// every padding pattern the exporter writes) exported with exportFloatTfliteBytes imports
// back to the same function (Network vs Network); hand-built files (TfliteBuilder) cover
// FLOAT16/INT8 weights behind DEQUANTIZE, fused activations and the coverage report; real
// files nobody here wrote (MediaPipe, see below) are tried when present in a cache dir.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>

#include "io/tflite/tflite_builder.h"
#include "qat/importers.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/tflite_export.h"
#include "testing/tflite_test_graphs.h"

namespace qat {
namespace {

namespace tfl = qat::tflite;
namespace fs = std::filesystem;

constexpr uint64_t kSeed = 20240917;
// Export folds BatchNorm into the weights (w * gamma / sqrt(var + eps)), so the imported
// model computes the same function in a different float order.
constexpr double kRoundTripAbs = 1e-4;
constexpr double kRoundTripRel = 1e-3;

Tensor randomInput(const Shape& sample, int64_t batch, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    Tensor t(withBatch(batch, sample));
    for (int64_t i = 0; i < t.size(); ++i)
        t[i] = u(rng);
    return t;
}

Tensor forward(Graph& graph, const Tensor& input) {
    auto net = Network::create(graph, kSeed);
    EXPECT_TRUE(net.isOk()) << net.message();
    if (!net)
        return {};
    return net.value()->forward(input, Phase::Eval);
}

void expectSameFunction(Graph& original, Graph& imported, const std::string& what) {
    ASSERT_EQ(original.inputShape(), imported.inputShape()) << what;
    const Tensor x = randomInput(original.inputShape(), 3, kSeed);
    const Tensor want = forward(original, x);
    const Tensor got = forward(imported, x);
    ASSERT_EQ(want.shape(), got.shape()) << what;
    for (int64_t i = 0; i < want.size(); ++i)
        ASSERT_LE(std::abs(got[i] - want[i]), kRoundTripAbs + kRoundTripRel * std::abs(want[i]))
            << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
}

ImportResult importBytes(const std::vector<uint8_t>& bytes, const std::string& name) {
    auto r = importTfliteBytes(bytes, name);
    EXPECT_TRUE(r.isOk()) << r.message();
    if (!r)
        return {};
    EXPECT_TRUE(r->report.supported) << formatCoverageReport(r->report);
    return std::move(*r);
}

class ZooRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooRoundTrip, ExportedFloatTfliteImportsToTheSameFunction) {
    auto graph = loadModelOrZoo(GetParam(), std::nullopt, kSeed);
    ASSERT_TRUE(graph.isOk()) << graph.message();
    testing::randomizeStatistics(*graph, kSeed);
    auto bytes = exportFloatTfliteBytes(*graph);
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    ImportResult r = importBytes(*bytes, GetParam() + ".tflite");
    ASSERT_TRUE(r.graph.has_value());
    EXPECT_EQ(r.report.format, ModelFormat::Tflite);
    ASSERT_EQ(r.report.inputs.size(), 1u);
    EXPECT_EQ(r.report.inputs[0].fileLayout, "NHWC");
    EXPECT_EQ(r.report.inputs[0].graphShape, graph->inputShape());
    EXPECT_EQ(r.report.outputs[0].graphShape, graph->outputShape());
    EXPECT_EQ(r.graph->outputNode().type, graph->outputNode().type);
    expectSameFunction(*graph, *r.graph, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooRoundTrip, ::testing::ValuesIn(zooModelNames()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                             std::string name = param.param;
                             for (char& c : name)
                                 if (c == '-')
                                     c = '_';
                             return name;
                         });

Graph finalized(Graph g, uint64_t seed) {
    Status s = g.finalize();
    QAT_ASSERT(s.isOk());
    g.initializeParams(seed);
    testing::randomizeStatistics(g, seed + 1);
    return g;
}

// The exporter's coverage graphs use PAD + VALID conv, PADV2(-FLT_MAX) + MAX_POOL_2D,
// PAD + AVERAGE_POOL_2D + MUL (edge rescale), grouped CONV_2D, dilation, depth multiplier,
// chained ADDs with a fused RELU6, CONCATENATION on width, RESHAPE, MEAN and every unary op.
TEST(TfliteImport, ExporterCoverageGraphsRoundTrip) {
    std::vector<std::pair<std::string, Graph>> graphs;
    graphs.emplace_back("activations", finalized(testing::activationsCoverageGraph(), kSeed));
    graphs.emplace_back("structure", finalized(testing::structureCoverageGraph(), kSeed + 7));
    for (auto& [name, graph] : graphs) {
        auto bytes = exportFloatTfliteBytes(graph);
        ASSERT_TRUE(bytes.isOk()) << bytes.message();
        ImportResult r = importBytes(*bytes, name + ".tflite");
        ASSERT_TRUE(r.graph.has_value()) << name;
        expectSameFunction(graph, *r.graph, name);
    }
}

TEST(TfliteImport, PaddingPatternsOfTheExporterBecomeExplicitPools) {
    Graph g = finalized(testing::structureCoverageGraph(), kSeed);
    auto bytes = exportFloatTfliteBytes(g);
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    ImportResult r = importBytes(*bytes, "structure.tflite");
    ASSERT_TRUE(r.graph.has_value());
    int explicitMax = 0, explicitAvg = 0;
    for (const Node& n : r.graph->nodes) {
        const bool isExplicit = n.attrs.getString("padding", "") == "explicit";
        explicitMax += n.type == OpType::MaxPool && isExplicit;
        explicitAvg += n.type == OpType::AvgPool && isExplicit;
    }
    EXPECT_EQ(explicitMax, 1);
    EXPECT_EQ(explicitAvg, 1);
    bool sawMax = false, sawAvg = false;
    for (const std::string& note : r.report.notes) {
        sawMax = sawMax || note.find("PADV2") != std::string::npos;
        sawAvg = sawAvg || note.find("edge-count rescale") != std::string::npos;
    }
    EXPECT_TRUE(sawMax && sawAvg) << formatCoverageReport(r.report);
}

// ---- hand-built files ----

uint16_t toHalf(float f) {
    // Exact for the values used here (small dyadic rationals).
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
    const uint32_t mantissa = (bits >> 13) & 0x3ffu;
    if ((bits & 0x7fffffffu) == 0)
        return static_cast<uint16_t>(sign);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(exponent) << 10 | mantissa);
}

struct ConvFile {
    std::vector<uint8_t> bytes;
    std::vector<float> weights; // [4,3,3,2] OHWI as float
    std::vector<float> bias;
};

// input [1,6,6,2] -> CONV_2D (weights `weightType` behind DEQUANTIZE unless FLOAT32,
// 4 filters 3x3, SAME, fused `act`) -> output [1,6,6,4].
ConvFile convFile(tfl::TensorType weightType, tfl::Activation act) {
    ConvFile f;
    for (int i = 0; i < 4 * 3 * 3 * 2; ++i)
        f.weights.push_back(0.125f * static_cast<float>((i * 7) % 11 - 5));
    f.bias = {0.5f, -0.25f, 0.0f, 1.0f};
    tfl::TfliteBuilder b;
    const int32_t in = b.addTensor("image", {1, 6, 6, 2}, tfl::TensorType::Float32);
    int32_t w = 0;
    if (weightType == tfl::TensorType::Float32) {
        w = b.addConstTensor("w", {4, 3, 3, 2}, tfl::TensorType::Float32, f.weights);
    } else if (weightType == tfl::TensorType::Float16) {
        std::vector<uint16_t> half;
        for (float v : f.weights)
            half.push_back(toHalf(v));
        const int32_t packed =
            b.addConstTensor("w_fp16", {4, 3, 3, 2}, tfl::TensorType::Float16, half);
        w = b.addTensor("w", {4, 3, 3, 2}, tfl::TensorType::Float32);
        b.addOperator(tfl::BuiltinOp::Dequantize, 1, {packed}, {w}, tfl::DequantizeOptions{});
    } else {
        // Per-output-channel INT8: scale 0.125 / (c + 1), zero point c.
        tfl::Quantization q;
        std::vector<int8_t> raw;
        for (int c = 0; c < 4; ++c) {
            q.scales.push_back(0.125f / static_cast<float>(c + 1));
            q.zeroPoints.push_back(c);
        }
        for (size_t i = 0; i < f.weights.size(); ++i) {
            const size_t c = i / 18;
            raw.push_back(static_cast<int8_t>(std::lround(f.weights[i] / q.scales[c]) +
                                              static_cast<long>(c)));
        }
        q.quantizedDimension = 0;
        const int32_t packed =
            b.addConstTensor("w_int8", {4, 3, 3, 2}, tfl::TensorType::Int8, raw, q);
        w = b.addTensor("w", {4, 3, 3, 2}, tfl::TensorType::Float32);
        b.addOperator(tfl::BuiltinOp::Dequantize, 2, {packed}, {w}, tfl::DequantizeOptions{});
    }
    const int32_t bias = b.addConstTensor("b", {4}, tfl::TensorType::Float32, f.bias);
    const int32_t out = b.addTensor("conv_out", {1, 6, 6, 4}, tfl::TensorType::Float32);
    tfl::Conv2DOptions options;
    options.padding = tfl::Padding::Same;
    options.activation = act;
    b.addOperator(tfl::BuiltinOp::Conv2D, 1, {in, w, bias}, {out}, options);
    b.setInputs({in});
    b.setOutputs({out});
    auto bytes = b.finish();
    QAT_ASSERT(bytes.isOk());
    f.bytes = std::move(*bytes);
    return f;
}

// The same convolution built directly in the graph IR.
Graph referenceConv(const ConvFile& f, std::optional<OpType> activation) {
    Graph g;
    g.nodes.push_back(testing::inputNode({6, 6, 2}));
    Node conv = testing::makeNode("conv", OpType::Conv2D, {"input"},
                                  {{"filters", AttrValue(int64_t{4})},
                                   {"kernel", AttrValue(testing::Ints{3, 3})},
                                   {"padding", AttrValue(std::string("same"))}});
    conv.params["weights"] = Tensor({4, 3, 3, 2}, f.weights);
    conv.params["bias"] = Tensor({4}, f.bias);
    g.nodes.push_back(std::move(conv));
    if (activation)
        g.nodes.push_back(testing::makeNode("act", *activation, {"conv"}));
    Status s = g.finalize();
    QAT_ASSERT(s.isOk());
    return g;
}

TEST(TfliteImport, Float16WeightsBehindDequantizeAreConverted) {
    ConvFile f = convFile(tfl::TensorType::Float16, tfl::Activation::Relu6);
    ImportResult r = importBytes(f.bytes, "fp16.tflite");
    ASSERT_TRUE(r.graph.has_value());
    EXPECT_EQ(r.report.fileOps, 2);
    EXPECT_EQ(r.report.layers, 2); // Conv2D + the fused ReLU6 as a node
    bool noted = false;
    for (const std::string& n : r.report.notes)
        noted = noted || n.find("FLOAT16") != std::string::npos;
    EXPECT_TRUE(noted) << formatCoverageReport(r.report);
    Graph want = referenceConv(f, OpType::ReLU6);
    expectSameFunction(want, *r.graph, "fp16");
}

TEST(TfliteImport, PerAxisInt8WeightsBehindDequantizeAreDequantized) {
    ConvFile f = convFile(tfl::TensorType::Int8, tfl::Activation::Relu);
    ImportResult r = importBytes(f.bytes, "int8w.tflite");
    ASSERT_TRUE(r.graph.has_value());
    const Node* conv = r.graph->find("conv_out");
    ASSERT_NE(conv, nullptr);
    const Tensor& w = conv->params.at("weights");
    for (int64_t i = 0; i < w.size(); ++i)
        ASSERT_FLOAT_EQ(w[i], f.weights[static_cast<size_t>(i)]) << i;
    Graph want = referenceConv(f, OpType::ReLU);
    expectSameFunction(want, *r.graph, "int8 weights");
}

TEST(TfliteImport, UnsupportedOperatorsAreAllListedWithNames) {
    tfl::TfliteBuilder b;
    const int32_t in = b.addTensor("x", {1, 8}, tfl::TensorType::Float32);
    const int32_t a = b.addTensor("squared", {1, 8}, tfl::TensorType::Float32);
    const int32_t c = b.addTensor("negated", {1, 8}, tfl::TensorType::Float32);
    const int32_t d = b.addTensor("relu", {1, 8}, tfl::TensorType::Float32);
    const int32_t e = b.addTensor("softmax_b2", {1, 8}, tfl::TensorType::Float32);
    b.addOperator(tfl::BuiltinOp::Mul, 1, {in, in}, {a}, tfl::MulOptions{});
    b.addOperator(static_cast<tfl::BuiltinOp>(59 /* NEG */), 1, {a}, {c});
    b.addOperator(tfl::BuiltinOp::Relu, 1, {c}, {d});
    b.addOperator(tfl::BuiltinOp::Softmax, 1, {d}, {e}, tfl::SoftmaxOptions{2.0f});
    b.setInputs({in});
    b.setOutputs({e});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    auto r = importTfliteBytes(*bytes, "unsupported.tflite");
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_FALSE(r->report.supported);
    EXPECT_FALSE(r->graph.has_value());
    std::vector<std::string> names;
    for (const UnsupportedOp& op : r->report.unsupported)
        names.push_back(op.nodeName + ":" + op.opType);
    // RELU is fine (but downstream of MUL); SOFTMAX's beta 2 is reported regardless.
    EXPECT_EQ(names, (std::vector<std::string>{"squared:MUL", "negated:NEG", "softmax_b2:SOFTMAX"}))
        << formatCoverageReport(r->report);
    EXPECT_NE(r->report.unsupported[2].reason.find("beta"), std::string::npos);
}

TEST(TfliteImport, OutputOptionPicksOneOfSeveralOutputs) {
    tfl::TfliteBuilder b;
    const int32_t in = b.addTensor("x", {1, 8}, tfl::TensorType::Float32);
    const int32_t relu = b.addTensor("relu", {1, 8}, tfl::TensorType::Float32);
    const int32_t neg = b.addTensor("negated", {1, 8}, tfl::TensorType::Float32);
    b.addOperator(tfl::BuiltinOp::Relu, 1, {in}, {relu});
    b.addOperator(static_cast<tfl::BuiltinOp>(59 /* NEG */), 1, {in}, {neg});
    b.setInputs({in});
    b.setOutputs({neg, relu});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk());
    auto all = importTfliteBytes(*bytes, "two.tflite");
    ASSERT_TRUE(all.isOk()) << all.message();
    ASSERT_EQ(all->report.unsupported.size(), 2u) << formatCoverageReport(all->report);
    EXPECT_EQ(all->report.unsupported[1].opType, "(graph output)");
    EXPECT_NE(all->report.unsupported[1].reason.find("--output"), std::string::npos);
    ImportOptions options;
    options.outputName = "relu";
    auto one = importTfliteBytes(*bytes, "two.tflite", options);
    ASSERT_TRUE(one.isOk()) << one.message();
    ASSERT_TRUE(one->graph) << formatCoverageReport(one->report);
    EXPECT_EQ(one->report.outputs[0].name, "relu");
    EXPECT_EQ(one->graph->outputNode().type, OpType::ReLU);
    options.outputName = "absent";
    EXPECT_FALSE(importTfliteBytes(*bytes, "two.tflite", options).isOk());
}

// BlazeFace pads channels with zeros before its residual ADDs.
TEST(TfliteImport, ChannelPaddingBecomesAnIdentityConv) {
    tfl::TfliteBuilder b;
    const int32_t in = b.addTensor("x", {1, 3, 3, 2}, tfl::TensorType::Float32);
    const int32_t paddings = b.addConstTensor("paddings", {4, 2}, tfl::TensorType::Int32,
                                              std::vector<int32_t>{0, 0, 1, 0, 0, 0, 1, 2});
    const int32_t out = b.addTensor("padded", {1, 4, 3, 5}, tfl::TensorType::Float32);
    b.addOperator(tfl::BuiltinOp::Pad, 1, {in, paddings}, {out}, tfl::PadOptions{});
    b.setInputs({in});
    b.setOutputs({out});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    ImportResult r = importBytes(*bytes, "channel_pad.tflite");
    ASSERT_TRUE(r.graph.has_value());
    EXPECT_EQ(r.graph->outputShape(), (Shape{4, 3, 5}));
    const Tensor x = randomInput({3, 3, 2}, 2, kSeed);
    const Tensor y = forward(*r.graph, x);
    for (int64_t n = 0; n < 2; ++n)
        for (int64_t h = 0; h < 4; ++h)
            for (int64_t w = 0; w < 3; ++w)
                for (int64_t c = 0; c < 5; ++c) {
                    const bool inside = h >= 1 && c >= 1 && c <= 2;
                    const float want = inside ? x[((n * 3 + h - 1) * 3 + w) * 2 + c - 1] : 0.0f;
                    ASSERT_EQ(y[((n * 4 + h) * 3 + w) * 5 + c], want) << n << h << w << c;
                }
}

TEST(TfliteImport, QuantizedModelIsReportedNotGuessed) {
    tfl::TfliteBuilder b;
    tfl::Quantization q;
    q.scales = {0.1f};
    q.zeroPoints = {0};
    const int32_t in = b.addTensor("x", {1, 4, 4, 1}, tfl::TensorType::Int8, 0, q);
    const int32_t out = b.addTensor("y", {1, 4, 4, 1}, tfl::TensorType::Int8, 0, q);
    b.addOperator(tfl::BuiltinOp::Relu, 1, {in}, {out});
    b.setInputs({in});
    b.setOutputs({out});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk());
    auto r = importTfliteBytes(*bytes, "int8.tflite");
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_EQ(r->report.unsupported.size(), 2u) << formatCoverageReport(r->report);
    EXPECT_EQ(r->report.unsupported[0].opType, "(graph input)");
    EXPECT_NE(r->report.unsupported[0].reason.find("quantized"), std::string::npos);
    EXPECT_EQ(r->report.unsupported[1].opType, "RELU");
}

TEST(TfliteImport, DeclaredShapeThatDisagreesIsAnError) {
    tfl::TfliteBuilder b;
    const int32_t in = b.addTensor("x", {1, 4, 4, 3}, tfl::TensorType::Float32);
    const int32_t out = b.addTensor("y", {1, 2, 2, 3}, tfl::TensorType::Float32);
    b.addOperator(tfl::BuiltinOp::Relu, 1, {in}, {out});
    b.setInputs({in});
    b.setOutputs({out});
    auto bytes = b.finish();
    ASSERT_TRUE(bytes.isOk());
    auto r = importTfliteBytes(*bytes, "shape.tflite");
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("declares output"), std::string::npos) << r.message();
}

TEST(TfliteImport, ImportModelDispatchesOnContentNotExtension) {
    auto graph = loadModelOrZoo("mnist-cnn", std::nullopt, kSeed);
    ASSERT_TRUE(graph.isOk());
    auto bytes = exportFloatTfliteBytes(*graph);
    ASSERT_TRUE(bytes.isOk());
    const fs::path path =
        fs::temp_directory_path() / ("qat_import_dispatch_" + std::to_string(::getpid()) + ".onnx");
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes->data()),
                  static_cast<std::streamsize>(bytes->size()));
    }
    ImportOptions options;
    options.inputMean = {0.5f};
    options.inputScale = {2.0f};
    auto r = importModel(path.string(), options);
    fs::remove(path);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->report.format, ModelFormat::Tflite);
    ASSERT_TRUE(r->graph.has_value());
    EXPECT_NE(r->graph->find("input_normalization"), nullptr);
    // Saved as .qatm, it loads back as the same graph (and imports as QAT Lab's own format).
    const fs::path qatm =
        fs::temp_directory_path() / ("qat_import_dispatch_" + std::to_string(::getpid()) + ".qatm");
    ASSERT_TRUE(saveModel(*r->graph, qatm.string()).isOk());
    auto again = importModel(qatm.string());
    fs::remove(qatm);
    ASSERT_TRUE(again.isOk()) << again.message();
    EXPECT_EQ(again->report.format, ModelFormat::QatModel);
    ASSERT_TRUE(again->graph.has_value());
    expectSameFunction(*r->graph, *again->graph, "qatm");
}

std::optional<std::vector<float>> readFloats(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

// Runs an imported real model; when the cache holds "<file>.input.bin" (raw float32 NHWC
// samples) and "<file>.<output>.bin" (what a real TFLite runtime computed for that output),
// the outputs must agree. Tolerance: the file's weights are FLOAT16 and its runtime (LiteRT
// XNNPACK) sums in another order; outputs are pixel coordinates of order 100.
void runRealModel(Graph& graph, const fs::path& file, const std::string& output) {
    Tensor x = randomInput(graph.inputShape(), 1, kSeed);
    auto input = readFloats(file.string() + ".input.bin");
    auto want = readFloats(file.string() + "." + output + ".bin");
    if (input && want && static_cast<int64_t>(input->size()) % shapeSize(graph.inputShape()) == 0) {
        const int64_t n = static_cast<int64_t>(input->size()) / shapeSize(graph.inputShape());
        x = Tensor(withBatch(n, graph.inputShape()), *input);
    }
    const Tensor y = forward(graph, x);
    EXPECT_EQ(y.shape(), withBatch(x.dim(0), graph.outputShape()));
    if (!input || !want)
        return;
    ASSERT_EQ(static_cast<size_t>(y.size()), want->size()) << file;
    double worst = 0;
    for (size_t i = 0; i < want->size(); ++i) {
        const double d = std::abs(y[static_cast<int64_t>(i)] - (*want)[i]);
        worst = std::max(worst, d);
        EXPECT_LE(d, 1e-2 + 1e-3 * std::abs((*want)[i])) << file << " element " << i;
    }
    std::cout << file.filename().string() << ": output '" << output
              << "' vs the reference runtime: max abs difference " << worst << "\n";
}

// Real float .tflite files from npm packages (@mediapipe/face_detection, hands,
// selfie_segmentation ...), fetched by hand with `npm pack` into the cache directory
// ($QAT_REAL_TFLITE_DIR, default ~/.cache/qatlab/real-tflite). They are not committed.
// Each must either import (and then run) or produce a complete coverage report; never an
// error, since they are valid files.
TEST(TfliteImport, RealFilesImportOrReportPrecisely) {
    std::string dir;
    if (const char* env = std::getenv("QAT_REAL_TFLITE_DIR"))
        dir = env;
    else if (const char* home = std::getenv("HOME"))
        dir = std::string(home) + "/.cache/qatlab/real-tflite";
    std::error_code ec;
    std::vector<fs::path> files;
    if (!dir.empty() && fs::is_directory(dir, ec))
        for (const auto& entry : fs::recursive_directory_iterator(dir, ec))
            if (entry.path().extension() == ".tflite" && entry.is_regular_file())
                files.push_back(entry.path());
    if (files.empty())
        GTEST_SKIP() << "no real .tflite files in '" << dir
                     << "' (npm pack @mediapipe/face_detection etc. and copy the .tflite files "
                        "there, or set QAT_REAL_TFLITE_DIR)";
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
        auto r = importModel(file.string());
        ASSERT_TRUE(r.isOk()) << r.message();
        std::cout << formatCoverageReport(r->report);
        EXPECT_GT(r->report.fileOps, 0);
        EXPECT_EQ(r->graph.has_value(), r->report.supported);
        if (r->graph) {
            EXPECT_TRUE(r->report.unsupported.empty());
            runRealModel(*r->graph, file, r->report.outputs[0].name);
        } else {
            ASSERT_FALSE(r->report.unsupported.empty()) << file;
            bool onlyOutputs = true;
            for (const UnsupportedOp& op : r->report.unsupported) {
                EXPECT_FALSE(op.nodeName.empty()) << file;
                EXPECT_FALSE(op.opType.empty()) << file;
                EXPECT_FALSE(op.reason.empty()) << file;
                onlyOutputs = onlyOutputs && op.opType == "(graph output)";
            }
            // When several outputs are all that is wrong, picking one must import.
            if (onlyOutputs) {
                ImportOptions options;
                options.outputName = r->report.outputs[0].name;
                auto one = importModel(file.string(), options);
                ASSERT_TRUE(one.isOk()) << one.message();
                std::cout << formatCoverageReport(one->report);
                ASSERT_TRUE(one->graph) << file;
                runRealModel(*one->graph, file, options.outputName);
            }
        }
    }
}

} // namespace
} // namespace qat
