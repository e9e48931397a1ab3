// Message and confirmation routing (see messages.h).
#include "messages.h"

#include <QMessageBox>

namespace qatui {

namespace {

MessageHandler& messageHandler() {
    static MessageHandler h;
    return h;
}
ConfirmHandler& confirmHandler() {
    static ConfirmHandler h;
    return h;
}

} // namespace

QString severityName(Severity s) {
    switch (s) {
    case Severity::Info:
        return QStringLiteral("info");
    case Severity::Warning:
        return QStringLiteral("warning");
    case Severity::Error:
        return QStringLiteral("error");
    }
    return {};
}

void setMessageHandler(MessageHandler handler) {
    messageHandler() = std::move(handler);
}
void setConfirmHandler(ConfirmHandler handler) {
    confirmHandler() = std::move(handler);
}

void showMessage(QWidget* parent, Severity severity, const QString& title, const QString& text) {
    if (messageHandler()) {
        messageHandler()(severity, title, text);
        return;
    }
    const auto icon = severity == Severity::Error     ? QMessageBox::Critical
                      : severity == Severity::Warning ? QMessageBox::Warning
                                                      : QMessageBox::Information;
    // open(), not exec(): no nested event loop inside whatever slot reported the problem.
    auto* box = new QMessageBox(icon, title, text, QMessageBox::Ok, parent);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

bool confirm(QWidget* parent, const QString& title, const QString& text) {
    if (confirmHandler())
        return confirmHandler()(title, text);
    return QMessageBox::question(parent, title, text, QMessageBox::Yes | QMessageBox::No,
                                 QMessageBox::No) == QMessageBox::Yes;
}

} // namespace qatui
