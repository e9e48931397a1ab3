// PlanDiffDialog: the differences between two runs' plans (per layer and field) and
// settings, as a table.
#pragma once

#include <QDialog>

#include "run_record.h"

class QTableWidget;

namespace qatui {

class PlanDiffDialog : public QDialog {
    Q_OBJECT
public:
    PlanDiffDialog(const RunRecord& a, const RunRecord& b, QWidget* parent = nullptr);
    QTableWidget* table() const { return m_table; }

private:
    QTableWidget* m_table = nullptr;
};

} // namespace qatui
