// The main workflow through the window: load a zoo model, edit one layer's bits and scheme
// in the layer table, start a run and cancel it, run the comparison to the end, check that
// the runs table and the comparison hold the runs' measured metrics, reuse the cached float
// run, and export a run as .tflite that is read back with the engine's schema.
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLabel>
#include <QSignalSpy>
#include <QTableView>
#include <QTableWidget>
#include <QTest>

#include <cmath>
#include <cstring>

#include "charts/comparison_view.h"
#include "engine_controller.h"
#include "export_dialog.h"
#include "io/tflite/tflite_schema.h"
#include "layer_table_model.h"
#include "plan_diff_dialog.h"
#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/quantize.h"
#include "run_json.h"
#include "runs_table_model.h"
#include "ui_test_support.h"

using namespace qatui;
using namespace qatui::testing;

class MainWindowRunTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void loadsZooModel();
    void editsLayerBitsAndScheme();
    void startThenCancel();
    void comparisonRunsToTheEnd();
    void comparisonReusesCachedFloatRun();
    void diffShowsPlanDifferences();
    void exportWritesReadableTflite();
    void exportWritesIntegerTflite();
    void opensExportedTfliteAsModel();
    void cleanupTestCase();

private:
    std::unique_ptr<TestEnvironment> m_env;
    std::unique_ptr<MainWindow> m_window;
    QVector<RunRecord> m_comparisonRuns;
};

void MainWindowRunTest::initTestCase() {
    m_env = std::make_unique<TestEnvironment>();
    m_window = std::make_unique<MainWindow>(m_env->options());
    m_window->show();
    QVERIFY2(waitReady(*m_window), qPrintable(m_env->dump()));
    m_window->runPanel()->setSettings(fastSettings());
}

void MainWindowRunTest::loadsZooModel() {
    auto* model = m_window->layerModel();
    QCOMPARE(m_window->modelSource(), QStringLiteral("cnn-bn"));
    QCOMPARE(model->model().inputShape, QStringLiteral("[28x28x1]"));
    QCOMPARE(model->model().classes, 10);
    // conv1: 3x3x1 -> 32 without bias; dense1: 3136 -> 128 with bias.
    const int conv1 = model->rowOf("conv1");
    const int dense1 = model->rowOf("dense1");
    QVERIFY(conv1 >= 0 && dense1 >= 0);
    QCOMPARE(model->layer(conv1).params, qint64(32 * 3 * 3 * 1));
    QCOMPARE(model->layer(conv1).macs, qint64(28 * 28 * 32 * 9));
    QCOMPARE(model->layer(dense1).macs, qint64(7 * 7 * 64 * 128));
    QVERIFY(model->layer(conv1).role == LayerInfo::Role::Anchor);
    QVERIFY(model->layer(model->rowOf("bn1")).role == LayerInfo::Role::Fused);
    QCOMPARE(model->layer(model->rowOf("bn1")).fusedInto, QStringLiteral("conv1"));
    QVERIFY(model->layer(model->rowOf("pool1")).role == LayerInfo::Role::SameScale);
    QVERIFY(m_window->isPlanValid());
    QCOMPARE(m_env->count(Severity::Error), 0);
}

