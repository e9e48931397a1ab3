// RunPanel: the left dock — the dataset, the training/quantization settings, the run
// buttons (Start, Cancel, Run comparison; QActions owned by the main window), and the
// progress of the running job with its stage and ETA.
#pragma once

#include <QWidget>

#include "engine_types.h"
#include "run_settings.h"

class QAction;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QSpinBox;
class QToolButton;

namespace qatui {

class RunPanel : public QWidget {
    Q_OBJECT
public:
    explicit RunPanel(QWidget* parent = nullptr);

    void setActions(QAction* start, QAction* cancel, QAction* comparison);

    // Dataset choice: built-in names plus recently chosen directories.
    QString datasetName() const;
    void setDatasetName(const QString& name); // adds a directory entry when needed
    void setRecentDatasetDirs(const QStringList& dirs);
    void setDatasetInfo(const QString& info, const QString& error);

    RunSettings settings() const;
    void setSettings(const RunSettings& s);

    qat::RunKind kind() const;
    void setKind(qat::RunKind kind);
    // Float runs a PTQ/QAT run can start from: (run id, label), newest first.
    void setStartFromRuns(const QVector<QPair<qint64, QString>>& runs);
    qint64 startFromRunId() const; // 0 = the model as loaded
    void setStartFromRunId(qint64 id);

    void setProgress(const JobProgress& p);
    // No job running; `complete` leaves the bar full (the last job finished).
    void setIdle(const QString& text, bool complete = false);

    // Widgets, for tests.
    QComboBox* datasetCombo() const { return m_dataset; }
    QComboBox* kindCombo() const { return m_kind; }
    QProgressBar* progressBar() const { return m_progress; }
    QLabel* stageLabel() const { return m_stage; }

signals:
    void datasetChosen(const QString& name);
    void chooseDatasetDirectory();
    void settingsChanged();
    void kindChanged();

private:
    void onDatasetActivated(int index);
    void updateKindFields();

    QComboBox* m_dataset = nullptr;
    QLabel* m_datasetInfo = nullptr;
    QLabel* m_datasetError = nullptr;
    QSpinBox* m_floatEpochs = nullptr;
    QDoubleSpinBox* m_floatLr = nullptr;
    QSpinBox* m_qatEpochs = nullptr;
    QDoubleSpinBox* m_qatLr = nullptr;
    QSpinBox* m_batch = nullptr;
    QSpinBox* m_calibration = nullptr;
    QSpinBox* m_freezeBn = nullptr;
    QSpinBox* m_freezeObservers = nullptr;
    QSpinBox* m_seed = nullptr;
    QSpinBox* m_limitTrain = nullptr;
    QSpinBox* m_limitTest = nullptr;
    QCheckBox* m_measureLatency = nullptr;
    QSpinBox* m_latencyRepeats = nullptr;
    QComboBox* m_rounding = nullptr;
    QComboBox* m_kind = nullptr;
    QComboBox* m_startFrom = nullptr;
    QToolButton* m_startButton = nullptr;
    QToolButton* m_cancelButton = nullptr;
    QToolButton* m_comparisonButton = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_stage = nullptr;
    QLabel* m_eta = nullptr;
};

// "1:05", "12 s": a duration for progress text.
QString formatDuration(double seconds);

} // namespace qatui
