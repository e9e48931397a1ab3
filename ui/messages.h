// User-facing messages and confirmations go through these functions, never straight to
// QMessageBox, so that tests (and the screenshot driver) can capture them instead of
// blocking on a modal dialog. Every message is also sent to the log panel by its caller.
#pragma once

#include <QString>

#include <functional>

class QWidget;

namespace qatui {

enum class Severity { Info, Warning, Error };
QString severityName(Severity s);

using MessageHandler = std::function<void(Severity, const QString& title, const QString& text)>;
using ConfirmHandler = std::function<bool(const QString& title, const QString& text)>;

// Replaces the default (a window-modal, non-blocking QMessageBox); pass {} to restore it.
void setMessageHandler(MessageHandler handler);
// Replaces the default (a blocking question box); pass {} to restore it.
void setConfirmHandler(ConfirmHandler handler);

void showMessage(QWidget* parent, Severity severity, const QString& title, const QString& text);
bool confirm(QWidget* parent, const QString& title, const QString& text);

} // namespace qatui
