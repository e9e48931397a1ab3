// Plans, presets, JSON and validation; block analysis and quantizer placement on the zoo.
#include <gtest/gtest.h>

#include <algorithm>

#include "qat/model_io.h"
#include "qat/quant_plan.h"

namespace qat {
namespace {

Graph zoo(const std::string& name) {
    auto g = loadModelOrZoo(name);
    EXPECT_TRUE(g.isOk()) << g.message();
    return std::move(g).value();
}

TEST(QuantBlocks, CnnBnFusesConvBnRelu) {
    Graph g = zoo("cnn-bn");
    auto blocks = findQuantBlocks(g);
    int weighted = 0;
    for (const auto& b : blocks) {
        if (b.kind != BlockKind::Weighted)
            continue;
        ++weighted;
        const Node* anchor = g.find(b.anchor);
        if (anchor->type == OpType::Conv2D) {
            EXPECT_FALSE(b.bn.empty()) << b.anchor;
            EXPECT_FALSE(b.activation.empty()) << b.anchor;
            EXPECT_EQ(g.find(b.output)->type, OpType::ReLU);
            EXPECT_EQ(b.weightAxis, 0);
        }
    }
    EXPECT_EQ(weighted, 4); // two convs, two dense
    // No quantizer sits between a conv and its BN or activation.
    Graph g2 = zoo("cnn-bn");
    auto plan = makePlan(g2, "int8");
    ASSERT_TRUE(plan.isOk());
    QuantTopology t = analyzeQuantization(g2, plan.value());
    for (size_t i = 0; i < g2.nodes.size(); ++i) {
        const Node& n = g2.nodes[i];
        if (n.type == OpType::Conv2D || n.type == OpType::BatchNorm) {
            EXPECT_FALSE(t.applyFq[i]) << n.name;
        }
        if (n.type == OpType::MaxPool || n.type == OpType::Flatten) {
            EXPECT_FALSE(t.applyFq[i]) << n.name;
            EXPECT_EQ(t.paramsOf[i], t.paramsOf[static_cast<size_t>(g2.indexOf(n.inputs[0]))])
                << n.name << " must share its input's parameters";
        }
        if (n.type == OpType::Input) {
            EXPECT_TRUE(t.applyFq[i]);
        }
        if (n.type == OpType::Softmax) {
            const QuantPoint& p = t.points[static_cast<size_t>(t.paramsOf[i])];
            EXPECT_TRUE(p.fixed);
            EXPECT_FLOAT_EQ(p.fixedParams.scale, 1.0f / 256.0f);
            EXPECT_EQ(p.fixedParams.zeroPoint, -128);
        }
    }
}

TEST(QuantBlocks, DepthwiseQuantizesAlongAxisThree) {
    Graph g = zoo("mobilenet-tiny");
    auto blocks = findQuantBlocks(g);
    int depthwise = 0;
    for (const auto& b : blocks)
        if (b.kind == BlockKind::Weighted && g.find(b.anchor)->type == OpType::DepthwiseConv2D) {
            EXPECT_EQ(b.weightAxis, 3);
            EXPECT_FALSE(b.bn.empty());
            EXPECT_EQ(g.find(b.activation)->type, OpType::ReLU6);
            ++depthwise;
        }
    EXPECT_EQ(depthwise, 3);
}

TEST(QuantBlocks, ResidualAddAndConcatGetQuantizers) {
    Graph r = zoo("resnet-tiny");
    auto rb = findQuantBlocks(r);
    EXPECT_TRUE(std::any_of(rb.begin(), rb.end(),
                            [](const QuantBlock& b) { return b.kind == BlockKind::Add; }));

    Graph inc = zoo("inception-tiny");
    auto plan = makePlan(inc, "int8");
    ASSERT_TRUE(plan.isOk());
    QuantTopology t = analyzeQuantization(inc, plan.value());
    int concats = 0;
    for (size_t i = 0; i < inc.nodes.size(); ++i) {
        const Node& n = inc.nodes[i];
        if (n.type != OpType::Concat)
            continue;
        ++concats;
        EXPECT_TRUE(t.applyFq[i]);
        // Every input tensor of the concat is described by the concat's own grid.
        for (const auto& in : n.inputs)
            EXPECT_EQ(t.paramsOf[static_cast<size_t>(inc.indexOf(in))], t.paramsOf[i])
                << n.name << " input " << in;
    }
    EXPECT_EQ(concats, 2);
}

TEST(QuantPlan, Int8PresetIsTheTfliteDefault) {
    Graph g = zoo("cnn-bn");
    auto plan = makePlan(g, "int8");
    ASSERT_TRUE(plan.isOk()) << plan.message();
    for (const auto& l : plan->layers) {
        const Node* n = g.find(l.layer);
        EXPECT_EQ(l.activations.bits, 8);
        EXPECT_FALSE(l.activations.symmetric);
        EXPECT_EQ(l.activations.estimator, RangeEstimator::Ema);
        if (n->type == OpType::Conv2D) {
            EXPECT_TRUE(l.weights.perAxis);
            EXPECT_TRUE(l.weights.symmetric);
            EXPECT_TRUE(l.weights.narrowRange);
            EXPECT_EQ(l.weights.bits, 8);
        }
        if (n->type == OpType::Dense) {
            EXPECT_FALSE(l.weights.perAxis);
        }
    }
    auto pt = makePlan(g, "int8-per-tensor");
    ASSERT_TRUE(pt.isOk());
    for (const auto& l : pt->layers)
        EXPECT_FALSE(l.weights.perAxis);
    auto w4 = makePlan(g, "w4a8");
    ASSERT_TRUE(w4.isOk());
    EXPECT_EQ(w4->find("conv1")->weights.bits, 4);
    EXPECT_EQ(w4->find("conv1")->activations.bits, 8);
    auto w8a16 = makePlan(g, "w8a16");
    ASSERT_TRUE(w8a16.isOk());
    EXPECT_EQ(w8a16->input.bits, 16);
    EXPECT_TRUE(w8a16->input.symmetric);
    EXPECT_FALSE(makePlan(g, "int3").isOk());
}

TEST(QuantPlan, JsonRoundTripAndOverrides) {
    Graph g = zoo("cnn-bn");
    auto plan = makePlan(g, "int8");
    ASSERT_TRUE(plan.isOk());
    plan->find("conv2")->weights.bits = 3;
    plan->find("conv2")->weights.estimator = RangeEstimator::Mse;
    plan->find("dense1")->enabled = false;
    auto back = planFromJson(planToJson(plan.value()), g);
    ASSERT_TRUE(back.isOk()) << back.message();
    EXPECT_EQ(back.value(), plan.value());

    auto partial = planFromJson(
        R"({"version":1,"preset":"int8","layers":{"conv1":{"weights":{"bits":4,"per_axis":false}}}})",
        g);
    ASSERT_TRUE(partial.isOk()) << partial.message();
    EXPECT_EQ(partial->find("conv1")->weights.bits, 4);
    EXPECT_FALSE(partial->find("conv1")->weights.perAxis);
    EXPECT_EQ(partial->find("conv2")->weights.bits, 8); // untouched by the override
}

TEST(QuantPlan, InvalidPlansNameLayerAndField) {
    Graph g = zoo("cnn-bn");
    auto expectError = [&](const std::string& json, const std::string& a, const std::string& b) {
        auto p = planFromJson(json, g, "p.json");
        ASSERT_FALSE(p.isOk()) << json;
        EXPECT_NE(p.message().find(a), std::string::npos) << p.message();
        EXPECT_NE(p.message().find(b), std::string::npos) << p.message();
    };
    expectError(R"({"version":1,"layers":{"conv1":{"weights":{"bits":9}}}})", "conv1", "bits");
    expectError(R"({"version":1,"layers":{"conv1":{"activations":{"bits":17}}}})", "conv1", "bits");
    expectError(R"({"version":1,"layers":{"conv1":{"weights":{"bits":1}}}})", "conv1", "bits");
    expectError(R"({"version":1,"layers":{"nope":{"enabled":false}}})", "nope", "no such layer");
    expectError(R"({"version":1,"layers":{"bn1":{"enabled":false}}})", "bn1", "not a quantizable");
    expectError(R"({"version":1,"layers":{"conv1":{"weights":{"bitz":4}}}})", "conv1", "bitz");
    expectError(R"({"version":2})", "p.json", "newer");
    expectError(R"({"version":1,"layers":{"conv1":{"activations":{"per_axis":true}}}})", "conv1",
                "per_axis");

    Graph r = zoo("resnet-tiny");
    auto rp = makePlan(r, "int8");
    ASSERT_TRUE(rp.isOk());
    for (auto& l : rp->layers)
        if (r.find(l.layer)->type == OpType::Add) {
            l.weights.perAxis = true;
            Status st = validatePlan(r, rp.value());
            ASSERT_FALSE(st.isOk());
            EXPECT_NE(st.message().find(l.layer), std::string::npos);
            EXPECT_NE(st.message().find("per_axis"), std::string::npos);
            break;
        }
}

TEST(QuantPlan, DisabledLayerStaysFloatUnlessItFeedsQuantizedLayers) {
    Graph g = zoo("cnn-bn");
    auto plan = makePlan(g, "int8");
    ASSERT_TRUE(plan.isOk());
    // Disable the last dense layer: its logits feed only Softmax, which is enabled, so
    // its output keeps a grid (the QUANTIZE at the float->int8 boundary).
    for (auto& l : plan->layers)
        l.enabled = false;
    QuantTopology t = analyzeQuantization(g, plan.value());
    for (size_t b = 0; b < t.blocks.size(); ++b)
        EXPECT_FALSE(t.quantizeWeights[b]);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (g.nodes[i].type != OpType::Input) {
            EXPECT_FALSE(t.applyFq[i]) << g.nodes[i].name;
        }
    }
}

} // namespace
} // namespace qat
