// Model file (.qatm) and JSON graph format: bit-exact round trips of attributes and
// weights, atomic saving, and every documented failure of loading a damaged file.
// Damaged files are built by hand (io/crc32.h recomputes the trailer where a test must
// get past the integrity check). Random mutations use fixed seeds, printed on failure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "io/crc32.h"
#include "qat/model_io.h"

namespace qat {
namespace {

namespace fs = std::filesystem;
using Ints = std::vector<int64_t>;

class ModelIoTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_dir = fs::temp_directory_path() /
                ("qat_model_io_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string path(const std::string& name) const { return (m_dir / name).string(); }

    static std::string readBytes(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    static void writeBytes(const std::string& p, const std::string& bytes) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    fs::path m_dir;
};

Node makeNode(std::string name, OpType type, std::vector<std::string> inputs,
              std::vector<std::pair<std::string, AttrValue>> attrs = {}) {
    Node n;
    n.name = std::move(name);
    n.type = type;
    n.inputs = std::move(inputs);
    for (auto& [key, value] : attrs)
        n.attrs.set(key, std::move(value));
    return n;
}

// A small functional graph touching several op types and every attribute kind.
Graph sampleGraph() {
    Graph g;
    g.nodes.push_back(makeNode("input", OpType::Input, {}, {{"shape", AttrValue(Ints{8, 8, 3})}}));
    g.nodes.push_back(makeNode("conv1", OpType::Conv2D, {"input"},
                               {{"filters", AttrValue(int64_t{4})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("explicit"))},
                                {"pads", AttrValue(Ints{1, 1, 1, 1})},
                                {"use_bias", AttrValue(int64_t{0})}}));
    g.nodes.push_back(makeNode("bn1", OpType::BatchNorm, {"conv1"},
                               {{"epsilon", AttrValue(1e-3)}, {"momentum", AttrValue(0.1)}}));
    g.nodes.push_back(makeNode("act", OpType::LeakyReLU, {"bn1"}, {{"alpha", AttrValue(0.2)}}));
    g.nodes.push_back(makeNode("dw", OpType::DepthwiseConv2D, {"act"},
                               {{"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("same"))},
                                {"depth_multiplier", AttrValue(int64_t{2})}}));
    g.nodes.push_back(
        makeNode("cat", OpType::Concat, {"dw", "act"}, {{"axis", AttrValue(int64_t{-1})}}));
    g.nodes.push_back(makeNode("gap", OpType::GlobalAvgPool, {"cat"}));
    g.nodes.push_back(makeNode("drop", OpType::Dropout, {"gap"}, {{"rate", AttrValue(0.25)}}));
    g.nodes.push_back(makeNode("fc", OpType::Dense, {"drop"}, {{"units", AttrValue(int64_t{5})}}));
    g.nodes.push_back(makeNode("softmax", OpType::Softmax, {"fc"}));
    // Attributes no op reads, to exercise every value kind and awkward values.
    Attrs& a = g.nodes.back().attrs;
    a.set("int_max", AttrValue(std::numeric_limits<int64_t>::max()));
    a.set("int_min", AttrValue(std::numeric_limits<int64_t>::min()));
    a.set("zero_int", AttrValue(int64_t{0}));
    a.set("whole_double", AttrValue(2.0));
    a.set("tenth", AttrValue(0.1));
    a.set("neg_zero", AttrValue(-0.0));
    a.set("denormal", AttrValue(std::numeric_limits<double>::denorm_min()));
    a.set("huge", AttrValue(std::numeric_limits<double>::max()));
    a.set("inf", AttrValue(std::numeric_limits<double>::infinity()));
    a.set("minus_inf", AttrValue(-std::numeric_limits<double>::infinity()));
    a.set("text", AttrValue(std::string("quote \" backslash \\ unicode \xc3\xa9 newline \n")));
    a.set("empty_text", AttrValue(std::string()));
    a.set("empty_list", AttrValue(Ints{}));
    a.set("list", AttrValue(Ints{-1, 0, 7, std::numeric_limits<int64_t>::max()}));
    g.output = "softmax";
    return g;
}

// Attribute equality that also tells -0.0 from 0.0 and 2.0 from 2 (variant index + bits).
void expectSameAttrs(const Attrs& a, const Attrs& b, const std::string& node) {
    ASSERT_EQ(a.all().size(), b.all().size()) << node;
    for (const auto& [key, va] : a.all()) {
        auto it = b.all().find(key);
        ASSERT_NE(it, b.all().end()) << node << "." << key;
        const AttrValue& vb = it->second;
        ASSERT_EQ(va.index(), vb.index()) << node << "." << key;
        if (const auto* d = std::get_if<double>(&va))
            EXPECT_EQ(std::bit_cast<uint64_t>(*d), std::bit_cast<uint64_t>(std::get<double>(vb)))
                << node << "." << key;
        else
            EXPECT_TRUE(va == vb) << node << "." << key;
    }
}

void expectSameTensorBits(const Tensor& a, const Tensor& b, const std::string& what) {
    ASSERT_EQ(a.shape(), b.shape()) << what;
    ASSERT_EQ(a.size(), b.size()) << what;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * sizeof(float)), 0)
        << what;
}

void expectSameGraph(const Graph& a, const Graph& b) {
    ASSERT_EQ(a.nodes.size(), b.nodes.size());
    EXPECT_EQ(a.output, b.output);
    for (size_t i = 0; i < a.nodes.size(); ++i) {
        const Node& na = a.nodes[i];
        const Node& nb = b.nodes[i];
        EXPECT_EQ(na.name, nb.name);
        EXPECT_EQ(na.type, nb.type) << na.name;
        EXPECT_EQ(na.inputs, nb.inputs) << na.name;
        EXPECT_EQ(na.outputShape, nb.outputShape) << na.name;
        expectSameAttrs(na.attrs, nb.attrs, na.name);
        ASSERT_EQ(na.params.size(), nb.params.size()) << na.name;
        for (const auto& [name, t] : na.params) {
            ASSERT_TRUE(nb.params.count(name)) << na.name << "/" << name;
            expectSameTensorBits(t, nb.params.at(name), na.name + "/" + name);
        }
    }
}

// Random weights including values a text format would mangle.
void randomizeParams(Graph& g, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
    for (Node& n : g.nodes)
        for (auto& [name, t] : n.params)
            for (int64_t i = 0; i < t.size(); ++i)
                t[i] = dist(rng);
    Tensor& w = g.find("fc")->params.at("weights");
    w[0] = -0.0f;
    w[1] = std::numeric_limits<float>::denorm_min();
    w[2] = std::numeric_limits<float>::infinity();
    w[3] = std::bit_cast<float>(0x7fc01234u); // NaN with a payload
    w[4] = std::numeric_limits<float>::max();
}

Graph finalizedSample(uint32_t seed = 5) {
    Graph g = sampleGraph();
    Status st = g.finalize();
    QAT_ASSERT(st.isOk());
    g.initializeParams(seed);
    randomizeParams(g, seed);
    return g;
}

// .qatm container around arbitrary JSON text and blob, with a correct CRC.
std::string buildQatm(const std::string& json, const std::string& blob, uint32_t version = 1) {
    std::string f("QATMODEL", 8);
    auto u32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i)
            f.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    };
    u32(version);
    u32(0);
    for (int i = 0; i < 8; ++i)
        f.push_back(static_cast<char>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xFF));
    f += json;
    f += blob;
    u32(detail::crc32(f.data(), f.size()));
    return f;
}

