// ScreenshotDriver: renders the documentation screenshots. Opens the main window on the
// default experiment (sample data, throw-away data directory), runs a short comparison,
// selects a layer, and saves the main window with the Layers, Comparison and Inspector
// tabs showing (QWidget::grab) as PNGs. Quits the application with 0 on success.
#pragma once

#include <QObject>
#include <QString>

#include <memory>

#include "main_window.h"

class QTimer;

namespace qatui {

class ScreenshotDriver : public QObject {
    Q_OBJECT
public:
    ScreenshotDriver(MainWindowOptions options, QString outputDir, QObject* parent = nullptr);
    ~ScreenshotDriver() override;
    void start();

private:
    void onExperimentReady();
    void onJobDone(bool cancelled, const QString& error);
    void capture();
    bool save(const QString& tabTitle, const QString& file);
    void fail(const QString& message);

    MainWindowOptions m_options;
    QString m_outputDir;
    std::unique_ptr<MainWindow> m_window;
    bool m_started = false;
};

} // namespace qatui