void MainWindowRunTest::editsLayerBitsAndScheme() {
    auto* model = m_window->layerModel();
    const int row = model->rowOf("conv2");
    const QModelIndex bits = model->index(row, LayerTableModel::WeightBits);
    const QModelIndex scheme = model->index(row, LayerTableModel::ActScheme);
    QVERIFY(model->flags(bits) & Qt::ItemIsEditable);
    // Out of range is refused; the plan keeps 8 bits.
    QVERIFY(!model->setData(bits, 9, Qt::EditRole));
    QCOMPARE(model->plan().find("conv2")->weights.bits, 8);

    QSignalSpy checked(m_window.get(), &MainWindow::planChecked);
    QVERIFY(model->setData(bits, 6, Qt::EditRole));
    QVERIFY(model->setData(scheme, LayerTableModel::ActSymmetric, Qt::EditRole));
    const auto* cfg = model->plan().find("conv2");
    QCOMPARE(cfg->weights.bits, 6);
    QVERIFY(cfg->activations.symmetric);
    QCOMPARE(bits.data(Qt::DisplayRole).toInt(), 6);
    QCOMPARE(scheme.data(Qt::DisplayRole).toString(), QStringLiteral("symmetric"));
    QVERIFY(model->isModified());
    // The edited plan is validated off the GUI thread and reported.
    QVERIFY(QTest::qWaitFor([&] { return !checked.isEmpty() && m_window->isPlanValid(); }, 10000));
    QVERIFY2(m_window->planStatus().contains("edited"), qPrintable(m_window->planStatus()));

    // Rows without weights offer no weight settings (per-axis cannot be set on them).
    const int pool = model->rowOf("pool1");
    const int softmax = model->rowOf("softmax");
    QVERIFY(!(model->flags(model->index(pool, LayerTableModel::Granularity)) & Qt::ItemIsEditable));
    QVERIFY(
        !(model->flags(model->index(softmax, LayerTableModel::Granularity)) & Qt::ItemIsEditable));
    QVERIFY(!model->setData(model->index(softmax, LayerTableModel::Granularity), 0, Qt::EditRole));
}

void MainWindowRunTest::startThenCancel() {
    RunSettings s = fastSettings();
    s.floatEpochs = 50; // far longer than the test waits
    s.limitTrain = 0;
    m_window->runPanel()->setSettings(s);
    m_window->runPanel()->setKind(qat::RunKind::Float);
    const int runsBefore = m_window->runsModel()->rowCount();

    int curvePoints = 0;
    auto conn =
        connect(m_window->engine(), &EngineController::curvePoints, this,
                [&](quint64, const QVector<qat::CurvePoint>& p) { curvePoints += p.size(); });
    const auto outcome = runAndWait(*m_window, [&] {
        if (!m_window->startRun())
            return false;
        // Cancel once training is visibly under way.
        if (!QTest::qWaitFor([&] { return curvePoints > 0; }, kRunTimeoutMs))
            return true;
        m_window->cancelRuns();
        qInfo("cancel requested after %d curve points", curvePoints);
        return true;
    });
    disconnect(conn);
    QVERIFY2(curvePoints > 0, "training never reported progress");
    QVERIFY(outcome.finished);
    QVERIFY(outcome.cancelled);
    QVERIFY(outcome.error.isEmpty());
    // The cancelled run is recorded with its curves, marked cancelled, without a model file.
    auto* runs = m_window->runsModel();
    QCOMPARE(runs->rowCount(), runsBefore + 1);
    const RunRecord cancelled = runs->run(runs->rowCount() - 1);
    QVERIFY(cancelled.cancelled);
    QVERIFY(cancelled.id > 0); // persisted
    QVERIFY(!cancelled.curve.isEmpty());
    QVERIFY(cancelled.artefactPath.isEmpty());
    QVERIFY(std::isnan(cancelled.metrics.floatAccuracy));
    QVERIFY(runs->index(runs->rowCount() - 1, RunsTableModel::Kind)
                .data(Qt::DisplayRole)
                .toString()
                .contains("cancelled"));
    // Selected, it shows in the comparison (its curves); there is no model to export.
    m_window->selectRuns({cancelled.id});
    QCOMPARE(m_window->comparisonView()->runs().size(), 1);
    const int infosBefore = m_env->count(Severity::Info);
    QVERIFY(m_window->exportSelectedRun() == nullptr);
    QCOMPARE(m_env->count(Severity::Info), infosBefore + 1);
    // Deleting it restores the table for the tests that follow.
    m_window->deleteSelectedRuns();
    QCOMPARE(runs->rowCount(), runsBefore);
    QVERIFY(!m_window->isBusy());
    QCOMPARE(m_env->count(Severity::Error), 0);
}

