// Float .tflite export, checked structurally by reading the file back with the generated
// schema: the operator sequence per zoo model, BatchNorm folding (weights and biases
// against the formula), fused activations, padding decisions, operator versions, the size
// report, the atomic file write, and the errors (unfoldable BatchNorm, unwritable path).
// Numerical agreement with a real runtime is tests/interop/litert_float_test.cpp.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/tflite/tflite_schema.h"
#include "qat/model_io.h"
#include "qat/tflite_export.h"
#include "testing/tflite_test_graphs.h"

namespace qat {
namespace {

namespace fb = qat::tflite::fb;
namespace fs = std::filesystem;
using testing::Ints;
using testing::makeNode;

constexpr uint64_t kSeed = 20240611;

Graph zooGraph(const std::string& name) {
    auto g = loadModelOrZoo(name, std::nullopt, kSeed);
    QAT_ASSERT(g.isOk());
    testing::randomizeStatistics(*g, kSeed);
    return std::move(*g);
}

Graph finalized(Graph g) {
    Status s = g.finalize();
    QAT_ASSERT(s.isOk());
    g.initializeParams(kSeed);
    testing::randomizeStatistics(g, kSeed + 1);
    return g;
}

// The exported model plus convenient views of it.
struct Exported {
    std::vector<uint8_t> bytes;
    TfliteExportReport report;
    const fb::Model* model = nullptr;
    const fb::SubGraph* sg = nullptr;

    std::vector<std::string> ops() const {
        std::vector<std::string> names;
        for (const fb::Operator* op : *sg->operators())
            names.push_back(fb::EnumNameBuiltinOperator(
                fb::builtinCode(*model->operator_codes()->Get(op->opcode_index()))));
        return names;
    }
    const fb::Operator* op(size_t i) const {
        return sg->operators()->Get(static_cast<uint32_t>(i));
    }
    int version(size_t i) const {
        return model->operator_codes()->Get(op(i)->opcode_index())->version();
    }
    const fb::Tensor* tensor(int32_t i) const {
        return sg->tensors()->Get(static_cast<uint32_t>(i));
    }
    const fb::Tensor* input(size_t opIndex, size_t k) const {
        return tensor(op(opIndex)->inputs()->Get(static_cast<uint32_t>(k)));
    }
    const fb::Tensor* output(size_t opIndex) const {
        return tensor(op(opIndex)->outputs()->Get(0));
    }
    std::vector<float> floats(const fb::Tensor* t) const {
        const auto* data = model->buffers()->Get(t->buffer())->data();
        std::vector<float> v(data ? data->size() / 4 : 0);
        if (data)
            std::memcpy(v.data(), data->data(), data->size());
        return v;
    }
    std::vector<int32_t> int32s(const fb::Tensor* t) const {
        const auto* data = model->buffers()->Get(t->buffer())->data();
        std::vector<int32_t> v(data ? data->size() / 4 : 0);
        if (data)
            std::memcpy(v.data(), data->data(), data->size());
        return v;
    }
};

std::vector<int32_t> shapeOf(const fb::Tensor* t) {
    return std::vector<int32_t>(t->shape()->begin(), t->shape()->end());
}

Exported exportGraph(const Graph& g) {
    Exported e;
    auto bytes = exportFloatTfliteBytes(g, &e.report);
    EXPECT_TRUE(bytes.isOk()) << bytes.message();
    if (!bytes)
        return e;
    e.bytes = std::move(*bytes);
    flatbuffers::Verifier verifier(e.bytes.data(), e.bytes.size());
    EXPECT_TRUE(fb::VerifyModelBuffer(verifier));
    e.model = fb::GetModel(e.bytes.data());
    e.sg = e.model->subgraphs()->Get(0);
    return e;
}

TEST(TfliteExport, MnistCnnMapsNodeForNodeWithTheGraphsWeights) {
    const Graph g = zooGraph("mnist-cnn");
    const Exported e = exportGraph(g);
    ASSERT_NE(e.model, nullptr);
    EXPECT_EQ(e.model->version(), 3u);
    EXPECT_EQ(e.ops(), (std::vector<std::string>{"CONV_2D", "MAX_POOL_2D", "RESHAPE",
                                                 "FULLY_CONNECTED", "SOFTMAX"}));
    for (size_t i = 0; i < 5; ++i)
        EXPECT_EQ(e.version(i), 1) << e.ops()[i];
    EXPECT_EQ(shapeOf(e.tensor(e.sg->inputs()->Get(0))), (std::vector<int32_t>{1, 28, 28, 1}));
    EXPECT_EQ(shapeOf(e.tensor(e.sg->outputs()->Get(0))), (std::vector<int32_t>{1, 10}));
    EXPECT_EQ(e.tensor(e.sg->outputs()->Get(0))->name()->str(), "softmax");

    // CONV_2D: OHWI weights copied as is, bias, VALID, ReLU fused (relu1 absorbed).
    const auto* conv = e.op(0)->builtin_options_as_Conv2DOptions();
    ASSERT_NE(conv, nullptr);
    EXPECT_EQ(conv->padding(), fb::Padding_VALID);
    EXPECT_EQ(conv->fused_activation_function(), fb::ActivationFunctionType_RELU);
    EXPECT_EQ(conv->stride_h(), 1);
    EXPECT_EQ(shapeOf(e.input(0, 1)), (std::vector<int32_t>{12, 3, 3, 1}));
    EXPECT_EQ(e.floats(e.input(0, 1)), g.find("conv1")->params.at("weights").vec());
    EXPECT_EQ(e.floats(e.input(0, 2)), g.find("conv1")->params.at("bias").vec());
    EXPECT_EQ(e.output(0)->name()->str(), "relu1");

    const auto* pool = e.op(1)->builtin_options_as_Pool2DOptions();
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->filter_height(), 2);
    EXPECT_EQ(pool->stride_w(), 2);
    EXPECT_EQ(pool->padding(), fb::Padding_VALID);

