// qatlab: the GUI's composition root. Parses the command line, creates the main window
// (or, with --screenshots, renders the documentation screenshots and exits).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QTemporaryDir>

#include "app_icon.h"
#include "app_info.h"
#include "main_window.h"
#include "screenshot_driver.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("QAT Lab"));
    QApplication::setApplicationName(QStringLiteral("qatlab"));
    QApplication::setApplicationDisplayName(QStringLiteral("QAT Lab"));
    QApplication::setApplicationVersion(qatui::appVersion());
    QApplication::setWindowIcon(qatui::appIcon());

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("QAT Lab: float training, PTQ and QAT side by side."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption model(QStringLiteral("model"),
                             QStringLiteral("Model to open: a zoo name or a model file."),
                             QStringLiteral("name-or-file"));
    QCommandLineOption dataset(QStringLiteral("dataset"),
                               QStringLiteral("Dataset: fashion-mnist, fashion-mnist-sample or "
                                              "a directory."),
                               QStringLiteral("name-or-dir"));
    QCommandLineOption dataDir(QStringLiteral("data-dir"),
                               QStringLiteral("Keep the runs database and run files here instead "
                                              "of the user's application data directory."),
                               QStringLiteral("dir"));
    QCommandLineOption screenshots(
        QStringLiteral("screenshots"),
        QStringLiteral("Run a short comparison on the sample data, save screenshots of the main "
                       "window, the comparison and the inspector into <dir>, and exit."),
        QStringLiteral("dir"));
    parser.addOptions({model, dataset, dataDir, screenshots});
    parser.process(app);

    qatui::MainWindowOptions options;
    if (parser.isSet(model))
        options.model = parser.value(model);
    if (parser.isSet(dataset))
        options.dataset = parser.value(dataset);
    if (parser.isSet(dataDir))
        options.paths = qatui::AppPaths::under(parser.value(dataDir));

    if (parser.isSet(screenshots)) {
        // A throw-away data directory and no session restore: the pictures show the default
        // experiment, whatever this user has done before.
        QTemporaryDir temp;
        if (!parser.isSet(dataDir))
            options.paths = qatui::AppPaths::under(temp.path());
        if (!parser.isSet(dataset))
            options.dataset = QStringLiteral("fashion-mnist-sample");
        options.restoreSession = false;
        qatui::ScreenshotDriver driver(options, parser.value(screenshots));
        driver.start();
        return app.exec();
    }

    qatui::MainWindow window(options);
    window.show();
    return app.exec();
}