std::string floatBlob(size_t count, float value = 0.5f) {
    std::string b;
    for (size_t i = 0; i < count; ++i) {
        const auto bits = std::bit_cast<uint32_t>(value);
        for (int k = 0; k < 4; ++k)
            b.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
    }
    return b;
}

// A tiny model: input [4] -> fc (Dense 2): weights [2,4] (8 floats), bias [2] (2 floats).
std::string tinyJson(const std::string& paramsJson, uint64_t blobBytes,
                     const std::string& fcType = "Dense") {
    return R"({"format":"qatlab-model","version":1,"graph":{"nodes":[)"
           R"({"name":"input","type":"Input","inputs":[],"attrs":{"shape":[4]}},)"
           R"({"name":"fc","type":")" +
           fcType + R"(","inputs":["input"],"attrs":{"units":2}}]},"params":)" + paramsJson +
           R"(,"blob_bytes":)" + std::to_string(blobBytes) + "}";
}

const std::string kTinyParams =
    R"([{"node":"fc","name":"weights","shape":[2,4],"offset":0,"count":8},)"
    R"({"node":"fc","name":"bias","shape":[2],"offset":8,"count":2}])";

void expectLoadError(const std::string& p, const std::vector<std::string>& fragments) {
    auto r = loadModel(p);
    ASSERT_FALSE(r.isOk()) << "loading " << p << " unexpectedly succeeded";
    EXPECT_EQ(r.message().rfind(p, 0), 0u)
        << "message does not start with the path: " << r.message();
    for (const auto& f : fragments)
        EXPECT_NE(r.message().find(f), std::string::npos)
            << "message '" << r.message() << "' lacks '" << f << "'";
}

