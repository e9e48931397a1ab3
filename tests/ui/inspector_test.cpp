// LayerInspector on a real quantized model: mnist-cnn trained one epoch on the bundled
// Fashion-MNIST sample (seed 1), PTQ-calibrated, saved with saveQuantizedModel. The shown
// scales must equal the engine's; the work happens off the GUI thread; a result for a
// layer the user has left is discarded; float runs show no grid; sensitivity runs and
// reports. With $QATLAB_GRAB_DIR set, the inspector is saved there as PNGs.
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "inspector/histogram_panel.h"
#include "inspector/layer_inspector.h"
#include "qat/int_model.h"
#include "qat/model_io.h"
#include "qat/network.h"
#include "qat/trainer.h"

using namespace qatui;

namespace {

constexpr int kTimeoutMs = 60000;

void grab(QWidget& w, const QString& file) {
    const QString dir = qEnvironmentVariable("QATLAB_GRAB_DIR");
    if (dir.isEmpty())
        return;
    QDir().mkpath(dir);
    QTest::qWait(100); // queued replots
    w.grab().save(QDir(dir).filePath(file));
}

bool waitShown(LayerInspector& w, QSignalSpy& spy, const QString& layer) {
    return QTest::qWaitFor(
        [&] {
            return !w.isBusy() && !spy.isEmpty() && spy.last().at(0).toString() == layer &&
                   w.inspection() && w.inspection()->layer == layer.toStdString();
        },
        kTimeoutMs);
}

} // namespace

class InspectorTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void showsTheEnginesScales();
    void workedExampleAndChannels();
    void staleResultsAreDiscarded();
    void fusedNodeSelectsItsBlock();
    void floatRunShowsNoGrid();
    void sensitivityMeasuresTheDrop();
    void addLayerShowsItsMultipliers();
    void missingModelIsExplained();

private:
    QTemporaryDir m_dir;
    std::shared_ptr<const qat::DatasetSplits> m_data;
    qat::Graph m_graph;
    qat::QuantPlan m_plan;
    qat::QuantState m_state;
    RunRecord m_ptq;
    RunRecord m_float;
};

void InspectorTest::initTestCase() {
    QVERIFY(m_dir.isValid());
    auto data = qat::loadDataset("fashion-mnist-sample");
    QVERIFY2(data.isOk(), data.message().c_str());
    m_data = std::make_shared<const qat::DatasetSplits>(std::move(data).value());
    auto g = qat::loadModelOrZoo("mnist-cnn", m_data->train.sampleShape, 1);
    QVERIFY2(g.isOk(), g.message().c_str());
    m_graph = std::move(g).value();
    {
        auto net = qat::Network::create(m_graph, 1);
        QVERIFY(net.isOk());
        qat::TrainConfig cfg;
        cfg.epochs = 1;
        cfg.seed = 1;
        cfg.evaluateEachEpoch = false;
        auto r = qat::train(*net.value(), m_data->train, m_data->test, cfg);
        QVERIFY2(r.isOk(), r.message().c_str());
    }
    auto plan = qat::makePlan(m_graph, "int8");
    QVERIFY(plan.isOk());
    m_plan = plan.value();
    auto qnet = qat::Network::create(m_graph, m_plan, qat::QatOptions{});
    QVERIFY(qnet.isOk());
    QVERIFY(qat::calibrate(*qnet.value(), m_data->train, 4, 64).isOk());
    m_state = qnet.value()->quantState();

    m_ptq.id = 7;
    m_ptq.name = QStringLiteral("PTQ mnist-cnn");
    m_ptq.kind = qat::RunKind::Ptq;
    m_ptq.artefactPath = m_dir.filePath(QStringLiteral("ptq.qatm"));
    QVERIFY(
        qat::saveQuantizedModel(m_graph, m_plan, m_state, m_ptq.artefactPath.toStdString()).isOk());
    m_float.id = 8;
    m_float.name = QStringLiteral("float mnist-cnn");
    m_float.kind = qat::RunKind::Float;
    m_float.artefactPath = m_dir.filePath(QStringLiteral("float.qatm"));
    QVERIFY(qat::saveModel(m_graph, m_float.artefactPath.toStdString()).isOk());
}

