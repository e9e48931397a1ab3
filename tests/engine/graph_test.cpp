// Graph IR: shape inference known answers per op, rejection of malformed graphs (every
// message names the node at fault), stable topological sorting, lookups, and
// deterministic parameter initialization.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "qat/graph.h"

namespace qat {
namespace {

using Ints = std::vector<int64_t>;

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

Node inputNode(const Shape& shape, std::string name = "input") {
    return makeNode(std::move(name), OpType::Input, {}, {{"shape", AttrValue(shape)}});
}

// Output shape of `node` applied to an Input of shape `in`; the node reads "input".
Result<Shape> shapeOf(const Shape& in, Node node) {
    Graph g;
    g.nodes.push_back(inputNode(in));
    node.inputs = {"input"};
    const std::string name = node.name;
    g.nodes.push_back(std::move(node));
    QAT_RETURN_IF_ERROR(g.finalize());
    return g.find(name)->outputShape;
}

Node conv(Ints kernel, int64_t filters, std::string padding,
          std::vector<std::pair<std::string, AttrValue>> extra = {}) {
    Node n = makeNode("conv", OpType::Conv2D, {},
                      {{"kernel", AttrValue(kernel)},
                       {"filters", AttrValue(filters)},
                       {"padding", AttrValue(padding)}});
    for (auto& [k, v] : extra)
        n.attrs.set(k, std::move(v));
    return n;
}

void expectShape(const Result<Shape>& got, const Shape& want) {
    ASSERT_TRUE(got.isOk()) << got.message();
    EXPECT_EQ(got.value(), want) << shapeToString(got.value()) << " vs " << shapeToString(want);
}

// Finalize must fail and the message must contain every fragment.
void expectError(Graph& g, const std::vector<std::string>& fragments) {
    Status st = g.finalize();
    ASSERT_FALSE(st.isOk()) << "finalize unexpectedly succeeded";
    for (const auto& f : fragments)
        EXPECT_NE(st.message().find(f), std::string::npos)
            << "message '" << st.message() << "' lacks '" << f << "'";
    EXPECT_FALSE(g.isFinalized());
}

// input [28,28,1] -> conv1 (12 3x3 valid) -> relu1 -> pool1 -> flatten -> dense1 (10) -> softmax
Graph mnistCnn() {
    Graph g;
    g.nodes.push_back(inputNode({28, 28, 1}));
    g.nodes.push_back(makeNode("conv1", OpType::Conv2D, {"input"},
                               {{"filters", AttrValue(int64_t{12})},
                                {"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("valid"))}}));
    g.nodes.push_back(makeNode("relu1", OpType::ReLU, {"conv1"}));
    g.nodes.push_back(
        makeNode("pool1", OpType::MaxPool, {"relu1"}, {{"pool", AttrValue(Ints{2, 2})}}));
    g.nodes.push_back(makeNode("flatten", OpType::Flatten, {"pool1"}));
    g.nodes.push_back(
        makeNode("dense1", OpType::Dense, {"flatten"}, {{"units", AttrValue(int64_t{10})}}));
    g.nodes.push_back(makeNode("softmax", OpType::Softmax, {"dense1"}));
    return g;
}

// ---- shape inference ------------------------------------------------------------------

TEST(GraphShapes, Conv2DSameKeepsSizeAtStrideOne) {
    expectShape(shapeOf({28, 28, 1}, conv({3, 3}, 12, "same")), {28, 28, 12});
}

TEST(GraphShapes, Conv2DValidShrinksByKernelMinusOne) {
    expectShape(shapeOf({28, 28, 1}, conv({3, 3}, 12, "valid")), {26, 26, 12});
    expectShape(shapeOf({28, 20, 3}, conv({5, 3}, 4, "valid")), {24, 18, 4});
}

TEST(GraphShapes, Conv2DStride) {
    // same: ceil(in / stride); valid: floor((in - k) / stride) + 1.
    expectShape(shapeOf({28, 28, 1}, conv({3, 3}, 8, "same", {{"strides", AttrValue(Ints{2, 2})}})),
                {14, 14, 8});
    expectShape(shapeOf({7, 7, 1}, conv({3, 3}, 8, "same", {{"strides", AttrValue(Ints{2, 2})}})),
                {4, 4, 8});
    expectShape(
        shapeOf({28, 28, 1}, conv({3, 3}, 8, "valid", {{"strides", AttrValue(Ints{2, 3})}})),
        {13, 9, 8});
}

TEST(GraphShapes, Conv2DDilation) {
    // Dilation 2 turns a 3x3 kernel into an effective 5x5 one.
    expectShape(
        shapeOf({28, 28, 1}, conv({3, 3}, 4, "valid", {{"dilations", AttrValue(Ints{2, 2})}})),
        {24, 24, 4});
    expectShape(
        shapeOf({28, 28, 1}, conv({3, 3}, 4, "same", {{"dilations", AttrValue(Ints{2, 2})}})),
        {28, 28, 4});
}

TEST(GraphShapes, Conv2DExplicitPads) {
    // pads [top, left, bottom, right]
    expectShape(
        shapeOf({28, 28, 1}, conv({3, 3}, 4, "explicit", {{"pads", AttrValue(Ints{1, 2, 0, 1})}})),
        {27, 29, 4});
}

TEST(GraphShapes, Conv2DGroupsShapeTheWeights) {
    Graph g;
    g.nodes.push_back(inputNode({10, 10, 8}));
    Node c = conv({3, 3}, 12, "same", {{"groups", AttrValue(int64_t{4})}});
    c.inputs = {"input"};
    g.nodes.push_back(c);
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.find("conv")->outputShape, (Shape{10, 10, 12}));
    g.initializeParams(1);
    EXPECT_EQ(g.find("conv")->params.at("weights").shape(), (Shape{12, 3, 3, 2}));
    EXPECT_EQ(g.find("conv")->params.at("bias").shape(), (Shape{12}));
}

TEST(GraphShapes, DepthwiseMultiplier) {
    Graph g;
    g.nodes.push_back(inputNode({10, 10, 3}));
    g.nodes.push_back(makeNode("dw", OpType::DepthwiseConv2D, {"input"},
                               {{"kernel", AttrValue(Ints{3, 3})},
                                {"padding", AttrValue(std::string("same"))},
                                {"strides", AttrValue(Ints{2, 2})},
                                {"depth_multiplier", AttrValue(int64_t{2})}}));
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.find("dw")->outputShape, (Shape{5, 5, 6}));
    g.initializeParams(3);
    EXPECT_EQ(g.find("dw")->params.at("weights").shape(), (Shape{1, 3, 3, 6}));
    EXPECT_EQ(g.find("dw")->params.at("bias").shape(), (Shape{6}));
}

TEST(GraphShapes, Pools) {
    auto pool = [](OpType t, Ints size, std::vector<std::pair<std::string, AttrValue>> extra = {}) {
        Node n = makeNode("pool", t, {}, {{"pool", AttrValue(size)}});
        for (auto& [k, v] : extra)
            n.attrs.set(k, std::move(v));
        return n;
    };
    expectShape(shapeOf({28, 28, 12}, pool(OpType::MaxPool, {2, 2})), {14, 14, 12});
    expectShape(shapeOf({27, 27, 3}, pool(OpType::MaxPool, {2, 2})), {13, 13, 3});
    expectShape(
        shapeOf({28, 28, 3}, pool(OpType::AvgPool, {3, 3}, {{"strides", AttrValue(Ints{2, 2})}})),
        {13, 13, 3});
    expectShape(shapeOf({7, 7, 3}, pool(OpType::AvgPool, {2, 2},
                                        {{"padding", AttrValue(std::string("same"))}})),
                {4, 4, 3});
    expectShape(shapeOf({14, 14, 16}, pool(OpType::MaxPool, {3, 3},
                                           {{"strides", AttrValue(Ints{1, 1})},
                                            {"padding", AttrValue(std::string("same"))}})),
                {14, 14, 16});
}

TEST(GraphShapes, GlobalAvgPoolFlattenDense) {
    expectShape(shapeOf({7, 7, 40}, makeNode("gap", OpType::GlobalAvgPool, {})), {40});
    expectShape(shapeOf({13, 13, 12}, makeNode("flat", OpType::Flatten, {})), {2028});
    expectShape(
        shapeOf({2028}, makeNode("fc", OpType::Dense, {}, {{"units", AttrValue(int64_t{10})}})),
        {10});
}

TEST(GraphShapes, ElementwiseOpsKeepShape) {
    for (OpType t :
         {OpType::BatchNorm, OpType::ReLU, OpType::ReLU6, OpType::LeakyReLU, OpType::HardSwish,
          OpType::Sigmoid, OpType::Tanh, OpType::Dropout, OpType::Softmax})
        expectShape(shapeOf({5, 6, 7}, makeNode("op", t, {})), {5, 6, 7});
    expectShape(shapeOf({10}, makeNode("sm", OpType::Softmax, {})), {10});
}

TEST(GraphShapes, ZeroPad) {
    expectShape(shapeOf({5, 5, 2}, makeNode("pad", OpType::ZeroPad, {},
                                            {{"pads", AttrValue(Ints{1, 2, 3, 4})}})),
                {9, 11, 2});
}

TEST(GraphShapes, ReshapeInfersMinusOne) {
    auto reshape = [](Ints s) {
        return makeNode("r", OpType::Reshape, {}, {{"shape", AttrValue(s)}});
    };
    expectShape(shapeOf({4, 4, 2}, reshape({-1, 8})), {4, 8});
    expectShape(shapeOf({4, 4, 2}, reshape({2, -1})), {2, 16});
    expectShape(shapeOf({4, 4, 2}, reshape({32})), {32});
    expectShape(shapeOf({32}, reshape({4, 4, 2})), {4, 4, 2});
}

TEST(GraphShapes, ConcatAddsAlongAxis) {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 4}));
    g.nodes.push_back(conv({1, 1}, 16, "same"));
    g.nodes.back().name = "a";
    g.nodes.back().inputs = {"input"};
    g.nodes.push_back(conv({3, 3}, 8, "same"));
    g.nodes.back().name = "b";
    g.nodes.back().inputs = {"input"};
    g.nodes.push_back(makeNode("cat", OpType::Concat, {"a", "b", "input"}));
    g.nodes.push_back(
        makeNode("cat0", OpType::Concat, {"a", "a"}, {{"axis", AttrValue(int64_t{0})}}));
    g.nodes.push_back(
        makeNode("cat1", OpType::Concat, {"a", "a", "a"}, {{"axis", AttrValue(int64_t{-2})}}));
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.find("cat")->outputShape, (Shape{8, 8, 28}));
    EXPECT_EQ(g.find("cat0")->outputShape, (Shape{16, 8, 16}));
    EXPECT_EQ(g.find("cat1")->outputShape, (Shape{8, 24, 16}));
}

