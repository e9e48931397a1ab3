// The element-wise and structural layers inside a Network: shapes agree with
// Graph::finalize, gradients flow through fan-out (Add, Concat), and Dropout is seeded
// per network. Only these layers are used, so no oneDNN layer is involved.
#include <gtest/gtest.h>

#include <cmath>

#include "qat/network.h"
#include "testing/op_harness.h"

namespace qat::testing {
namespace {

Node& addNode(Graph& g, const std::string& name, OpType type, std::vector<std::string> inputs) {
    Node node;
    node.name = name;
    node.type = type;
    node.inputs = std::move(inputs);
    g.nodes.push_back(std::move(node));
    return g.nodes.back();
}

// x[4,4,3] -> relu -> add(x, relu) -> zeropad -> {identity, relu6} -> concat -> flatten
//   -> reshape [-1, 6] -> softmax
Graph branchyGraph() {
    Graph g;
    addNode(g, "x", OpType::Input, {}).attrs.set("shape", std::vector<int64_t>{4, 4, 3});
    addNode(g, "relu", OpType::ReLU, {"x"});
    addNode(g, "sum", OpType::Add, {"x", "relu"});
    addNode(g, "pad", OpType::ZeroPad, {"sum"}).attrs.set("pads", std::vector<int64_t>{1, 0, 0, 2});
    addNode(g, "relu6", OpType::ReLU6, {"pad"});
    addNode(g, "cat", OpType::Concat, {"pad", "relu6"});
    addNode(g, "flat", OpType::Flatten, {"cat"});
    addNode(g, "rows", OpType::Reshape, {"flat"}).attrs.set("shape", std::vector<int64_t>{-1, 6});
    addNode(g, "softmax", OpType::Softmax, {"rows"});
    return g;
}

// Inputs whose magnitude is in [0.1, 2.5]: away from the ReLU kink at 0 and from the
// ReLU6 kink at 6 (sum = 2x reaches 6 only at x = 3).
Tensor inputAwayFromKinks(const Shape& shape, uint32_t seed) {
    Tensor t = randomTensor(shape, seed, 0.1f, 2.5f);
    Tensor sign = randomTensor(shape, seed + 1);
    for (int64_t i = 0; i < t.size(); ++i)
        if (sign[i] < 0)
            t[i] = -t[i];
    return t;
}

TEST(BasicLayersInNetwork, InputGradientMatchesFiniteDifferences) {
    Graph g = branchyGraph();
    Status st = g.finalize();
    ASSERT_TRUE(st.isOk()) << st.message();
    // 4x4x3 padded to 5x6x3, concatenated to 5x6x6 = 180 = 30 rows of 6.
    ASSERT_EQ(g.outputShape(), (Shape{30, 6}));
    auto created = Network::create(g, 1);
    ASSERT_TRUE(created.isOk()) << created.message();
    Network& net = *created.value();
    net.setComputeInputGradient(true);

    Tensor x = inputAwayFromKinks({2, 4, 4, 3}, 21);
    const Tensor out = net.forward(x, Phase::Train);
    ASSERT_EQ(out.shape(), (Shape{2, 30, 6}));
    Tensor r = randomTensor(out.shape(), 22);
    net.backward(r);
    const Tensor analytic = net.inputGradient();
    ASSERT_EQ(analytic.shape(), x.shape());

    auto loss = [&](const Tensor& in) {
        const Tensor& y = net.forward(in, Phase::Eval);
        double s = 0;
        for (int64_t i = 0; i < y.size(); ++i)
            s += static_cast<double>(y[i]) * r[i];
        return s;
    };
    for (int64_t i = 0; i < x.size(); i += 5) {
        Tensor xp = x, xm = x;
        xp[i] += static_cast<float>(kFiniteDiffStep);
        xm[i] -= static_cast<float>(kFiniteDiffStep);
        const double numeric = (loss(xp) - loss(xm)) / (2 * kFiniteDiffStep);
        EXPECT_NEAR(analytic[i], numeric, kGradAbs + kGradRel * std::abs(numeric))
            << "input element " << i;
    }
}

TEST(BasicLayersInNetwork, DropoutIsReproducibleFromTheNetworkSeed) {
    auto build = [] {
        Graph g;
        addNode(g, "x", OpType::Input, {}).attrs.set("shape", std::vector<int64_t>{64});
        addNode(g, "drop", OpType::Dropout, {"x"}).attrs.set("rate", AttrValue{0.5});
        return g;
    };
    Graph g1 = build(), g2 = build(), g3 = build();
    ASSERT_TRUE(g1.finalize().isOk());
    ASSERT_TRUE(g2.finalize().isOk());
    ASSERT_TRUE(g3.finalize().isOk());
    auto n1 = Network::create(g1, 5);
    auto n2 = Network::create(g2, 5);
    auto n3 = Network::create(g3, 6);
    ASSERT_TRUE(n1.isOk() && n2.isOk() && n3.isOk());
    Tensor x(Shape{4, 64}, 1.0f);
    const Tensor a1 = n1.value()->forward(x, Phase::Train);
    const Tensor a2 = n1.value()->forward(x, Phase::Train);
    const Tensor b1 = n2.value()->forward(x, Phase::Train);
    const Tensor c1 = n3.value()->forward(x, Phase::Train);
    EXPECT_EQ(a1.vec(), b1.vec()) << "same network seed, same first mask";
    EXPECT_NE(a1.vec(), a2.vec()) << "each training step draws a new mask";
    EXPECT_NE(a1.vec(), c1.vec()) << "another network seed, another mask";
    EXPECT_EQ(n1.value()->forward(x, Phase::Eval).vec(), x.vec());
}

} // namespace
} // namespace qat::testing