// ---- round trips ---------------------------------------------------------------------------

TEST_F(ModelIoTest, RoundTripIsBitExact) {
    Graph g = finalizedSample();
    const std::string p = path("model.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    auto loaded = loadModel(p);
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    expectSameGraph(g, loaded.value());
    EXPECT_TRUE(loaded->hasAllParams());
    EXPECT_TRUE(loaded->isFinalized());

    // Saving what was loaded reproduces the file byte for byte.
    const std::string p2 = path("again.qatm");
    ASSERT_TRUE(saveModel(loaded.value(), p2).isOk());
    EXPECT_EQ(readBytes(p), readBytes(p2));
}

TEST_F(ModelIoTest, NanAttributeRoundTrips) {
    Graph g = finalizedSample();
    g.find("softmax")->attrs.set("nan", AttrValue(std::numeric_limits<double>::quiet_NaN()));
    const std::string p = path("nan.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    auto loaded = loadModel(p);
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    EXPECT_TRUE(std::isnan(loaded->find("softmax")->attrs.getFloat("nan", 0.0)));
}

TEST_F(ModelIoTest, GraphJsonRoundTrip) {
    Graph g = finalizedSample();
    auto back = graphFromJson(graphToJson(g), "memory");
    ASSERT_TRUE(back.isOk()) << back.message();
    ASSERT_EQ(back->nodes.size(), g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        EXPECT_EQ(back->nodes[i].name, g.nodes[i].name);
        EXPECT_EQ(back->nodes[i].outputShape, g.nodes[i].outputShape);
        expectSameAttrs(back->nodes[i].attrs, g.nodes[i].attrs, g.nodes[i].name);
        EXPECT_TRUE(back->nodes[i].params.empty());
    }
    auto bad = graphFromJson(R"({"nodes":[{"name":"x","type":"ReLU","inputs":["y"]}]})", "pasted");
    ASSERT_FALSE(bad.isOk());
    EXPECT_EQ(bad.message().rfind("pasted: ", 0), 0u) << bad.message();
    EXPECT_NE(bad.message().find("node 'x'"), std::string::npos) << bad.message();
}

TEST_F(ModelIoTest, PlainJsonModelIsInitializedFromSeed) {
    const std::string p = path("plain.json");
    writeBytes(p, R"({
      "format": "qatlab-model", "version": 1,
      "graph": {"nodes": [
        {"name": "input", "type": "Input", "inputs": [], "attrs": {"shape": [28, 28, 1]}},
        {"name": "conv1", "type": "Conv2D", "inputs": ["input"],
         "attrs": {"filters": 4, "kernel": [3, 3], "padding": "same"}},
        {"name": "gap", "type": "GlobalAvgPool", "inputs": ["conv1"]},
        {"name": "fc", "type": "Dense", "inputs": ["gap"], "attrs": {"units": 3}}]}
    })");
    auto a = loadModel(p, std::nullopt, 11);
    auto b = loadModel(p, std::nullopt, 11);
    auto c = loadModel(p, std::nullopt, 12);
    ASSERT_TRUE(a.isOk()) << a.message();
    ASSERT_TRUE(b.isOk() && c.isOk());
    EXPECT_TRUE(a->hasAllParams());
    EXPECT_EQ(a->find("conv1")->params, b->find("conv1")->params);
    EXPECT_NE(a->find("conv1")->params.at("weights"), c->find("conv1")->params.at("weights"));
    EXPECT_EQ(a->outputShape(), (Shape{3}));

    auto wide = loadModel(p, Shape{32, 32, 3}, 11);
    ASSERT_TRUE(wide.isOk()) << wide.message();
    EXPECT_EQ(wide->inputShape(), (Shape{32, 32, 3}));
    EXPECT_EQ(wide->find("conv1")->params.at("weights").shape(), (Shape{4, 3, 3, 3}));
}

TEST_F(ModelIoTest, PlainJsonWithByteOrderMarkLoads) {
    const std::string p = path("bom.json");
    writeBytes(p, "\xEF\xBB\xBF\n" + tinyJson("[]", 0));
    auto r = loadModel(p);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->outputShape(), (Shape{2}));
}