TEST(GraphShapes, AddKeepsShapeAndOutputDefaultsToLastNode) {
    Graph g;
    g.nodes.push_back(inputNode({6, 6, 3}));
    g.nodes.push_back(makeNode("r", OpType::ReLU, {"input"}));
    g.nodes.push_back(makeNode("add", OpType::Add, {"r", "input", "r"}));
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.outputNode().name, "add");
    EXPECT_EQ(g.outputShape(), (Shape{6, 6, 3}));
    EXPECT_EQ(g.inputShape(), (Shape{6, 6, 3}));
}

// ---- malformed graphs -------------------------------------------------------------------

TEST(GraphValidation, DuplicateName) {
    Graph g = mnistCnn();
    g.nodes[3].name = "relu1";
    expectError(g, {"'relu1'", "duplicate"});
}

TEST(GraphValidation, EmptyName) {
    Graph g = mnistCnn();
    g.nodes[2].name.clear();
    expectError(g, {"node #2", "empty name"});
}

TEST(GraphValidation, UnknownInput) {
    Graph g = mnistCnn();
    g.nodes[2].inputs = {"conv9"};
    expectError(g, {"node 'relu1'", "'conv9'", "does not exist"});
}

TEST(GraphValidation, CycleNamesANodeOnIt) {
    Graph g;
    g.nodes.push_back(inputNode({4}));
    g.nodes.push_back(makeNode("head", OpType::ReLU, {"input"}));
    g.nodes.push_back(makeNode("a", OpType::Add, {"head", "c"}));
    g.nodes.push_back(makeNode("b", OpType::ReLU, {"a"}));
    g.nodes.push_back(makeNode("c", OpType::Tanh, {"b"}));
    g.nodes.push_back(makeNode("tail", OpType::ReLU, {"c"})); // downstream, not on the cycle
    Status st = g.finalize();
    ASSERT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("cycle"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("'a'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("'b'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("'c'"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("'tail'"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("'head'"), std::string::npos) << st.message();
}

TEST(GraphValidation, SelfLoopIsACycle) {
    Graph g;
    g.nodes.push_back(inputNode({4}));
    g.nodes.push_back(makeNode("loop", OpType::Add, {"input", "loop"}));
    expectError(g, {"'loop'", "cycle"});
}

TEST(GraphValidation, TwoInputs) {
    Graph g = mnistCnn();
    g.nodes.push_back(inputNode({28, 28, 1}, "input2"));
    expectError(g, {"'input2'", "'input'", "exactly one Input"});
}

TEST(GraphValidation, NoInput) {
    Graph g;
    g.nodes.push_back(makeNode("relu", OpType::ReLU, {}));
    expectError(g, {"node 'relu'", "takes 1 input"});
    Graph empty;
    expectError(empty, {"no nodes"});
}

TEST(GraphValidation, WrongOperandCounts) {
    Graph g = mnistCnn();
    g.nodes[2].inputs = {"conv1", "input"};
    expectError(g, {"node 'relu1'", "takes 1 input but has 2"});
    Graph h;
    h.nodes.push_back(inputNode({4}));
    h.nodes.push_back(makeNode("sum", OpType::Add, {"input"}));
    expectError(h, {"node 'sum'", "2 or more"});
    Graph k;
    k.nodes.push_back(makeNode("input", OpType::Input, {"input"}, {{"shape", AttrValue(Ints{4})}}));
    expectError(k, {"node 'input'", "no inputs"});
}

TEST(GraphValidation, DenseOnRank3AsksForFlatten) {
    Graph g = mnistCnn();
    g.nodes[5].inputs = {"pool1"};
    expectError(g, {"node 'dense1'", "rank-1", "[13x13x12]", "Flatten"});
}

TEST(GraphValidation, AddShapeMismatch) {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 3}));
    g.nodes.push_back(conv({3, 3}, 3, "valid"));
    g.nodes.back().inputs = {"input"};
    g.nodes.push_back(makeNode("add1", OpType::Add, {"input", "conv"}));
    expectError(g, {"node 'add1'", "'conv'", "[6x6x3]", "[8x8x3]"});
}

