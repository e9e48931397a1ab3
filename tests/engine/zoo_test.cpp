// Model zoo: every shipped model loads, finalizes at 28x28x1 (and 32x32x3) with the
// expected output shape, intermediate shapes and parameter counts worked out by hand
// below; the resource directory can be overridden; unknown names list the zoo.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "qat/model_io.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

// Trainable parameters (weights, biases, BN gamma and beta) at 28x28x1.
// conv kxk Cin->Cout without bias: k*k*Cin*Cout; BN over C: 2*C; Dense in->out: in*out+out.
const std::map<std::string, int64_t> kParamCounts28 = {
    // conv1 3x3 1->12 + bias; dense 13*13*12=2028 -> 10
    {"mnist-cnn", (9 * 12 + 12) + (2028 * 10 + 10)}, // 20410
    // conv1 3x3 1->32, bn1, conv2 3x3 32->64, bn2, dense 7*7*64=3136 -> 128, dense 128 -> 10
    {"cnn-bn", 288 + 64 + 18432 + 128 + (3136 * 128 + 128) + (128 * 10 + 10)}, // 421738
    // conv1 3x3 1->16 + bn; blocks: dw 3x3 C + bn, pw C->C' + bn for 16->32, 32->64, 64->128
    {"mobilenet-tiny", (144 + 32) + (144 + 32 + 512 + 64) + (288 + 64 + 2048 + 128) +
                           (576 + 128 + 8192 + 256) + (128 * 10 + 10)}, // 13898
    // stem 3x3 1->16 + bn; block1 2x(3x3 16->16 + bn); block2 3x3 16->32 + bn, 3x3 32->32 + bn,
    // projection 1x1 16->32 + bn; dense 32 -> 10
    {"resnet-tiny",
     (144 + 32) + 2 * (2304 + 32) + (4608 + 64 + 9216 + 64 + 512 + 64) + (32 * 10 + 10)}, // 19706
    // stem 3x3 1->16 + bn; block(Cin): 1x1 Cin->16, 1x1 Cin->8, 3x3 8->16, 1x1 Cin->8, each + bn
    // (16+16+8 = 40 channels out); block1 Cin=16, block2 Cin=40; dense 40 -> 10
    {"inception-tiny", (144 + 32) + (16 * 16 + 32 + 16 * 8 + 16 + 1152 + 32 + 16 * 8 + 16) +
                           (40 * 16 + 32 + 40 * 8 + 16 + 1152 + 32 + 40 * 8 + 16) +
                           (40 * 10 + 10)}, // 4874
};

TEST(Zoo, NamesMatchTheShippedFiles) {
    const auto names = zooModelNames();
    EXPECT_EQ(names.size(), kParamCounts28.size());
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(fs::path(resourceDir()) / "zoo"))
        if (e.path().extension() == ".json")
            files.insert(e.path().stem().string());
    EXPECT_EQ(files, std::set<std::string>(names.begin(), names.end()));
}

TEST(Zoo, EveryModelFinalizesAt28x28x1WithKnownParameterCount) {
    for (const auto& name : zooModelNames()) {
        SCOPED_TRACE(name);
        auto g = loadModelOrZoo(name);
        ASSERT_TRUE(g.isOk()) << g.message();
        EXPECT_TRUE(g->isFinalized());
        EXPECT_TRUE(g->hasAllParams());
        EXPECT_EQ(g->inputShape(), (Shape{28, 28, 1}));
        EXPECT_EQ(g->outputShape(), (Shape{10}));
        EXPECT_EQ(g->outputNode().type, OpType::Softmax);
        ASSERT_TRUE(kParamCounts28.count(name));
        EXPECT_EQ(g->parameterCount(), kParamCounts28.at(name));
    }
    EXPECT_EQ(kParamCounts28.at("mnist-cnn"), 20410);
}