TEST_F(ModelIoTest, InputShapeOverrideIsRefusedForStoredWeights) {
    Graph g = finalizedSample();
    const std::string p = path("weights.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    EXPECT_TRUE(loadModel(p, Shape{8, 8, 3}).isOk()); // unchanged shape is fine
    auto r = loadModel(p, Shape{16, 16, 3});
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("[8x8x3]"), std::string::npos) << r.message();
    EXPECT_NE(r.message().find(p), std::string::npos) << r.message();
}

TEST_F(ModelIoTest, ClassCountOverrideFitsTheOutputDense) {
    // Every zoo model ends in Dense (+ Softmax): fitted to a 5-class RGB image folder.
    for (const auto& name : zooModelNames()) {
        auto g = loadModelOrZoo(name, Shape{12, 12, 3}, 1, 5);
        ASSERT_TRUE(g.isOk()) << name << ": " << g.message();
        EXPECT_EQ(g->outputShape(), (Shape{5})) << name;
        EXPECT_TRUE(g->hasAllParams()) << name;
    }
    auto unchanged = loadModelOrZoo("mnist-cnn", std::nullopt, 1, 10);
    ASSERT_TRUE(unchanged.isOk()) << unchanged.message();
    EXPECT_EQ(unchanged->outputShape(), (Shape{10}));
}

TEST_F(ModelIoTest, ClassCountOverrideIsRefusedForStoredWeights) {
    Graph g = finalizedSample();
    const std::string p = path("classes.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    const int64_t classes = g.outputShape().back();
    EXPECT_TRUE(loadModel(p, std::nullopt, 0, classes).isOk()); // unchanged count is fine
    auto r = loadModel(p, std::nullopt, 0, classes + 1);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("cannot change them to " + std::to_string(classes + 1)),
              std::string::npos)
        << r.message();
}

TEST_F(ModelIoTest, PartialWeightsAreCompletedFromSeed) {
    const std::string p = path("partial.qatm");
    writeBytes(
        p,
        buildQatm(
            tinyJson(R"([{"node":"fc","name":"weights","shape":[2,4],"offset":0,"count":8}])", 32),
            floatBlob(8, 0.25f)));
    auto r = loadModel(p);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->find("fc")->params.at("weights"), Tensor({2, 4}, 0.25f));
    EXPECT_EQ(r->find("fc")->params.at("bias"), Tensor({2}, 0.0f));
}

