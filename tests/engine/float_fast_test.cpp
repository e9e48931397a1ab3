// Float inference executor (FloatFastExecutor) against the training network in
// Phase::Eval, the reference it must reproduce up to float rounding. Every zoo model with
// random BatchNorm statistics far from the identity (so that folding is visible) and
// random biases, at batch 1, 7 and 64, on the softmax output and on the logits. Also:
// BatchNorms and ReLU/ReLU6 are folded into the weighted node (steps()), no reference
// oneDNN kernel is picked, a BatchNorm that cannot be folded (its producer has two
// consumers) runs on its own and still agrees, and create() errors name the node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "qat/float_fast.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "testing/op_harness.h"
#include "testing/tolerances.h"

namespace qat::testing {
namespace {

constexpr uint32_t kSeed = 20240611;

// He-uniform weights from the zoo loader (trained-looking magnitudes), then random
// biases and BatchNorm parameters/statistics: gamma in [0.5, 1.5], beta and moving_mean
// in [-0.5, 0.5], moving_var in [0.2, 2].
void randomizeParams(Graph& g, uint32_t seed) {
    std::mt19937 rng(seed);
    auto fill = [&](Tensor& t, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        for (int64_t i = 0; i < t.size(); ++i)
            t[i] = dist(rng);
    };
    for (Node& node : g.nodes) {
        if (auto it = node.params.find("bias"); it != node.params.end())
            fill(it->second, -0.2f, 0.2f);
        if (node.type != OpType::BatchNorm)
            continue;
        fill(node.params.at("gamma"), 0.5f, 1.5f);
        fill(node.params.at("beta"), -0.5f, 0.5f);
        fill(node.params.at("moving_mean"), -0.5f, 0.5f);
        fill(node.params.at("moving_var"), 0.2f, 2.0f);
    }
}

Graph zooGraph(const std::string& name) {
    auto g = loadModelOrZoo(name, std::nullopt, 3);
    EXPECT_TRUE(g.isOk()) << g.message();
    Graph graph = std::move(g).value();
    randomizeParams(graph, kSeed);
    return graph;
}

// |fast - ref| <= kForwardAbs * scale + kForwardRel * |ref| per value, scale being the
// largest |ref| (at least 1): logits of a deep net carry rounding relative to their
// magnitude, not absolute. Folding reassociates (w * s) . x vs s * (w . x), so equality
// is not expected.
void expectClose(const Tensor& fast, const Tensor& ref, const std::string& what) {
    ASSERT_EQ(fast.shape(), ref.shape()) << what;
    double scale = 1.0;
    for (int64_t i = 0; i < ref.size(); ++i)
        scale = std::max(scale, static_cast<double>(std::fabs(ref[i])));
    int64_t bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < ref.size(); ++i) {
        const double err = std::fabs(static_cast<double>(fast[i]) - ref[i]);
        const double tol = kForwardAbs * scale + kForwardRel * std::fabs(ref[i]);
        worst = std::max(worst, err / tol);
        if (!(err <= tol) && bad++ < 5)
            ADD_FAILURE() << what << ": value " << i << " fast " << fast[i] << " network " << ref[i]
                          << " (seed " << kSeed << ")";
    }
    EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << ref.size()
                      << " values off; worst error / tolerance " << worst;
}

// FloatFastExecutor vs Network::forward(Eval) on random [0, 1] images.
void expectMatchesNetwork(Graph& graph, int64_t batch, const std::string& what) {
    auto net = Network::create(graph, 1);
    ASSERT_TRUE(net.isOk()) << net.message();
    auto fast = FloatFastExecutor::create(graph, batch);
    ASSERT_TRUE(fast.isOk()) << what << ": " << fast.message();
    const Tensor x = randomTensor(withBatch(batch, graph.inputShape()),
                                  kSeed + static_cast<uint32_t>(batch), 0.0f, 1.0f);
    const Tensor ref = net.value()->forward(x, Phase::Eval);
    const Tensor first = fast.value()->run(x);
    expectClose(first, ref, what);
    // A second run on the same buffers gives the same bytes.
    EXPECT_TRUE(fast.value()->run(x) == first) << what;
}

TEST(FloatFastExecutor, MatchesNetworkEvalOnEveryZooModel) {
    ASSERT_FALSE(zooModelNames().empty());
    for (const auto& name : zooModelNames()) {
        Graph graph = zooGraph(name);
        for (int64_t batch : {1, 7, 64})
            expectMatchesNetwork(graph, batch, name + " batch " + std::to_string(batch));
    }
}

// The same on the logits (the Softmax's input as the output; the Softmax is then dead
// and not run), where a folding error is not squashed by the softmax.
TEST(FloatFastExecutor, MatchesNetworkEvalOnZooLogits) {
    for (const auto& name : zooModelNames()) {
        Graph graph = zooGraph(name);
        ASSERT_EQ(graph.outputNode().type, OpType::Softmax) << name;
        graph.output = graph.outputNode().inputs[0];
        Status st = graph.finalize();
        ASSERT_TRUE(st.isOk()) << st.message();
        for (int64_t batch : {1, 7})
            expectMatchesNetwork(graph, batch, name + " logits batch " + std::to_string(batch));
    }
}

const FloatFastStep* findStep(const FloatFastExecutor& exec, const std::string& node) {
    for (const auto& s : exec.steps())
        if (s.node == node)
            return &s;
    return nullptr;
}

TEST(FloatFastExecutor, FoldsBatchNormAndFusesActivations) {
    for (const auto& name : zooModelNames()) {
        Graph graph = zooGraph(name);
        auto fast = FloatFastExecutor::create(graph, 1);
        ASSERT_TRUE(fast.isOk()) << fast.message();
        SCOPED_TRACE(name + ":\n" + fast.value()->implementationInfo());
        for (const Node& node : graph.nodes) {
            // Every zoo BatchNorm follows a conv that has no other consumer.
            if (node.type == OpType::BatchNorm) {
                EXPECT_EQ(findStep(*fast.value(), node.name), nullptr) << node.name;
                const FloatFastStep* conv = findStep(*fast.value(), node.inputs[0]);
                ASSERT_NE(conv, nullptr) << node.inputs[0];
                EXPECT_EQ(conv->fused.front(), node.name);
            }
            // A ReLU/ReLU6 right after a BatchNorm is fused with it.
            if ((node.type == OpType::ReLU || node.type == OpType::ReLU6) &&
                graph.find(node.inputs[0])->type == OpType::BatchNorm) {
                EXPECT_EQ(findStep(*fast.value(), node.name), nullptr) << node.name;
            }
        }
        for (const auto& s : fast.value()->steps())
            EXPECT_EQ(s.implementation.find("=ref"), std::string::npos)
                << s.node << " runs a reference kernel: " << s.implementation;
    }
}

TEST(FloatFastExecutor, CnnBnRunsAsFourPrimitivesPlusSoftmax) {
    Graph graph = zooGraph("cnn-bn");
    auto fast = FloatFastExecutor::create(graph, 64);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    // conv+bn+relu, pool, conv+bn+relu, pool, (flatten: no step), dense+relu, dense, softmax.
    const auto& steps = fast.value()->steps();
    ASSERT_EQ(steps.size(), 7u) << fast.value()->implementationInfo();
    EXPECT_EQ(steps[0].fused.size(), 2u);
    EXPECT_EQ(steps[0].implementation.rfind("conv=", 0), 0u);
    EXPECT_EQ(steps[4].implementation.rfind("dense=", 0), 0u);
    EXPECT_EQ(steps[4].fused.size(), 1u); // its ReLU
    EXPECT_EQ(steps[6].implementation, "layer");
}

Node& addNode(Graph& g, const std::string& name, OpType type, std::vector<std::string> inputs) {
    Node node;
    node.name = name;
    node.type = type;
    node.inputs = std::move(inputs);
    g.nodes.push_back(std::move(node));
    return g.nodes.back();
}

Node& addConv(Graph& g, const std::string& name, const std::string& input, int filters) {
    Node& n = addNode(g, name, OpType::Conv2D, {input});
    n.attrs.set("filters", filters);
    n.attrs.set("kernel", std::vector<int64_t>{3, 3});
    n.attrs.set("padding", "same");
    return n;
}

// x[8,8,3] -> conv1 -> {bn1 -> relu1, add}; add(relu1, conv1) -> conv2 -> drop -> bn2
//   -> relu6 -> gap -> dense -> softmax. bn1 cannot fold (conv1 has two consumers), so
// relu1 is not fused either; bn2 folds through the Dropout.
Graph unfoldableGraph() {
    Graph g;
    addNode(g, "x", OpType::Input, {}).attrs.set("shape", std::vector<int64_t>{8, 8, 3});
    addConv(g, "conv1", "x", 4);
    addNode(g, "bn1", OpType::BatchNorm, {"conv1"});
    addNode(g, "relu1", OpType::ReLU, {"bn1"});
    addNode(g, "add", OpType::Add, {"relu1", "conv1"});
    addConv(g, "conv2", "add", 6);
    addNode(g, "drop", OpType::Dropout, {"conv2"}).attrs.set("rate", 0.5);
    addNode(g, "bn2", OpType::BatchNorm, {"drop"});
    addNode(g, "relu6", OpType::ReLU6, {"bn2"});
    addNode(g, "gap", OpType::GlobalAvgPool, {"relu6"});
    addNode(g, "dense", OpType::Dense, {"gap"}).attrs.set("units", 5);
    addNode(g, "softmax", OpType::Softmax, {"dense"});
    return g;
}

TEST(FloatFastExecutor, UnfoldableBatchNormRunsAloneAndAgrees) {
    Graph g = unfoldableGraph();
    Status st = g.finalize();
    ASSERT_TRUE(st.isOk()) << st.message();
    g.initializeParams(5);
    randomizeParams(g, kSeed);
    auto fast = FloatFastExecutor::create(g, 3);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    const std::string info = fast.value()->implementationInfo();
    const FloatFastStep* conv1 = findStep(*fast.value(), "conv1");
    ASSERT_NE(conv1, nullptr) << info;
    EXPECT_TRUE(conv1->fused.empty()) << info;
    const FloatFastStep* bn1 = findStep(*fast.value(), "bn1");
    ASSERT_NE(bn1, nullptr) << info;
    EXPECT_EQ(bn1->implementation, "layer");
    EXPECT_NE(findStep(*fast.value(), "relu1"), nullptr) << info;
    const FloatFastStep* conv2 = findStep(*fast.value(), "conv2");
    ASSERT_NE(conv2, nullptr) << info;
    EXPECT_EQ(conv2->fused, (std::vector<std::string>{"drop", "bn2", "relu6"})) << info;
    for (int64_t batch : {1, 3})
        expectMatchesNetwork(g, batch, "unfoldable batch " + std::to_string(batch));
}

// The output is a conv whose only consumer is a BatchNorm: the BatchNorm must not be
// folded into what the caller reads.
TEST(FloatFastExecutor, OutputBeforeBatchNormIsNotFolded) {
    Graph graph = zooGraph("cnn-bn");
    const Node* bn = nullptr;
    for (const Node& n : graph.nodes)
        if (n.type == OpType::BatchNorm && !bn)
            bn = &n;
    ASSERT_NE(bn, nullptr);
    graph.output = bn->inputs[0];
    Status st = graph.finalize();
    ASSERT_TRUE(st.isOk()) << st.message();
    auto fast = FloatFastExecutor::create(graph, 2);
    ASSERT_TRUE(fast.isOk()) << fast.message();
    ASSERT_EQ(fast.value()->steps().size(), 1u) << fast.value()->implementationInfo();
    EXPECT_TRUE(fast.value()->steps()[0].fused.empty());
    expectMatchesNetwork(graph, 2, "cnn-bn conv1 output");
}

TEST(FloatFastExecutor, ErrorsNameTheNode) {
    Graph graph = zooGraph("cnn-bn");
    {
        auto fast = FloatFastExecutor::create(graph, 0);
        ASSERT_FALSE(fast.isOk());
        EXPECT_NE(fast.message().find("batch"), std::string::npos) << fast.message();
    }
    {
        Graph bad = graph;
        for (Node& n : bad.nodes)
            if (n.type == OpType::Dense) {
                n.params["weights"] = Tensor({3, 3});
                break;
            }
        auto fast = FloatFastExecutor::create(bad, 1);
        ASSERT_FALSE(fast.isOk());
        EXPECT_NE(fast.message().find("(Dense)"), std::string::npos) << fast.message();
        EXPECT_NE(fast.message().find("weights"), std::string::npos) << fast.message();
    }
    {
        Graph bad = graph;
        for (Node& n : bad.nodes)
            if (n.type == OpType::BatchNorm) {
                n.params["moving_var"] = Tensor({2});
                break;
            }
        auto fast = FloatFastExecutor::create(bad, 1);
        ASSERT_FALSE(fast.isOk());
        EXPECT_NE(fast.message().find("(BatchNorm)"), std::string::npos) << fast.message();
        EXPECT_NE(fast.message().find("moving_var"), std::string::npos) << fast.message();
    }
    {
        Graph unfinished = unfoldableGraph();
        auto fast = FloatFastExecutor::create(unfinished, 1);
        ASSERT_FALSE(fast.isOk());
        EXPECT_NE(fast.message().find("finalized"), std::string::npos) << fast.message();
    }
}

} // namespace
} // namespace qat::testing
