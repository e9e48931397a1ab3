// Editors for the layer table's quantization cells: a combo box where the model offers
// choices (LayerTableModel::OptionsRole), a spin box bounded by MinimumRole/MaximumRole
// for bit widths. Out-of-range values cannot be entered.
#pragma once

#include <QStyledItemDelegate>

namespace qatui {

class LayerQuantDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                          const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model,
                      const QModelIndex& index) const override;
};

} // namespace qatui
