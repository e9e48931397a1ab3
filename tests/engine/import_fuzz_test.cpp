// Robustness of both importers against bad bytes: truncated files, random bytes, valid
// headers with absurd dimensions, indices or buffer offsets, cyclic graphs, missing
// initializers, constant folding that would allocate without bound, and a bounded
// random-mutation loop (fixed seed and iteration count) over real seed files. Each case
// must end in an error or a well-formed result: never a crash, never an allocation beyond
// what the file justifies (the address space is capped while these tests run, and an
// importer that runs out of memory says so, which the tests reject).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "importers/onnx_writer.h"
#include "importers/tflite_writer.h"
#include "io/tflite/tflite_builder.h"
#include "qat/importers.h"
#include "qat/model_io.h"
#include "qat/tflite_export.h"

namespace qat {
namespace {

namespace ow = qat::testing::onnxw;
namespace tw = qat::testing::tflw;

constexpr uint64_t kFuzzSeed = 0x5eed2024;
constexpr int kMutationsPerFile = 2500;

// Longer campaigns by hand (e.g. in the sanitizer build): QAT_FUZZ_SEED and
// QAT_FUZZ_ITERATIONS override the fixed values ctest uses.
uint64_t fuzzSeed() {
    const char* env = std::getenv("QAT_FUZZ_SEED");
    return env ? std::strtoull(env, nullptr, 0) : kFuzzSeed;
}
int mutationsPerFile() {
    const char* env = std::getenv("QAT_FUZZ_ITERATIONS");
    return env ? std::max(1, std::atoi(env)) : kMutationsPerFile;
}
// Headroom over the process's current address space while the importers run: far more
// than any seed file justifies, far less than "unbounded".
constexpr uint64_t kAddressSpaceHeadroom = uint64_t{1} << 30;

std::vector<uint8_t> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
}

std::vector<std::vector<uint8_t>> onnxSeeds() {
    std::vector<std::vector<uint8_t>> seeds;
    for (const char* name : {"plain_cnn", "dw_separable", "residual_add", "concat_net"})
        seeds.push_back(
            readFile(std::string(QAT_SOURCE_DIR) + "/tests/importers/" + name + ".onnx"));
    return seeds;
}

std::vector<std::vector<uint8_t>> tfliteSeeds() {
    std::vector<std::vector<uint8_t>> seeds;
    for (const char* name : {"mnist-cnn", "mobilenet-tiny", "inception-tiny"}) {
        auto graph = loadModelOrZoo(name, std::nullopt, 1);
        QAT_ASSERT(graph.isOk());
        auto bytes = exportFloatTfliteBytes(*graph);
        QAT_ASSERT(bytes.isOk());
        seeds.push_back(std::move(*bytes));
    }
    seeds.push_back(tw::fullyConnectedModel().bytes());
    return seeds;
}

class ImportFuzz : public ::testing::Test {
protected:
    void SetUp() override {
        // Cap the address space at what the process uses now plus the headroom, so that an
        // allocation sized by a corrupt field fails instead of succeeding on a big machine.
        long pages = 0;
        if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
            if (std::fscanf(f, "%ld", &pages) != 1)
                pages = 0;
            std::fclose(f);
        }
        ASSERT_GT(pages, 0);
        ASSERT_EQ(getrlimit(RLIMIT_AS, &m_saved), 0);
        rlimit capped = m_saved;
        capped.rlim_cur = static_cast<rlim_t>(pages) * 4096 + kAddressSpaceHeadroom;
        if (m_saved.rlim_max != RLIM_INFINITY && capped.rlim_cur > m_saved.rlim_max)
            capped.rlim_cur = m_saved.rlim_max;
        ASSERT_EQ(setrlimit(RLIMIT_AS, &capped), 0);
    }
    void TearDown() override { setrlimit(RLIMIT_AS, &m_saved); }