TEST(Zoo, EveryModelFinalizesAt32x32x3) {
    for (const auto& name : zooModelNames()) {
        SCOPED_TRACE(name);
        auto g = loadModelOrZoo(name, Shape{32, 32, 3});
        ASSERT_TRUE(g.isOk()) << g.message();
        EXPECT_EQ(g->inputShape(), (Shape{32, 32, 3}));
        EXPECT_EQ(g->outputShape(), (Shape{10}));
        EXPECT_TRUE(g->hasAllParams());
        // Only the first convolution (and mnist-cnn's Dense, fed by a larger Flatten) grow.
        EXPECT_GT(g->parameterCount(), kParamCounts28.at(name));
    }
    // conv1 3x3x3 -> 12 + bias; 30x30 -> pool 15x15x12 = 2700 -> 10
    EXPECT_EQ(loadModelOrZoo("mnist-cnn", Shape{32, 32, 3})->parameterCount(),
              (27 * 12 + 12) + (2700 * 10 + 10));
}

TEST(Zoo, IntermediateShapes) {
    const std::map<std::string, std::map<std::string, Shape>> expected = {
        {"mnist-cnn", {{"conv1", {26, 26, 12}}, {"pool1", {13, 13, 12}}, {"flatten", {2028}}}},
        {"cnn-bn", {{"relu1", {28, 28, 32}}, {"pool2", {7, 7, 64}}, {"dense1", {128}}}},
        {"mobilenet-tiny",
         {{"relu1", {14, 14, 16}},
          {"block1_pw_relu", {14, 14, 32}},
          {"block2_dw", {7, 7, 32}},
          {"block3_pw_relu", {7, 7, 128}},
          {"gap", {128}}}},
        {"resnet-tiny",
         {{"block1_add", {28, 28, 16}},
          {"block2_proj_bn", {14, 14, 32}},
          {"block2_relu2", {14, 14, 32}},
          {"gap", {32}}}},
        {"inception-tiny",
         {{"pool1", {14, 14, 16}},
          {"block1_b3_pool", {14, 14, 16}},
          {"block1_concat", {14, 14, 40}},
          {"block2_concat", {7, 7, 40}},
          {"gap", {40}}}},
    };
    for (const auto& [model, shapes] : expected) {
        auto g = loadModelOrZoo(model);
        ASSERT_TRUE(g.isOk()) << g.message();
        for (const auto& [node, shape] : shapes) {
            const Node* n = g->find(node);
            ASSERT_NE(n, nullptr) << model << ": no node '" << node << "'";
            EXPECT_EQ(n->outputShape, shape) << model << "/" << node;
        }
    }
}

TEST(Zoo, ConvolutionsFeedingBatchNormHaveNoBias) {
    for (const auto& name : zooModelNames()) {
        auto g = loadModelOrZoo(name);
        ASSERT_TRUE(g.isOk()) << g.message();
        int batchNorms = 0;
        for (const Node& n : g->nodes) {
            if (n.type != OpType::BatchNorm)
                continue;
            ++batchNorms;
            const Node* producer = g->find(n.inputs.at(0));
            ASSERT_NE(producer, nullptr);
            EXPECT_TRUE(producer->type == OpType::Conv2D ||
                        producer->type == OpType::DepthwiseConv2D)
                << name << "/" << n.name;
            EXPECT_EQ(producer->attrs.getInt("use_bias", 1), 0) << name << "/" << producer->name;
            EXPECT_EQ(producer->params.count("bias"), 0u) << name << "/" << producer->name;
        }
        EXPECT_EQ(batchNorms > 0, name != "mnist-cnn") << name;
    }
}

TEST(Zoo, FilesArePrettyPrintedOneNodePerLine) {
    for (const auto& name : zooModelNames()) {
        std::ifstream in(fs::path(resourceDir()) / "zoo" / (name + ".json"));
        ASSERT_TRUE(in) << name;
        int lines = 0, nodeLines = 0;
        for (std::string line; std::getline(in, line);) {
            ++lines;
            EXPECT_LE(line.size(), 400u) << name << " line " << lines;
            if (line.find("\"name\":") != std::string::npos)
                ++nodeLines;
        }
        auto g = loadModelOrZoo(name);
        ASSERT_TRUE(g.isOk());
        EXPECT_EQ(nodeLines, static_cast<int>(g->nodes.size())) << name;
    }
}