void InspectorTest::showsTheEnginesScales() {
    LayerInspector w;
    w.resize(1500, 900);
    w.show();
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    QElapsedTimer t;
    t.start();
    w.setRun(m_ptq);
    w.setLayer(QStringLiteral("conv1"));
    QVERIFY2(t.elapsed() < 200, "setRun/setLayer must not compute on the GUI thread");
    QVERIFY(w.isBusy());
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));

    // The engine's own numbers for conv1.
    const auto blocks = qat::findQuantBlocks(m_graph);
    const auto block = std::find_if(blocks.begin(), blocks.end(),
                                    [](const qat::QuantBlock& b) { return b.anchor == "conv1"; });
    QVERIFY(block != blocks.end());
    auto folded = qat::foldedBlockWeights(m_graph, *block, m_plan.find("conv1")->weights);
    QVERIFY(folded.isOk());
    auto model = qat::convertToIntModel(m_graph, m_plan, m_state);
    QVERIFY2(model.isOk(), model.message().c_str());
    float outScale = 0;
    int outZero = 0;
    for (const auto& tensor : model->tensors)
        if (tensor.name == "relu1" && !tensor.isConstant) {
            outScale = tensor.scales[0];
            outZero = tensor.zeroPoints[0];
        }
    QVERIFY(outScale > 0);

    const qat::LayerInspection* in = w.inspection();
    QCOMPARE(in->activations.grid.scale, outScale);
    QCOMPARE(in->activations.grid.zeroPoint, outZero);
    // The table shows one row per output channel with the engine's weight scale.
    QTableWidget* table = w.scalesTable();
    QCOMPARE(table->rowCount(), static_cast<int>(folded->params.size()));
    for (int r = 0; r < table->rowCount(); ++r) {
        const double displayed = table->item(r, 1)->text().toDouble();
        const double engine = folded->params[static_cast<size_t>(r)].scale;
        QVERIFY2(std::fabs(displayed - engine) <= 1e-5 * engine,
                 qPrintable(QStringLiteral("row %1: %2 vs %3").arg(r).arg(displayed).arg(engine)));
        // Multiplier and shift as the integer op holds them.
        const qat::IntOp* op = nullptr;
        for (const auto& o : model->ops)
            if (o.node == "conv1" && o.kind == qat::IntOpKind::Conv2D)
                op = &o;
        QVERIFY(op);
        QCOMPARE(table->item(r, 7)->text().toLongLong(),
                 static_cast<qint64>(op->multiplier[static_cast<size_t>(r)]));
        QCOMPARE(table->item(r, 8)->text().replace(QChar(0x2212), '-').toInt(),
                 op->shift[static_cast<size_t>(r)]);
    }
    // The header names the output grid with the same scale.
    QVERIFY(w.findChildren<QLabel*>().size() > 0);
    // Activations are int8 (256 levels): ticks, not lines; the clipping range is drawn.
    QCOMPARE(w.activationPanel()->levelTicks(), 256);
    QCOMPARE(w.activationPanel()->levelLines(), 0);
    QVERIFY(w.activationPanel()->clipRangeDrawn());
    grab(w, QStringLiteral("inspector_conv1_example.png"));
    w.tabs()->setCurrentIndex(1);
    grab(w, QStringLiteral("inspector_conv1_scales.png"));
    w.tabs()->setCurrentIndex(2);
    grab(w, QStringLiteral("inspector_conv1_errors.png"));
}