    // An import must fail cleanly or produce a consistent result.
    static void expectWellFormed(const Result<ImportResult>& r, const std::string& what) {
        if (!r) {
            EXPECT_FALSE(r.message().empty()) << what;
            EXPECT_EQ(r.message().find("out of memory"), std::string::npos)
                << what << ": " << r.message();
            return;
        }
        EXPECT_EQ(r->graph.has_value(), r->report.supported) << what;
        EXPECT_EQ(r->report.unsupported.empty(), r->report.supported) << what;
        if (r->graph) {
            EXPECT_TRUE(r->graph->isFinalized()) << what;
            EXPECT_TRUE(r->graph->hasAllParams()) << what;
        }
        for (const UnsupportedOp& op : r->report.unsupported)
            EXPECT_FALSE(op.reason.empty()) << what;
    }

    rlimit m_saved{};
};

TEST_F(ImportFuzz, TruncatedFilesAreErrors) {
    for (const auto& seed : onnxSeeds()) {
        ASSERT_GT(seed.size(), 1000u);
        for (size_t len = 0; len < seed.size(); len += 1 + len / 64) {
            auto r = importModelBytes(std::span(seed.data(), len), "truncated.onnx");
            EXPECT_FALSE(r.isOk()) << "ONNX truncated to " << len << " of " << seed.size();
        }
    }
    for (const auto& seed : tfliteSeeds()) {
        for (size_t len = 0; len < seed.size(); len += 1 + len / 64) {
            auto r = importModelBytes(std::span(seed.data(), len), "truncated.tflite");
            EXPECT_FALSE(r.isOk()) << ".tflite truncated to " << len << " of " << seed.size();
        }
    }
}

TEST_F(ImportFuzz, RandomBytesAreErrors) {
    std::mt19937_64 rng(kFuzzSeed);
    for (int i = 0; i < 300; ++i) {
        std::vector<uint8_t> bytes(1 + rng() % 4096);
        for (auto& b : bytes)
            b = static_cast<uint8_t>(rng());
        if (i % 3 == 1 && bytes.size() >= 8) // a valid .tflite identifier, garbage after it
            std::memcpy(bytes.data() + 4, "TFL3", 4);
        auto r = importModelBytes(bytes, "random.bin");
        EXPECT_FALSE(r.isOk()) << "seed " << kFuzzSeed << " case " << i;
    }
    EXPECT_FALSE(importModelBytes({}, "empty.bin").isOk());
}

TEST_F(ImportFuzz, HandBuiltTfliteBaselineImports) {
    auto r = importTfliteBytes(tw::fullyConnectedModel().bytes(), "fc.tflite");
    ASSERT_TRUE(r.isOk()) << r.message();
    ASSERT_TRUE(r->graph.has_value()) << formatCoverageReport(r->report);
    EXPECT_EQ(r->graph->outputNode().type, OpType::Dense);
}

void expectTfliteError(const tw::RawModel& m, const std::string& needle) {
    auto r = importTfliteBytes(m.bytes(), "bad.tflite");
    ASSERT_FALSE(r.isOk()) << "expected an error mentioning '" << needle << "'";
    EXPECT_NE(r.message().find(needle), std::string::npos) << r.message();
}

TEST_F(ImportFuzz, TfliteAbsurdDimensionsAreErrors) {
    tw::RawModel m = tw::fullyConnectedModel();
    m.tensors[0].shape = {1, 2147483647};
    m.tensors[3].shape = {1, 2};
    expectTfliteError(m, "elements per sample");
    m = tw::fullyConnectedModel();
    m.tensors[1].shape = {2, 1 << 30}; // weights claim 2^31 floats; the buffer holds 8
    expectTfliteError(m, "bytes of FLOAT32 data");
    m = tw::fullyConnectedModel();
    m.tensors[0].shape = {1, 65536, 65536, 3};
    expectTfliteError(m, "'x'");
    m = tw::fullyConnectedModel();
    m.tensors[2].shape = {-7};
    expectTfliteError(m, "negative dimension");
}

