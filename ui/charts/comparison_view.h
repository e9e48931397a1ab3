// ComparisonView: the runs the user selected, side by side — grouped bars of accuracy
// (float / fake-quant / integer), model size (float vs int8 .tflite) and latency (float vs
// int8, batch 1 and 64), an accuracy-vs-size scatter with the Pareto front (maximize
// accuracy, minimize size), and the training curves overlaid. Every bar is a measured
// metric; a metric that was not measured (NaN accuracy, zero bytes, latency not measured)
// is drawn as an absent bar marked "n/m", never as zero.
#pragma once

#include <QPointF>
#include <QVector>
#include <QWidget>

#include "run_record.h"

class QLabel;
class QStackedWidget;

namespace qatui {

class ChartPanel;

class ComparisonView : public QWidget {
    Q_OBJECT
public:
    explicit ComparisonView(QWidget* parent = nullptr);

    void setRuns(const QVector<qatui::RunRecord>& runs);
    const QVector<RunRecord>& runs() const { return m_runs; }

    ChartPanel* accuracyPanel() const { return m_accuracy; }
    ChartPanel* sizePanel() const { return m_size; }
    ChartPanel* latencyPanel() const { return m_latency; }
    ChartPanel* scatterPanel() const { return m_scatter; }
    ChartPanel* curvesPanel() const { return m_curves; }

    // The deployable model of a run as the scatter plots it: int8 .tflite size and integer
    // accuracy for PTQ/QAT runs, float .tflite size and float accuracy for float runs.
    // False when either was not measured.
    static bool scatterPoint(const RunRecord& run, double& sizeKiB, double& accuracyPercent);
    // Indices of the Pareto-optimal points (no other point is at most as large and at least
    // as accurate, and strictly better in one), sorted by size ascending.
    static QVector<int> paretoFront(const QVector<QPointF>& sizeAccuracy);
    // Indices into runs() of the runs on the Pareto front, by size.
    const QVector<int>& paretoRuns() const { return m_pareto; }

private:
    void rebuild();
    void plotAccuracy();
    void plotSize();
    void plotLatency();
    void plotScatter();
    void plotCurves();

    QVector<RunRecord> m_runs;
    QVector<int> m_pareto;
    QStackedWidget* m_stack;
    QLabel* m_empty;
    ChartPanel* m_accuracy;
    ChartPanel* m_size;
    ChartPanel* m_latency;
    ChartPanel* m_scatter;
    ChartPanel* m_curves;
};

} // namespace qatui