void InspectorTest::workedExampleAndChannels() {
    LayerInspector w;
    w.resize(1500, 900);
    w.show();
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    w.setRun(m_ptq);
    w.setLayer(QStringLiteral("conv1"));
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    // All + 12 output channels.
    QCOMPARE(w.channelCombo()->count(), 13);
    // "All" with per-channel grids: no single grid over the histogram.
    QVERIFY(!w.weightPanel()->clipRangeDrawn());
    w.channelCombo()->setCurrentIndex(4); // channel 3
    QVERIFY(w.weightPanel()->clipRangeDrawn());
    QCOMPARE(w.weightPanel()->levelTicks(), 255); // narrow-range int8 weights
    QCOMPARE(w.scalesTable()->currentRow(), 3);

    const qat::WorkedExample& ex = w.inspection()->example;
    QVERIFY(ex.available);
    QCOMPARE(w.stepsTable()->rowCount(), static_cast<int>(ex.steps.size()));
    QCOMPARE(w.termsTable()->rowCount(), static_cast<int>(ex.terms.size()));
    bool matches = false;
    for (int r = 0; r < w.stepsTable()->rowCount(); ++r)
        if (w.stepsTable()->item(r, 0)->text() == QStringLiteral("Integer executor"))
            matches = w.stepsTable()->item(r, 2)->text().contains(QStringLiteral("(matches)"));
    QVERIFY(matches);

    // A 4-bit weight grid draws every level as a line.
    QTemporaryDir dir;
    qat::QuantPlan plan = m_plan;
    plan.find("conv1")->weights.bits = 4;
    RunRecord w4 = m_ptq;
    w4.id = 99;
    w4.artefactPath = dir.filePath(QStringLiteral("w4.qatm"));
    QVERIFY(qat::saveQuantizedModel(m_graph, plan, m_state, w4.artefactPath.toStdString()).isOk());
    shown.clear();
    w.setRun(w4);
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    w.channelCombo()->setCurrentIndex(1);
    QCOMPARE(w.weightPanel()->levelLines(), 15); // [-7, 7]
    QCOMPARE(w.weightPanel()->levelTicks(), 0);
    grab(w, QStringLiteral("inspector_conv1_w4.png"));
}

void InspectorTest::staleResultsAreDiscarded() {
    LayerInspector w;
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    w.setRun(m_ptq);
    w.setLayer(QStringLiteral("conv1"));
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    shown.clear();
    // Ask for dense1, then change our mind before it arrives.
    w.setLayer(QStringLiteral("dense1"));
    w.setLayer(QStringLiteral("softmax"));
    QVERIFY(waitShown(w, shown, QStringLiteral("softmax")));
    QTest::qWait(300);
    for (const auto& args : shown)
        QCOMPARE(args.at(0).toString(), QStringLiteral("softmax"));
    QCOMPARE(QString::fromStdString(w.inspection()->layer), QStringLiteral("softmax"));
    // Softmax has no weights and no worked example; it says so.
    QVERIFY(!w.inspection()->weights.present);
    QVERIFY(!w.inspection()->example.available);
}

void InspectorTest::fusedNodeSelectsItsBlock() {
    LayerInspector w;
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    w.setLayer(QStringLiteral("relu1")); // before the run: remembered
    w.setRun(m_ptq);
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    QCOMPARE(w.layerCombo()->currentData().toString(), QStringLiteral("conv1"));
    QCOMPARE(w.layerCombo()->count(), 3); // conv1, dense1, softmax
}

void InspectorTest::floatRunShowsNoGrid() {
    LayerInspector w;
    w.resize(1500, 900);
    w.show();
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    w.setRun(m_float);
    w.setLayer(QStringLiteral("conv1"));
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    const qat::LayerInspection* in = w.inspection();
    QVERIFY(!in->modelQuantized);
    QVERIFY(!in->weights.quantized);
    QVERIFY(in->weights.present);
    QVERIFY(in->weights.histogram.total() > 0);
    QVERIFY(w.noteText().contains(QStringLiteral("float model")));
    QCOMPARE(w.scalesTable()->rowCount(), 0);
    QCOMPARE(w.stepsTable()->rowCount(), 0);
    QVERIFY(!w.weightPanel()->clipRangeDrawn());
    QVERIFY(!w.activationPanel()->clipRangeDrawn());
    QVERIFY(!w.sensitivityButton()->isEnabled());
    grab(w, QStringLiteral("inspector_float.png"));
}

void InspectorTest::sensitivityMeasuresTheDrop() {
    LayerInspector w;
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    QSignalSpy done(&w, &LayerInspector::sensitivityDone);
    w.setDataset(m_data);
    w.setRun(m_ptq);
    w.setLayer(QStringLiteral("dense1"));
    QVERIFY(waitShown(w, shown, QStringLiteral("dense1")));
    QVERIFY(w.sensitivityButton()->isEnabled());
    QTest::mouseClick(w.sensitivityButton(), Qt::LeftButton);
    QVERIFY(QTest::qWaitFor([&] { return !done.isEmpty(); }, kTimeoutMs));
    QCOMPARE(done.first().at(0).toString(), QStringLiteral("dense1"));
    QVERIFY2(w.sensitivityResult()->text().contains(QStringLiteral("drop")),
             qPrintable(w.sensitivityResult()->text()));
    w.resize(1500, 900);
    w.show();
    w.tabs()->setCurrentIndex(2);
    grab(w, QStringLiteral("inspector_dense1_sensitivity.png"));
    // Switching layers drops a sensitivity result that is still running.
    done.clear();
    QTest::mouseClick(w.sensitivityButton(), Qt::LeftButton);
    w.setLayer(QStringLiteral("conv1"));
    QVERIFY(waitShown(w, shown, QStringLiteral("conv1")));
    QTest::qWait(500);
    QVERIFY(done.isEmpty());
}