TEST_F(ImportFuzz, TfliteAbsurdIndicesAndOffsetsAreErrors) {
    tw::RawModel m = tw::fullyConnectedModel();
    m.tensors[1].buffer = 99;
    expectTfliteError(m, "buffer 99");
    m = tw::fullyConnectedModel();
    m.buffers[1] = {{}, uint64_t{1} << 40, 32}; // external data far past the end of the file
    expectTfliteError(m, "outside the");
    m = tw::fullyConnectedModel();
    m.buffers[1] = {{}, 64, ~uint64_t{0} - 8}; // offset + size overflows
    expectTfliteError(m, "outside the");
    m = tw::fullyConnectedModel();
    m.ops[0].opcodeIndex = 5;
    expectTfliteError(m, "operator code 5");
    m = tw::fullyConnectedModel();
    m.ops[0].inputs = {0, 1, 12345};
    expectTfliteError(m, "tensor 12345");
    m = tw::fullyConnectedModel();
    m.outputs = {-3};
    expectTfliteError(m, "tensor -3");
    m = tw::fullyConnectedModel();
    m.version = 2;
    expectTfliteError(m, "schema version 2");
    m = tw::fullyConnectedModel();
    m.withSubgraph = false;
    expectTfliteError(m, "no subgraphs");
}

TEST_F(ImportFuzz, TfliteOperatorsOutOfOrderAreAnError) {
    // y = relu(t); t = fc(x), listed in that order: a reader before its writer (what a
    // cycle looks like in an operator list).
    tw::RawModel m = tw::fullyConnectedModel();
    m.opcodes.push_back(19); // RELU
    m.tensors.push_back({{1, 2}, 0, 0, "relu"});
    m.ops.insert(m.ops.begin(), tw::RawOp{1, {3}, {4}, 0});
    m.outputs = {4};
    expectTfliteError(m, "before any operator writes it");
    // Writing the same tensor twice.
    m = tw::fullyConnectedModel();
    m.ops.push_back(m.ops[0]);
    expectTfliteError(m, "written before");
}

TEST_F(ImportFuzz, OnnxConstantFoldingIsBoundedByTheFileSize) {
    // ConstantOfShape([2^30]) would allocate 4 GB from a file of a few hundred bytes.
    ow::ModelSpec m;
    m.inputs = {{"x", {1, 4}}};
    m.outputs = {{"y", {1, 4}}};
    m.initializers = {ow::ints("shape", {1}, {int64_t{1} << 30})};
    m.nodes = {{"ConstantOfShape", "huge", {"shape"}, {"c"}, {}, ""},
               {"Relu", "relu", {"x"}, {"y"}, {}, ""}};
    // The huge constant only matters if something needs it: make the output depend on it.
    m.nodes.push_back({"Add", "use", {"y", "c"}, {"z"}, {}, ""});
    m.outputs = {{"z", {1, 4}}};
    auto r = importOnnxBytes(m.bytes(), "huge.onnx");
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("can hold"), std::string::npos) << r.message();
    // Repeated Concat doubling a constant: also bounded.
    ow::ModelSpec d;
    d.inputs = {{"x", {1, 4}}};
    d.initializers = {ow::floats("c0", {1024}, std::vector<float>(1024, 1.0f))};
    std::string prev = "c0";
    for (int i = 1; i <= 40; ++i) {
        std::string next = "c";
        next += std::to_string(i);
        d.nodes.push_back({"Concat", next, {prev, prev}, {next}, {ow::attrInt("axis", 0)}, ""});
        prev = next;
    }
    d.nodes.push_back({"Add", "use", {"x", prev}, {"z"}, {}, ""});
    d.outputs = {{"z", {1, 4}}};
    auto doubled = importOnnxBytes(d.bytes(), "doubling.onnx");
    ASSERT_FALSE(doubled.isOk());
    EXPECT_NE(doubled.message().find("can hold"), std::string::npos) << doubled.message();
}

