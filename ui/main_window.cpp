// MainWindow: menus, docks, tabs, and the wiring between the widgets and EngineController.
#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QScrollArea>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "app_icon.h"
#include "bulk_edit_bar.h"
#include "charts/comparison_view.h"
#include "charts/live_curves.h"
#include "engine_controller.h"
#include "export_dialog.h"
#include "import_dialog.h"
#include "inspector/layer_inspector.h"
#include "layer_delegate.h"
#include "layer_table_model.h"
#include "log_panel.h"
#include "plan_diff_dialog.h"
#include "qat/model_io.h"
#include "run_json.h"
#include "run_panel.h"
#include "run_store.h"
#include "runs_table_model.h"

static void initQatLabResources() {
    Q_INIT_RESOURCE(qatlab);
}

namespace qatui {

namespace {

constexpr int kMaxRecent = 8;
constexpr int kStateVersion = 1;
const char* const kModelFilter =
    "Models (*.qatm *.json *.onnx *.tflite);;QAT Lab models (*.qatm "
    "*.json);;ONNX (*.onnx);;TensorFlow Lite (*.tflite);;All files (*)";

QString percent(double v) {
    return formatAccuracy(v);
}

} // namespace

MainWindow::MainWindow(MainWindowOptions options, QWidget* parent)
    : QMainWindow(parent), m_options(std::move(options)) {
    initQatLabResources();
    setWindowTitle(tr("QAT Lab"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);

    m_engine = new EngineController(this);
    m_preset = m_options.preset;

    createActions();
    createLayersPage();
    createDocks();
    createMenus();
    createToolBar();

    m_tabs = new QTabWidget;
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(m_layersPage, tr("&Layers"));
    m_tabs->setTabToolTip(0, tr("The model's layers and their quantization plan"));
    m_liveCurves = new LiveCurves;
    m_tabs->addTab(m_liveCurves, tr("&Training"));
    m_tabs->setTabToolTip(1, tr("Loss and accuracy of the run in progress"));
    m_comparison = new ComparisonView;
    m_tabs->addTab(m_comparison, tr("&Comparison"));
    m_tabs->setTabToolTip(2, tr("The selected runs side by side (all runs when none is selected)"));
    m_inspector = new LayerInspector;
    m_tabs->addTab(m_inspector, tr("&Inspector"));
    m_tabs->setTabToolTip(3, tr("How the selected run quantizes the selected layer"));
    connect(m_inspector, &LayerInspector::layerChosen, this, [this](const QString& layer) {
        const int row = m_layerModel->rowOf(layer);
        if (row < 0 || m_syncingLayer)
            return;
        m_syncingLayer = true;
        m_layerView->selectRow(row);
        m_syncingLayer = false;
    });
    connect(m_inspector, &LayerInspector::inspectionFailed, this,
            [this](const QString& message) { m_log->append(Severity::Warning, message); });
    setCentralWidget(m_tabs);

    m_statusExperiment = new QLabel;
    m_statusJob = new QLabel(tr("Idle"));
    statusBar()->addPermanentWidget(m_statusExperiment);
    statusBar()->addPermanentWidget(m_statusJob);

    connect(m_engine, &EngineController::inspected, this, &MainWindow::onInspected);
    connect(m_engine, &EngineController::planBuilt, this, &MainWindow::onPlanBuilt);
    connect(m_engine, &EngineController::planValidated, this, &MainWindow::onPlanValidated);
    connect(m_engine, &EngineController::runFinished, this, &MainWindow::onRunFinished);
    connect(m_engine, &EngineController::jobFinished, this, &MainWindow::onJobFinished);
    connect(m_engine, &EngineController::stepStarted, this, &MainWindow::onStepStarted);
    connect(m_engine, &EngineController::busyChanged, this, &MainWindow::updateActions);
    connect(m_engine, &EngineController::curvePoints, this,
            [this](quint64, const QVector<qat::CurvePoint>& points) {
                for (const auto& p : points)
                    m_liveCurves->addPoint(p);
            });
    connect(m_engine, &EngineController::epochDone, this,
            [this](quint64, const qat::EpochResult& e) { m_liveCurves->addEpoch(e); });
    connect(m_runsModel, &QAbstractItemModel::rowsInserted, this, &MainWindow::updateComparison);
    connect(m_runsModel, &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateComparison);
    connect(m_runsModel, &QAbstractItemModel::modelReset, this, &MainWindow::updateComparison);
    connect(m_runsModel, &QAbstractItemModel::dataChanged, this, &MainWindow::updateComparison);

    m_progressTimer = new QTimer(this);
    m_progressTimer->setInterval(100); // the progress text redraws at 10 Hz, not per signal
    connect(m_progressTimer, &QTimer::timeout, this, &MainWindow::pollProgress);
    m_progressTimer->start();

    resize(1400, 900);
    if (m_options.restoreSession)
        restoreSession();
    loadRuns();
    rebuildRecentMenu();
    updateActions();

    m_runPanel->setDatasetName(m_options.dataset);
    inspect(m_options.model, m_options.dataset, storedImport(m_options.model));
}

MainWindow::~MainWindow() {
    // Stop the worker before the widgets its queued results would reach go away.
    m_engine->shutdown();
}

// ---------------------------------------------------------------------------------------
// Construction

void MainWindow::createActions() {
    m_openFileAction = new QAction(tr("&Open Model File…"), this);
    m_openFileAction->setShortcut(QKeySequence::Open);
    m_openFileAction->setStatusTip(
        tr("Open a model file: QAT Lab (.qatm, .json), ONNX (.onnx) or float TensorFlow Lite "
           "(.tflite)"));
    connect(m_openFileAction, &QAction::triggered, this, &MainWindow::chooseModelFile);

    m_chooseDatasetAction = new QAction(tr("Choose &Dataset Directory…"), this);
    m_chooseDatasetAction->setStatusTip(
        tr("Use a directory with MNIST-format IDX files, CIFAR-10 binary batches, or PNG/JPEG "
           "images in one subdirectory per class"));
    connect(m_chooseDatasetAction, &QAction::triggered, this, &MainWindow::chooseDatasetDirectory);

    m_exportAction = new QAction(tr("&Export Run as TFLite…"), this);
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    m_exportAction->setStatusTip(tr("Write the selected run as a .tflite file"));
    connect(m_exportAction, &QAction::triggered, this, [this] { exportSelectedRun(); });

    m_quitAction = new QAction(tr("&Quit"), this);
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

    m_renameAction = new QAction(tr("&Rename Run"), this);
    m_renameAction->setShortcut(QKeySequence(Qt::Key_F2));
    m_renameAction->setStatusTip(tr("Rename the selected run"));
    connect(m_renameAction, &QAction::triggered, this, [this] {
        const QModelIndex current = m_runsView->currentIndex();
        if (current.isValid())
            m_runsView->edit(current.siblingAtColumn(RunsTableModel::Name));
    });

    m_deleteAction = new QAction(tr("&Delete Runs"), this);
    m_deleteAction->setShortcut(QKeySequence::Delete);
    m_deleteAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_deleteAction->setStatusTip(tr("Delete the selected runs and their model files"));
    connect(m_deleteAction, &QAction::triggered, this, &MainWindow::deleteSelectedRuns);

    m_diffAction = new QAction(tr("D&iff Plans"), this);
    m_diffAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
    m_diffAction->setStatusTip(tr("List the plan and settings differences of two selected runs"));
    connect(m_diffAction, &QAction::triggered, this, &MainWindow::diffSelectedRuns);

    m_comparisonAction = new QAction(tr("Run &Comparison"), this);
    m_comparisonAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_comparisonAction->setToolTip(
        tr("Train float (or reuse a matching float run), then PTQ and QAT from it, and compare "
           "them (Ctrl+R)"));
    m_comparisonAction->setStatusTip(m_comparisonAction->toolTip());
    connect(m_comparisonAction, &QAction::triggered, this, [this] { runComparison(); });

    m_startAction = new QAction(tr("&Start"), this);
    m_startAction->setShortcuts(
        {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
    m_startAction->setToolTip(tr("Start one run of the chosen kind (Ctrl+Return)"));
    m_startAction->setStatusTip(m_startAction->toolTip());
    connect(m_startAction, &QAction::triggered, this, [this] { startRun(); });

    m_cancelAction = new QAction(tr("Ca&ncel"), this);
    m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
    m_cancelAction->setToolTip(tr("Cancel the running job (Esc)"));
    m_cancelAction->setStatusTip(m_cancelAction->toolTip());
    connect(m_cancelAction, &QAction::triggered, this, &MainWindow::cancelRuns);

    for (QAction* a : {m_comparisonAction, m_startAction, m_cancelAction, m_exportAction,
                       m_renameAction, m_diffAction})
        addAction(a); // shortcuts work wherever the focus is
}

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    m_zooMenu = file->addMenu(tr("Open &Zoo Model"));
    m_zooMenu->setStatusTip(tr("Built-in models"));
    for (const auto& name : qat::zooModelNames()) {
        const QString n = QString::fromStdString(name);
        m_zooMenu->addAction(n, this, [this, n] { openModel(n); });
    }
    file->addAction(m_openFileAction);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    file->addAction(m_chooseDatasetAction);
    file->addSeparator();
    file->addAction(m_exportAction);
    file->addSeparator();
    file->addAction(m_quitAction);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(m_renameAction);
    edit->addAction(m_deleteAction);
    edit->addAction(m_diffAction);
    edit->addSeparator();
    m_presetMenu = edit->addMenu(tr("Apply &Preset"));
    for (const auto& name : qat::presetNames()) {
        const QString n = QString::fromStdString(name);
        m_presetMenu->addAction(n, this, [this, n] { applyPreset(n); });
    }
    QAction* selectAll = edit->addAction(tr("Select All &Layers"), this, [this] {
        m_tabs->setCurrentWidget(m_layersPage);
        m_layerView->selectAll();
        m_layerView->setFocus();
    });
    selectAll->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(m_comparisonAction);
    run->addSeparator();
    run->addAction(m_startAction);
    run->addAction(m_cancelAction);
    run->addSeparator();
    auto* kinds = new QActionGroup(this);
    for (auto [kind, label] : {std::pair{qat::RunKind::Float, tr("Kind: &Float Training")},
                               std::pair{qat::RunKind::Ptq, tr("Kind: &PTQ")},
                               std::pair{qat::RunKind::Qat, tr("Kind: &QAT")}}) {
        QAction* a = run->addAction(label);
        a->setCheckable(true);
        a->setChecked(kind == m_runPanel->kind());
        kinds->addAction(a);
        const qat::RunKind k = kind;
        connect(a, &QAction::triggered, this, [this, k] { m_runPanel->setKind(k); });
        connect(m_runPanel, &RunPanel::kindChanged, a,
                [this, a, k] { a->setChecked(m_runPanel->kind() == k); });
    }

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (auto* dock : findChildren<QDockWidget*>())
        view->addAction(dock->toggleViewAction());
    view->addSeparator();
    for (int i = 0; i < 4; ++i) {
        QAction* a = view->addAction(tr("Tab %1").arg(i + 1));
        a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
        connect(a, &QAction::triggered, this, [this, i] {
            if (i < m_tabs->count())
                m_tabs->setCurrentIndex(i);
        });
        connect(view, &QMenu::aboutToShow, a, [this, a, i] {
            a->setVisible(i < m_tabs->count());
            if (i < m_tabs->count())
                a->setText(tr("Show %1").arg(m_tabs->tabText(i).remove('&')));
        });
        addAction(a);
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Quick Guide"), this, &MainWindow::showQuickGuide)
        ->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&About QAT Lab"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::createToolBar() {
    QToolBar* bar = addToolBar(tr("Main"));
    bar->setObjectName(QStringLiteral("mainToolBar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    bar->setMovable(false);
    auto* open = new QToolButton;
    open->setText(tr("Open Model"));
    open->setToolTip(tr("Open a zoo model or a model file"));
    open->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(open);
    menu->addActions(m_zooMenu->actions());
    menu->addSeparator();
    menu->addAction(m_openFileAction);
    open->setMenu(menu);
    bar->addWidget(open);
    bar->addSeparator();
    bar->addAction(m_comparisonAction);
    if (auto* b = qobject_cast<QToolButton*>(bar->widgetForAction(m_comparisonAction))) {
        QFont f = b->font();
        f.setBold(true);
        b->setFont(f);
    }
    bar->addAction(m_startAction);
    bar->addAction(m_cancelAction);
    bar->addSeparator();
    bar->addAction(m_exportAction);
    bar->addAction(m_diffAction);
}

void MainWindow::createLayersPage() {
    m_layersPage = new QWidget;
    m_modelHeader = new QLabel(tr("Loading…"));
    m_modelHeader->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_modelHeader->setWordWrap(true);
    m_presetCombo = new QComboBox;
    for (const auto& name : qat::presetNames())
        m_presetCombo->addItem(QString::fromStdString(name));
    m_presetCombo->setToolTip(tr("Replace the plan with a preset: int8 is TFLite's default "
                                 "(per-axis int8 weights, asymmetric int8 activations)"));
    m_presetCombo->setCurrentText(m_preset);
    connect(m_presetCombo, &QComboBox::activated, this,
            [this](int i) { applyPreset(m_presetCombo->itemText(i)); });
    auto* presetLabel = new QLabel(tr("&Preset"));
    presetLabel->setBuddy(m_presetCombo);

    m_layerModel = new LayerTableModel(this);
    m_layerView = new QTableView;
    m_layerView->setModel(m_layerModel);
    m_layerView->setItemDelegate(new LayerQuantDelegate(m_layerView));
    m_layerView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_layerView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_layerView->setEditTriggers(QAbstractItemView::DoubleClicked |
                                 QAbstractItemView::EditKeyPressed |
                                 QAbstractItemView::SelectedClicked);
    m_layerView->setAlternatingRowColors(true);
    m_layerView->verticalHeader()->hide();
    m_layerView->verticalHeader()->setDefaultSectionSize(m_layerView->fontMetrics().height() + 10);
    m_layerView->horizontalHeader()->setHighlightSections(false);
    m_layerView->horizontalHeader()->setStretchLastSection(true);
    m_layerView->setWordWrap(false);
    connect(m_layerModel, &LayerTableModel::planEdited, this, &MainWindow::onPlanEdited);
    connect(m_layerModel, &QAbstractItemModel::modelReset, this, [this] {
        m_layerView->resizeColumnsToContents();
        for (int c = LayerTableModel::Quantize; c < LayerTableModel::ColumnCount; ++c)
            m_layerView->setColumnWidth(c, std::max(m_layerView->columnWidth(c), 96));
    });
    connect(m_layerView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onLayerSelectionChanged);

    m_planStatus = new QLabel;
    m_planStatus->setWordWrap(true);
    m_planStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_bulkEdit = new BulkEditBar;
    connect(m_bulkEdit, &BulkEditBar::applyRequested, this,
            [this](const LayerTableModel::BulkEdit& e) {
                QList<int> rows;
                for (const QModelIndex& i : m_layerView->selectionModel()->selectedRows())
                    rows.push_back(i.row());
                const auto r = m_layerModel->applyBulk(rows, e);
                statusBar()->showMessage(
                    tr("Bulk edit: %n layer(s) changed", nullptr, r.changedRows) +
                        (r.skippedRows ? tr(", %n selected row(s) had no matching setting", nullptr,
                                            r.skippedRows)
                                       : QString()),
                    5000);
                m_bulkEdit->reset();
            });

    auto* header = new QHBoxLayout;
    header->addWidget(m_modelHeader, 1);
    header->addWidget(presetLabel);
    header->addWidget(m_presetCombo);
    auto* layout = new QVBoxLayout(m_layersPage);
    layout->addLayout(header);
    layout->addWidget(m_layerView, 1);
    layout->addWidget(m_planStatus);
    layout->addWidget(m_bulkEdit);
}

void MainWindow::createDocks() {
    // Experiment: dataset, settings, run buttons, progress.
    m_runPanel = new RunPanel;
    m_runPanel->setActions(m_startAction, m_cancelAction, m_comparisonAction);
    connect(m_runPanel, &RunPanel::datasetChosen, this, &MainWindow::chooseDataset);
    connect(m_runPanel, &RunPanel::chooseDatasetDirectory, this,
            &MainWindow::chooseDatasetDirectory);
    connect(m_runPanel, &RunPanel::kindChanged, this, &MainWindow::updateActions);
    auto* scroll = new QScrollArea;
    scroll->setWidget(m_runPanel);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* experimentDock = new QDockWidget(tr("Experiment"), this);
    experimentDock->setObjectName(QStringLiteral("experimentDock"));
    experimentDock->setWidget(scroll);
    experimentDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                                QDockWidget::DockWidgetClosable);
    m_runPanel->setMinimumWidth(m_runPanel->sizeHint().width());
    addDockWidget(Qt::LeftDockWidgetArea, experimentDock);
    // The Experiment dock runs the full height; Runs and Log sit under the tabs only.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);

    // Runs.
    m_runsModel = new RunsTableModel(this);
    m_runsProxy = new QSortFilterProxyModel(this);
    m_runsProxy->setSourceModel(m_runsModel);
    m_runsProxy->setSortRole(RunsTableModel::SortRole);
    m_runsView = new QTableView;
    m_runsView->setModel(m_runsProxy);
    m_runsView->setSortingEnabled(true);
    m_runsView->sortByColumn(RunsTableModel::Created, Qt::AscendingOrder);
    m_runsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_runsView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_runsView->setEditTriggers(QAbstractItemView::DoubleClicked |
                                QAbstractItemView::EditKeyPressed);
    m_runsView->setAlternatingRowColors(true);
    m_runsView->verticalHeader()->hide();
    m_runsView->verticalHeader()->setDefaultSectionSize(m_runsView->fontMetrics().height() + 8);
    m_runsView->horizontalHeader()->setStretchLastSection(true);
    m_runsView->setWordWrap(false);
    m_runsView->addAction(m_deleteAction);
    m_runsView->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_runsView->addAction(m_renameAction);
    m_runsView->addAction(m_diffAction);
    m_runsView->addAction(m_exportAction);
    connect(m_runsModel, &RunsTableModel::renameRequested, this, &MainWindow::renameRun);
    connect(m_runsView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onRunsSelectionChanged);
    connect(m_runsModel, &QAbstractItemModel::rowsInserted, this, [this] {
        m_runsView->resizeColumnsToContents();
        m_runsView->setColumnWidth(RunsTableModel::Name,
                                   std::min(m_runsView->columnWidth(RunsTableModel::Name), 260));
    });

    auto* runsPage = new QWidget;
    auto* runsButtons = new QHBoxLayout;
    for (QAction* a : {m_renameAction, m_deleteAction, m_diffAction, m_exportAction}) {
        auto* b = new QToolButton;
        b->setDefaultAction(a);
        runsButtons->addWidget(b);
    }
    auto* hint = new QLabel(tr("Selected runs are compared and inspected; with none selected, "
                               "the comparison shows all."));
    hint->setEnabled(false);
    runsButtons->addWidget(hint, 1);
    auto* runsLayout = new QVBoxLayout(runsPage);
    runsLayout->setContentsMargins(2, 2, 2, 2);
    runsLayout->addLayout(runsButtons);
    runsLayout->addWidget(m_runsView, 1);
    auto* runsDock = new QDockWidget(tr("Runs"), this);
    runsDock->setObjectName(QStringLiteral("runsDock"));
    runsDock->setWidget(runsPage);
    addDockWidget(Qt::BottomDockWidgetArea, runsDock);

    // Log.
    m_log = new LogPanel;
    auto* logDock = new QDockWidget(tr("Log"), this);
    logDock->setObjectName(QStringLiteral("logDock"));
    logDock->setWidget(m_log);
    addDockWidget(Qt::BottomDockWidgetArea, logDock);
    tabifyDockWidget(runsDock, logDock);
    runsDock->raise();
    resizeDocks({runsDock}, {220}, Qt::Vertical);
}

// ---------------------------------------------------------------------------------------
// Session

void MainWindow::restoreSession() {
    QSettings s;
    if (s.contains("window/geometry"))
        restoreGeometry(s.value("window/geometry").toByteArray());
    if (s.contains("window/state"))
        restoreState(s.value("window/state").toByteArray(), kStateVersion);
    m_runPanel->setSettings(loadRunSettings());
    m_runPanel->setRecentDatasetDirs(s.value("recentDatasetDirs").toStringList());
    const QString model = s.value("experiment/model").toString();
    const QString dataset = s.value("experiment/dataset").toString();
    const QString preset = s.value("experiment/preset").toString();
    if (!model.isEmpty())
        m_options.model = model;
    if (!dataset.isEmpty())
        m_options.dataset = dataset;
    if (!preset.isEmpty()) {
        m_options.preset = preset;
        m_preset = preset;
        m_presetCombo->setCurrentText(preset);
    }
}

void MainWindow::saveSession() {
    QSettings s;
    s.setValue("window/geometry", saveGeometry());
    s.setValue("window/state", saveState(kStateVersion));
    saveRunSettings(m_runPanel->settings());
    if (!m_modelSource.isEmpty())
        s.setValue("experiment/model", m_modelSource);
    if (!m_datasetName.isEmpty())
        s.setValue("experiment/dataset", m_datasetName);
    s.setValue("experiment/preset", m_preset);
}

void MainWindow::loadRuns() {
    m_store = std::make_unique<RunStore>(m_options.paths.databasePath);
    QString error;
    if (!m_store->open(&error)) {
        report(Severity::Error, tr("Runs database"),
               tr("%1\nRuns of this session will not be saved.").arg(error));
        return;
    }
    auto runs = m_store->loadAll(&error);
    if (!error.isEmpty())
        report(Severity::Warning, tr("Runs database"), error);
    m_runsModel->setRuns(runs);
    m_runsView->resizeColumnsToContents();
    m_runsView->setColumnWidth(RunsTableModel::Name,
                               std::min(m_runsView->columnWidth(RunsTableModel::Name), 260));
    if (!runs.isEmpty())
        m_log->append(Severity::Info,
                      tr("Loaded %n run(s) from %1", nullptr, static_cast<int>(runs.size()))
                          .arg(QDir::toNativeSeparators(m_store->path())));
    updateStartFromRuns();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    m_closing = true;
    if (isBusy()) {
        m_log->append(Severity::Info, tr("Window closed during a run: cancelling"));
        statusBar()->showMessage(tr("Cancelling the running job…"));
    }
    if (m_options.restoreSession)
        saveSession();
    QApplication::setOverrideCursor(Qt::WaitCursor);
    m_engine->shutdown(); // cancel, quit, wait: returns within one training batch
    QApplication::restoreOverrideCursor();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!event->mimeData()->hasUrls())
        return;
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) {
            event->acceptProposedAction();
            return;
        }
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls()) {
        if (!url.isLocalFile())
            continue;
        const QString path = url.toLocalFile();
        if (QFileInfo(path).isDir())
            chooseDataset(path);
        else
            openModel(path);
        event->acceptProposedAction();
        return;
    }
}

// ---------------------------------------------------------------------------------------
// Model, dataset, plan

void MainWindow::openModel(const QString& source, const ImportSettings& import) {
    if (source.isEmpty())
        return;
    statusBar()->showMessage(tr("Loading %1…").arg(source));
    inspect(source, m_datasetName.isEmpty() ? m_runPanel->datasetName() : m_datasetName,
            import.isEmpty() ? storedImport(source) : import);
}

ImportSettings MainWindow::storedImport(const QString& path) {
    QSettings s;
    s.beginGroup(QStringLiteral("imports"));
    const QString key = QString::fromLatin1(QUrl::toPercentEncoding(path));
    ImportSettings i;
    for (const QVariant& v : s.value(key + "/mean").toList())
        i.mean.push_back(v.toFloat());
    for (const QVariant& v : s.value(key + "/scale").toList())
        i.scale.push_back(v.toFloat());
    i.output = s.value(key + "/output").toString();
    return i;
}

void MainWindow::storeImport(const QString& path, const ImportSettings& import) {
    QSettings s;
    s.beginGroup(QStringLiteral("imports"));
    const QString key = QString::fromLatin1(QUrl::toPercentEncoding(path));
    if (import.isEmpty()) {
        s.remove(key);
        return;
    }
    QVariantList mean, scale;
    for (float v : import.mean)
        mean.push_back(v);
    for (float v : import.scale)
        scale.push_back(v);
    s.setValue(key + "/mean", mean);
    s.setValue(key + "/scale", scale);
    s.setValue(key + "/output", import.output);
}

void MainWindow::chooseDataset(const QString& name) {
    if (name.isEmpty())
        return;
    statusBar()->showMessage(tr("Loading dataset %1…").arg(name));
    inspect(m_modelSource.isEmpty() ? m_options.model : m_modelSource, name, m_import);
}

void MainWindow::inspect(const QString& model, const QString& dataset,
                         const ImportSettings& import) {
    m_inspecting = true;
    m_inspectId = m_engine->inspect(model, dataset, m_preset, import);
    updateActions();
}

void MainWindow::onInspected(const ExperimentInfo& info) {
    if (info.requestId != m_inspectId)
        return; // superseded by a newer request
    m_inspecting = false;

    // Dataset.
    if (info.datasetOk) {
        const bool changed = info.datasetName != m_datasetName;
        m_datasetName = info.datasetName;
        m_dataset = info.dataset;
        m_runPanel->setDatasetName(m_datasetName);
        m_inspector->setDataset(m_dataset.data);
        if (changed) {
            m_log->append(Severity::Info,
                          tr("Dataset %1: %2 training / %3 test images of %4, %5 classes (%6)")
                              .arg(m_datasetName)
                              .arg(m_dataset.trainCount)
                              .arg(m_dataset.testCount)
                              .arg(m_dataset.sampleShape)
                              .arg(m_dataset.classes)
                              .arg(m_dataset.source));
            if (QFileInfo(m_datasetName).isDir()) {
                QSettings s;
                QStringList dirs = s.value("recentDatasetDirs").toStringList();
                dirs.removeAll(m_datasetName);
                dirs.prepend(m_datasetName);
                s.setValue("recentDatasetDirs", dirs.mid(0, kMaxRecent));
            }
        }
    } else {
        report(Severity::Error, tr("Dataset"),
               tr("Cannot load the dataset '%1':\n%2").arg(info.datasetName, info.datasetError));
        if (!m_datasetName.isEmpty())
            m_runPanel->setDatasetName(m_datasetName); // back to the one still in use
    }

    // Model. A dataset that failed to load leaves the loaded model as it is (without the
    // dataset a zoo model would come back in its default input shape).
    const bool keepModel = !info.datasetOk && m_layerModel->hasModel();
    if (keepModel) {
        m_log->append(
            Severity::Info,
            tr("Keeping %1 and dataset %2").arg(m_layerModel->model().displayName, m_datasetName));
    } else if (info.modelOk) {
        const bool sameModel = m_layerModel->hasModel() && info.modelSource == m_modelSource &&
                               info.import == m_import;
        if (info.planOk) {
            // Reloading the same model (for another dataset) keeps the user's plan edits.
            const qat::QuantPlan edited = m_layerModel->plan();
            m_layerModel->setModel(info.model, info.plan, sameModel ? &edited : nullptr);
        } else {
            m_layerModel->setModel(info.model, qat::QuantPlan());
            report(Severity::Error, tr("Quantization plan"), info.planError);
        }
        if (!info.importReport.isEmpty() && info.modelSource != m_modelSource)
            m_log->append(Severity::Info, info.importReport);
        if (info.modelSource != m_modelSource) {
            m_log->append(Severity::Info,
                          tr("Model %1: %2 layers, %3 parameters, %4 MACs per image, input %5")
                              .arg(info.model.displayName)
                              .arg(info.model.layers.size())
                              .arg(QLocale().toString(info.model.params))
                              .arg(QLocale().toString(info.model.macs))
                              .arg(info.model.inputShape));
            if (!info.model.isZoo)
                addRecentModel(info.modelSource);
        }
        m_modelSource = info.modelSource;
        m_import = info.import;
        if (!info.model.isZoo && !info.importReport.isEmpty())
            storeImport(m_modelSource, m_import);
        setWindowTitle(tr("%1 — QAT Lab").arg(info.model.displayName));
        validatePlan();
    } else {
        report(Severity::Error, tr("Model"),
               tr("Cannot open the model '%1':\n%2").arg(info.modelSource, info.modelError));
    }

    // Compatibility of what is now loaded.
    if (!keepModel && info.modelOk && info.datasetOk)
        m_compatibilityError = info.compatibilityError;
    if (info.modelOk && info.datasetOk && !info.compatibilityError.isEmpty())
        report(Severity::Warning, tr("Dataset does not fit the model"), info.compatibilityError);
    m_runPanel->setDatasetInfo(
        m_dataset.data ? tr("%1 training / %2 test images · %3 · %4 classes\n%5")
                             .arg(QLocale().toString(m_dataset.trainCount),
                                  QLocale().toString(m_dataset.testCount), m_dataset.sampleShape)
                             .arg(m_dataset.classes)
                             .arg(m_dataset.source)
                       : QString(),
        m_compatibilityError);
    updateModelHeader();
    updateStartFromRuns();
    updateActions();
    statusBar()->clearMessage();
    emit experimentReady();
}

void MainWindow::applyPreset(const QString& preset) {
    m_preset = preset;
    m_presetCombo->setCurrentText(preset);
    if (!m_layerModel->hasModel())
        return;
    m_planId = m_engine->buildPlan(m_layerModel->model().graph, preset);
}

void MainWindow::onPlanBuilt(const PlanResult& result) {
    if (result.requestId != m_planId)
        return;
    if (!result.ok) {
        report(Severity::Error, tr("Preset"), result.error);
        return;
    }
    m_layerModel->setPlan(result.plan);
    m_log->append(Severity::Info, tr("Plan: preset %1").arg(result.preset));
    updateModelHeader();
    validatePlan();
}

void MainWindow::onPlanEdited() {
    updateModelHeader();
    validatePlan();
}

void MainWindow::validatePlan() {
    if (!m_layerModel->hasModel())
        return;
    m_planValid = false;
    m_planMessage = tr("Checking the plan…");
    m_planStatus->setText(m_planMessage);
    m_validateId = m_engine->validatePlan(m_layerModel->model().graph, m_layerModel->plan());
    updateActions();
}

void MainWindow::onPlanValidated(const PlanValidation& result) {
    if (result.requestId != m_validateId)
        return;
    m_planValid = result.ok;
    if (result.ok) {
        const auto& plan = m_layerModel->plan();
        int enabled = 0;
        for (const auto& l : plan.layers)
            enabled += l.enabled ? 1 : 0;
        m_planMessage = tr("Plan valid: %1 of %2 blocks quantized, preset %3%4.")
                            .arg(enabled)
                            .arg(plan.layers.size())
                            .arg(QString::fromStdString(plan.preset),
                                 m_layerModel->isModified() ? tr(" (edited)") : QString());
        m_planStatus->setStyleSheet(QString());
        m_planStatus->setText(QStringLiteral("✓ ") + m_planMessage);
    } else {
        m_planMessage = result.message;
        m_planStatus->setStyleSheet(QStringLiteral("color: #b00020;"));
        m_planStatus->setText(tr("✗ The plan cannot be used: %1").arg(result.message));
        m_log->append(Severity::Warning, tr("Plan: %1").arg(result.message));
    }
    updateActions();
    emit planChecked(result.ok);
}

QString MainWindow::planStatus() const {
    return m_planMessage;
}

void MainWindow::updateModelHeader() {
    if (!m_layerModel->hasModel()) {
        m_modelHeader->setText(tr("No model loaded."));
        return;
    }
    const ModelSummary& m = m_layerModel->model();
    m_modelHeader->setText(
        tr("<b>%1</b> %2 · input %3 · %4 classes · %5 parameters · %6 MACs/image")
            .arg(m.displayName.toHtmlEscaped(),
                 m.isZoo ? tr("(zoo)") : QStringLiteral("(%1)").arg(m.source.toHtmlEscaped()),
                 m.inputShape)
            .arg(m.classes)
            .arg(QLocale().toString(m.params), QLocale().toString(m.macs)));
    m_statusExperiment->setText(tr("%1 on %2")
                                    .arg(m.displayName, m_datasetName.isEmpty()
                                                            ? tr("(no dataset)")
                                                            : QFileInfo(m_datasetName).fileName()));
}

void MainWindow::onLayerSelectionChanged() {
    const QModelIndex current = m_layerView->selectionModel()->currentIndex();
    const auto rows = m_layerView->selectionModel()->selectedRows();
    if (!m_syncingLayer && !rows.isEmpty()) {
        const int row = current.isValid() && m_layerView->selectionModel()->isRowSelected(
                                                 current.row(), QModelIndex())
                            ? current.row()
                            : rows.first().row();
        const LayerInfo& l = m_layerModel->layer(row);
        if (l.role == LayerInfo::Role::Anchor || l.role == LayerInfo::Role::Fused) {
            m_syncingLayer = true;
            m_inspector->setLayer(l.name);
            m_syncingLayer = false;
        }
    }
    int editable = 0;
    int weighted = 0;
    for (const QModelIndex& i : m_layerView->selectionModel()->selectedRows()) {
        if (!m_layerModel->isEditableRow(i.row()))
            continue;
        ++editable;
        const LayerInfo& l = m_layerModel->layer(i.row());
        if (l.role == LayerInfo::Role::Anchor && l.hasWeights)
            ++weighted;
    }
    m_bulkEdit->setSelectionCount(editable, weighted);
}

// ---------------------------------------------------------------------------------------
// Runs

bool MainWindow::isModelReady() const {
    return m_layerModel->hasModel();
}

bool MainWindow::isBusy() const {
    return m_engine->isBusy();
}

bool MainWindow::canStart(qat::RunKind kind, QString* why) const {
    if (isBusy())
        *why = tr("A job is running; wait for it or cancel it.");
    else if (m_inspecting)
        *why = tr("The model or dataset is still loading.");
    else if (!isModelReady())
        *why = tr("Open a model first.");
    else if (!isDatasetReady())
        *why = tr("Choose a dataset that loads.");
    else if (!isCompatible())
        *why = m_compatibilityError;
    else if (kind != qat::RunKind::Float && !m_planValid)
        *why = tr("The quantization plan is not valid: %1").arg(m_planMessage);
    else
        return true;
    return false;
}

void MainWindow::updateActions() {
    QString why;
    const bool canFloat = canStart(qat::RunKind::Float, &why);
    QString whyQuant;
    const bool canQuant = canStart(qat::RunKind::Qat, &whyQuant);
    const bool canSingle = m_runPanel->kind() == qat::RunKind::Float ? canFloat : canQuant;
    m_startAction->setEnabled(canSingle);
    m_comparisonAction->setEnabled(canQuant);
    m_cancelAction->setEnabled(isBusy());
    m_startAction->setToolTip(
        canSingle ? tr("Start one run of the chosen kind (Ctrl+Return)")
                  : tr("Cannot start: %1")
                        .arg(m_runPanel->kind() == qat::RunKind::Float ? why : whyQuant));
    m_comparisonAction->setToolTip(
        canQuant ? tr("Train float (or reuse a matching float run), then PTQ and QAT from it, "
                      "and compare them (Ctrl+R)")
                 : tr("Cannot run the comparison: %1").arg(whyQuant));

    const auto selected = selectedRuns();
    m_renameAction->setEnabled(selected.size() == 1);
    m_deleteAction->setEnabled(!selected.isEmpty() && !isBusy());
    m_diffAction->setEnabled(selected.size() == 2);
    m_exportAction->setEnabled(selected.size() == 1);
    m_statusJob->setText(isBusy() ? tr("Running") : tr("Idle"));
}

QString MainWindow::startLabel(const QString& model, quint64 seed) const {
    return m_layerModel->model().isZoo && model == m_layerModel->model().source
               ? tr("%1 (initialized, seed %2)").arg(model).arg(seed)
               : model;
}

QString MainWindow::runName(qat::RunKind kind, const RunSettings& s) const {
    const QString model = m_layerModel->model().displayName;
    const QString preset = QString::fromStdString(m_layerModel->plan().preset) +
                           (m_layerModel->isModified() ? "*" : "");
    switch (kind) {
    case qat::RunKind::Float:
        return tr("%1 float %2ep").arg(model).arg(s.floatEpochs);
    case qat::RunKind::Ptq:
        return tr("%1 PTQ %2").arg(model, preset);
    case qat::RunKind::Qat:
        return tr("%1 QAT %2 %3ep").arg(model, preset).arg(s.qatEpochs);
    }
    return model;
}

const RunRecord* MainWindow::findRun(qint64 id) const {
    const int row = m_runsModel->rowOf(id);
    return row < 0 ? nullptr : &m_runsModel->run(row);
}

const RunRecord* MainWindow::findCachedFloatRun(const qat::RunSpec& floatSpec,
                                                const QString& label) const {
    QJsonObject settings = runSettingsJson(floatSpec, label, QString());
    if (!m_import.isEmpty())
        settings["import"] = importSettingsJson(m_import);
    const QJsonObject wanted = floatRunKey(settings);
    const auto& runs = m_runsModel->runs();
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        if (it->kind != qat::RunKind::Float || it->cancelled || it->model != m_modelSource ||
            it->dataset != m_datasetName)
            continue;
        if (floatRunKey(parseObject(it->settingsJson)) != wanted)
            continue;
        if (!QFileInfo::exists(it->artefactPath))
            continue;
        return &*it;
    }
    return nullptr;
}

bool MainWindow::startRun() {
    const qat::RunKind kind = m_runPanel->kind();
    QString why;
    if (!canStart(kind, &why)) {
        report(Severity::Warning, tr("Cannot start"), why);
        return false;
    }
    const RunSettings s = m_runPanel->settings();
    saveRunSettings(s);
    RunJob job;
    job.dataset = m_datasetName;
    job.runsDir = m_options.paths.runsDir();
    RunStep step;
    step.model = m_modelSource;
    step.import = m_import;
    step.spec = makeRunSpec(kind, s, m_layerModel->plan(), runName(kind, s));
    step.weightsLabel = startLabel(m_modelSource, s.seed);
    if (kind != qat::RunKind::Float) {
        const qint64 from = m_runPanel->startFromRunId();
        if (const RunRecord* r = from ? findRun(from) : nullptr) {
            step.weightsFrom = r->artefactPath;
            step.weightsLabel = tr("run #%1 %2").arg(r->id).arg(r->name);
        } else if (m_layerModel->model().isZoo) {
            m_log->append(Severity::Warning,
                          tr("%1 starts from freshly initialized weights: train a float run "
                             "first for meaningful accuracy")
                              .arg(QString::fromStdString(step.spec.name)));
        }
    }
    job.steps.push_back(step);
    JobInfo info;
    info.id = m_engine->startJob(job);
    m_jobs.push_back(info);
    m_log->append(
        Severity::Info,
        tr("Started %1 on %2").arg(QString::fromStdString(step.spec.name), m_datasetName));
    updateActions();
    return true;
}

bool MainWindow::runComparison() {
    QString why;
    if (!canStart(qat::RunKind::Qat, &why)) {
        report(Severity::Warning, tr("Cannot run the comparison"), why);
        return false;
    }
    const RunSettings s = m_runPanel->settings();
    saveRunSettings(s);
    const qat::QuantPlan& plan = m_layerModel->plan();
    RunJob job;
    job.dataset = m_datasetName;
    job.runsDir = m_options.paths.runsDir();

    RunStep floatStep;
    floatStep.model = m_modelSource;
    floatStep.import = m_import;
    floatStep.spec = makeRunSpec(qat::RunKind::Float, s, plan, runName(qat::RunKind::Float, s));
    floatStep.weightsLabel = startLabel(m_modelSource, s.seed);

    JobInfo info;
    info.comparison = true;
    RunStep ptq;
    ptq.model = m_modelSource;
    ptq.spec = makeRunSpec(qat::RunKind::Ptq, s, plan, runName(qat::RunKind::Ptq, s));
    RunStep qatStep;
    qatStep.model = m_modelSource;
    qatStep.spec = makeRunSpec(qat::RunKind::Qat, s, plan, runName(qat::RunKind::Qat, s));

    if (const RunRecord* cached = findCachedFloatRun(floatStep.spec, floatStep.weightsLabel)) {
        info.reusedFloatRun = cached->id;
        for (RunStep* step : {&ptq, &qatStep}) {
            step->weightsFrom = cached->artefactPath;
            step->weightsLabel = tr("run #%1 %2").arg(cached->id).arg(cached->name);
        }
        m_log->append(Severity::Info,
                      tr("Run comparison: reusing float run #%1 \"%2\" (same model, dataset and "
                         "training settings)")
                          .arg(cached->id)
                          .arg(cached->name));
    } else {
        job.steps.push_back(floatStep);
        ptq.weightsFromStep = 0;
        qatStep.weightsFromStep = 0;
        ptq.weightsLabel = qatStep.weightsLabel = tr("the float run of this comparison");
    }
    job.steps.push_back(ptq);
    job.steps.push_back(qatStep);
    info.id = m_engine->startJob(job);
    m_jobs.push_back(info);
    m_log->append(Severity::Info, tr("Run comparison started: %n run(s) on %1", nullptr,
                                     static_cast<int>(job.steps.size()))
                                      .arg(m_datasetName));
    updateActions();
    return true;
}

void MainWindow::cancelRuns() {
    if (!isBusy())
        return;
    m_engine->cancelAll();
    m_runPanel->setIdle(tr("Cancelling…"));
    m_log->append(Severity::Info, tr("Cancel requested"));
}

void MainWindow::onStepStarted(quint64, int step, int steps, const QString& name, qat::RunKind) {
    m_liveCurves->clear();
    m_runPanel->setIdle(steps > 1
                            ? tr("Step %1/%2 · %3 · starting").arg(step + 1).arg(steps).arg(name)
                            : tr("%1 · starting").arg(name));
    m_statusJob->setText(tr("Running %1").arg(name));
}

void MainWindow::pollProgress() {
    JobProgress p;
    if (!m_engine->takeProgress(p) || !isBusy())
        return;
    m_runPanel->setProgress(p);
    m_statusJob->setText(
        tr("%1 · %2 · %3 %").arg(p.stepName, p.message).arg(std::lround(100.0 * p.fraction)));
}

void MainWindow::onRunFinished(quint64 jobId, const RunRecord& finished) {
    if (finished.cancelled && m_closing)
        return; // the user quit mid-run: nothing half-done is kept
    RunRecord run = finished;
    QString error;
    if (m_store && m_store->isOpen() && !m_store->insert(run, &error))
        report(Severity::Error, tr("Runs database"), error);
    if (run.id == 0) {
        // Not persisted: give it a session-unique negative id so it can still be selected.
        static qint64 transientId = 0;
        run.id = --transientId;
    }
    m_runsModel->addRun(run);
    for (JobInfo& j : m_jobs)
        if (j.id == jobId)
            j.runIds.push_back(run.id);
    const auto& m = run.metrics;
    if (run.cancelled) {
        m_log->append(Severity::Info,
                      tr("Cancelled %1 after %2 s: its curves are kept in the runs table "
                         "(no model file)")
                          .arg(run.name)
                          .arg(m.seconds, 0, 'f', 1));
        emit runAdded(run);
        return;
    }
    QString line = tr("Finished %1 in %2 s: float %3")
                       .arg(run.name)
                       .arg(m.seconds, 0, 'f', 1)
                       .arg(percent(m.floatAccuracy));
    if (run.kind != qat::RunKind::Float)
        line += tr(", fake-quant %1, integer %2, int8 .tflite %3")
                    .arg(percent(m.fakeQuantAccuracy), percent(m.integerAccuracy),
                         formatBytes(m.int8TfliteBytes));
    else
        line += tr(", float .tflite %1").arg(formatBytes(m.floatTfliteBytes));
    m_log->append(Severity::Info, line);
    if (!m.latency.note.empty())
        m_log->append(m.latency.stable ? Severity::Info : Severity::Warning,
                      tr("%1: %2").arg(run.name, QString::fromStdString(m.latency.note)));
    updateStartFromRuns();
    emit runAdded(run);
}

void MainWindow::onJobFinished(quint64 jobId, bool cancelled, const QString& error) {
    JobInfo info;
    for (int i = 0; i < m_jobs.size(); ++i)
        if (m_jobs[i].id == jobId) {
            info = m_jobs[i];
            m_jobs.remove(i);
            break;
        }
    if (!error.isEmpty()) {
        report(Severity::Error, tr("Run failed"), error);
        m_runPanel->setIdle(tr("Failed: %1").arg(error));
    } else if (cancelled) {
        m_log->append(Severity::Info, tr("Run cancelled"));
        m_runPanel->setIdle(tr("Cancelled"));
        statusBar()->showMessage(tr("Run cancelled"), 5000);
    } else {
        m_runPanel->setIdle(tr("Done"), true);
        statusBar()->showMessage(tr("Done"), 5000);
    }
    QVector<qint64> show = info.runIds;
    if (info.reusedFloatRun)
        show.prepend(info.reusedFloatRun);
    if (!show.isEmpty() && !cancelled && error.isEmpty())
        selectRuns(show);
    updateActions();
    emit jobDone(cancelled, error);
}

void MainWindow::updateStartFromRuns() {
    QVector<QPair<qint64, QString>> runs;
    const auto& all = m_runsModel->runs();
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (it->kind == qat::RunKind::Float && !it->cancelled && it->model == m_modelSource &&
            it->dataset == m_datasetName)
            runs.push_back({it->id, tr("#%1 %2 (%3)")
                                        .arg(it->id)
                                        .arg(it->name, formatAccuracy(it->metrics.floatAccuracy))});
    m_runPanel->setStartFromRuns(runs);
}

QVector<RunRecord> MainWindow::selectedRuns() const {
    QVector<RunRecord> runs;
    for (const QModelIndex& i : m_runsView->selectionModel()->selectedRows())
        runs.push_back(m_runsModel->run(m_runsProxy->mapToSource(i).row()));
    return runs;
}

void MainWindow::selectRuns(const QVector<qint64>& ids) {
    QItemSelection selection;
    for (qint64 id : ids) {
        const int row = m_runsModel->rowOf(id);
        if (row < 0)
            continue;
        const QModelIndex first = m_runsProxy->mapFromSource(m_runsModel->index(row, 0));
        const QModelIndex last =
            m_runsProxy->mapFromSource(m_runsModel->index(row, RunsTableModel::ColumnCount - 1));
        selection.select(first, last);
    }
    m_runsView->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect);
    if (!selection.isEmpty())
        m_runsView->scrollTo(selection.indexes().first());
}

