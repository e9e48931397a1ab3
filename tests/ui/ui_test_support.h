// Shared helpers for the GUI tests: an isolated environment (temp QSettings, data dir and
// runs database), captured messages instead of modal boxes, fast run settings for the
// bundled Fashion-MNIST sample, and waiting for asynchronous window state.
#pragma once

#include <QApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QStringList>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <memory>

#include "main_window.h"
#include "messages.h"
#include "run_panel.h"
#include "run_settings.h"
#include "runs_table_model.h"

namespace qatui::testing {

inline constexpr int kLoadTimeoutMs = 60000;
inline constexpr int kRunTimeoutMs = 90000;

// Temp settings and data; messages captured instead of shown.
class TestEnvironment {
public:
    TestEnvironment() {
        QStandardPaths::setTestModeEnabled(true);
        QApplication::setOrganizationName(QStringLiteral("QAT Lab Tests"));
        QApplication::setApplicationName(QStringLiteral("qatlab-tests"));
        QSettings::setDefaultFormat(QSettings::IniFormat);
        QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_dir.filePath("settings"));
        setMessageHandler([this](Severity s, const QString& title, const QString& text) {
            messages.push_back({s, title, text});
        });
        setConfirmHandler([this](const QString&, const QString&) { return confirmAnswer; });
    }
    ~TestEnvironment() {
        setMessageHandler({});
        setConfirmHandler({});
    }

    struct Message {
        Severity severity;
        QString title;
        QString text;
    };
    QVector<Message> messages;
    bool confirmAnswer = true;

    QString path(const QString& name) const { return m_dir.filePath(name); }
    AppPaths appPaths() const { return AppPaths::under(m_dir.filePath(QStringLiteral("data"))); }

    MainWindowOptions options(const QString& dataset = QStringLiteral("fashion-mnist-sample"),
                              const QString& model = QStringLiteral("cnn-bn")) const {
        MainWindowOptions o;
        o.paths = appPaths();
        o.dataset = dataset;
        o.model = model;
        o.restoreSession = false;
        return o;
    }

    int count(Severity s) const {
        int n = 0;
        for (const auto& m : messages)
            n += m.severity == s ? 1 : 0;
        return n;
    }
    QString dump() const {
        QStringList lines;
        for (const auto& m : messages)
            lines << QStringLiteral("[%1] %2: %3").arg(severityName(m.severity), m.title, m.text);
        return lines.join('\n');
    }

private:
    QTemporaryDir m_dir;
};

// Small, quick and still real: a few hundred sample images, one epoch.
inline RunSettings fastSettings() {
    RunSettings s;
    s.floatEpochs = 1;
    s.qatEpochs = 1;
    s.floatLr = 2e-3;
    s.qatLr = 1e-4;
    s.batch = 32;
    s.calibrationBatches = 4;
    s.limitTrain = 320;
    s.limitTest = 150;
    s.measureLatency = false;
    s.latencyRepeats = 3;
    return s;
}

// Waits until the window has loaded its model and dataset and checked its plan.
inline bool waitReady(MainWindow& w, int timeoutMs = kLoadTimeoutMs) {
    return QTest::qWaitFor(
        [&] { return w.isModelReady() && w.isDatasetReady() && w.isPlanValid(); }, timeoutMs);
}

// Runs `start` and waits for the job it starts to end; returns (finished, cancelled, error).
struct JobOutcome {
    bool finished = false;
    bool cancelled = false;
    QString error;
};
inline JobOutcome runAndWait(MainWindow& w, const std::function<bool()>& start,
                             int timeoutMs = kRunTimeoutMs) {
    JobOutcome out;
    auto conn = QObject::connect(&w, &MainWindow::jobDone, [&](bool cancelled, const QString& e) {
        out.finished = true;
        out.cancelled = cancelled;
        out.error = e;
    });
    if (start() && !QTest::qWaitFor([&] { return out.finished; }, timeoutMs))
        out.error = QStringLiteral("timed out after %1 ms").arg(timeoutMs);
    QObject::disconnect(conn);
    return out;
}

} // namespace qatui::testing
