// PlanDiffDialog: a table of per-layer plan differences between two runs.
#include "plan_diff_dialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "run_json.h"

namespace qatui {

PlanDiffDialog::PlanDiffDialog(const RunRecord& a, const RunRecord& b, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Plan differences"));
    const auto diffs = diffRuns(a, b);

    auto* header = new QLabel(
        diffs.isEmpty() ? tr("<b>%1</b> and <b>%2</b> have identical plans and settings.")
                              .arg(a.name.toHtmlEscaped(), b.name.toHtmlEscaped())
                        : tr("%n difference(s) between <b>%1</b> (A) and <b>%2</b> (B):", nullptr,
                             static_cast<int>(diffs.size()))
                              .arg(a.name.toHtmlEscaped(), b.name.toHtmlEscaped()));
    header->setWordWrap(true);

    m_table = new QTableWidget(static_cast<int>(diffs.size()), 4);
    m_table->setHorizontalHeaderLabels(
        {tr("Layer"), tr("Field"), tr("A: %1").arg(a.name), tr("B: %1").arg(b.name)});
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    for (int i = 0; i < diffs.size(); ++i) {
        const auto& d = diffs[i];
        m_table->setItem(i, 0, new QTableWidgetItem(d.layer));
        m_table->setItem(i, 1, new QTableWidgetItem(d.field));
        m_table->setItem(i, 2, new QTableWidgetItem(d.a));
        m_table->setItem(i, 3, new QTableWidgetItem(d.b));
    }
    m_table->resizeColumnsToContents();
    m_table->horizontalHeader()->setStretchLastSection(true);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(header);
    layout->addWidget(m_table, 1);
    layout->addWidget(buttons);
    resize(720, 420);
}

} // namespace qatui
