// The layer table on its own: what EngineController::inspect reports for a zoo model,
// which cells are editable, bulk edits over a multi-row selection (weight fields only
// where there are weights), and plan validation off the GUI thread with an error that
// names the layer.
#include <QComboBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

#include "bulk_edit_bar.h"
#include "engine_controller.h"
#include "import_dialog.h"
#include "layer_table_model.h"
#include "ui_test_support.h"

using namespace qatui;
using namespace qatui::testing;

class LayerTableTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void describesMobilenet();
    void bulkEditAppliesToSelection();
    void bulkEditBarBuildsEdit();
    void validationNamesTheLayer();
    void presetReplacesPlan();
    void importValuesParse();

private:
    qatui::ExperimentInfo inspect(const QString& model, const QString& preset);

    std::unique_ptr<TestEnvironment> m_env;
    std::unique_ptr<EngineController> m_engine;
    LayerTableModel m_model;
};

void LayerTableTest::initTestCase() {
    m_env = std::make_unique<TestEnvironment>();
    m_engine = std::make_unique<EngineController>();
}

ExperimentInfo LayerTableTest::inspect(const QString& model, const QString& preset) {
    QSignalSpy spy(m_engine.get(), &EngineController::inspected);
    const quint64 id = m_engine->inspect(model, "fashion-mnist-sample", preset);
    if (!spy.wait(kLoadTimeoutMs))
        return {};
    auto info = spy.takeFirst().at(0).value<ExperimentInfo>();
    return info.requestId == id ? info : ExperimentInfo{};
}

void LayerTableTest::describesMobilenet() {
    const auto info = inspect("mobilenet-tiny", "int8");
    QVERIFY2(info.modelOk, qPrintable(info.modelError));
    QVERIFY(info.datasetOk);
    QVERIFY(info.planOk);
    QVERIFY(info.compatibilityError.isEmpty());
    QCOMPARE(info.dataset.trainCount, qint64(600));
    QCOMPARE(info.dataset.testCount, qint64(300));
    m_model.setModel(info.model, info.plan);
    QCOMPARE(m_model.rowCount(), static_cast<int>(info.model.layers.size()));
    int anchors = 0, depthwise = 0;
    qint64 macs = 0;
    for (int r = 0; r < m_model.rowCount(); ++r) {
        const LayerInfo& l = m_model.layer(r);
        macs += l.macs;
        if (l.role == LayerInfo::Role::Anchor)
            ++anchors;
        if (l.type == "DepthwiseConv2D") {
            ++depthwise;
            QVERIFY(l.hasWeights);
            QVERIFY(l.macs > 0);
            // int8 preset: per-axis weights on depthwise convolutions.
            QCOMPARE(m_model.index(r, LayerTableModel::Granularity).data().toString(),
                     QStringLiteral("per-axis"));
        }
        // Every plan row is an anchor and vice versa.
        QCOMPARE(l.role == LayerInfo::Role::Anchor,
                 m_model.plan().find(l.name.toStdString()) != nullptr);
    }
    QCOMPARE(anchors, static_cast<int>(m_model.plan().layers.size()));
    QVERIFY(depthwise > 0);
    QCOMPARE(macs, info.model.macs);
    // The input row edits the plan's input quantizer.
    const int input = 0;
    QVERIFY(m_model.layer(input).role == LayerInfo::Role::Input);
    QVERIFY(m_model.setData(m_model.index(input, LayerTableModel::ActBits), 12, Qt::EditRole));
    QCOMPARE(m_model.plan().input.bits, 12);
    QVERIFY(
        !(m_model.flags(m_model.index(input, LayerTableModel::WeightBits)) & Qt::ItemIsEditable));
}

void LayerTableTest::bulkEditAppliesToSelection() {
    QList<int> all;
    int weighted = 0, editable = 0;
    for (int r = 0; r < m_model.rowCount(); ++r) {
        all.push_back(r);
        if (m_model.isEditableRow(r))
            ++editable;
        if (m_model.layer(r).hasWeights)
            ++weighted;
    }
    LayerTableModel::BulkEdit e;
    e.weightBits = 4;
    e.weightScheme = LayerTableModel::Asymmetric;
    e.actEstimator = qat::RangeEstimator::Percentile;
    QSignalSpy edited(&m_model, &LayerTableModel::planEdited);
    const auto result = m_model.applyBulk(all, e);
    QCOMPARE(edited.size(), 1);
    QCOMPARE(result.changedRows, editable);
    QCOMPARE(result.skippedRows, m_model.rowCount() - weighted); // rows without weights
    for (int r = 0; r < m_model.rowCount(); ++r) {
        const LayerInfo& l = m_model.layer(r);
        const auto* cfg = m_model.plan().find(l.name.toStdString());
        if (!cfg)
            continue;
        QCOMPARE(cfg->activations.estimator, qat::RangeEstimator::Percentile);
        if (l.hasWeights) {
            QCOMPARE(cfg->weights.bits, 4);
            QVERIFY(!cfg->weights.symmetric);
            QVERIFY(!cfg->weights.narrowRange); // narrow range needs symmetric
        } else {
            QCOMPARE(cfg->weights.bits, 8); // untouched where unused
        }
    }
    QCOMPARE(m_model.plan().input.estimator, qat::RangeEstimator::Percentile);
    QVERIFY(m_model.isModified());
}

