// Persistence: runs survive closing and reopening the window (a temp SQLite file and data
// directory); renames are stored; deleting a run removes its row and its model file.
// Also the storage layer on its own: RunStore round trips and the JSON codecs.
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QTest>

#include <cmath>

#include "engine_controller.h"
#include "log_panel.h"
#include "run_json.h"
#include "run_store.h"
#include "runs_table_model.h"
#include "ui_test_support.h"

using namespace qatui;
using namespace qatui::testing;

class PersistenceTest : public QObject {
    Q_OBJECT

private slots:
    void storeRoundTrip();
    void storeRejectsGarbageFile();
    void planDiffListsChangedFields();
    void runsSurviveReopening();
    void closingMidRunCancels();
};

namespace {

RunRecord sampleRecord() {
    RunRecord r;
    r.name = QStringLiteral("cnn-bn QAT int8 1ep");
    r.kind = qat::RunKind::Qat;
    r.model = QStringLiteral("cnn-bn");
    r.dataset = QStringLiteral("fashion-mnist-sample");
    r.planJson = QStringLiteral(R"({"preset":"int8","layers":{"conv1":{"enabled":true,)"
                                R"("weights":{"bits":8},"activations":{"bits":8}}}})");
    r.settingsJson = QStringLiteral(R"({"epochs":1,"lr":0.0001,"plan_summary":"int8"})");
    r.metrics.floatAccuracy = 0.8125;
    r.metrics.fakeQuantAccuracy = 0.80;
    r.metrics.integerAccuracy = qat::RunMetrics::kNone; // not measured: must stay NaN
    r.metrics.floatTfliteBytes = 123456;
    r.metrics.int8TfliteBytes = 34567;
    r.metrics.latency.measured = true;
    r.metrics.latency.int8Batch1Ms = 0.25;
    r.metrics.latency.isa = "avx512_core_amx";
    r.metrics.latency.stable = false;
    r.metrics.latency.note = "latency unstable: float batch 1 spread 240% over 40 runs";
    r.curve = {{1, 0.05, 2.3, 0.1}, {2, 0.1, 2.1, 0.2}};
    qat::EpochResult e;
    e.epoch = 1;
    e.testAccuracy = 0.8;
    r.epochs = {e};
    r.artefactPath = QStringLiteral("/tmp/x.qatm");
    r.created = QDateTime::fromString(QStringLiteral("2024-05-01T10:11:12.345"), Qt::ISODateWithMs);
    return r;
}

} // namespace

void PersistenceTest::storeRoundTrip() {
    TestEnvironment env;
    const QString db = env.path("runs.sqlite");
    RunRecord r = sampleRecord();
    {
        RunStore store(db);
        QString error;
        QVERIFY2(store.open(&error), qPrintable(error));
        QVERIFY2(store.insert(r, &error), qPrintable(error));
        QVERIFY(r.id > 0);
        QVERIFY(store.rename(r.id, QStringLiteral("renamed"), &error));
    }
    RunStore store(db);
    QString error;
    QVERIFY(store.open(&error));
    const auto runs = store.loadAll(&error);
    QVERIFY(error.isEmpty());
    QCOMPARE(runs.size(), 1);
    const RunRecord& back = runs[0];
    QCOMPARE(back.id, r.id);
    QCOMPARE(back.name, QStringLiteral("renamed"));
    QCOMPARE(back.kind, qat::RunKind::Qat);
    QCOMPARE(back.planJson, r.planJson);
    QCOMPARE(back.settingsJson, r.settingsJson);
    QCOMPARE(back.metrics.floatAccuracy, 0.8125);
    QVERIFY(std::isnan(back.metrics.integerAccuracy));
    QCOMPARE(back.metrics.int8TfliteBytes, int64_t(34567));
    QCOMPARE(back.metrics.latency.int8Batch1Ms, 0.25);
    QCOMPARE(QString::fromStdString(back.metrics.latency.isa), QStringLiteral("avx512_core_amx"));
    QVERIFY(!back.metrics.latency.stable);
    QCOMPARE(back.metrics.latency.note, r.metrics.latency.note);
    QCOMPARE(back.curve.size(), 2);
    QCOMPARE(back.curve[1].loss, 2.1);
    QCOMPARE(back.epochs.size(), 1);
    QCOMPARE(back.epochs[0].testAccuracy, 0.8);
    QCOMPARE(back.created, r.created);
    QVERIFY(store.remove(r.id, &error));
    QVERIFY(store.loadAll(&error).isEmpty());
}

void PersistenceTest::storeRejectsGarbageFile() {
    TestEnvironment env;
    const QString db = env.path("garbage.sqlite");
    QFile f(db);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(4096, 'x'));
    f.close();
    RunStore store(db);
    QString error;
    QVERIFY(!store.open(&error));
    QVERIFY2(error.contains(db), qPrintable(error));
}