TEST(Zoo, SeedMakesInitializationDeterministic) {
    auto a = loadModelOrZoo("resnet-tiny", std::nullopt, 3);
    auto b = loadModelOrZoo("resnet-tiny", std::nullopt, 3);
    auto c = loadModelOrZoo("resnet-tiny", std::nullopt, 4);
    ASSERT_TRUE(a.isOk() && b.isOk() && c.isOk());
    for (size_t i = 0; i < a->nodes.size(); ++i)
        EXPECT_EQ(a->nodes[i].params, b->nodes[i].params) << a->nodes[i].name;
    EXPECT_NE(a->find("conv1")->params.at("weights"), c->find("conv1")->params.at("weights"));
}

TEST(Zoo, UnknownNameListsTheZoo) {
    auto r = loadModelOrZoo("mnist");
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("unknown model 'mnist'"), std::string::npos) << r.message();
    for (const auto& name : zooModelNames())
        EXPECT_NE(r.message().find(name), std::string::npos) << r.message();
    auto missing = loadModelOrZoo("/nonexistent/model.qatm");
    ASSERT_FALSE(missing.isOk());
    EXPECT_NE(missing.message().find("/nonexistent/model.qatm"), std::string::npos);
}

class ZooFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("qat_zoo_test_" + std::to_string(::getpid()));
        fs::remove_all(m_dir);
        fs::create_directories(m_dir / "zoo");
    }
    void TearDown() override {
        ::unsetenv("QATLAB_RESOURCES");
        fs::remove_all(m_dir);
    }
    fs::path m_dir;
};

TEST_F(ZooFilesTest, EnvironmentOverridesResourceDir) {
    const std::string shipped = resourceDir();
    std::ofstream(m_dir / "zoo" / "mnist-cnn.json") << R"({"format":"qatlab-model","version":1,
        "graph":{"nodes":[{"name":"input","type":"Input","attrs":{"shape":[28,28,1]}},
                          {"name":"flat","type":"Flatten","inputs":["input"]},
                          {"name":"fc","type":"Dense","inputs":["flat"],"attrs":{"units":10}}]}})";
    ASSERT_EQ(::setenv("QATLAB_RESOURCES", m_dir.c_str(), 1), 0);
    EXPECT_EQ(resourceDir(), m_dir.string());
    auto g = loadModelOrZoo("mnist-cnn");
    ASSERT_TRUE(g.isOk()) << g.message();
    EXPECT_EQ(g->parameterCount(), 784 * 10 + 10);
    auto missing = loadModelOrZoo("resnet-tiny");
    ASSERT_FALSE(missing.isOk());
    EXPECT_NE(missing.message().find("QATLAB_RESOURCES"), std::string::npos) << missing.message();
    ::unsetenv("QATLAB_RESOURCES");
    EXPECT_EQ(resourceDir(), shipped);
}

TEST_F(ZooFilesTest, PathsLoadAsModelFiles) {
    auto zoo = loadModelOrZoo("cnn-bn", std::nullopt, 9);
    ASSERT_TRUE(zoo.isOk()) << zoo.message();
    const std::string p = (m_dir / "trained.qatm").string();
    ASSERT_TRUE(saveModel(zoo.value(), p).isOk());
    auto back = loadModelOrZoo(p);
    ASSERT_TRUE(back.isOk()) << back.message();
    EXPECT_EQ(back->parameterCount(), kParamCounts28.at("cnn-bn"));
    for (size_t i = 0; i < zoo->nodes.size(); ++i)
        EXPECT_EQ(zoo->nodes[i].params, back->nodes[i].params) << zoo->nodes[i].name;
}

} // namespace
} // namespace qat