void MainWindowRunTest::comparisonRunsToTheEnd() {
    RunSettings s = fastSettings();
    s.measureLatency = true;
    m_window->runPanel()->setSettings(s);
    const auto outcome = runAndWait(*m_window, [&] { return m_window->runComparison(); });
    QVERIFY2(outcome.finished && !outcome.cancelled && outcome.error.isEmpty(),
             qPrintable(outcome.error + "\n" + m_env->dump()));
    auto* runs = m_window->runsModel();
    QCOMPARE(runs->rowCount(), 3);
    const RunRecord& f = runs->run(0);
    const RunRecord& p = runs->run(1);
    const RunRecord& q = runs->run(2);
    QCOMPARE(f.kind, qat::RunKind::Float);
    QCOMPARE(p.kind, qat::RunKind::Ptq);
    QCOMPARE(q.kind, qat::RunKind::Qat);
    for (const RunRecord* r : {&f, &p, &q}) {
        QVERIFY(r->id > 0); // persisted
        QVERIFY(QFileInfo::exists(r->artefactPath));
        QVERIFY(r->metrics.floatAccuracy >= 0.0 && r->metrics.floatAccuracy <= 1.0);
        QVERIFY(r->metrics.floatTfliteBytes > 0);
        QVERIFY(r->metrics.latency.measured);
        QVERIFY(r->metrics.latency.floatBatch1Ms > 0);
    }
    // Trained on 320 images: clearly better than chance (10 %).
    QVERIFY2(f.metrics.floatAccuracy > 0.3, qPrintable(QString::number(f.metrics.floatAccuracy)));
    QVERIFY(!f.curve.isEmpty());
    QCOMPARE(f.epochs.size(), 1);
    // PTQ and QAT start from the float run's trained model and are measured as integers.
    QCOMPARE(p.metrics.floatAccuracy, f.metrics.floatAccuracy);
    for (const RunRecord* r : {&p, &q}) {
        QVERIFY(!std::isnan(r->metrics.fakeQuantAccuracy));
        QVERIFY(!std::isnan(r->metrics.integerAccuracy));
        QVERIFY2(r->metrics.integerAccuracy > 0.3,
                 qPrintable(QString::number(r->metrics.integerAccuracy)));
        QVERIFY(r->metrics.int8TfliteBytes > 0);
        QVERIFY(r->metrics.int8TfliteBytes < r->metrics.floatTfliteBytes);
        QVERIFY(r->metrics.latency.int8Batch1Ms > 0);
        // The edited plan was used.
        const QJsonObject plan = parseObject(r->planJson);
        QCOMPARE(plan["layers"]["conv2"]["weights"]["bits"].toInt(), 6);
        QVERIFY(parseObject(r->settingsJson)["start_from"].toString().contains("float run"));
    }
    QVERIFY(!q.curve.isEmpty());
    // The runs table shows the measured values.
    const QString shown =
        runs->index(2, RunsTableModel::IntegerAcc).data(Qt::DisplayRole).toString();
    QCOMPARE(shown, formatAccuracy(q.metrics.integerAccuracy));
    // The finished comparison is selected and is what the comparison view shows.
    QCOMPARE(m_window->selectedRuns().size(), 3);
    const auto& shownRuns = m_window->comparisonView()->runs();
    QCOMPARE(shownRuns.size(), 3);
    QCOMPARE(shownRuns[2].metrics.integerAccuracy, q.metrics.integerAccuracy);
    QCOMPARE(shownRuns[1].metrics.int8TfliteBytes, p.metrics.int8TfliteBytes);
    m_comparisonRuns = {f, p, q};
    qInfo("float %.3f  ptq fake-quant %.3f integer %.3f  qat fake-quant %.3f integer %.3f  "
          "int8 %lld bytes vs float %lld",
          f.metrics.floatAccuracy, p.metrics.fakeQuantAccuracy, p.metrics.integerAccuracy,
          q.metrics.fakeQuantAccuracy, q.metrics.integerAccuracy,
          static_cast<long long>(q.metrics.int8TfliteBytes),
          static_cast<long long>(q.metrics.floatTfliteBytes));
}