void MainWindow::updateComparison() {
    const auto selected = selectedRuns();
    if (!selected.isEmpty()) {
        m_comparison->setRuns(selected);
        return;
    }
    // Nothing selected: every finished run (cancelled ones show when selected).
    QVector<RunRecord> finished;
    for (const auto& r : m_runsModel->runs())
        if (!r.cancelled)
            finished.push_back(r);
    m_comparison->setRuns(finished);
}

void MainWindow::onRunsSelectionChanged() {
    updateActions();
    updateComparison();
    const auto selected = selectedRuns();
    // The inspector shows the first quantized run of the selection (else the first run).
    for (const auto& r : selected)
        if (r.kind != qat::RunKind::Float) {
            m_inspector->setRun(r);
            break;
        }
    if (!selected.isEmpty() &&
        std::none_of(selected.begin(), selected.end(),
                     [](const RunRecord& r) { return r.kind != qat::RunKind::Float; }))
        m_inspector->setRun(selected.first());
    if (selected.size() == 1)
        statusBar()->showMessage(
            tr("%1: %2").arg(selected.first().name,
                             parseObject(selected.first().settingsJson)["plan_summary"].toString()),
            4000);
}

void MainWindow::renameRun(qint64 id, const QString& name) {
    QString error;
    if (id > 0 && m_store && m_store->isOpen() && !m_store->rename(id, name, &error)) {
        report(Severity::Error, tr("Rename"), error);
        return;
    }
    m_runsModel->setName(id, name);
    updateStartFromRuns();
}