TEST(GraphValidation, ConcatMismatch) {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 3}));
    g.nodes.push_back(conv({3, 3}, 3, "valid"));
    g.nodes.back().inputs = {"input"};
    g.nodes.push_back(makeNode("cat", OpType::Concat, {"input", "conv"}));
    expectError(g, {"node 'cat'", "except on axis 2"});
}

TEST(GraphValidation, GroupsMustDivideChannels) {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 6}));
    g.nodes.push_back(conv({3, 3}, 8, "same", {{"groups", AttrValue(int64_t{4})}}));
    g.nodes.back().name = "gconv";
    g.nodes.back().inputs = {"input"};
    expectError(g, {"node 'gconv'", "input channels 6", "groups 4"});
    g.nodes.back().attrs.set("groups", 3);
    expectError(g, {"node 'gconv'", "filters 8", "groups 3"});
    g.nodes.back().attrs.set("groups", 2);
    EXPECT_TRUE(g.finalize().isOk());
}

TEST(GraphValidation, ConvWeightsWithWrongShape) {
    Graph g = mnistCnn();
    g.nodes[1].params["weights"] = Tensor({12, 3, 3, 3});
    expectError(g,
                {"node 'conv1': param 'weights' has shape [12x3x3x3] but [12x3x3x1] is required"});
    g.nodes[1].params["weights"] = Tensor({12, 3, 3, 1});
    g.nodes[1].params["bias"] = Tensor({10});
    expectError(g, {"node 'conv1': param 'bias' has shape [10] but [12] is required"});
}