void MainWindowRunTest::comparisonReusesCachedFloatRun() {
    QVERIFY(m_comparisonRuns.size() == 3);
    RunSettings s = fastSettings();
    m_window->runPanel()->setSettings(s);
    const auto outcome = runAndWait(*m_window, [&] { return m_window->runComparison(); });
    QVERIFY2(outcome.finished && outcome.error.isEmpty(), qPrintable(outcome.error));
    auto* runs = m_window->runsModel();
    QCOMPARE(runs->rowCount(), 5); // PTQ and QAT only: the float run was reused
    QCOMPARE(runs->run(3).kind, qat::RunKind::Ptq);
    QCOMPARE(runs->run(4).kind, qat::RunKind::Qat);
    QVERIFY(parseObject(runs->run(3).settingsJson)["start_from"].toString().contains(
        QStringLiteral("#%1").arg(m_comparisonRuns[0].id)));
    // The same float model and plan give the same PTQ result.
    QCOMPARE(runs->run(3).metrics.integerAccuracy, m_comparisonRuns[1].metrics.integerAccuracy);
    // Selected: the reused float run plus the two new runs.
    QCOMPARE(m_window->selectedRuns().size(), 3);
    QCOMPARE(m_window->selectedRuns().first().id, m_comparisonRuns[0].id);
}

void MainWindowRunTest::diffShowsPlanDifferences() {
    QVERIFY(m_comparisonRuns.size() == 3);
    m_window->selectRuns({m_comparisonRuns[1].id, m_comparisonRuns[2].id}); // PTQ, QAT
    m_window->diffSelectedRuns();
    auto* dialog = m_window->findChild<PlanDiffDialog*>();
    QVERIFY(dialog);
    QTableWidget* table = dialog->table();
    QStringList rows;
    for (int r = 0; r < table->rowCount(); ++r)
        rows << table->item(r, 0)->text() + "." + table->item(r, 1)->text();
    // Same plan; different schedules.
    QVERIFY2(rows.contains("settings.epochs"), qPrintable(rows.join(", ")));
    for (const QString& row : rows)
        QVERIFY2(row.startsWith("settings."), qPrintable(row));
    dialog->close();
}

void MainWindowRunTest::exportWritesReadableTflite() {
    QVERIFY(m_comparisonRuns.size() == 3);
    const RunRecord& floatRun = m_comparisonRuns[0];
    m_window->selectRuns({floatRun.id});
    ExportDialog* dialog = m_window->exportSelectedRun();
    QVERIFY(dialog);
    const QString path = m_env->path("float.tflite");
    dialog->setPath(path);
    QSignalSpy done(dialog, &ExportDialog::exported);
    dialog->startExport();
    QVERIFY(done.wait(kRunTimeoutMs));
    const ExportResult r = dialog->lastResult();
    QVERIFY2(r.ok, qPrintable(r.error));
    QVERIFY(r.validated);
    QVERIFY2(r.validation.startsWith("passed"), qPrintable(r.validation));
    QVERIFY(dialog->resultLabel()->text().contains(QStringLiteral("Validation")));
    qInfo("float export: %s", qPrintable(r.validation));

    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    QCOMPARE(bytes.size(), r.bytes);
    QCOMPARE(r.bytes, floatRun.metrics.floatTfliteBytes); // the size the run measured

    // Read it back with the engine's flatbuffer schema and check it holds the trained model:
    // the last FULLY_CONNECTED's weights equal dense2's weights in the run's model file.
    namespace fb = qat::tflite::fb;
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.constData());
    flatbuffers::Verifier verifier(data, static_cast<size_t>(bytes.size()));
    QVERIFY(fb::VerifyModelBuffer(verifier));
    const fb::Model* model = fb::GetModel(data);
    const fb::SubGraph* sg = model->subgraphs()->Get(0);
    const fb::Operator* last = nullptr;
    for (const fb::Operator* op : *sg->operators())
        if (model->operator_codes()->Get(op->opcode_index())->builtin_code() ==
            fb::BuiltinOperator_FULLY_CONNECTED)
            last = op;
    QVERIFY(last);
    const fb::Tensor* weights = sg->tensors()->Get(last->inputs()->Get(1));
    const fb::Buffer* buffer = model->buffers()->Get(weights->buffer());
    QVERIFY(buffer->data());
    auto trained = qat::loadModel(floatRun.artefactPath.toStdString());
    QVERIFY(trained.isOk());
    const qat::Tensor& dense2 = trained->find("dense2")->params.at("weights");
    QCOMPARE(static_cast<qint64>(buffer->data()->size()),
             static_cast<qint64>(dense2.size() * sizeof(float)));
    QVERIFY(std::memcmp(buffer->data()->data(), dense2.data(), buffer->data()->size()) == 0);
    dialog->close();
}

