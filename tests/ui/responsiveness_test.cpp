// Responsiveness: while a run trains on the worker thread, the GUI event loop keeps
// answering. A 10 ms timer on the GUI thread measures the largest gap between its ticks
// from Start to the end of the job, while the test also switches tabs and resizes the
// window the way a user would; the worst gap must stay under 100 ms.
#include <QElapsedTimer>
#include <QTabWidget>
#include <QTest>
#include <QTimer>

#include "engine_controller.h"
#include "ui_test_support.h"

using namespace qatui;
using namespace qatui::testing;

class ResponsivenessTest : public QObject {
    Q_OBJECT

private slots:
    void timerNeverStallsDuringTraining();
};

void ResponsivenessTest::timerNeverStallsDuringTraining() {
    constexpr qint64 kMaxGapMs = 100;
    TestEnvironment env;
    MainWindow window(env.options());
    window.show();
    QVERIFY2(waitReady(window), qPrintable(env.dump()));
    RunSettings s = fastSettings();
    s.floatEpochs = 3;
    s.limitTrain = 600;
    s.limitTest = 300;
    s.measureLatency = true;
    window.runPanel()->setSettings(s);
    window.runPanel()->setKind(qat::RunKind::Float);

    QElapsedTimer clock;
    qint64 last = -1;
    qint64 worst = 0;
    qint64 ticks = 0;
    QVector<qint64> gaps;
    QTimer probe;
    probe.setInterval(10);
    probe.setTimerType(Qt::PreciseTimer);
    connect(&probe, &QTimer::timeout, [&] {
        const qint64 now = clock.elapsed();
        if (last >= 0) {
            const qint64 gap = now - last;
            worst = std::max(worst, gap);
            if (gap > 50)
                gaps.push_back(gap);
        }
        last = now;
        ++ticks;
    });
    // User-like activity on the GUI thread while training: tab switches and resizes.
    QTimer activity;
    activity.setInterval(250);
    int step = 0;
    connect(&activity, &QTimer::timeout, [&] {
        window.tabs()->setCurrentIndex(step % window.tabs()->count());
        window.resize(step % 2 ? 1300 : 1400, step % 2 ? 850 : 900);
        ++step;
    });

    int points = 0;
    connect(window.engine(), &EngineController::curvePoints, this,
            [&](quint64, const QVector<qat::CurvePoint>& p) { points += p.size(); });
    clock.start();
    probe.start();
    activity.start();
    const auto outcome = runAndWait(window, [&] { return window.startRun(); });
    probe.stop();
    activity.stop();
    const double seconds = clock.elapsed() / 1000.0;

    QVERIFY2(outcome.finished && !outcome.cancelled && outcome.error.isEmpty(),
             qPrintable(outcome.error + "\n" + env.dump()));
    QCOMPARE(window.runsModel()->rowCount(), 1);
    QVERIFY(points > 0);
    QStringList slow;
    for (qint64 g : gaps)
        slow << QString::number(g);
    qInfo("run took %.1f s; %lld timer ticks; %d curve points; %d tab switches/resizes; worst "
          "event-loop gap %lld ms (gaps over 50 ms: %s)",
          seconds, static_cast<long long>(ticks), points, step, static_cast<long long>(worst),
          slow.isEmpty() ? "none" : qPrintable(slow.join(", ")));
    QVERIFY2(worst < kMaxGapMs,
             qPrintable(QStringLiteral("worst gap %1 ms >= %2 ms").arg(worst).arg(kMaxGapMs)));
}

QTEST_MAIN(ResponsivenessTest)
#include "responsiveness_test.moc"