void InspectorTest::addLayerShowsItsMultipliers() {
    // resnet-tiny, untrained but calibrated: its residual Add requantizes two inputs.
    auto g = qat::loadModelOrZoo("resnet-tiny", m_data->train.sampleShape, 3);
    QVERIFY2(g.isOk(), g.message().c_str());
    qat::Graph graph = std::move(g).value();
    auto plan = qat::makePlan(graph, "int8");
    QVERIFY(plan.isOk());
    auto qnet = qat::Network::create(graph, plan.value(), qat::QatOptions{});
    QVERIFY(qnet.isOk());
    QVERIFY(qat::calibrate(*qnet.value(), m_data->train, 2, 32).isOk());
    RunRecord run;
    run.id = 77;
    run.name = QStringLiteral("PTQ resnet-tiny");
    run.kind = qat::RunKind::Ptq;
    run.artefactPath = m_dir.filePath(QStringLiteral("resnet.qatm"));
    QVERIFY(qat::saveQuantizedModel(graph, plan.value(), qnet.value()->quantState(),
                                    run.artefactPath.toStdString())
                .isOk());
    LayerInspector w;
    w.resize(1500, 900);
    w.show();
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setDataset(m_data);
    w.setRun(run);
    w.setLayer(QStringLiteral("block1_relu2")); // fused into block1_add
    QVERIFY(waitShown(w, shown, QStringLiteral("block1_add")));
    const qat::LayerInspection* in = w.inspection();
    QVERIFY(!in->weights.present);
    QCOMPARE(QString::fromStdString(in->intOpName), QStringLiteral("ADD"));
    QCOMPARE(w.scalesTable()->rowCount(), 3); // input 0, input 1, output
    QCOMPARE(w.scalesTable()->item(2, 0)->text(), QStringLiteral("output"));
    QVERIFY(!w.inspection()->example.available);
    QVERIFY(w.activationPanel()->clipRangeDrawn());
    w.tabs()->setCurrentIndex(1);
    grab(w, QStringLiteral("inspector_add_scales.png"));
    // A depthwise-free, BN-folded conv of the same model.
    w.setLayer(QStringLiteral("block2_proj_conv"));
    QVERIFY(waitShown(w, shown, QStringLiteral("block2_proj_conv")));
    QVERIFY(w.inspection()->weights.bnFolded);
    QVERIFY(w.inspection()->example.available);
    w.tabs()->setCurrentIndex(0);
    grab(w, QStringLiteral("inspector_proj_conv.png"));
}

void InspectorTest::missingModelIsExplained() {
    LayerInspector w;
    QSignalSpy failed(&w, &LayerInspector::inspectionFailed);
    w.setDataset(m_data);
    RunRecord r = m_ptq;
    r.id = 1234;
    r.artefactPath.clear();
    w.setRun(r);
    QCOMPARE(failed.size(), 1);
    QVERIFY(failed.first().at(0).toString().contains(QStringLiteral("no saved model")));
    // A corrupt file: an error message, the widget stays usable.
    QTemporaryDir dir;
    const QString bad = dir.filePath(QStringLiteral("bad.qatm"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a model");
    f.close();
    r.id = 1235;
    r.artefactPath = bad;
    failed.clear();
    w.setRun(r);
    QVERIFY(QTest::qWaitFor([&] { return !failed.isEmpty(); }, kTimeoutMs));
    QVERIFY(!w.isBusy());
    QVERIFY(w.inspection() == nullptr);
    QSignalSpy shown(&w, &LayerInspector::inspectionShown);
    w.setRun(m_ptq);
    QVERIFY(QTest::qWaitFor([&] { return !shown.isEmpty(); }, kTimeoutMs));
}

QTEST_MAIN(InspectorTest)
#include "inspector_test.moc"
