// ScreenshotDriver: a short scripted session that saves PNGs of the main window.
#include "screenshot_driver.h"

#include <QApplication>
#include <QDir>
#include <QItemSelectionModel>
#include <QPixmap>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QTimer>

#include <cstdio>

#include "layer_table_model.h"
#include "messages.h"
#include "run_panel.h"

namespace qatui {

namespace {

constexpr int kWidth = 1920;
constexpr int kHeight = 1200;
constexpr int kTimeoutMs = 15 * 60 * 1000;
// Time for the charts and the inspector to finish their background work and redraw.
constexpr int kSettleMs = 4000;

} // namespace

ScreenshotDriver::ScreenshotDriver(MainWindowOptions options, QString outputDir, QObject* parent)
    : QObject(parent), m_options(std::move(options)), m_outputDir(std::move(outputDir)) {}

ScreenshotDriver::~ScreenshotDriver() {
    setMessageHandler({});
}

void ScreenshotDriver::start() {
    // Messages go to stderr: a modal box would stall an unattended run.
    setMessageHandler([this](Severity s, const QString& title, const QString& text) {
        std::fprintf(stderr, "screenshots: %s: %s: %s\n", qPrintable(severityName(s)),
                     qPrintable(title), qPrintable(text));
        if (s == Severity::Error)
            fail(title + ": " + text);
    });
    if (!QDir().mkpath(m_outputDir)) {
        fail(QStringLiteral("cannot create %1").arg(m_outputDir));
        return;
    }
    m_window = std::make_unique<MainWindow>(m_options);
    connect(m_window.get(), &MainWindow::experimentReady, this,
            &ScreenshotDriver::onExperimentReady);
    connect(m_window.get(), &MainWindow::jobDone, this, &ScreenshotDriver::onJobDone);
    m_window->resize(kWidth, kHeight);
    m_window->show();
    QTimer::singleShot(kTimeoutMs, this, [this] { fail(QStringLiteral("timed out")); });
}

void ScreenshotDriver::onExperimentReady() {
    if (m_started || !m_window->isModelReady())
        return;
    m_started = true;
    // Short but real: the sample's 600 training images, a few epochs.
    RunSettings s;
    s.floatEpochs = 4;
    s.qatEpochs = 2;
    s.batch = 32;
    s.calibrationBatches = 8;
    s.latencyRepeats = 10;
    m_window->runPanel()->setSettings(s);
    // The plan must have been validated before a quantized run can start.
    auto go = [this] {
        if (!m_window->runComparison())
            fail(QStringLiteral("the comparison did not start"));
    };
    if (m_window->isPlanValid())
        go();
    else
        connect(
            m_window.get(), &MainWindow::planChecked, this, [go](bool) { go(); },
            Qt::SingleShotConnection);
}

void ScreenshotDriver::onJobDone(bool cancelled, const QString& error) {
    if (cancelled || !error.isEmpty()) {
        fail(cancelled ? QStringLiteral("the comparison was cancelled") : error);
        return;
    }
    // Show a convolution in the inspector and in the table.
    const int row = m_window->layerModel()->rowOf(QStringLiteral("conv2"));
    if (row >= 0)
        m_window->layerView()->selectRow(row);
    QTimer::singleShot(kSettleMs, this, &ScreenshotDriver::capture);
}

bool ScreenshotDriver::save(const QString& tabTitle, const QString& file) {
    QTabWidget* tabs = m_window->tabs();
    int index = -1;
    for (int i = 0; i < tabs->count(); ++i)
        if (tabs->tabText(i).remove('&') == tabTitle)
            index = i;
    if (index < 0) {
        fail(QStringLiteral("the window has no %1 tab").arg(tabTitle));
        return false;
    }
    tabs->setCurrentIndex(index);
    // Let the tab lay out and repaint (charts replot on their own timers).
    for (int i = 0; i < 20; ++i) {
        QApplication::processEvents();
        QThread::msleep(50);
    }
    const QString path = QDir(m_outputDir).filePath(file);
    if (!m_window->grab().save(path)) {
        fail(QStringLiteral("cannot write %1").arg(path));
        return false;
    }
    std::fprintf(stderr, "screenshots: wrote %s\n", qPrintable(path));
    return true;
}

void ScreenshotDriver::capture() {
    if (save(QStringLiteral("Layers"), QStringLiteral("main-window.png")) &&
        save(QStringLiteral("Comparison"), QStringLiteral("comparison.png")) &&
        save(QStringLiteral("Inspector"), QStringLiteral("inspector.png")))
        QApplication::exit(0);
}

void ScreenshotDriver::fail(const QString& message) {
    std::fprintf(stderr, "screenshots: failed: %s\n", qPrintable(message));
    QApplication::exit(1);
}

} // namespace qatui
