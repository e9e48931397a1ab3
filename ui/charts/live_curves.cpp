// See live_curves.h. Two stacked axis rects share the step axis: loss on top, accuracy
// below (train accuracy as a line, test accuracy as markers at the step each epoch ended).
#include "charts/live_curves.h"

#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

#include "charts/chart_panel.h"

namespace qatui {

namespace {
QCPGraph* graphOf(QCustomPlot* plot, int i) {
    return plot->graph(i);
}
} // namespace

LiveCurves::LiveCurves(QWidget* parent)
    : QWidget(parent), m_panel(new ChartPanel(QStringLiteral("live-training"), this)),
      m_timer(new QTimer(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_panel);
    QCustomPlot* plot = m_panel->plot();
    auto rects = chartstyle::makeLayout(plot, tr("Training progress"), 2, true);
    QCPAxisRect* lossRect = rects[0];
    QCPAxisRect* accRect = rects[1];
    lossRect->axis(QCPAxis::atLeft)->setLabel(tr("Loss"));
    lossRect->axis(QCPAxis::atBottom)->setTickLabels(false);
    accRect->axis(QCPAxis::atLeft)->setLabel(tr("Accuracy (%)"));
    accRect->axis(QCPAxis::atBottom)->setLabel(tr("Training step (batches)"));
    connect(lossRect->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
            accRect->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::setRange));

    auto* loss = plot->addGraph(lossRect->axis(QCPAxis::atBottom), lossRect->axis(QCPAxis::atLeft));
    loss->setName(tr("loss (running mean)"));
    loss->setPen(QPen(chartstyle::color(0), 1.6));
    auto* train = plot->addGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
    train->setName(tr("train accuracy (running mean)"));
    train->setPen(QPen(chartstyle::color(1), 1.6));
    auto* test = plot->addGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
    test->setName(tr("test accuracy (epoch end)"));
    test->setLineStyle(QCPGraph::lsLine);
    test->setPen(QPen(chartstyle::color(2), 1.2, Qt::DashLine));
    test->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, chartstyle::color(2), 7));
    chartstyle::fitToWidth(plot);

    m_timer->setInterval(kRedrawIntervalMs);
    connect(m_timer, &QTimer::timeout, this, &LiveCurves::flush);
    clear();
}

int LiveCurves::drawnPoints() const {
    return graphOf(m_panel->plot(), 0)->dataCount();
}
int LiveCurves::drawnEpochs() const {
    return graphOf(m_panel->plot(), 2)->dataCount();
}

void LiveCurves::clear() {
    m_pendingPoints.clear();
    m_pendingEpochs.clear();
    m_lastStep = 0;
    m_receivedStep = 0;
    m_restart = false;
    m_maxLoss = 0.0;
    QCustomPlot* plot = m_panel->plot();
    for (int i = 0; i < 3; ++i)
        plot->graph(i)->data()->clear();
    plot->axisRect(0)->axis(QCPAxis::atBottom)->setRange(0.0, 10.0);
    plot->axisRect(0)->axis(QCPAxis::atLeft)->setRange(0.0, 2.5);
    plot->axisRect(1)->axis(QCPAxis::atLeft)->setRange(0.0, 100.0);
    plot->replot(QCustomPlot::rpQueuedReplot);
    m_timer->stop();
}

void LiveCurves::addPoint(const qat::CurvePoint& point) {
    if (point.step < m_receivedStep) { // a new run: what was buffered belongs to the old one
        m_pendingPoints.clear();
        m_pendingEpochs.clear();
        m_receivedStep = 0;
        m_restart = true;
    }
    m_pendingPoints.push_back(point);
    m_receivedStep = std::max(m_receivedStep, point.step);
    if (!m_timer->isActive())
        m_timer->start();
}

void LiveCurves::addEpoch(const qat::EpochResult& epoch) {
    // An epoch ends at the last step reported before it. 0 = the epoch was not evaluated:
    // never plot it as a zero.
    if (epoch.testAccuracy > 0.0)
        m_pendingEpochs.push_back(
            QPointF(static_cast<double>(m_receivedStep), 100.0 * epoch.testAccuracy));
    if (!m_timer->isActive())
        m_timer->start();
}

void LiveCurves::flush() {
    if (m_pendingPoints.isEmpty() && m_pendingEpochs.isEmpty()) {
        m_timer->stop(); // idle until the next point arrives
        return;
    }
    QCustomPlot* plot = m_panel->plot();
    if (m_restart) {
        for (int i = 0; i < 3; ++i)
            plot->graph(i)->data()->clear();
        m_lastStep = 0;
        m_maxLoss = 0.0;
        m_restart = false;
    }
    for (const qat::CurvePoint& p : m_pendingPoints) {
        const double step = static_cast<double>(p.step);
        plot->graph(0)->addData(step, p.loss);
        plot->graph(1)->addData(step, 100.0 * p.trainAccuracy);
        m_lastStep = std::max(m_lastStep, p.step);
        if (std::isfinite(p.loss))
            m_maxLoss = std::max(m_maxLoss, p.loss);
    }
    for (const QPointF& e : m_pendingEpochs)
        plot->graph(2)->addData(e.x(), e.y());
    m_pendingPoints.clear();
    m_pendingEpochs.clear();
    const double xMax = std::max(10.0, static_cast<double>(m_lastStep) * 1.05);
    plot->axisRect(0)->axis(QCPAxis::atBottom)->setRange(0.0, xMax);
    plot->axisRect(0)->axis(QCPAxis::atLeft)->setRange(0.0, std::max(0.5, m_maxLoss * 1.1));
    plot->replot(QCustomPlot::rpQueuedReplot);
    ++m_redraws;
}

} // namespace qatui