TEST_F(ImportFuzz, OnnxStructuralErrors) {
    ow::ModelSpec cyclic;
    cyclic.inputs = {{"x", {1, 4}}};
    cyclic.outputs = {{"c", {1, 4}}};
    cyclic.nodes = {{"Add", "a", {"x", "c"}, {"b"}, {}, ""}, {"Relu", "r", {"b"}, {"c"}, {}, ""}};
    auto r = importOnnxBytes(cyclic.bytes(), "cyclic.onnx");
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.message().find("cycle"), std::string::npos);

    ow::ModelSpec missing;
    missing.inputs = {{"x", {1, 4}}};
    missing.outputs = {{"y", {1, 2}}};
    missing.nodes = {{"Gemm", "fc", {"x", "w"}, {"y"}, {}, ""}};
    auto m = importOnnxBytes(missing.bytes(), "missing.onnx");
    ASSERT_FALSE(m.isOk());
    EXPECT_NE(m.message().find("missing initializer"), std::string::npos) << m.message();

    ow::ModelSpec noGraph; // parses as protobuf, holds no nodes
    noGraph.inputs = {{"x", {1, 4}}};
    EXPECT_FALSE(importOnnxBytes(noGraph.bytes(), "empty.onnx").isOk());

    ow::ModelSpec undeclaredOutput;
    undeclaredOutput.inputs = {{"x", {1, 4}}};
    undeclaredOutput.outputs = {{"nowhere", {1, 4}}};
    undeclaredOutput.nodes = {{"Relu", "r", {"x"}, {"y"}, {}, ""}};
    EXPECT_FALSE(importOnnxBytes(undeclaredOutput.bytes(), "output.onnx").isOk());
}

// Byte-level mutations of real files: flips, interesting 32-bit values (the fields that
// count, index and size things), truncation, duplication and insertion. Fixed seed and
// iteration count; failures print the seed, file and case.
std::vector<uint8_t> mutate(std::vector<uint8_t> bytes, std::mt19937_64& rng) {
    static const uint32_t kInteresting[] = {0u,          1u,          2u,          0x7fu,
                                            0xffu,       0x7fffu,     0xffffu,     0x7fffffffu,
                                            0x80000000u, 0xffffffffu, 0xfffffffeu, 0x10000u};
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 6) {
        case 0:
            bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
        case 1:
            bytes[at] = static_cast<uint8_t>(rng());
            break;
        case 2: {
            const uint32_t v = kInteresting[rng() % std::size(kInteresting)];
            const size_t pos = at & ~size_t{3};
            if (pos + 4 <= bytes.size())
                std::memcpy(bytes.data() + pos, &v, 4);
            break;
        }
        case 3:
            bytes.resize(at);
            break;
        case 4: {
            const size_t len = std::min<size_t>(1 + rng() % 64, bytes.size() - at);
            std::vector<uint8_t> chunk(bytes.begin() + static_cast<long>(at),
                                       bytes.begin() + static_cast<long>(at + len));
            bytes.insert(bytes.begin() + static_cast<long>(rng() % bytes.size()), chunk.begin(),
                         chunk.end());
            break;
        }
        default:
            bytes.insert(bytes.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
            break;
        }
    }
    return bytes;
}

TEST_F(ImportFuzz, RandomMutationsOfBothFormatsNeverCrash) {
    const uint64_t seed = fuzzSeed();
    const int iterations = mutationsPerFile();
    std::mt19937_64 rng(seed);
    int errors = 0, imported = 0, reported = 0;
    auto runAll = [&](const std::vector<std::vector<uint8_t>>& seeds, const char* kind) {
        for (size_t s = 0; s < seeds.size(); ++s)
            for (int i = 0; i < iterations; ++i) {
                const std::vector<uint8_t> bytes = mutate(seeds[s], rng);
                auto r = importModelBytes(bytes, "mutated");
                expectWellFormed(r, std::string(kind) + " seed file " + std::to_string(s) +
                                        " mutation " + std::to_string(i) + " (rng seed " +
                                        std::to_string(seed) + ")");
                if (!r)
                    ++errors;
                else if (r->graph)
                    ++imported;
                else
                    ++reported;
            }
    };
    runAll(onnxSeeds(), "ONNX");
    runAll(tfliteSeeds(), ".tflite");
    // The loop must exercise all three outcomes, or it is not testing the importers.
    EXPECT_GT(errors, 0);
    EXPECT_GT(imported, 0);
    RecordProperty("errors", errors);
    RecordProperty("imported", imported);
    RecordProperty("reported", reported);
    std::printf("mutations: %d errors, %d imported, %d coverage reports\n", errors, imported,
                reported);
}

} // namespace
} // namespace qat
