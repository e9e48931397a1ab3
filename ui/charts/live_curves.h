// LiveCurves: the running training curves of the job in progress — loss and train accuracy
// (running means) against the training step, and test accuracy at each epoch end. Points
// arrive as value-type signals at any rate; they are buffered and drawn at most ~30 times a
// second by a timer, never per signal. A step counter that starts over (the next run of a
// job) starts the curves over.
#pragma once

#include <QPointF>
#include <QVector>
#include <QWidget>

#include "qat/experiment.h"

class QTimer;

namespace qatui {

class ChartPanel;

class LiveCurves : public QWidget {
    Q_OBJECT
public:
    static constexpr int kRedrawIntervalMs = 33;

    explicit LiveCurves(QWidget* parent = nullptr);

    ChartPanel* panel() const { return m_panel; }
    // Points drawn so far (after the last redraw), for tests.
    int drawnPoints() const;
    int drawnEpochs() const;
    int redraws() const { return m_redraws; }

public slots:
    void clear();
    void addPoint(const qat::CurvePoint& point);
    void addEpoch(const qat::EpochResult& epoch);

private:
    void flush();

    ChartPanel* m_panel;
    QTimer* m_timer;
    QVector<qat::CurvePoint> m_pendingPoints;
    QVector<QPointF> m_pendingEpochs; // (step the epoch ended at, test accuracy %)
    int64_t m_receivedStep = 0;       // latest step received (buffered or drawn)
    int64_t m_lastStep = 0;           // latest step drawn
    bool m_restart = false;           // the step counter started over since the last redraw
    double m_maxLoss = 0.0;
    int m_redraws = 0;
};

} // namespace qatui