TEST(GraphValidation, UnexpectedParam) {
    Graph g = mnistCnn();
    g.nodes[1].attrs.set("use_bias", 0);
    g.nodes[1].params["bias"] = Tensor({12});
    expectError(g, {"node 'conv1'", "unexpected param 'bias'"});
    Graph h = mnistCnn();
    h.nodes[2].params["gamma"] = Tensor({12});
    expectError(h, {"node 'relu1'", "unexpected param 'gamma'", "no parameters"});
}

TEST(GraphValidation, BadAttributes) {
    {
        Graph g = mnistCnn();
        g.nodes[1].attrs = Attrs();
        g.nodes[1].attrs.set("kernel", AttrValue(Ints{3, 3}));
        expectError(g, {"node 'conv1'", "'filters' is required"});
    }
    {
        Graph g = mnistCnn();
        g.nodes[1].attrs.set("filters", "twelve");
        expectError(g, {"node 'conv1'", "'filters' must be an integer"});
    }
    {
        Graph g = mnistCnn();
        g.nodes[1].attrs.set("padding", "full");
        expectError(g, {"node 'conv1'", "unknown padding 'full'"});
    }
    {
        Graph g = mnistCnn();
        g.nodes[1].attrs.set("kernel", AttrValue(Ints{29, 3}));
        expectError(g, {"node 'conv1'", "larger than"});
    }
    {
        Graph g = mnistCnn();
        g.nodes[1].attrs.set("strides", AttrValue(Ints{0, 1}));
        expectError(g, {"node 'conv1'", "'strides'"});
    }
    {
        Graph g = mnistCnn();
        g.nodes.push_back(
            makeNode("drop", OpType::Dropout, {"softmax"}, {{"rate", AttrValue(1.0)}}));
        expectError(g, {"node 'drop'", "'rate'"});
    }
    {
        Graph g = mnistCnn();
        g.nodes[0].attrs = Attrs();
        expectError(g, {"node 'input'", "'shape' is required"});
    }
}

