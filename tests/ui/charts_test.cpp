// Charts: ComparisonView draws one bar per measured metric and marks the rest "n/m", finds
// the Pareto front (maximize accuracy, minimize size), exports PNG and PDF files; LiveCurves
// buffers points and draws them on its ~30 Hz timer, not per point. Synthetic RunRecords.
// With $QATLAB_GRAB_DIR set, the widgets are also saved there as PNGs for a visual check.
#include <QDir>
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include <qcustomplot.h>

#include "charts/chart_panel.h"
#include "charts/comparison_view.h"
#include "charts/live_curves.h"

using namespace qatui;

namespace {

RunRecord floatRun() {
    RunRecord r;
    r.id = 1;
    r.name = QStringLiteral("float cnn-bn");
    r.kind = qat::RunKind::Float;
    r.metrics.floatAccuracy = 0.903;
    r.metrics.floatTfliteBytes = 100 * 1024;
    r.metrics.latency.measured = true;
    r.metrics.latency.floatBatch1Ms = 0.42;
    r.metrics.latency.floatBatch64Ms = 9.5;
    r.metrics.latency.threads = 2;
    r.metrics.latency.isa = "avx512_core_amx";
    for (int s = 1; s <= 40; ++s) {
        qat::CurvePoint p;
        p.step = s;
        p.epoch = s / 20.0;
        p.loss = 2.0 / (1.0 + 0.1 * s);
        p.trainAccuracy = 0.5 + 0.01 * s;
        r.curve.push_back(p);
    }
    for (int e = 1; e <= 2; ++e) {
        qat::EpochResult er;
        er.epoch = e;
        er.testAccuracy = 0.85 + 0.02 * e;
        r.epochs.push_back(er);
    }
    return r;
}

RunRecord quantRun(qint64 id, qat::RunKind kind, double integerAcc, qint64 int8Bytes) {
    RunRecord r;
    r.id = id;
    r.name = kind == qat::RunKind::Ptq ? QStringLiteral("PTQ int8") : QStringLiteral("QAT int8");
    r.kind = kind;
    r.metrics.floatAccuracy = 0.903;
    r.metrics.fakeQuantAccuracy = integerAcc + 0.001;
    r.metrics.integerAccuracy = integerAcc;
    r.metrics.floatTfliteBytes = 100 * 1024;
    r.metrics.int8TfliteBytes = int8Bytes;
    r.metrics.latency.measured = true;
    r.metrics.latency.floatBatch1Ms = 0.42;
    r.metrics.latency.int8Batch1Ms = 0.17;
    r.metrics.latency.floatBatch64Ms = 9.5;
    r.metrics.latency.int8Batch64Ms = 2.1;
    r.metrics.latency.threads = 2;
    r.metrics.latency.isa = "avx512_core_amx";
    return r;
}

int barCount(QCustomPlot* plot) {
    int n = 0;
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* b = qobject_cast<QCPBars*>(plot->plottable(i)))
            n += b->data()->size();
    return n;
}

int textCount(QCustomPlot* plot, const QString& text) {
    int n = 0;
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(plot->item(i)); t && t->text() == text)
            ++n;
    return n;
}

QCPGraph* graphNamed(QCustomPlot* plot, const QString& name) {
    for (int i = 0; i < plot->graphCount(); ++i)
        if (plot->graph(i)->name() == name)
            return plot->graph(i);
    return nullptr;
}

void grab(QWidget& w, const QString& file) {
    const QString dir = qEnvironmentVariable("QATLAB_GRAB_DIR");
    if (dir.isEmpty())
        return;
    QDir().mkpath(dir);
    QCoreApplication::processEvents();
    w.grab().save(QDir(dir).filePath(file));
}

} // namespace

class ChartsTest : public QObject {
    Q_OBJECT

private slots:
    void barsAreDrawnOnlyForMeasuredMetrics();
    void paretoFrontOfTwoRuns();
    void paretoFrontDropsDominatedRuns();
    void paretoFrontEdgeCases();
    void exportWritesPngAndPdf();
    void noRunsShowsAHint();
    void liveCurvesBufferPointsAndRedrawOnATimer();
};

