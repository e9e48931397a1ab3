// BulkEditBar: the multi-selection editor under the layer table.
#include "bulk_edit_bar.h"

#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>

namespace qatui {

namespace {

const QString kKeep = QStringLiteral("keep");

QComboBox* keepCombo(const QStringList& items, const QString& tip) {
    auto* c = new QComboBox;
    c->addItem(kKeep);
    c->addItems(items);
    c->setToolTip(tip);
    return c;
}

QSpinBox* keepSpin(int maxBits, const QString& tip) {
    auto* s = new QSpinBox;
    s->setRange(1, maxBits); // 1 = "keep": below every valid width
    s->setSpecialValueText(kKeep);
    s->setSuffix(QStringLiteral(" bit"));
    s->setToolTip(tip);
    return s;
}

} // namespace

BulkEditBar::BulkEditBar(QWidget* parent) : QWidget(parent) {
    m_title = new QLabel;
    m_enabled = keepCombo({QStringLiteral("on"), QStringLiteral("off")},
                          tr("Quantize the selected blocks, or leave them float"));
    m_weightBits = keepSpin(8, tr("Weight bits for the selected layers with weights (2-8)"));
    m_granularity = keepCombo({QStringLiteral("per-axis"), QStringLiteral("per-tensor")},
                              tr("Weight granularity (layers with weights only)"));
    m_weightScheme = keepCombo({QStringLiteral("symmetric, narrow"), QStringLiteral("symmetric"),
                                QStringLiteral("asymmetric")},
                               tr("Weight grid (layers with weights only)"));
    m_weightEstimator =
        keepCombo(LayerTableModel::estimatorChoices(), tr("Weight range estimator"));
    m_actBits = keepSpin(16, tr("Activation bits for the selected layers (2-16)"));
    m_actScheme = keepCombo({QStringLiteral("asymmetric"), QStringLiteral("symmetric")},
                            tr("Activation grid"));
    m_actEstimator =
        keepCombo(LayerTableModel::estimatorChoices(), tr("Activation range estimator"));
    m_apply = new QPushButton(tr("Apply to selection"));
    m_apply->setToolTip(tr("Set the chosen fields on every selected layer"));
    m_resetButton = new QPushButton(tr("Reset"));
    m_resetButton->setToolTip(tr("Set every field back to \"keep\""));

    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setHorizontalSpacing(6);
    grid->setVerticalSpacing(4);
    grid->addWidget(m_title, 0, 0, 1, 12);
    int col = 0;
    auto add = [&](int row, const QString& label, QWidget* w) {
        auto* l = new QLabel(label);
        l->setBuddy(w);
        grid->addWidget(l, row, col, Qt::AlignRight);
        grid->addWidget(w, row, col + 1);
        col += 2;
    };
    add(1, tr("&Quantize"), m_enabled);
    add(1, tr("W bits"), m_weightBits);
    add(1, tr("W axis"), m_granularity);
    add(1, tr("W scheme"), m_weightScheme);
    add(1, tr("W range"), m_weightEstimator);
    col = 0;
    add(2, tr("A bits"), m_actBits);
    add(2, tr("A scheme"), m_actScheme);
    add(2, tr("A range"), m_actEstimator);
    grid->addWidget(m_resetButton, 2, 7);
    grid->addWidget(m_apply, 2, 8, 1, 2);
    grid->setColumnStretch(10, 1);

    for (QComboBox* c :
         {m_enabled, m_granularity, m_weightScheme, m_weightEstimator, m_actScheme, m_actEstimator})
        connect(c, &QComboBox::currentIndexChanged, this, &BulkEditBar::updateApply);
    for (QSpinBox* s : {m_weightBits, m_actBits})
        connect(s, &QSpinBox::valueChanged, this, &BulkEditBar::updateApply);
    connect(m_apply, &QPushButton::clicked, this, [this] {
        const auto e = edit();
        if (!e.isEmpty())
            emit applyRequested(e);
    });
    connect(m_resetButton, &QPushButton::clicked, this, &BulkEditBar::reset);
    setSelectionCount(0, 0);
}

void BulkEditBar::setSelectionCount(int editableRows, int weightedRows) {
    m_editableRows = editableRows;
    m_title->setText(
        editableRows == 0
            ? tr("Select layers in the table (Ctrl/Shift-click) to edit them together.")
            : tr("Edit %n selected layer(s) (%1 with weights):", nullptr, editableRows)
                  .arg(weightedRows));
    const bool on = editableRows > 0;
    for (QWidget* w : {static_cast<QWidget*>(m_enabled), static_cast<QWidget*>(m_actBits),
                       static_cast<QWidget*>(m_actScheme), static_cast<QWidget*>(m_actEstimator)})
        w->setEnabled(on);
    for (QWidget* w :
         {static_cast<QWidget*>(m_weightBits), static_cast<QWidget*>(m_granularity),
          static_cast<QWidget*>(m_weightScheme), static_cast<QWidget*>(m_weightEstimator)})
        w->setEnabled(weightedRows > 0);
    updateApply();
}

LayerTableModel::BulkEdit BulkEditBar::edit() const {
    LayerTableModel::BulkEdit e;
    if (m_enabled->currentIndex() > 0)
        e.enabled = m_enabled->currentIndex() == 1;
    if (m_weightBits->value() > 1)
        e.weightBits = m_weightBits->value();
    if (m_granularity->currentIndex() > 0)
        e.perAxis = m_granularity->currentIndex() == 1;
    if (m_weightScheme->currentIndex() > 0)
        e.weightScheme =
            static_cast<LayerTableModel::WeightSchemeChoice>(m_weightScheme->currentIndex() - 1);
    if (m_weightEstimator->currentIndex() > 0)
        e.weightEstimator = LayerTableModel::estimatorAt(m_weightEstimator->currentIndex() - 1);
    if (m_actBits->value() > 1)
        e.actBits = m_actBits->value();
    if (m_actScheme->currentIndex() > 0)
        e.actScheme =
            static_cast<LayerTableModel::ActSchemeChoice>(m_actScheme->currentIndex() - 1);
    if (m_actEstimator->currentIndex() > 0)
        e.actEstimator = LayerTableModel::estimatorAt(m_actEstimator->currentIndex() - 1);
    return e;
}

void BulkEditBar::reset() {
    for (QComboBox* c :
         {m_enabled, m_granularity, m_weightScheme, m_weightEstimator, m_actScheme, m_actEstimator})
        c->setCurrentIndex(0);
    for (QSpinBox* s : {m_weightBits, m_actBits})
        s->setValue(1);
}

void BulkEditBar::updateApply() {
    const bool anyField = !edit().isEmpty();
    m_apply->setEnabled(m_editableRows > 0 && anyField);
    m_resetButton->setEnabled(anyField);
}

} // namespace qatui
