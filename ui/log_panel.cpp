// LogPanel: an append-only, colour-coded message log.
#include "log_panel.h"

#include <QDateTime>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace qatui {

LogPanel::LogPanel(QWidget* parent) : QWidget(parent) {
    m_text = new QPlainTextEdit;
    m_text->setReadOnly(true);
    m_text->setMaximumBlockCount(5000);
    m_text->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    auto* clear = new QPushButton(tr("Clear"));
    clear->setToolTip(tr("Clear the log"));
    connect(clear, &QPushButton::clicked, m_text, &QPlainTextEdit::clear);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(m_text, 1);
    layout->addWidget(clear, 0, Qt::AlignRight);
}

void LogPanel::append(Severity severity, const QString& text) {
    const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
    const QString style = severity == Severity::Error     ? QStringLiteral(" style='color:#b00020'")
                          : severity == Severity::Warning ? QStringLiteral(" style='color:#a65f00'")
                                                          : QString();
    const QString tag =
        severity == Severity::Info ? QString() : severityName(severity).toUpper() + ": ";
    m_text->appendHtml(
        QStringLiteral("<span style='color:gray'>%1</span> "
                       "<span%2>%3%4</span>")
            .arg(time, style, tag, text.toHtmlEscaped().replace('\n', QStringLiteral("<br>"))));
}

QString LogPanel::plainText() const {
    return m_text->toPlainText();
}

} // namespace qatui