void ChartsTest::barsAreDrawnOnlyForMeasuredMetrics() {
    ComparisonView view;
    view.resize(1400, 860);
    view.show();
    RunRecord f = floatRun();
    RunRecord p = quantRun(2, qat::RunKind::Ptq, 0.885, 30 * 1024);
    p.metrics.latency = {}; // latency not measured for this run
    view.setRuns({f, p});
    // Accuracy: float run 1 (float), PTQ run 3 (float, fake-quant, integer).
    QCOMPARE(barCount(view.accuracyPanel()->plot()), 4);
    QCOMPARE(textCount(view.accuracyPanel()->plot(), QStringLiteral("n/m")), 2);
    // Size: float run has no int8 file.
    QCOMPARE(barCount(view.sizePanel()->plot()), 3);
    QCOMPARE(textCount(view.sizePanel()->plot(), QStringLiteral("n/m")), 1);
    // Latency: float run has float at batch 1 and 64; the PTQ run was not measured.
    QCOMPARE(barCount(view.latencyPanel()->plot()), 2);
    QCOMPARE(textCount(view.latencyPanel()->plot(), QStringLiteral("n/m")), 6);
    // The bars carry the measured values, not zeros.
    auto* acc = qobject_cast<QCPBars*>(view.accuracyPanel()->plot()->plottable(2));
    QVERIFY(acc);
    QCOMPARE(acc->data()->size(), 1);
    QCOMPARE(acc->data()->at(0)->value, 88.5);
    // Curves: the float run's loss and accuracy; the PTQ run has none.
    QCustomPlot* curves = view.curvesPanel()->plot();
    QCPGraph* loss = graphNamed(curves, f.name);
    QVERIFY(loss);
    QCOMPARE(loss->dataCount(), 40);
    grab(view, QStringLiteral("comparison_two_runs.png"));
}

void ChartsTest::paretoFrontOfTwoRuns() {
    ComparisonView view;
    view.setRuns({floatRun(), quantRun(2, qat::RunKind::Ptq, 0.885, 30 * 1024)});
    // Float: 100 KiB at 90.3 %, PTQ: 30 KiB at 88.5 %: neither dominates.
    QCOMPARE(view.paretoRuns(), (QVector<int>{1, 0}));
    QCPGraph* front = graphNamed(view.scatterPanel()->plot(), QStringLiteral("Pareto front"));
    QVERIFY(front);
    QCOMPARE(front->dataCount(), 2);
    QCOMPARE(front->data()->at(0)->key, 30.0);
    QCOMPARE(front->data()->at(1)->key, 100.0);
    QCOMPARE(front->lineStyle(), QCPGraph::lsStepLeft);
}

void ChartsTest::paretoFrontDropsDominatedRuns() {
    ComparisonView view;
    view.resize(1400, 860);
    view.show();
    // QAT: as small as PTQ and more accurate -> PTQ is dominated.
    view.setRuns({floatRun(), quantRun(2, qat::RunKind::Ptq, 0.861, 30 * 1024),
                  quantRun(3, qat::RunKind::Qat, 0.897, 30 * 1024)});
    QCOMPARE(view.paretoRuns(), (QVector<int>{2, 0}));
    QCPGraph* front = graphNamed(view.scatterPanel()->plot(), QStringLiteral("Pareto front"));
    QVERIFY(front);
    QCOMPARE(front->dataCount(), 2);
    grab(view, QStringLiteral("comparison_three_runs.png"));
}

void ChartsTest::paretoFrontEdgeCases() {
    QCOMPARE(ComparisonView::paretoFront({}), QVector<int>{});
    QCOMPARE(ComparisonView::paretoFront({QPointF(10, 50)}), QVector<int>{0});
    // Exact duplicates: one stays.
    QCOMPARE(ComparisonView::paretoFront({QPointF(10, 50), QPointF(10, 50)}), QVector<int>{0});
    // A staircase and points under it.
    const QVector<QPointF> pts{{40, 91}, {10, 80}, {25, 88}, {30, 85}, {12, 79}, {50, 91}};
    QCOMPARE(ComparisonView::paretoFront(pts), (QVector<int>{1, 2, 0}));
    // A run without a measured size is not plotted.
    RunRecord r = quantRun(4, qat::RunKind::Qat, 0.9, 0);
    double size = 0, acc = 0;
    QVERIFY(!ComparisonView::scatterPoint(r, size, acc));
    ComparisonView view;
    view.setRuns({r});
    QVERIFY(view.paretoRuns().isEmpty());
}

