// MainWindow: the app's one window. The Layers tab shows the loaded model and its
// quantization plan (editable per layer, in bulk, or by preset); the Experiment dock holds
// the dataset, the run settings and the run buttons; the Runs dock lists every run
// (persisted in SQLite) and feeds the Comparison and Inspector tabs; the Log dock keeps
// what happened. All engine work goes through EngineController — nothing here calls the
// engine directly.
#pragma once

#include <QMainWindow>
#include <QPointer>
#include <QVector>

#include <memory>

#include "app_paths.h"
#include "engine_types.h"
#include "messages.h"
#include "run_settings.h"

class QAction;
class QComboBox;
class QLabel;
class QMenu;
class QSortFilterProxyModel;
class QTableView;
class QTabWidget;
class QTimer;

namespace qatui {

class BulkEditBar;
class ComparisonView;
class EngineController;
class ExportDialog;
class LayerInspector;
class LayerTableModel;
class LiveCurves;
class LogPanel;
class RunPanel;
class RunStore;
class RunsTableModel;

struct MainWindowOptions {
    AppPaths paths = AppPaths::defaults();
    QString model = QStringLiteral("cnn-bn");
    QString dataset = QStringLiteral("fashion-mnist");
    QString preset = QStringLiteral("int8");
    // Restore window geometry, run settings and the last experiment from QSettings.
    bool restoreSession = true;
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(MainWindowOptions options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    // What the menus, toolbar and buttons do (public for tests and the screenshot driver).
    // A zoo name or a model file; ONNX / .tflite files are imported with `import` (or, when
    // empty, with the settings last used for that file).
    void openModel(const QString& source, const ImportSettings& import = {});
    void chooseDataset(const QString& name);
    void applyPreset(const QString& preset);
    bool startRun();      // one run of the kind chosen in the Experiment dock
    bool runComparison(); // float (or a cached float run), then PTQ and QAT from it
    void cancelRuns();
    ExportDialog* exportSelectedRun();
    void deleteSelectedRuns();
    void diffSelectedRuns();
    void renameRun(qint64 id, const QString& name);
    void selectRuns(const QVector<qint64>& ids);
    QVector<RunRecord> selectedRuns() const;

    // State.
    EngineController* engine() const { return m_engine; }
    LayerTableModel* layerModel() const { return m_layerModel; }
    RunsTableModel* runsModel() const { return m_runsModel; }
    RunPanel* runPanel() const { return m_runPanel; }
    BulkEditBar* bulkEditBar() const { return m_bulkEdit; }
    QTableView* layerView() const { return m_layerView; }
    QTableView* runsView() const { return m_runsView; }
    QTabWidget* tabs() const { return m_tabs; }
    LogPanel* logPanel() const { return m_log; }
    QString modelSource() const { return m_modelSource; }
    QString datasetName() const { return m_datasetName; }
    bool isModelReady() const;
    bool isDatasetReady() const { return m_dataset.data != nullptr; }
    bool isCompatible() const { return m_compatibilityError.isEmpty(); }
    bool isPlanValid() const { return m_planValid; }
    QString planStatus() const;
    bool isBusy() const;
    const MainWindowOptions& options() const { return m_options; }

    // The tab pages.
    QWidget* layersPage() const { return m_layersPage; }
    LiveCurves* liveCurves() const { return m_liveCurves; }
    ComparisonView* comparisonView() const { return m_comparison; }
    LayerInspector* inspector() const { return m_inspector; }

signals:
    void experimentReady();       // a model/dataset load finished (ok or not)
    void planChecked(bool valid); // a plan validation finished
    void runAdded(const qatui::RunRecord& run);
    void jobDone(bool cancelled, const QString& error);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    void createMenus();
    void createToolBar();
    void createLayersPage();
    void createDocks();
    void loadRuns();
    void restoreSession();
    void saveSession();

    void inspect(const QString& model, const QString& dataset, const ImportSettings& import);
    static ImportSettings storedImport(const QString& path);
    static void storeImport(const QString& path, const ImportSettings& import);
    void onInspected(const ExperimentInfo& info);
    void onPlanBuilt(const PlanResult& result);
    void onPlanValidated(const PlanValidation& result);
    void onPlanEdited();
    void validatePlan();
    void onRunFinished(quint64 jobId, const RunRecord& run);
    void onJobFinished(quint64 jobId, bool cancelled, const QString& error);
    void onStepStarted(quint64 jobId, int step, int steps, const QString& name, qat::RunKind kind);
    void onRunsSelectionChanged();
    void onLayerSelectionChanged();
    void updateComparison();
    void pollProgress();
    void updateActions();
    void updateModelHeader();
    void updateStartFromRuns();
    void rebuildRecentMenu();
    void addRecentModel(const QString& path);
    void chooseModelFile();
    void chooseDatasetDirectory();
    void showQuickGuide();
    void showAbout();

    QString runName(qat::RunKind kind, const RunSettings& s) const;
    QString startLabel(const QString& model, quint64 seed) const;
    const RunRecord* findRun(qint64 id) const;
    const RunRecord* findCachedFloatRun(const qat::RunSpec& floatSpec, const QString& label) const;
    // Sends a message to the log, the status bar and (warnings, errors) the user.
    void report(Severity severity, const QString& title, const QString& text);
    bool canStart(qat::RunKind kind, QString* why) const;

    MainWindowOptions m_options;
    EngineController* m_engine = nullptr;
    std::unique_ptr<RunStore> m_store;

    // Experiment state.
    QString m_modelSource;
    ImportSettings m_import; // how m_modelSource was imported (ONNX / .tflite)
    QString m_datasetName;
    DatasetInfo m_dataset;
    QString m_compatibilityError;
    QString m_preset;
    bool m_planValid = false;
    QString m_planMessage;
    quint64 m_inspectId = 0;
    quint64 m_planId = 0;
    quint64 m_validateId = 0;
    bool m_inspecting = false;

    // Jobs.
    struct JobInfo {
        quint64 id = 0;
        bool comparison = false;
        qint64 reusedFloatRun = 0;
        QVector<qint64> runIds;
    };
    QVector<JobInfo> m_jobs;

    // Widgets.
    QTabWidget* m_tabs = nullptr;
    QWidget* m_layersPage = nullptr;
    QLabel* m_modelHeader = nullptr;
    QComboBox* m_presetCombo = nullptr;
    QLabel* m_planStatus = nullptr;
    QTableView* m_layerView = nullptr;
    LayerTableModel* m_layerModel = nullptr;
    BulkEditBar* m_bulkEdit = nullptr;
    LiveCurves* m_liveCurves = nullptr;
    ComparisonView* m_comparison = nullptr;
    LayerInspector* m_inspector = nullptr;
    bool m_syncingLayer = false;
    bool m_closing = false; // closeEvent ran: a run cancelled by closing is not recorded
    RunPanel* m_runPanel = nullptr;
    QTableView* m_runsView = nullptr;
    RunsTableModel* m_runsModel = nullptr;
    QSortFilterProxyModel* m_runsProxy = nullptr;
    LogPanel* m_log = nullptr;
    QLabel* m_statusExperiment = nullptr;
    QLabel* m_statusJob = nullptr;
    QTimer* m_progressTimer = nullptr;
    QPointer<ExportDialog> m_exportDialog;

    // Actions.
    QAction* m_openFileAction = nullptr;
    QAction* m_chooseDatasetAction = nullptr;
    QAction* m_exportAction = nullptr;
    QAction* m_quitAction = nullptr;
    QAction* m_renameAction = nullptr;
    QAction* m_deleteAction = nullptr;
    QAction* m_diffAction = nullptr;
    QAction* m_comparisonAction = nullptr;
    QAction* m_startAction = nullptr;
    QAction* m_cancelAction = nullptr;
    QMenu* m_zooMenu = nullptr;
    QMenu* m_recentMenu = nullptr;
    QMenu* m_presetMenu = nullptr;
};

} // namespace qatui