void PersistenceTest::planDiffListsChangedFields() {
    RunRecord a = sampleRecord();
    RunRecord b = sampleRecord();
    b.planJson.replace(QStringLiteral(R"("weights":{"bits":8})"),
                       QStringLiteral(R"("weights":{"bits":4})"));
    b.settingsJson = QStringLiteral(R"({"epochs":2,"lr":0.0001,"plan_summary":"int8*"})");
    const auto diffs = diffRuns(a, b);
    QCOMPARE(diffs.size(), 2);
    QCOMPARE(diffs[0].layer, QStringLiteral("conv1"));
    QCOMPARE(diffs[0].field, QStringLiteral("weights.bits"));
    QCOMPARE(diffs[0].a, QStringLiteral("8"));
    QCOMPARE(diffs[0].b, QStringLiteral("4"));
    QCOMPARE(diffs[1].layer, QStringLiteral("settings"));
    QCOMPARE(diffs[1].field, QStringLiteral("epochs"));
    QVERIFY(diffRuns(a, a).isEmpty());
    RunRecord f = sampleRecord();
    f.kind = qat::RunKind::Float;
    f.planJson.clear();
    QVERIFY(!diffRuns(a, f).isEmpty());
    QCOMPARE(planSummary(a.planJson), QStringLiteral("int8 · 1/1 layers · W8 A8"));
}

void PersistenceTest::runsSurviveReopening() {
    TestEnvironment env;
    RunRecord first;
    {
        MainWindow window(env.options());
        QVERIFY2(waitReady(window), qPrintable(env.dump()));
        window.runPanel()->setSettings(fastSettings());
        window.runPanel()->setKind(qat::RunKind::Float);
        const auto outcome = runAndWait(window, [&] { return window.startRun(); });
        QVERIFY2(outcome.finished && !outcome.cancelled && outcome.error.isEmpty(),
                 qPrintable(outcome.error + "\n" + window.logPanel()->plainText()));
        QCOMPARE(window.runsModel()->rowCount(), 1);
        QVERIFY2(env.count(Severity::Error) == 0, qPrintable(env.dump()));
        first = window.runsModel()->run(0);
        QVERIFY(first.id > 0);
        // Rename inline, as the table's editor does.
        auto* model = window.runsModel();
        QVERIFY(
            model->setData(model->index(0, RunsTableModel::Name), "my float run", Qt::EditRole));
        QCOMPARE(model->run(0).name, QStringLiteral("my float run"));
        window.close();
    }
    QVERIFY(QFileInfo::exists(env.appPaths().databasePath));
    {
        MainWindow window(env.options());
        auto* model = window.runsModel();
        QVERIFY2(model->rowCount() == 1,
                 qPrintable(env.dump() + "\n" + window.logPanel()->plainText()));
        const RunRecord& r = model->run(0);
        QCOMPARE(r.id, first.id);
        QCOMPARE(r.name, QStringLiteral("my float run"));
        QCOMPARE(r.kind, qat::RunKind::Float);
        QCOMPARE(r.metrics.floatAccuracy, first.metrics.floatAccuracy);
        QCOMPARE(r.metrics.floatTfliteBytes, first.metrics.floatTfliteBytes);
        QCOMPARE(r.curve.size(), first.curve.size());
        QCOMPARE(r.epochs.size(), first.epochs.size());
        QCOMPARE(r.settingsJson, first.settingsJson);
        QVERIFY(QFileInfo::exists(r.artefactPath));
        QVERIFY(r.artefactPath.startsWith(env.appPaths().runsDir()));

        // Delete (confirmed): row and model file go.
        window.selectRuns({r.id});
        QCOMPARE(window.selectedRuns().size(), 1);
        env.confirmAnswer = false;
        window.deleteSelectedRuns();
        QCOMPARE(model->rowCount(), 1); // declined
        env.confirmAnswer = true;
        window.deleteSelectedRuns();
        QCOMPARE(model->rowCount(), 0);
        QVERIFY(!QFileInfo::exists(first.artefactPath));
        window.close();
    }
    {
        MainWindow window(env.options());
        QCOMPARE(window.runsModel()->rowCount(), 0);
    }
    QCOMPARE(env.count(Severity::Error), 0);
}

void PersistenceTest::closingMidRunCancels() {
    TestEnvironment env;
    QElapsedTimer closing;
    {
        MainWindow window(env.options());
        window.show();
        QVERIFY2(waitReady(window), qPrintable(env.dump()));
        RunSettings s = fastSettings();
        s.floatEpochs = 100; // minutes of work
        s.limitTrain = 0;
        window.runPanel()->setSettings(s);
        window.runPanel()->setKind(qat::RunKind::Float);
        int points = 0;
        connect(window.engine(), &EngineController::curvePoints, this,
                [&](quint64, const QVector<qat::CurvePoint>& p) { points += p.size(); });
        QVERIFY(window.startRun());
        QVERIFY(QTest::qWaitFor([&] { return points > 0; }, kRunTimeoutMs));
        QVERIFY(window.isBusy());
        closing.start();
        window.close(); // cancels, stops and joins the engine thread
        QVERIFY(window.engine()->isStopped());
    } // destroyed here
    const qint64 ms = closing.elapsed();
    qInfo("closing the window mid-run took %lld ms", static_cast<long long>(ms));
    QVERIFY2(ms < 10000, qPrintable(QString::number(ms)));
    // Nothing half-done was recorded.
    MainWindow window(env.options());
    QCOMPARE(window.runsModel()->rowCount(), 0);
    QCOMPARE(env.count(Severity::Error), 0);
}

QTEST_MAIN(PersistenceTest)
#include "persistence_test.moc"