// ---- saving ------------------------------------------------------------------------------

TEST_F(ModelIoTest, SaveIntoMissingDirectoryFailsAndLeavesNothing) {
    Graph g = finalizedSample();
    const std::string p = path("no/such/dir/model.qatm");
    Status st = saveModel(g, p);
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find(p), std::string::npos) << st.message();
    EXPECT_FALSE(fs::exists(m_dir / "no"));
    EXPECT_TRUE(fs::is_empty(m_dir));
}

TEST_F(ModelIoTest, SaveReplacesExistingFileWithoutLeftovers) {
    const std::string p = path("model.qatm");
    writeBytes(p, "old contents");
    Graph g = finalizedSample(1);
    ASSERT_TRUE(saveModel(g, p).isOk());
    Graph h = finalizedSample(2);
    ASSERT_TRUE(saveModel(h, p).isOk());
    auto loaded = loadModel(p);
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    expectSameGraph(h, loaded.value());
    int files = 0;
    for (const auto& e : fs::directory_iterator(m_dir)) {
        ++files;
        EXPECT_EQ(e.path().filename(), "model.qatm");
    }
    EXPECT_EQ(files, 1);
}

TEST_F(ModelIoTest, SaveRejectsParamsWithBrokenShape) {
    Graph g = finalizedSample();
    g.find("fc")->params["bias"] = Tensor(); // no shape, no data
    const std::string p = path("broken.qatm");
    Status st = saveModel(g, p);
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("node 'fc'"), std::string::npos) << st.message();
    EXPECT_FALSE(fs::exists(p));
}

// ---- damaged files -------------------------------------------------------------------------

TEST_F(ModelIoTest, MissingFile) {
    expectLoadError(path("absent.qatm"), {"not found"});
    expectLoadError(m_dir.string(), {"directory"});
}

TEST_F(ModelIoTest, BadMagic) {
    const std::string p = path("bad.qatm");
    writeBytes(p, "PK\x03\x04 this is a zip file, not a model at all");
    expectLoadError(p, {"bad magic"});
    writeBytes(p, "");
    expectLoadError(p, {"empty"});
}

