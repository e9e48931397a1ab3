// LayerInspector: the teaching view. For the selected run's saved model and one of its
// quantizable layers: the weight histogram (all channels or one) and the activation
// histogram with the quantization grid and clipping range over them, the scales, zero
// points, integer multipliers and shifts per channel, SQNR figures, a per-layer
// sensitivity measurement, and one output value of the integer model worked out step by
// step. All engine work runs on the thread pool (QtConcurrent + QFutureWatcher); a result
// that arrives after the run, dataset or layer changed is discarded. Float runs show their
// float histograms and say they are not quantized.
#pragma once

#include <QString>
#include <QVector>
#include <QWidget>

#include <atomic>
#include <memory>
#include <optional>

#include "qat/dataset.h"
#include "qat/inspect.h"
#include "run_record.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableWidget;
class QTimer;

namespace qatui {

class ChartPanel;
class HistogramPanel;

class LayerInspector : public QWidget {
    Q_OBJECT
public:
    static constexpr int kImages = 32;              // test images the inspection runs on
    static constexpr int kSensitivityImages = 1000; // default for the sensitivity button

    explicit LayerInspector(QWidget* parent = nullptr);
    ~LayerInspector() override;

    void setRun(const qatui::RunRecord& run);
    void setDataset(std::shared_ptr<const qat::DatasetSplits> dataset);
    // A block anchor, or a node fused into one (BatchNorm, ReLU): its block is shown.
    void setLayer(const QString& layerName);

    // State, for tests and the screenshot driver.
    bool isBusy() const;
    QString currentLayer() const;
    const qat::LayerInspection* inspection() const { return m_shown ? &*m_shown : nullptr; }
    QString statusText() const;
    QString noteText() const;
    QComboBox* layerCombo() const { return m_layerCombo; }
    QComboBox* channelCombo() const { return m_channelCombo; }
    QTableWidget* scalesTable() const { return m_scales; }
    QTableWidget* stepsTable() const { return m_steps; }
    QTableWidget* termsTable() const { return m_terms; }
    HistogramPanel* weightPanel() const { return m_weightPlot; }
    HistogramPanel* activationPanel() const { return m_activationPlot; }
    QPushButton* sensitivityButton() const { return m_sensButton; }
    QLabel* sensitivityResult() const { return m_sensResult; }
    QTabWidget* tabs() const { return m_tabs; }

signals:
    // A layer's inspection is on screen (after setRun/setLayer and the background work).
    void inspectionShown(const QString& layer);
    // Preparing or inspecting failed; the message is also shown in the widget.
    void inspectionFailed(const QString& message);
    // The user picked another layer in the chooser.
    void layerChosen(const QString& layer);
    void sensitivityDone(const QString& layer);

private:
    struct Prepared;
    struct Inspected;
    struct Sensitivity;

    void buildUi();
    void prepare();
    void onPrepared(const Prepared& p);
    void requestInspect();
    void onInspected(const Inspected& r);
    void showInspection();
    void redrawWeights();
    void redrawActivations();
    void fillScales();
    void fillExample();
    void fillErrors();
    void startSensitivity();
    void onSensitivity(const Sensitivity& s);
    void cancelSensitivity();
    void setStatus(const QString& text, bool busy);
    void setNote(const QString& text);
    void clearDisplay(const QString& message);
    QString anchorFor(const QString& name) const;

    RunRecord m_run;
    bool m_hasRun = false;
    std::shared_ptr<const qat::DatasetSplits> m_data;
    std::shared_ptr<const qat::ModelInspector> m_inspector;
    std::vector<qat::LayerError> m_errors;
    std::optional<qat::LayerInspection> m_shown;
    QString m_pendingLayer;
    quint64 m_prepareGen = 0;
    quint64 m_inspectGen = 0;
    quint64 m_sensGen = 0;
    int m_busyJobs = 0;
    std::shared_ptr<qat::CancelToken> m_prepareCancel;
    std::shared_ptr<qat::CancelToken> m_sensCancel;
    std::shared_ptr<std::atomic<double>> m_sensProgress;

    QComboBox* m_layerCombo = nullptr;
    QLabel* m_summary = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_note = nullptr;
    QComboBox* m_channelCombo = nullptr;
    QCheckBox* m_logCounts = nullptr;
    HistogramPanel* m_weightPlot = nullptr;
    HistogramPanel* m_activationPlot = nullptr;
    QTabWidget* m_tabs = nullptr;
    QLabel* m_scalesHeader = nullptr;
    QTableWidget* m_scales = nullptr;
    QLabel* m_exampleHeader = nullptr;
    QSpinBox* m_exampleImage = nullptr;
    QComboBox* m_positionMode = nullptr;
    QSpinBox* m_posY = nullptr;
    QSpinBox* m_posX = nullptr;
    QSpinBox* m_posC = nullptr;
    QTableWidget* m_terms = nullptr;
    QTableWidget* m_steps = nullptr;
    QLabel* m_errorFigures = nullptr;
    ChartPanel* m_errorChart = nullptr;
    QSpinBox* m_sensImages = nullptr;
    QPushButton* m_sensButton = nullptr;
    QPushButton* m_sensCancelButton = nullptr;
    QProgressBar* m_sensBar = nullptr;
    QLabel* m_sensResult = nullptr;
    QTimer* m_sensPoll = nullptr;
    QTimer* m_exampleDebounce = nullptr;
};

} // namespace qatui