TEST(GraphValidation, ReshapeErrors) {
    auto reshape = [](Ints s) {
        return makeNode("r", OpType::Reshape, {}, {{"shape", AttrValue(s)}});
    };
    auto bad = [&](Ints s, const std::string& fragment) {
        auto r = shapeOf({4, 4, 2}, reshape(s));
        ASSERT_FALSE(r.isOk()) << shapeToString(s);
        EXPECT_NE(r.message().find("node 'r'"), std::string::npos) << r.message();
        EXPECT_NE(r.message().find(fragment), std::string::npos) << r.message();
    };
    bad({-1, -1}, "more than one -1");
    bad({5, -1}, "cannot reshape");
    bad({3, 3}, "cannot reshape");
    bad({0, 32}, "zero");
    bad({-2, 16}, "'shape'");
}

TEST(GraphValidation, AbsurdSizesAreRejectedNotOverflowed) {
    Graph g = mnistCnn();
    g.nodes[0].attrs.set("shape", AttrValue(Ints{int64_t{1} << 40, int64_t{1} << 40, 1}));
    expectError(g, {"node 'input'"});
    Graph h = mnistCnn();
    h.nodes[5].attrs.set("units", AttrValue(int64_t{1} << 40));
    expectError(h, {"node 'dense1'"});
    Graph k = mnistCnn();
    k.nodes[1].attrs.set("dilations", AttrValue(Ints{int64_t{1} << 62, 1}));
    expectError(k, {"node 'conv1'", "'dilations'"});
}

TEST(GraphValidation, UnknownOutput) {
    Graph g = mnistCnn();
    g.output = "logits";
    expectError(g, {"output node 'logits'"});
}

TEST(GraphValidation, FailedFinalizeLeavesGraphUnchanged) {
    Graph g = mnistCnn();
    std::reverse(g.nodes.begin(), g.nodes.end());
    g.nodes[1].attrs.set("units", 0); // dense1
    std::vector<std::string> before;
    for (const auto& n : g.nodes)
        before.push_back(n.name);
    ASSERT_FALSE(g.finalize().isOk());
    for (size_t i = 0; i < g.nodes.size(); ++i)
        EXPECT_EQ(g.nodes[i].name, before[i]);
}

