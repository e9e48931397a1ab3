// LayerQuantDelegate: combo and spin editors driven by the model's option/range roles.
#include "layer_delegate.h"

#include <QComboBox>
#include <QSpinBox>

#include "layer_table_model.h"

namespace qatui {

QWidget* LayerQuantDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                                          const QModelIndex& index) const {
    const QStringList options = index.data(LayerTableModel::OptionsRole).toStringList();
    if (!options.isEmpty()) {
        auto* combo = new QComboBox(parent);
        combo->addItems(options);
        // Commit as soon as a choice is made: one click per edit.
        connect(combo, &QComboBox::activated, this, [this, combo] {
            auto* self = const_cast<LayerQuantDelegate*>(this);
            emit self->commitData(combo);
            emit self->closeEditor(combo);
        });
        return combo;
    }
    const QVariant lo = index.data(LayerTableModel::MinimumRole);
    const QVariant hi = index.data(LayerTableModel::MaximumRole);
    if (lo.isValid() && hi.isValid()) {
        auto* spin = new QSpinBox(parent);
        spin->setRange(lo.toInt(), hi.toInt());
        spin->setSuffix(QStringLiteral(" bit"));
        spin->setFrame(false);
        return spin;
    }
    return QStyledItemDelegate::createEditor(parent, option, index);
}

void LayerQuantDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
    if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        combo->setCurrentIndex(index.data(Qt::EditRole).toInt());
        return;
    }
    if (auto* spin = qobject_cast<QSpinBox*>(editor)) {
        spin->setValue(index.data(Qt::EditRole).toInt());
        return;
    }
    QStyledItemDelegate::setEditorData(editor, index);
}

void LayerQuantDelegate::setModelData(QWidget* editor, QAbstractItemModel* model,
                                      const QModelIndex& index) const {
    if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        model->setData(index, combo->currentIndex(), Qt::EditRole);
        return;
    }
    if (auto* spin = qobject_cast<QSpinBox*>(editor)) {
        spin->interpretText();
        model->setData(index, spin->value(), Qt::EditRole);
        return;
    }
    QStyledItemDelegate::setModelData(editor, model, index);
}

} // namespace qatui
