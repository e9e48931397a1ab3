// The latency stability guard (qat/metrics.h) on synthetic series, so that nothing here
// depends on how busy the machine is: percentiles and spread by hand, a bimodal
// scheduler-quantum series (0.06 ms / 200 ms) is unstable, a tight one is stable, a few
// outliers move neither the median nor the verdict, a preempted timing thread is flagged by
// its CPU share. measureLatency itself is checked
// only for what holds at any load.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "qat/metrics.h"
#include "qat/model_io.h"

namespace qat {
namespace {

std::vector<double> bimodal(int fast, int slow) {
    std::vector<double> ms(static_cast<size_t>(fast), 0.06);
    ms.insert(ms.end(), static_cast<size_t>(slow), 200.0);
    std::mt19937 rng(7);
    std::shuffle(ms.begin(), ms.end(), rng);
    return ms;
}

TEST(LatencyStability, PercentilesInterpolateBetweenSortedSamples) {
    const LatencySeries s = summarizeLatency({5, 1, 4, 2, 3});
    EXPECT_EQ(s.count, 5);
    EXPECT_DOUBLE_EQ(s.median, 3.0);
    EXPECT_DOUBLE_EQ(s.p25, 2.0);
    EXPECT_DOUBLE_EQ(s.p75, 4.0);
    EXPECT_DOUBLE_EQ(s.spread, 2.0 / 3.0);
    const LatencySeries even = summarizeLatency({1, 2, 3, 4});
    EXPECT_DOUBLE_EQ(even.median, 2.5);
    EXPECT_DOUBLE_EQ(even.p25, 1.75);
    EXPECT_DOUBLE_EQ(even.p75, 3.25);
}

TEST(LatencyStability, SchedulerQuantumSeriesIsUnstable) {
    const LatencySeries half = summarizeLatency(bimodal(20, 20));
    EXPECT_FALSE(isStableLatency(half));
    EXPECT_GT(half.spread, 1.0);
    // A third of the runs preempted: the median is still the fast mode, but the spread
    // says the figure cannot be trusted.
    const LatencySeries third = summarizeLatency(bimodal(26, 14));
    EXPECT_DOUBLE_EQ(third.median, 0.06);
    EXPECT_FALSE(isStableLatency(third));
}

TEST(LatencyStability, TightSeriesIsStable) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> jitter(0.98, 1.05);
    std::vector<double> ms;
    for (int i = 0; i < 40; ++i)
        ms.push_back(0.06 * jitter(rng));
    const LatencySeries s = summarizeLatency(ms);
    EXPECT_TRUE(isStableLatency(s));
    EXPECT_LT(s.spread, 0.1);
    EXPECT_NEAR(s.median, 0.06, 0.004);
}

TEST(LatencyStability, FewOutliersMoveNeitherMedianNorVerdict) {
    const LatencySeries s = summarizeLatency(bimodal(36, 4));
    EXPECT_DOUBLE_EQ(s.median, 0.06);
    EXPECT_DOUBLE_EQ(s.spread, 0.0);
    EXPECT_TRUE(isStableLatency(s));
}

TEST(LatencyStability, EmptySeriesIsNotStable) {
    const LatencySeries s = summarizeLatency({});
    EXPECT_EQ(s.count, 0);
    EXPECT_FALSE(isStableLatency(s));
}

TEST(LatencyStability, SpreadIsDescribedInPlainWords) {
    LatencySeries s;
    s.spread = 2.4;
    s.count = 40;
    EXPECT_EQ(describeLatencySpread("float batch 1", s), "float batch 1 spread 240% over 40 runs");
}

// A thread that had its core the whole time has share 1; one preempted for most of the
// wall time (every OpenMP barrier waiting out a scheduler quantum) is flagged.
TEST(LatencyStability, CpuShareSeparatesIdleFromPreempted) {
    EXPECT_DOUBLE_EQ(latencyCpuShare(0.5, 0.5), 1.0);
    EXPECT_GE(latencyCpuShare(0.98, 1.0), kMinLatencyCpuShare);
    EXPECT_LT(latencyCpuShare(0.003, 2.0), kMinLatencyCpuShare); // 38 ms runs of 0.04 ms work
    EXPECT_DOUBLE_EQ(latencyCpuShare(1.0, 0.0), 0.0);            // nothing timed
}

// Timing-free facts about a real measurement: figures exist, int8 is untouched without an
// integer model, and an unstable report says so in its note.
TEST(LatencyStability, MeasureLatencyReportsStabilityInTheNote) {
    auto g = loadModelOrZoo("mnist-cnn", std::nullopt, 1);
    ASSERT_TRUE(g.isOk()) << g.message();
    auto r = measureLatency(g.value(), nullptr, 5);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_TRUE(r->measured);
    EXPECT_GT(r->floatBatch1Ms, 0.0);
    EXPECT_GT(r->floatBatch64Ms, 0.0);
    EXPECT_EQ(r->int8Batch1Ms, 0.0);
    EXPECT_EQ(r->note.find("training network"), std::string::npos) << r->note;
    if (!r->stable) {
        EXPECT_NE(r->note.find("latency unstable: "), std::string::npos) << r->note;
    } else {
        EXPECT_EQ(r->note.find("unstable"), std::string::npos) << r->note;
    }
    EXPECT_FALSE(measureLatency(g.value(), nullptr, 0).isOk());
}

} // namespace
} // namespace qat