    // RESHAPE: both the shape tensor and new_shape.
    const auto* reshape = e.op(2)->builtin_options_as_ReshapeOptions();
    ASSERT_NE(reshape, nullptr);
    EXPECT_EQ(std::vector<int32_t>(reshape->new_shape()->begin(), reshape->new_shape()->end()),
              (std::vector<int32_t>{1, 2028}));
    EXPECT_EQ(e.input(2, 1)->type(), fb::TensorType_INT32);
    EXPECT_EQ(e.int32s(e.input(2, 1)), (std::vector<int32_t>{1, 2028}));

    EXPECT_EQ(shapeOf(e.input(3, 1)), (std::vector<int32_t>{10, 2028}));
    EXPECT_EQ(e.floats(e.input(3, 1)), g.find("dense1")->params.at("weights").vec());
    EXPECT_FLOAT_EQ(e.op(4)->builtin_options_as_SoftmaxOptions()->beta(), 1.0f);

    // Report: one entry per operator; weights and biases in float32 bytes.
    ASSERT_EQ(e.report.layers.size(), 5u);
    EXPECT_EQ(e.report.layers[0].layer, "conv1");
    EXPECT_EQ(e.report.layers[0].op, "CONV_2D");
    EXPECT_EQ(e.report.layers[0].fusedNodes, std::vector<std::string>{"relu1"});
    EXPECT_EQ(e.report.layers[0].weightType, "FLOAT32");
    EXPECT_EQ(e.report.layers[0].weightBytes, 4 * 108);
    EXPECT_EQ(e.report.layers[0].biasBytes, 4 * 12);
    EXPECT_EQ(e.report.layers[3].weightBytes, 4 * 20280);
    EXPECT_EQ(e.report.layers[1].weightBytes, 0);
    EXPECT_EQ(e.report.weightBytes(), 4 * (108 + 20280));
    EXPECT_EQ(e.report.biasBytes(), 4 * (12 + 10));
    EXPECT_EQ(e.report.totalBytes, static_cast<int64_t>(e.bytes.size()));
    EXPECT_EQ(e.report.metadataBytes,
              e.report.totalBytes - e.report.weightBytes() - e.report.biasBytes());
    EXPECT_GT(e.report.metadataBytes, 0);
    EXPECT_LT(e.report.metadataBytes, 4096);
}

// s = gamma / sqrt(var + eps); w' = w * s[o]; b' = (b - mean) * s + beta.
TEST(TfliteExport, CnnBnFoldsBatchNormIntoConvolutionsPerOutputChannel) {
    const Graph g = zooGraph("cnn-bn");
    const Exported e = exportGraph(g);
    ASSERT_NE(e.model, nullptr);
    EXPECT_EQ(e.ops(), (std::vector<std::string>{"CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D",
                                                 "RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED",
                                                 "SOFTMAX"}));
    const Node& conv = *g.find("conv2");
    const Node& bn = *g.find("bn2");
    const double eps = static_cast<float>(bn.attrs.getFloat("epsilon", 1e-5));
    const Tensor& w = conv.params.at("weights"); // [64, 3, 3, 32]
    const std::vector<float> folded = e.floats(e.input(2, 1));
    const std::vector<float> bias = e.floats(e.input(2, 2));
    ASSERT_EQ(folded.size(), static_cast<size_t>(w.size()));
    ASSERT_EQ(bias.size(), 64u);
    const int64_t perChannel = 3 * 3 * 32;
    for (int64_t o : {0, 17, 63}) {
        const double s = bn.params.at("gamma")[o] /
                         std::sqrt(static_cast<double>(bn.params.at("moving_var")[o]) + eps);
        for (int64_t i : {int64_t{0}, int64_t{100}, perChannel - 1}) {
            const double want = w[o * perChannel + i] * s;
            EXPECT_NEAR(folded[static_cast<size_t>(o * perChannel + i)], want,
                        1e-6 * std::max(1.0, std::abs(want)));
        }
        const double wantBias =
            (0.0 - bn.params.at("moving_mean")[o]) * s + bn.params.at("beta")[o];
        EXPECT_NEAR(bias[static_cast<size_t>(o)], wantBias, 1e-6);
    }
    EXPECT_EQ(e.op(2)->builtin_options_as_Conv2DOptions()->fused_activation_function(),
              fb::ActivationFunctionType_RELU);
    EXPECT_EQ(e.op(2)->builtin_options_as_Conv2DOptions()->padding(), fb::Padding_SAME);
    EXPECT_EQ(e.output(2)->name()->str(), "relu2");
    EXPECT_EQ(e.report.layers[2].fusedNodes, (std::vector<std::string>{"bn2", "relu2"}));
    // dense1 + relu3: the ReLU fuses into FULLY_CONNECTED.
    EXPECT_EQ(e.op(5)->builtin_options_as_FullyConnectedOptions()->fused_activation_function(),
              fb::ActivationFunctionType_RELU);
    EXPECT_EQ(e.op(6)->builtin_options_as_FullyConnectedOptions()->fused_activation_function(),
              fb::ActivationFunctionType_NONE);
}

TEST(TfliteExport, MobilenetUsesDepthwiseWithFusedRelu6AndMeanForGlobalPooling) {
    const Exported e = exportGraph(zooGraph("mobilenet-tiny"));
    ASSERT_NE(e.model, nullptr);
    const auto ops = e.ops();
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "DEPTHWISE_CONV_2D"), 3);
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "CONV_2D"), 4);
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "RELU6"), 0);
    ASSERT_EQ(ops[1], "DEPTHWISE_CONV_2D");
    const auto* dw = e.op(1)->builtin_options_as_DepthwiseConv2DOptions();
    ASSERT_NE(dw, nullptr);
    EXPECT_EQ(dw->depth_multiplier(), 1);
    EXPECT_EQ(dw->fused_activation_function(), fb::ActivationFunctionType_RELU6);
    EXPECT_EQ(shapeOf(e.input(1, 1)), (std::vector<int32_t>{1, 3, 3, 16}));
    EXPECT_EQ(e.version(1), 1);
    const size_t mean =
        static_cast<size_t>(std::find(ops.begin(), ops.end(), "MEAN") - ops.begin());
    ASSERT_LT(mean, ops.size());
    EXPECT_EQ(e.int32s(e.input(mean, 1)), (std::vector<int32_t>{1, 2}));
    EXPECT_FALSE(e.op(mean)->builtin_options_as_ReducerOptions()->keep_dims());
    EXPECT_EQ(shapeOf(e.output(mean)), (std::vector<int32_t>{1, 128}));
}