TEST_F(ModelIoTest, NewerVersion) {
    Graph g = finalizedSample();
    const std::string p = path("future.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    std::string bytes = readBytes(p);
    bytes[8] = 7;
    writeBytes(p, bytes);
    expectLoadError(p, {"file version 7 is newer than this QAT Lab (1); upgrade"});

    const std::string j = path("future.json");
    writeBytes(j, R"({"format":"qatlab-model","version":7,"graph":{"nodes":[]}})");
    expectLoadError(j, {"file version 7 is newer than this QAT Lab (1); upgrade"});
}

TEST_F(ModelIoTest, TruncatedAtEveryLengthFailsCleanly) {
    Graph g = finalizedSample();
    const std::string p = path("full.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    const std::string bytes = readBytes(p);
    for (size_t len = 1; len < bytes.size(); ++len) {
        // A fresh name per length: rewriting one file with O_TRUNC makes ext4 flush it on
        // every close, which turns this loop from milliseconds into seconds.
        const std::string cut = path("cut" + std::to_string(len) + ".qatm");
        writeBytes(cut, bytes.substr(0, len));
        auto r = loadModel(cut);
        fs::remove(cut);
        ASSERT_FALSE(r.isOk()) << "length " << len;
        EXPECT_NE(r.message().find("truncated"), std::string::npos)
            << "length " << len << ": " << r.message();
    }
}

TEST_F(ModelIoTest, CrcMismatchIsCorrupt) {
    Graph g = finalizedSample();
    const std::string p = path("flip.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    std::string bytes = readBytes(p);
    bytes[bytes.size() - 20] ^= 0x10; // inside the weight blob
    writeBytes(p, bytes);
    expectLoadError(p, {"corrupt", "CRC"});
}

TEST_F(ModelIoTest, AbsurdJsonLength) {
    Graph g = finalizedSample();
    const std::string p = path("huge.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    std::string bytes = readBytes(p);
    for (int i = 16; i < 24; ++i)
        bytes[static_cast<size_t>(i)] = static_cast<char>(0xFF);
    writeBytes(p, bytes);
    expectLoadError(p, {"JSON length 18446744073709551615 exceeds the file size"});
}

TEST_F(ModelIoTest, InvalidJson) {
    const std::string p = path("json.qatm");
    writeBytes(p, buildQatm(R"({"format": "qatlab-model", "version": 1, "graph": )", ""));
    expectLoadError(p, {"invalid JSON"});
    const std::string j = path("broken.json");
    writeBytes(j, R"({"format": "qatlab-model", "version": 1, "graph": {"nodes": [}})");
    expectLoadError(j, {"invalid JSON"});
}

TEST_F(ModelIoTest, UnknownOpTypesAreAllNamed) {
    const std::string p = path("ops.json");
    writeBytes(p, R"({"format":"qatlab-model","version":1,"graph":{"nodes":[
        {"name":"input","type":"Input","attrs":{"shape":[4,4,1]}},
        {"name":"c3","type":"Conv3D","inputs":["input"]},
        {"name":"g","type":"GroupNorm","inputs":["c3"]}]}})");
    expectLoadError(p, {"'Conv3D' (node 'c3')", "'GroupNorm' (node 'g')", "supported: Input"});
}

TEST_F(ModelIoTest, WrongFormatName) {
    const std::string p = path("other.json");
    writeBytes(p, R"({"format":"keras","version":1,"graph":{"nodes":[]}})");
    expectLoadError(p, {"\"format\""});
}

TEST_F(ModelIoTest, ValidHandBuiltFileLoads) {
    // Guards the hand-built files below: the same container with sane values loads.
    const std::string p = path("ok.qatm");
    writeBytes(p, buildQatm(tinyJson(kTinyParams, 40), floatBlob(10)));
    auto r = loadModel(p);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->find("fc")->params.at("bias"), Tensor({2}, 0.5f));
}

TEST_F(ModelIoTest, ParamOffsetsOutOfRange) {
    const std::string p = path("range.qatm");
    writeBytes(
        p,
        buildQatm(
            tinyJson(R"([{"node":"fc","name":"weights","shape":[2,4],"offset":4,"count":8}])", 40),
            floatBlob(10)));
    expectLoadError(p, {"param 'fc/weights'", "outside the weight blob"});
    writeBytes(
        p,
        buildQatm(
            tinyJson(
                R"([{"node":"fc","name":"weights","shape":[2,4],"offset":18446744073709551615,"count":8}])",
                40),
            floatBlob(10)));
    expectLoadError(p, {"outside the weight blob"});
}

TEST_F(ModelIoTest, ParamCountMustMatchShapeAndNode) {
    const std::string p = path("count.qatm");
    writeBytes(
        p,
        buildQatm(
            tinyJson(R"([{"node":"fc","name":"weights","shape":[2,4],"offset":0,"count":6}])", 40),
            floatBlob(10)));
    expectLoadError(p, {"param 'fc/weights'", "count 6 does not match its shape [2x4]"});
    // Consistent entry, but not the shape the node needs.
    writeBytes(
        p,
        buildQatm(
            tinyJson(R"([{"node":"fc","name":"weights","shape":[2,5],"offset":0,"count":10}])", 40),
            floatBlob(10)));
    expectLoadError(p, {"node 'fc': param 'weights' has shape [2x5] but [2x4] is required"});
    // A parameter the node does not have.
    writeBytes(
        p, buildQatm(
               tinyJson(R"([{"node":"fc","name":"gamma","shape":[2],"offset":0,"count":2}])", 40),
               floatBlob(10)));
    expectLoadError(p, {"node 'fc'", "unexpected param 'gamma'"});
    // A node that does not exist.
    writeBytes(
        p, buildQatm(
               tinyJson(R"([{"node":"fc9","name":"bias","shape":[2],"offset":0,"count":2}])", 40),
               floatBlob(10)));
    expectLoadError(p, {"'fc9' is not in the graph"});
}