void ChartsTest::exportWritesPngAndPdf() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ComparisonView view;
    view.resize(1400, 860);
    view.show();
    view.setRuns({floatRun(), quantRun(2, qat::RunKind::Ptq, 0.885, 30 * 1024)});
    for (ChartPanel* panel : {view.accuracyPanel(), view.scatterPanel(), view.curvesPanel()}) {
        const QString png = dir.filePath(QStringLiteral("plot.png"));
        const QString pdf = dir.filePath(QStringLiteral("plot.pdf"));
        QString error;
        QVERIFY2(panel->exportTo(png, &error), qPrintable(error));
        QVERIFY2(panel->exportTo(pdf, &error), qPrintable(error));
        QImage image(png);
        QVERIFY(!image.isNull());
        QVERIFY(image.width() >= 400);
        // Not a blank canvas: the plot has drawn pixels of several colours.
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 7)
            for (int x = 0; x < image.width(); x += 7)
                colours.insert(image.pixel(x, y));
        QVERIFY(colours.size() > 5);
        QFile f(pdf);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.size() > 1000);
        QCOMPARE(f.read(4), QByteArray("%PDF"));
        QFile::remove(png);
        QFile::remove(pdf);
    }
    QString error;
    QVERIFY(!view.accuracyPanel()->exportTo(QStringLiteral("/nonexistent-dir/x.png"), &error));
    QVERIFY(!error.isEmpty());
}

void ChartsTest::noRunsShowsAHint() {
    ComparisonView view;
    view.setRuns({});
    QCOMPARE(barCount(view.accuracyPanel()->plot()), 0);
    QVERIFY(view.paretoRuns().isEmpty());
}

void ChartsTest::liveCurvesBufferPointsAndRedrawOnATimer() {
    LiveCurves live;
    live.resize(700, 420);
    live.show();
    for (int s = 1; s <= 500; ++s) {
        qat::CurvePoint p;
        p.step = s;
        p.epoch = s / 250.0;
        p.loss = 2.3 * std::exp(-s / 150.0) + 0.3;
        p.trainAccuracy = 0.9 - 0.8 * std::exp(-s / 120.0);
        live.addPoint(p);
        if (s % 250 == 0) {
            qat::EpochResult e;
            e.epoch = s / 250;
            e.testAccuracy = 0.8 + 0.03 * e.epoch;
            live.addEpoch(e);
        }
    }
    // Nothing drawn per point: all 500 wait for the timer.
    QCOMPARE(live.drawnPoints(), 0);
    QCOMPARE(live.redraws(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(live.drawnPoints(), 500, 2000);
    QCOMPARE(live.drawnEpochs(), 2);
    QVERIFY(live.redraws() >= 1 && live.redraws() <= 3);
    grab(live, QStringLiteral("live_curves.png"));
    // An unevaluated epoch (test accuracy 0) is not plotted as zero.
    qat::EpochResult blank;
    blank.epoch = 3;
    live.addEpoch(blank);
    QTest::qWait(3 * LiveCurves::kRedrawIntervalMs);
    QCOMPARE(live.drawnEpochs(), 2);
    // The next run of a job counts steps from 1 again: its curves replace the old ones.
    for (int s = 1; s <= 20; ++s) {
        qat::CurvePoint p;
        p.step = s;
        p.loss = 1.0;
        p.trainAccuracy = 0.5;
        live.addPoint(p);
    }
    QTRY_COMPARE_WITH_TIMEOUT(live.drawnPoints(), 20, 2000);
    QCOMPARE(live.drawnEpochs(), 0);
    live.clear();
    QCOMPARE(live.drawnPoints(), 0);
}

QTEST_MAIN(ChartsTest)
#include "charts_test.moc"