void MainWindow::deleteSelectedRuns() {
    const auto runs = selectedRuns();
    if (runs.isEmpty() || isBusy())
        return;
    QStringList names;
    for (const auto& r : runs)
        names.push_back(r.name);
    if (!confirm(this, tr("Delete runs"),
                 tr("Delete %n run(s) and their model files?\n\n%1", nullptr,
                    static_cast<int>(runs.size()))
                     .arg(names.join('\n'))))
        return;
    for (const auto& r : runs) {
        QString error;
        if (r.id > 0 && m_store && m_store->isOpen() && !m_store->remove(r.id, &error)) {
            report(Severity::Error, tr("Delete"), error);
            continue;
        }
        if (!r.artefactPath.isEmpty() && QFileInfo::exists(r.artefactPath) &&
            !QFile::remove(r.artefactPath))
            m_log->append(Severity::Warning,
                          tr("Could not remove %1").arg(QDir::toNativeSeparators(r.artefactPath)));
        m_runsModel->removeRunById(r.id);
        m_log->append(Severity::Info, tr("Deleted run %1").arg(r.name));
    }
    updateStartFromRuns();
    updateActions();
}

void MainWindow::diffSelectedRuns() {
    const auto runs = selectedRuns();
    if (runs.size() != 2) {
        report(Severity::Info, tr("Diff plans"),
               tr("Select exactly two runs to compare their plans."));
        return;
    }
    auto* dialog = new PlanDiffDialog(runs[0], runs[1], this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->open();
}

ExportDialog* MainWindow::exportSelectedRun() {
    const auto runs = selectedRuns();
    if (runs.size() != 1) {
        report(Severity::Info, tr("Export"), tr("Select one run to export."));
        return nullptr;
    }
    if (runs.first().cancelled) {
        report(Severity::Info, tr("Export"),
               tr("Run \"%1\" was cancelled and has no model to export. Export a finished "
                  "run, or run it again.")
                   .arg(runs.first().name));
        return nullptr;
    }
    if (m_exportDialog)
        m_exportDialog->close();
    auto* dialog = new ExportDialog(runs.first(), m_engine, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ExportDialog::exported, this, [this](const ExportResult& r) {
        if (r.ok)
            m_log->append(Severity::Info, tr("Exported %1 (%2): %3")
                                              .arg(QDir::toNativeSeparators(r.path),
                                                   formatBytes(r.bytes), r.validation));
        else
            report(Severity::Error, tr("Export failed"), r.error);
    });
    m_exportDialog = dialog;
    dialog->open();
    return dialog;
}

// ---------------------------------------------------------------------------------------
// Files, recent files, help

void MainWindow::chooseModelFile() {
    QSettings s;
    const QString dir = s.value("lastModelDir", QDir::homePath()).toString();
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open model"), dir, tr(kModelFilter));
    if (path.isEmpty())
        return;
    s.setValue("lastModelDir", QFileInfo(path).absolutePath());
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QStringLiteral("onnx") || suffix == QStringLiteral("tflite")) {
        // Imported models may expect normalised inputs: ask, and remember per file.
        ImportDialog dialog(path, storedImport(path), this);
        if (dialog.exec() != QDialog::Accepted)
            return;
        storeImport(path, dialog.settings());
        openModel(path, dialog.settings());
        return;
    }
    openModel(path);
}

