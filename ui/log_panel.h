// LogPanel: the log dock — timestamped info, warnings and errors from the engine and the
// app, newest at the bottom.
#pragma once

#include <QStringList>
#include <QWidget>

#include "messages.h"

class QPlainTextEdit;

namespace qatui {

class LogPanel : public QWidget {
    Q_OBJECT
public:
    explicit LogPanel(QWidget* parent = nullptr);
    void append(Severity severity, const QString& text);
    QString plainText() const;

private:
    QPlainTextEdit* m_text = nullptr;
};

} // namespace qatui
