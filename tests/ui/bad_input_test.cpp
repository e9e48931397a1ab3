// Bad input leaves the window usable: a corrupt model file, a missing file, a dataset
// directory whose images do not fit the model, and a directory that holds no dataset
// each produce a message (captured here instead of a modal box), keep what was loaded
// before, and a run can still be started afterwards.
#include <QAction>
#include <QDir>
#include <QFile>
#include <QTest>

#include "layer_table_model.h"
#include "qat/model_io.h"
#include "ui_test_support.h"

using namespace qatui;
using namespace qatui::testing;

class BadInputTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void corruptModelFileShowsMessage();
    void missingModelFileShowsMessage();
    void mismatchedDatasetShowsMessage();
    void directoryWithoutDatasetShowsMessage();
    void windowStillRuns();
    void cleanupTestCase();

private:
    // Waits for the next model/dataset load to finish.
    bool waitLoad(const std::function<void()>& action);

    std::unique_ptr<TestEnvironment> m_env;
    std::unique_ptr<MainWindow> m_window;
};

void BadInputTest::initTestCase() {
    m_env = std::make_unique<TestEnvironment>();
    m_window = std::make_unique<MainWindow>(m_env->options());
    m_window->show();
    QVERIFY2(waitReady(*m_window), qPrintable(m_env->dump()));
    QCOMPARE(m_env->messages.size(), 0);
}

bool BadInputTest::waitLoad(const std::function<void()>& action) {
    bool done = false;
    auto c = connect(m_window.get(), &MainWindow::experimentReady, this, [&] { done = true; });
    action();
    const bool ok = QTest::qWaitFor([&] { return done; }, kLoadTimeoutMs);
    disconnect(c);
    return ok;
}

void BadInputTest::corruptModelFileShowsMessage() {
    const QString path = m_env->path("corrupt.qatm");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("QATMODEL");
    f.write(QByteArray(300, '\x7f')); // a valid magic, then garbage
    f.close();
    m_env->messages.clear();
    QVERIFY(waitLoad([&] { m_window->openModel(path); }));
    QCOMPARE(m_env->count(Severity::Error), 1);
    QVERIFY2(m_env->messages.first().text.contains("corrupt.qatm"), qPrintable(m_env->dump()));
    // The previous model stays loaded and usable.
    QCOMPARE(m_window->modelSource(), QStringLiteral("cnn-bn"));
    QVERIFY(m_window->isModelReady());
    QVERIFY(m_window->layerModel()->rowOf("conv1") >= 0);
}

void BadInputTest::missingModelFileShowsMessage() {
    m_env->messages.clear();
    QVERIFY(waitLoad([&] { m_window->openModel(m_env->path("does-not-exist.qatm")); }));
    QCOMPARE(m_env->count(Severity::Error), 1);
    QVERIFY2(m_env->messages.first().text.contains("does-not-exist.qatm"),
             qPrintable(m_env->dump()));
    QCOMPARE(m_window->modelSource(), QStringLiteral("cnn-bn"));
}

void BadInputTest::mismatchedDatasetShowsMessage() {
    // A trained-model file has a fixed input (28x28x1); a CIFAR-10 directory has 32x32x3.
    auto graph = qat::loadModelOrZoo("mnist-cnn", std::nullopt, 1);
    QVERIFY(graph.isOk());
    const QString modelPath = m_env->path("mnist-cnn-28x28.qatm");
    QVERIFY(qat::saveModel(graph.value(), modelPath.toStdString()).isOk());
    QVERIFY(waitLoad([&] { m_window->openModel(modelPath); }));
    QCOMPARE(m_window->modelSource(), modelPath);

    const QString cifar = m_env->path("cifar");
    QVERIFY(QDir().mkpath(cifar));
    for (const char* name : {"data_batch_1.bin", "test_batch.bin"}) {
        QFile f(QDir(cifar).filePath(QString::fromLatin1(name)));
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 0; i < 20; ++i) {
            f.write(QByteArray(1, char(i % 10)));   // label
            f.write(QByteArray(3072, char(i * 7))); // 32x32x3 pixels
        }
    }
    m_env->messages.clear();
    QVERIFY(waitLoad([&] { m_window->chooseDataset(cifar); }));
    QCOMPARE(m_window->datasetName(), cifar);
    QVERIFY(!m_window->isCompatible());
    QCOMPARE(m_env->count(Severity::Warning), 1);
    QVERIFY2(m_env->messages.first().text.contains("32x32x3") ||
                 m_env->messages.first().text.contains("[32"),
             qPrintable(m_env->dump()));
    // Nothing can start on a dataset that does not fit, and trying says why.
    m_window->runPanel()->setKind(qat::RunKind::Float);
    m_env->messages.clear();
    QVERIFY(!m_window->startRun());
    QVERIFY(!m_window->isBusy());
    QCOMPARE(m_env->count(Severity::Warning), 1);

    // Back to a fitting dataset: compatible again.
    QVERIFY(waitLoad([&] { m_window->chooseDataset("fashion-mnist-sample"); }));
    QVERIFY(m_window->isCompatible());
}

void BadInputTest::directoryWithoutDatasetShowsMessage() {
    const QString empty = m_env->path("empty-dir");
    QVERIFY(QDir().mkpath(empty));
    m_env->messages.clear();
    QVERIFY(waitLoad([&] { m_window->chooseDataset(empty); }));
    QCOMPARE(m_env->count(Severity::Error), 1);
    QVERIFY2(m_env->messages.first().text.contains("empty-dir"), qPrintable(m_env->dump()));
    QCOMPARE(m_window->datasetName(), QStringLiteral("fashion-mnist-sample"));
    QVERIFY(m_window->isDatasetReady());
}

void BadInputTest::windowStillRuns() {
    QVERIFY(waitLoad([&] { m_window->openModel("cnn-bn"); }));
    QVERIFY(waitReady(*m_window));
    m_window->runPanel()->setSettings(fastSettings());
    m_window->runPanel()->setKind(qat::RunKind::Float);
    const auto outcome = runAndWait(*m_window, [&] { return m_window->startRun(); });
    QVERIFY2(outcome.finished && outcome.error.isEmpty(), qPrintable(outcome.error));
    QCOMPARE(m_window->runsModel()->rowCount(), 1);
}

void BadInputTest::cleanupTestCase() {
    m_window.reset();
    m_env.reset();
}

QTEST_MAIN(BadInputTest)
#include "bad_input_test.moc"
