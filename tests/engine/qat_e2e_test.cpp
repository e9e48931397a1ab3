// End to end on the bundled sample: post-training quantization to 4-bit weights loses
// accuracy; quantization-aware training at the same bit widths recovers it. Seeds fixed.
#include <gtest/gtest.h>

#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/quantize.h"

namespace qat {
namespace {

TEST(QatEndToEnd, QatRecoversWhatFourBitPtqLoses) {
    auto data = loadDataset("fashion-mnist-sample");
    ASSERT_TRUE(data.isOk()) << data.message();
    auto g = loadModelOrZoo("mobilenet-tiny", data->train.sampleShape, 1);
    ASSERT_TRUE(g.isOk()) << g.message();
    Graph graph = std::move(g).value();
    {
        auto net = Network::create(graph, 1);
        ASSERT_TRUE(net.isOk());
        TrainConfig cfg;
        cfg.epochs = 6;
        cfg.seed = 1;
        cfg.evaluateEachEpoch = false;
        ASSERT_TRUE(train(*net.value(), data->train, data->test, cfg).isOk());
    }
    const Graph trained = graph;
    auto plan = makePlan(graph, "w4a8");
    ASSERT_TRUE(plan.isOk());

    QuantizeConfig ptq;
    ptq.mode = QuantMode::Ptq;
    ptq.calibrationBatches = 16;
    auto p = quantizeModel(graph, plan.value(), data->train, data->test, ptq);
    ASSERT_TRUE(p.isOk()) << p.message();

    Graph qatGraph = trained;
    ASSERT_TRUE(qatGraph.finalize().isOk());
    QuantizeConfig qat = ptq;
    qat.mode = QuantMode::Qat;
    qat.train.epochs = 3;
    qat.train.lr = 1e-3;
    qat.train.seed = 2;
    qat.train.evaluateEachEpoch = false;
    auto q = quantizeModel(qatGraph, plan.value(), data->train, data->test, qat);
    ASSERT_TRUE(q.isOk()) << q.message();

    std::printf("mobilenet-tiny w4a8 on the sample: float %.4f, PTQ %.4f, QAT %.4f\n",
                p->floatAccuracy, p->fakeQuantAccuracy, q->fakeQuantAccuracy);
    EXPECT_LT(p->fakeQuantAccuracy, p->floatAccuracy - 0.02) << "4-bit PTQ should lose accuracy";
    EXPECT_GT(q->fakeQuantAccuracy, p->fakeQuantAccuracy + 0.05) << "QAT should recover it";
    EXPECT_GT(q->fakeQuantAccuracy, p->floatAccuracy - 0.02);
}

} // namespace
} // namespace qat