void LayerTableTest::bulkEditBarBuildsEdit() {
    BulkEditBar bar;
    bar.setSelectionCount(3, 0);
    QVERIFY(!bar.weightBitsSpin()->isEnabled()); // no weights selected
    QVERIFY(bar.edit().isEmpty());
    QVERIFY(!bar.applyButton()->isEnabled());
    bar.actBitsSpin()->setValue(6);
    bar.enabledCombo()->setCurrentIndex(2); // off
    QVERIFY(bar.applyButton()->isEnabled());
    const auto e = bar.edit();
    QCOMPARE(e.actBits.value_or(0), 6);
    QCOMPARE(e.enabled.value_or(true), false);
    QVERIFY(!e.weightBits);
    QSignalSpy spy(&bar, &BulkEditBar::applyRequested);
    QTest::mouseClick(bar.applyButton(), Qt::LeftButton);
    QCOMPARE(spy.size(), 1);
    bar.reset();
    QVERIFY(bar.edit().isEmpty());
}

void LayerTableTest::validationNamesTheLayer() {
    // A valid (edited) plan passes.
    QSignalSpy spy(m_engine.get(), &EngineController::planValidated);
    quint64 id = m_engine->validatePlan(m_model.model().graph, m_model.plan());
    QVERIFY(spy.wait(10000));
    auto v = spy.takeFirst().at(0).value<PlanValidation>();
    QCOMPARE(v.requestId, id);
    QVERIFY2(v.ok, qPrintable(v.message));

    // A plan the table would never produce (read from elsewhere) is reported, not run.
    qat::QuantPlan bad = m_model.plan();
    const std::string layer = bad.layers.front().layer;
    bad.layers.front().activations.bits = 1;
    id = m_engine->validatePlan(m_model.model().graph, bad);
    QVERIFY(spy.wait(10000));
    v = spy.takeFirst().at(0).value<PlanValidation>();
    QVERIFY(!v.ok);
    QVERIFY2(v.message.contains(QString::fromStdString(layer)), qPrintable(v.message));
}

void LayerTableTest::presetReplacesPlan() {
    QSignalSpy spy(m_engine.get(), &EngineController::planBuilt);
    m_engine->buildPlan(m_model.model().graph, "w4a8");
    QVERIFY(spy.wait(10000));
    const auto r = spy.takeFirst().at(0).value<PlanResult>();
    QVERIFY2(r.ok, qPrintable(r.error));
    m_model.setPlan(r.plan);
    QVERIFY(!m_model.isModified());
    for (const auto& l : m_model.plan().layers)
        QCOMPARE(l.activations.bits, 8);
    const int conv = m_model.rowOf("conv1") >= 0 ? m_model.rowOf("conv1") : 1;
    if (m_model.layer(conv).hasWeights)
        QCOMPARE(m_model.index(conv, LayerTableModel::WeightBits).data().toInt(), 4);
    m_engine->buildPlan(m_model.model().graph, "no-such-preset");
    QVERIFY(spy.wait(10000));
    const auto bad = spy.takeFirst().at(0).value<PlanResult>();
    QVERIFY(!bad.ok);
    QVERIFY(bad.error.contains("no-such-preset"));
}

void LayerTableTest::importValuesParse() {
    QVector<float> v;
    QString error;
    QVERIFY(ImportDialog::parseValues(" 0.485, 0.456 ,0.406", false, v, &error));
    QCOMPARE(v.size(), 3);
    QCOMPARE(v[1], 0.456f);
    QVERIFY(ImportDialog::parseValues("", true, v, &error));
    QVERIFY(v.isEmpty());
    QVERIFY(!ImportDialog::parseValues("1, x", false, v, &error));
    QVERIFY(error.contains("'x'"));
    QVERIFY(!ImportDialog::parseValues("0", true, v, &error)); // a zero scale
    QCOMPARE(ImportDialog::valuesText({0.5f, 2.0f}), QStringLiteral("0.5, 2"));
}

QTEST_MAIN(LayerTableTest)
#include "layer_table_test.moc"