TEST_F(ModelIoTest, AbsurdParamShapeDoesNotAllocate) {
    const std::string p = path("absurd.qatm");
    writeBytes(
        p,
        buildQatm(
            tinyJson(
                R"([{"node":"fc","name":"weights","shape":[1099511627776,1099511627776],"offset":0,"count":10}])",
                40),
            floatBlob(10)));
    expectLoadError(p, {"does not match its shape"});
}

TEST_F(ModelIoTest, BlobSizeDisagreeingWithHeaderIsCorrupt) {
    const std::string p = path("blob.qatm");
    writeBytes(p, buildQatm(tinyJson(kTinyParams, 44), floatBlob(10) + "xyz"));
    expectLoadError(p, {"corrupt", "blob_bytes"});
}

TEST_F(ModelIoTest, PlainJsonWithParamsIsRefused) {
    const std::string p = path("params.json");
    writeBytes(p, tinyJson(kTinyParams, 40));
    expectLoadError(p, {"carries no weights"});
}

TEST_F(ModelIoTest, RandomByteFlipsNeverCrash) {
    Graph g = finalizedSample();
    const std::string p = path("src.qatm");
    ASSERT_TRUE(saveModel(g, p).isOk());
    const std::string bytes = readBytes(p);
    std::mt19937 rng(1234);
    for (int iter = 0; iter < 200; ++iter) {
        std::string m = bytes;
        const size_t pos = rng() % m.size();
        m[pos] = static_cast<char>(m[pos] ^ (1 + rng() % 255));
        const std::string q = path("mutant" + std::to_string(iter) + ".qatm");
        writeBytes(q, m);
        auto r = loadModel(q);
        fs::remove(q);
        EXPECT_FALSE(r.isOk()) << "iteration " << iter << " (seed 1234): a flipped byte at " << pos
                               << " went unnoticed";
    }
}

TEST_F(ModelIoTest, RandomJsonMutationsBehindAValidCrcNeverCrash) {
    // Mutations of the JSON header with a recomputed CRC exercise the parser and the
    // validation behind it. Each mutant must either load cleanly or fail with a message.
    const std::string json = tinyJson(kTinyParams, 40);
    const std::string blob = floatBlob(10);
    const std::string alphabet = "{}[]\",:-0123456789eE.abcfnrtu ";
    std::mt19937 rng(99);
    int loaded = 0;
    for (int iter = 0; iter < 400; ++iter) {
        std::string m = json;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            const size_t pos = rng() % m.size();
            switch (rng() % 3) {
            case 0:
                m[pos] = alphabet[rng() % alphabet.size()];
                break;
            case 1:
                m.erase(pos, 1);
                break;
            default:
                m.insert(pos, 1, alphabet[rng() % alphabet.size()]);
                break;
            }
        }
        const std::string q = path("mutant" + std::to_string(iter) + ".qatm");
        writeBytes(q, buildQatm(m, blob));
        auto r = loadModel(q);
        fs::remove(q);
        if (r.isOk()) {
            ++loaded;
            EXPECT_TRUE(r->hasAllParams()) << "iteration " << iter << " (seed 99)";
        } else {
            EXPECT_FALSE(r.message().empty()) << "iteration " << iter;
        }
    }
    EXPECT_LT(loaded, 400); // the mutations did reach the validation
}

} // namespace
} // namespace qat