// ---- ordering and lookups -----------------------------------------------------------------

// An inception-like DAG with fan-out and joins.
Graph branchyGraph() {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 4}));
    g.nodes.push_back(makeNode("stem", OpType::ReLU, {"input"}));
    Node b1 = conv({1, 1}, 4, "same");
    b1.name = "b1";
    b1.inputs = {"stem"};
    g.nodes.push_back(b1);
    Node b2a = conv({1, 1}, 2, "same");
    b2a.name = "b2a";
    b2a.inputs = {"stem"};
    g.nodes.push_back(b2a);
    Node b2b = conv({3, 3}, 4, "same");
    b2b.name = "b2b";
    b2b.inputs = {"b2a"};
    g.nodes.push_back(b2b);
    g.nodes.push_back(makeNode("b3", OpType::MaxPool, {"stem"},
                               {{"pool", AttrValue(Ints{3, 3})},
                                {"strides", AttrValue(Ints{1, 1})},
                                {"padding", AttrValue(std::string("same"))}}));
    g.nodes.push_back(makeNode("sum", OpType::Add, {"b1", "b2b"}));
    g.nodes.push_back(makeNode("cat", OpType::Concat, {"sum", "b3", "b1"}));
    g.nodes.push_back(makeNode("gap", OpType::GlobalAvgPool, {"cat"}));
    g.nodes.push_back(makeNode("fc", OpType::Dense, {"gap"}, {{"units", AttrValue(int64_t{3})}}));
    g.nodes.push_back(makeNode("softmax", OpType::Softmax, {"fc"}));
    return g;
}

TEST(GraphTopology, ShuffledDagIsSortedTopologically) {
    Graph reference = branchyGraph();
    ASSERT_TRUE(reference.finalize().isOk());
    for (uint32_t seed = 0; seed < 50; ++seed) {
        Graph g = branchyGraph();
        std::mt19937 rng(seed);
        std::shuffle(g.nodes.begin(), g.nodes.end(), rng);
        g.output = "softmax";
        ASSERT_TRUE(g.finalize().isOk()) << "seed " << seed;
        ASSERT_EQ(g.nodes.size(), reference.nodes.size());
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            for (const auto& in : g.nodes[i].inputs)
                EXPECT_LT(g.indexOf(in), static_cast<int>(i))
                    << "seed " << seed << ": '" << g.nodes[i].name << "' before its input '" << in
                    << "'";
            EXPECT_EQ(g.nodes[i].outputShape, reference.find(g.nodes[i].name)->outputShape);
        }
        EXPECT_EQ(g.outputShape(), (Shape{3}));
    }
}

TEST(GraphTopology, ValidOrderIsKept) {
    Graph g = branchyGraph();
    // Another valid order: the pool branch first, then branch 2 before branch 1.
    std::vector<std::string> order = {"input", "stem", "b3",  "b2a", "b2b",    "b1",
                                      "sum",   "cat",  "gap", "fc",  "softmax"};
    std::vector<Node> reordered;
    for (const auto& name : order)
        reordered.push_back(*g.find(name));
    g.nodes = reordered;
    ASSERT_TRUE(g.finalize().isOk());
    for (size_t i = 0; i < order.size(); ++i)
        EXPECT_EQ(g.nodes[i].name, order[i]);
}