TEST(TfliteExport, ResnetAddFusesTheFollowingRelu) {
    const Exported e = exportGraph(zooGraph("resnet-tiny"));
    ASSERT_NE(e.model, nullptr);
    const auto ops = e.ops();
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "ADD"), 2);
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "RELU"), 0);
    for (size_t i = 0; i < ops.size(); ++i)
        if (ops[i] == "ADD") {
            EXPECT_EQ(e.op(i)->builtin_options_as_AddOptions()->fused_activation_function(),
                      fb::ActivationFunctionType_RELU);
        }
}

TEST(TfliteExport, InceptionConcatenatesOnTheChannelAxisWithBatch) {
    const Exported e = exportGraph(zooGraph("inception-tiny"));
    ASSERT_NE(e.model, nullptr);
    const auto ops = e.ops();
    EXPECT_EQ(std::count(ops.begin(), ops.end(), "CONCATENATION"), 2);
    for (size_t i = 0; i < ops.size(); ++i)
        if (ops[i] == "CONCATENATION") {
            EXPECT_EQ(e.op(i)->builtin_options_as_ConcatenationOptions()->axis(), 3);
            EXPECT_EQ(e.op(i)->inputs()->size(), 3u);
        }
}

TEST(TfliteExport, CoverageGraphsUseThePaddingAndGroupingPathsTheyExercise) {
    const Exported a = exportGraph(finalized(testing::activationsCoverageGraph()));
    ASSERT_NE(a.model, nullptr);
    EXPECT_EQ(a.ops(), (std::vector<std::string>{"RELU6", "PAD", "CONV_2D", "LEAKY_RELU",
                                                 "DEPTHWISE_CONV_2D", "HARD_SWISH",
                                                 "AVERAGE_POOL_2D", "LOGISTIC", "CONV_2D", "TANH",
                                                 "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}));
    // paddings [[0,0],[top,bottom],[left,right],[0,0]] for pads [1,2,0,1].
    EXPECT_EQ(a.int32s(a.input(1, 1)), (std::vector<int32_t>{0, 0, 1, 0, 2, 1, 0, 0}));
    EXPECT_EQ(a.op(2)->builtin_options_as_Conv2DOptions()->padding(), fb::Padding_VALID);
    EXPECT_EQ(a.op(2)->builtin_options_as_Conv2DOptions()->dilation_h_factor(), 2);
    EXPECT_FLOAT_EQ(a.op(3)->builtin_options_as_LeakyReluOptions()->alpha(), 0.2f);
    EXPECT_EQ(a.op(4)->builtin_options_as_DepthwiseConv2DOptions()->depth_multiplier(), 2);
    EXPECT_EQ(a.version(4), 2); // dilated depthwise
    EXPECT_EQ(shapeOf(a.input(4, 1)), (std::vector<int32_t>{1, 3, 3, 16}));
    EXPECT_EQ(a.op(6)->builtin_options_as_Pool2DOptions()->padding(), fb::Padding_SAME);
    // The Dropout is elided: RESHAPE feeds FULLY_CONNECTED directly.
    EXPECT_EQ(a.op(10)->outputs()->Get(0), a.op(11)->inputs()->Get(0));

    const Graph sg = finalized(testing::structureCoverageGraph());
    const Exported s = exportGraph(sg);
    ASSERT_NE(s.model, nullptr);
    EXPECT_EQ(s.ops(),
              (std::vector<std::string>{"PAD", "CONV_2D", "PADV2", "MAX_POOL_2D", "PAD",
                                        "AVERAGE_POOL_2D", "MUL", "CONCATENATION", "CONV_2D",
                                        "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D", "ADD", "ADD",
                                        "RESHAPE", "MEAN", "FULLY_CONNECTED", "FULLY_CONNECTED"}));
    EXPECT_EQ(s.output(0)->name()->str(), "zeropad");
    EXPECT_EQ(s.floats(s.input(2, 2)), std::vector<float>{std::numeric_limits<float>::lowest()});
    // AvgPool rescale: kh*kw / in-bounds count; the first column has one padded column.
    const std::vector<float> rescale = s.floats(s.input(6, 1));
    ASSERT_EQ(rescale.size(), 14u * 14u);
    EXPECT_FLOAT_EQ(rescale[0], 1.5f);
    EXPECT_FLOAT_EQ(rescale[1], 1.0f);
    EXPECT_EQ(s.op(7)->builtin_options_as_ConcatenationOptions()->axis(), 2);
    EXPECT_EQ(s.op(8)->builtin_options_as_Conv2DOptions()->padding(), fb::Padding_SAME);
    EXPECT_EQ(s.version(8), 6); // grouped convolution
    EXPECT_EQ(shapeOf(s.input(8, 1)), (std::vector<int32_t>{8, 3, 3, 4}));
    // groups == input channels: DEPTHWISE_CONV_2D with [1,kh,kw,Cout], BN and ReLU folded.
    const auto* cw = s.op(9)->builtin_options_as_DepthwiseConv2DOptions();
    ASSERT_NE(cw, nullptr);
    EXPECT_EQ(cw->depth_multiplier(), 2);
    EXPECT_EQ(cw->fused_activation_function(), fb::ActivationFunctionType_RELU);
    EXPECT_EQ(shapeOf(s.input(9, 1)), (std::vector<int32_t>{1, 3, 3, 16}));
    // 3-input Add: two ADDs, ReLU6 fused into the last only.
    EXPECT_EQ(s.op(12)->builtin_options_as_AddOptions()->fused_activation_function(),
              fb::ActivationFunctionType_NONE);
    EXPECT_EQ(s.op(13)->builtin_options_as_AddOptions()->fused_activation_function(),
              fb::ActivationFunctionType_RELU6);
    EXPECT_EQ(s.output(13)->name()->str(), "add_relu6");
    EXPECT_EQ(s.op(16)->builtin_options_as_FullyConnectedOptions()->fused_activation_function(),
              fb::ActivationFunctionType_RELU);
    EXPECT_EQ(s.output(17)->name()->str(), "logits");
}

TEST(TfliteExport, OnlyNodesTheOutputDependsOnAreExported) {
    Graph g = zooGraph("mnist-cnn");
    g.output = "pool1";
    ASSERT_TRUE(g.finalize().isOk());
    const Exported e = exportGraph(g);
    ASSERT_NE(e.model, nullptr);
    EXPECT_EQ(e.ops(), (std::vector<std::string>{"CONV_2D", "MAX_POOL_2D"}));
    EXPECT_EQ(shapeOf(e.tensor(e.sg->outputs()->Get(0))), (std::vector<int32_t>{1, 13, 13, 12}));
}

TEST(TfliteExport, StandaloneBatchNormIsAnErrorNamingTheNode) {
    Graph g;
    g.nodes.push_back(testing::inputNode({8}));
    g.nodes.push_back(makeNode("norm", OpType::BatchNorm, {"input"}));
    g.nodes.push_back(makeNode("fc", OpType::Dense, {"norm"}, {{"units", AttrValue(int64_t{3})}}));
    auto bytes = exportFloatTfliteBytes(finalized(std::move(g)));
    ASSERT_FALSE(bytes.isOk());
    EXPECT_NE(bytes.message().find("node 'norm' (BatchNorm)"), std::string::npos)
        << bytes.message();
}

TEST(TfliteExport, BatchNormAfterAConvolutionThatFeedsOtherNodesIsAnError) {
    Graph g;
    g.nodes.push_back(testing::inputNode({6, 6, 2}));
    g.nodes.push_back(makeNode("conv", OpType::Conv2D, {"input"},
                               {{"filters", AttrValue(int64_t{4})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("same"))}}));
    g.nodes.push_back(makeNode("bn", OpType::BatchNorm, {"conv"}));
    g.nodes.push_back(makeNode("sum", OpType::Add, {"bn", "conv"}));
    auto bytes = exportFloatTfliteBytes(finalized(std::move(g)));
    ASSERT_FALSE(bytes.isOk());
    EXPECT_NE(bytes.message().find("node 'bn' (BatchNorm)"), std::string::npos) << bytes.message();
    EXPECT_NE(bytes.message().find("'conv'"), std::string::npos) << bytes.message();
}

TEST(TfliteExport, RefusesGraphsWithoutParametersOrNotFinalized) {
    Graph g;
    g.nodes.push_back(testing::inputNode({4}));
    g.nodes.push_back(makeNode("fc", OpType::Dense, {"input"}, {{"units", AttrValue(int64_t{2})}}));
    auto notFinalized = exportFloatTfliteBytes(g);
    ASSERT_FALSE(notFinalized.isOk());
    EXPECT_NE(notFinalized.message().find("finalized"), std::string::npos);
    ASSERT_TRUE(g.finalize().isOk());
    auto noParams = exportFloatTfliteBytes(g);
    ASSERT_FALSE(noParams.isOk());
    EXPECT_NE(noParams.message().find("parameters"), std::string::npos);
}

class TempDir {
public:
    TempDir() {
        m_path = fs::temp_directory_path() /
                 ("qat_tflite_export_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(m_path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }
    size_t entries() const {
        return static_cast<size_t>(
            std::distance(fs::directory_iterator(m_path), fs::directory_iterator()));
    }

private:
    fs::path m_path;
};

TEST(TfliteExport, WritesTheFileAndReportsItsSize) {
    const Graph g = zooGraph("resnet-tiny");
    TempDir dir;
    const std::string path = (dir.path() / "resnet.tflite").string();
    TfliteExportReport report;
    Status s = exportFloatTflite(g, path, &report);
    ASSERT_TRUE(s.isOk()) << s.message();
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    auto bytes = exportFloatTfliteBytes(g);
    ASSERT_TRUE(bytes.isOk());
    EXPECT_EQ(file, *bytes); // deterministic, and written completely
    EXPECT_EQ(report.totalBytes, static_cast<int64_t>(file.size()));
    EXPECT_EQ(dir.entries(), 1u); // no temporary left beside it
    // Weights dominate: 19706 parameters minus BN's 2*C plus the folded biases, 4 bytes each.
    EXPECT_GT(report.weightBytes(), 4 * 18000);
    EXPECT_LT(report.metadataBytes, report.totalBytes / 5);
}

TEST(TfliteExport, UnwritablePathFailsNamingThePathAndLeavesNoFile) {
    const Graph g = zooGraph("mnist-cnn");
    TempDir dir;
    // A path below a regular file cannot be created, even by root.
    const fs::path blocker = dir.path() / "not-a-directory";
    std::ofstream(blocker) << "x";
    const std::string path = (blocker / "model.tflite").string();
    Status s = exportFloatTflite(g, path);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(dir.entries(), 1u);

    // A directory in the way of the rename: the temporary is removed, the directory kept.
    const fs::path occupied = dir.path() / "occupied.tflite";
    fs::create_directory(occupied);
    Status t = exportFloatTflite(g, occupied.string());
    ASSERT_FALSE(t.isOk());
    EXPECT_NE(t.message().find(occupied.string()), std::string::npos) << t.message();
    EXPECT_TRUE(fs::is_directory(occupied));
    EXPECT_EQ(dir.entries(), 2u);

    // A read-only directory (only meaningful when not running as root).
    if (::geteuid() != 0) {
        const fs::path locked = dir.path() / "locked";
        fs::create_directory(locked);
        fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
        const std::string lockedPath = (locked / "model.tflite").string();
        Status u = exportFloatTflite(g, lockedPath);
        ASSERT_FALSE(u.isOk());
        EXPECT_NE(u.message().find(lockedPath), std::string::npos) << u.message();
        EXPECT_TRUE(fs::is_empty(locked));
        fs::permissions(locked, fs::perms::owner_all);
    }
}

} // namespace
} // namespace qat