void MainWindow::chooseDatasetDirectory() {
    const QString dir = QFileDialog::getExistingDirectory(
        this, tr("Dataset directory (IDX files, CIFAR-10 batches, or an image folder)"),
        QDir::homePath());
    if (dir.isEmpty()) {
        m_runPanel->setDatasetName(m_datasetName); // the combo showed "Choose directory…"
        return;
    }
    chooseDataset(dir);
}

void MainWindow::addRecentModel(const QString& path) {
    QSettings s;
    QStringList recent = s.value("recentModels").toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    s.setValue("recentModels", recent.mid(0, kMaxRecent));
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    const QStringList recent = QSettings().value("recentModels").toStringList();
    for (const QString& path : recent) {
        QAction* a = m_recentMenu->addAction(QFileInfo(path).fileName(), this,
                                             [this, path] { openModel(path); });
        a->setStatusTip(QDir::toNativeSeparators(path));
        a->setToolTip(QDir::toNativeSeparators(path));
    }
    if (!recent.isEmpty()) {
        m_recentMenu->addSeparator();
        m_recentMenu->addAction(tr("Clear List"), this, [this] {
            QSettings().remove("recentModels");
            rebuildRecentMenu();
        });
    }
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::showQuickGuide() {
    report(Severity::Info, tr("Quick guide"),
           tr("1. The Layers tab shows the model: every layer's shape, parameters and MACs, and "
              "how it is quantized. Pick a preset, or edit cells (double-click); select several "
              "layers to edit them together.\n"
              "2. Run ▸ Run Comparison (Ctrl+R) trains the float model, then quantizes it after "
              "training (PTQ) and with quantization-aware training (QAT), and measures each.\n"
              "3. The Comparison tab plots the selected runs: accuracy, size and int8 latency "
              "side by side, and accuracy against size.\n"
              "4. The Inspector tab shows, for the selected run and layer, the value "
              "histograms with the quantization grid, scales and zero points, and the error.\n"
              "5. File ▸ Export writes the selected run as a .tflite file."));
}

void MainWindow::showAbout() {
    report(Severity::Info, tr("About QAT Lab"),
           tr("QAT Lab %1\nA bench for quantization experiments: float training, post-training "
              "quantization and quantization-aware training on oneDNN, compared side by side.\n"
              "Runs are stored in %2")
               .arg(QApplication::applicationVersion(),
                    QDir::toNativeSeparators(m_options.paths.databasePath)));
}

void MainWindow::report(Severity severity, const QString& title, const QString& text) {
    m_log->append(severity, severity == Severity::Info ? text : tr("%1: %2").arg(title, text));
    if (severity != Severity::Info)
        statusBar()->showMessage(tr("%1: %2").arg(title, text.section('\n', 0, 0)), 8000);
    showMessage(this, severity, title, text);
}

} // namespace qatui
