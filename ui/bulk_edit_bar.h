// BulkEditBar: one editor for all selected layers. Every field starts at "keep"; Apply
// sends only the fields the user set (LayerTableModel::BulkEdit) and resets them.
#pragma once

#include <QWidget>

#include "layer_table_model.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace qatui {

class BulkEditBar : public QWidget {
    Q_OBJECT
public:
    explicit BulkEditBar(QWidget* parent = nullptr);

    // How many editable layers are selected (0 disables the bar).
    void setSelectionCount(int editableRows, int weightedRows);
    LayerTableModel::BulkEdit edit() const;
    void reset();

    // Widgets, for tests and keyboard focus.
    QComboBox* enabledCombo() const { return m_enabled; }
    QSpinBox* weightBitsSpin() const { return m_weightBits; }
    QSpinBox* actBitsSpin() const { return m_actBits; }
    QComboBox* weightSchemeCombo() const { return m_weightScheme; }
    QPushButton* applyButton() const { return m_apply; }

signals:
    void applyRequested(const qatui::LayerTableModel::BulkEdit& edit);

private:
    void updateApply();

    QLabel* m_title = nullptr;
    QComboBox* m_enabled = nullptr;
    QSpinBox* m_weightBits = nullptr;
    QComboBox* m_granularity = nullptr;
    QComboBox* m_weightScheme = nullptr;
    QComboBox* m_weightEstimator = nullptr;
    QSpinBox* m_actBits = nullptr;
    QComboBox* m_actScheme = nullptr;
    QComboBox* m_actEstimator = nullptr;
    QPushButton* m_apply = nullptr;
    QPushButton* m_resetButton = nullptr;
    int m_editableRows = 0;
};

} // namespace qatui