void MainWindowRunTest::exportWritesIntegerTflite() {
    QVERIFY(m_comparisonRuns.size() == 3);
    const RunRecord& qatRun = m_comparisonRuns[2];
    m_window->selectRuns({qatRun.id});
    ExportDialog* dialog = m_window->exportSelectedRun();
    QVERIFY(dialog);
    const QString path = m_env->path("qat-int8.tflite");
    dialog->setPath(path);
    dialog->setInteger(true, false);
    QSignalSpy done(dialog, &ExportDialog::exported);
    dialog->startExport();
    QVERIFY(done.wait(kRunTimeoutMs));
    const ExportResult r = dialog->lastResult();
    QVERIFY2(r.ok, qPrintable(r.error));
    QVERIFY(r.validated);
    QVERIFY2(r.validation.startsWith("passed"), qPrintable(r.validation));
    qInfo("int8 export: %s", qPrintable(r.validation));
    QCOMPARE(r.bytes, qatRun.metrics.int8TfliteBytes); // the size the run measured

    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    namespace fb = qat::tflite::fb;
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.constData());
    flatbuffers::Verifier verifier(data, static_cast<size_t>(bytes.size()));
    QVERIFY(fb::VerifyModelBuffer(verifier));
    const fb::Model* model = fb::GetModel(data);
    const fb::SubGraph* sg = model->subgraphs()->Get(0);
    QCOMPARE(sg->tensors()->Get(sg->inputs()->Get(0))->type(), fb::TensorType_INT8);
    // The file's int8 weights of the last FULLY_CONNECTED are the integer model's weights
    // for dense2, converted here from the run's saved model, plan and ranges.
    const fb::Operator* last = nullptr;
    for (const fb::Operator* op : *sg->operators())
        if (model->operator_codes()->Get(op->opcode_index())->builtin_code() ==
            fb::BuiltinOperator_FULLY_CONNECTED)
            last = op;
    QVERIFY(last);
    const fb::Tensor* weights = sg->tensors()->Get(last->inputs()->Get(1));
    QCOMPARE(weights->type(), fb::TensorType_INT8);
    const fb::Buffer* buffer = model->buffers()->Get(weights->buffer());
    QVERIFY(buffer->data());
    auto saved = qat::loadQuantizedModel(qatRun.artefactPath.toStdString());
    QVERIFY(saved.isOk() && saved->quantized);
    auto intModel = qat::convertToIntModel(saved->graph, saved->plan, saved->state);
    QVERIFY2(intModel.isOk(), intModel.message().c_str());
    const qat::IntTensor* expected = nullptr;
    for (const auto& t : intModel->tensors)
        if (t.name == "dense2/weights")
            expected = &t;
    QVERIFY(expected);
    QCOMPARE(static_cast<qsizetype>(buffer->data()->size()),
             static_cast<qsizetype>(expected->ints.size()));
    for (size_t i = 0; i < expected->ints.size(); ++i)
        QCOMPARE(static_cast<int>(static_cast<int8_t>(buffer->data()->Get(i))), expected->ints[i]);
    QCOMPARE(static_cast<qsizetype>(weights->quantization()->scale()->size()),
             static_cast<qsizetype>(expected->scales.size()));
    QCOMPARE(weights->quantization()->scale()->Get(0), expected->scales[0]);
    dialog->close();
}