TEST(GraphTopology, SortIsStableForReversedInput) {
    Graph g = mnistCnn();
    std::reverse(g.nodes.begin(), g.nodes.end());
    ASSERT_TRUE(g.finalize().isOk());
    const std::vector<std::string> want = {"input",   "conv1",  "relu1",  "pool1",
                                           "flatten", "dense1", "softmax"};
    for (size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(g.nodes[i].name, want[i]);
}

TEST(GraphLookup, FindIndexOfConsumers) {
    Graph g = branchyGraph();
    ASSERT_TRUE(g.finalize().isOk());
    ASSERT_NE(g.find("b2b"), nullptr);
    EXPECT_EQ(g.find("b2b")->outputShape, (Shape{8, 8, 4}));
    EXPECT_EQ(g.find("nope"), nullptr);
    EXPECT_EQ(g.indexOf("nope"), -1);
    EXPECT_EQ(g.indexOf("input"), 0);
    EXPECT_EQ(g.inputNode().name, "input");
    EXPECT_EQ(g.outputNode().name, "softmax");
    EXPECT_EQ(g.consumers("stem"), (std::vector<std::string>{"b1", "b2a", "b3"}));
    EXPECT_EQ(g.consumers("b1"), (std::vector<std::string>{"sum", "cat"}));
    EXPECT_TRUE(g.consumers("softmax").empty());
    const Graph& cg = g;
    EXPECT_EQ(cg.find("fc")->type, OpType::Dense);
}

TEST(GraphLookup, EditsAfterFinalizeStayFindableAndRefinalize) {
    Graph g = mnistCnn();
    ASSERT_TRUE(g.finalize().isOk());
    // Insert a node at the front (shifting every index) without finalizing.
    g.nodes.insert(g.nodes.begin(), makeNode("extra", OpType::ReLU, {"softmax"}));
    EXPECT_EQ(g.indexOf("extra"), 0);
    EXPECT_EQ(g.indexOf("softmax"), 7);
    EXPECT_EQ(g.find("conv1")->type, OpType::Conv2D);
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.nodes.back().name, "extra");
    EXPECT_EQ(g.outputNode().name, "extra");
    EXPECT_EQ(g.indexOf("extra"), 7);
    g.output = "dense1";
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_EQ(g.outputShape(), (Shape{10}));
}

// ---- parameters -------------------------------------------------------------------------

Graph bnGraph() {
    Graph g;
    g.nodes.push_back(inputNode({8, 8, 3}));
    Node c = conv({3, 3}, 16, "same", {{"use_bias", AttrValue(int64_t{0})}});
    c.name = "conv1";
    c.inputs = {"input"};
    g.nodes.push_back(c);
    g.nodes.push_back(makeNode("bn1", OpType::BatchNorm, {"conv1"}));
    g.nodes.push_back(
        makeNode("dw", OpType::DepthwiseConv2D, {"bn1"},
                 {{"kernel", AttrValue(Ints{3, 3})}, {"padding", AttrValue(std::string("same"))}}));
    g.nodes.push_back(makeNode("gap", OpType::GlobalAvgPool, {"dw"}));
    g.nodes.push_back(makeNode("fc", OpType::Dense, {"gap"}, {{"units", AttrValue(int64_t{10})}}));
    return g;
}

TEST(GraphParams, ParameterCountOfMnistCnn) {
    Graph g = mnistCnn();
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_FALSE(g.hasAllParams());
    EXPECT_EQ(g.parameterCount(), 12 * 9 + 12 + 2028 * 10 + 10); // 20410
    g.initializeParams(0);
    EXPECT_TRUE(g.hasAllParams());
    EXPECT_EQ(g.parameterCount(), 20410);
}

TEST(GraphParams, ParameterCountExcludesBatchNormStatistics) {
    Graph g = bnGraph();
    ASSERT_TRUE(g.finalize().isOk());
    // conv 16*3*3*3 (no bias) + bn gamma/beta 2*16 + dw 3*3*16 + 16 + fc 16*10 + 10
    EXPECT_EQ(g.parameterCount(), 432 + 32 + 144 + 16 + 170);
}