void MainWindowRunTest::opensExportedTfliteAsModel() {
    // The float file written above, opened as a model through the engine's importer.
    const QString path = m_env->path("float.tflite");
    QVERIFY(QFileInfo::exists(path));
    bool ready = false;
    QMetaObject::Connection c =
        connect(m_window.get(), &MainWindow::experimentReady, this, [&] { ready = true; });
    m_env->messages.clear();
    m_window->openModel(path);
    QVERIFY(QTest::qWaitFor([&] { return ready; }, kLoadTimeoutMs));
    disconnect(c);
    QVERIFY2(m_env->count(Severity::Error) == 0, qPrintable(m_env->dump()));
    QCOMPARE(m_window->modelSource(), path);
    auto* model = m_window->layerModel();
    QCOMPARE(model->model().inputShape, QStringLiteral("[28x28x1]"));
    QCOMPARE(model->model().classes, 10);
    // BatchNorm was folded on export: the imported graph has the convolutions and dense
    // layers as quantizable anchors, and no BatchNorm rows.
    int anchors = 0;
    for (int r = 0; r < model->rowCount(); ++r) {
        QVERIFY(model->layer(r).type != "BatchNorm");
        anchors += model->layer(r).role == LayerInfo::Role::Anchor && model->layer(r).hasWeights;
    }
    QCOMPARE(anchors, 4);
    QVERIFY(waitReady(*m_window));

    // Again with an input normalisation: the importer bakes it in as a first layer, and a
    // run on the imported model records how it was imported.
    ImportSettings import;
    import.mean = {0.5f};
    import.scale = {2.0f};
    ready = false;
    c = connect(m_window.get(), &MainWindow::experimentReady, this, [&] { ready = true; });
    m_window->openModel(path, import);
    QVERIFY(QTest::qWaitFor([&] { return ready; }, kLoadTimeoutMs));
    disconnect(c);
    QVERIFY2(m_env->count(Severity::Error) == 0, qPrintable(m_env->dump()));
    const int norm = model->rowOf("input_normalization");
    QVERIFY(norm >= 0);
    QVERIFY(model->layer(norm).hasWeights);
    QVERIFY(waitReady(*m_window));
    m_window->runPanel()->setSettings(fastSettings());
    m_window->runPanel()->setKind(qat::RunKind::Float);
    const int before = m_window->runsModel()->rowCount();
    const auto outcome = runAndWait(*m_window, [&] { return m_window->startRun(); });
    QVERIFY2(outcome.finished && outcome.error.isEmpty(), qPrintable(outcome.error));
    QCOMPARE(m_window->runsModel()->rowCount(), before + 1);
    const RunRecord& run = m_window->runsModel()->run(before);
    QCOMPARE(run.model, path);
    const QJsonObject stored = parseObject(run.settingsJson)["import"].toObject();
    QCOMPARE(stored["scale"].toArray().first().toDouble(), 2.0);
    QVERIFY(run.metrics.floatAccuracy > 0.3); // the trained weights came through the import
}

void MainWindowRunTest::cleanupTestCase() {
    m_window.reset();
    m_env.reset();
}

QTEST_MAIN(MainWindowRunTest)
#include "main_window_run_test.moc"