TEST(GraphParams, InitializationFollowsConventions) {
    Graph g = bnGraph();
    ASSERT_TRUE(g.finalize().isOk());
    g.initializeParams(42);
    ASSERT_TRUE(g.hasAllParams());
    const Node& c = *g.find("conv1");
    EXPECT_EQ(c.params.count("bias"), 0u); // use_bias 0
    const Tensor& w = c.params.at("weights");
    const double limit = std::sqrt(6.0 / (3 * 3 * 3));
    double maxAbs = 0, mean = 0;
    for (int64_t i = 0; i < w.size(); ++i) {
        maxAbs = std::max(maxAbs, std::abs(static_cast<double>(w[i])));
        mean += w[i];
    }
    mean /= static_cast<double>(w.size());
    EXPECT_LE(maxAbs, limit);
    EXPECT_GT(maxAbs, 0.9 * limit); // 432 uniform draws reach close to the limit
    EXPECT_NEAR(mean, 0.0, 0.1 * limit);
    const Tensor& dwW = g.find("dw")->params.at("weights");
    const double dwLimit = std::sqrt(6.0 / 9.0);
    for (int64_t i = 0; i < dwW.size(); ++i)
        EXPECT_LE(std::abs(dwW[i]), dwLimit);
    const Tensor& fcW = g.find("fc")->params.at("weights");
    EXPECT_EQ(fcW.shape(), (Shape{10, 16}));
    for (int64_t i = 0; i < fcW.size(); ++i)
        EXPECT_LE(std::abs(fcW[i]), std::sqrt(6.0 / 16.0));
    EXPECT_EQ(g.find("fc")->params.at("bias"), Tensor({10}, 0.0f));
    EXPECT_EQ(g.find("dw")->params.at("bias"), Tensor({16}, 0.0f));
    const Node& bn = *g.find("bn1");
    EXPECT_EQ(bn.params.at("gamma"), Tensor({16}, 1.0f));
    EXPECT_EQ(bn.params.at("beta"), Tensor({16}, 0.0f));
    EXPECT_EQ(bn.params.at("moving_mean"), Tensor({16}, 0.0f));
    EXPECT_EQ(bn.params.at("moving_var"), Tensor({16}, 1.0f));
}

TEST(GraphParams, InitializationIsDeterministicPerNode) {
    Graph a = bnGraph(), b = bnGraph(), c = bnGraph();
    ASSERT_TRUE(a.finalize().isOk());
    ASSERT_TRUE(b.finalize().isOk());
    ASSERT_TRUE(c.finalize().isOk());
    a.initializeParams(7);
    b.initializeParams(7);
    c.initializeParams(8);
    EXPECT_EQ(a.find("conv1")->params, b.find("conv1")->params);
    EXPECT_EQ(a.find("fc")->params, b.find("fc")->params);
    EXPECT_NE(a.find("conv1")->params.at("weights"), c.find("conv1")->params.at("weights"));
    // Two nodes of identical configuration get different weights (the name is in the seed).
    Graph twins = bnGraph();
    Node twin = *twins.find("dw");
    twin.name = "dw_twin";
    twins.nodes.push_back(twin);
    ASSERT_TRUE(twins.finalize().isOk());
    twins.initializeParams(7);
    EXPECT_NE(twins.find("dw")->params.at("weights"), twins.find("dw_twin")->params.at("weights"));
    EXPECT_EQ(twins.find("dw")->params.at("weights"), a.find("dw")->params.at("weights"));

    // Adding a node elsewhere does not change the others' initial weights.
    Graph d = bnGraph();
    d.nodes.insert(d.nodes.begin() + 2, makeNode("extra", OpType::DepthwiseConv2D, {"conv1"},
                                                 {{"kernel", AttrValue(Ints{3, 3})},
                                                  {"padding", AttrValue(std::string("same"))}}));
    ASSERT_TRUE(d.finalize().isOk());
    d.initializeParams(7);
    EXPECT_EQ(a.find("conv1")->params, d.find("conv1")->params);
    EXPECT_EQ(a.find("dw")->params, d.find("dw")->params);
    EXPECT_EQ(a.find("fc")->params, d.find("fc")->params);
}

TEST(GraphParams, InitializationKeepsExistingParams) {
    Graph g = bnGraph();
    g.find("fc")->params["weights"] = Tensor({10, 16}, 0.5f);
    ASSERT_TRUE(g.finalize().isOk());
    EXPECT_FALSE(g.hasAllParams());
    g.initializeParams(1);
    EXPECT_EQ(g.find("fc")->params.at("weights"), Tensor({10, 16}, 0.5f));
    EXPECT_EQ(g.find("fc")->params.at("bias"), Tensor({10}, 0.0f));
    EXPECT_TRUE(g.hasAllParams());
}

} // namespace
} // namespace qat
