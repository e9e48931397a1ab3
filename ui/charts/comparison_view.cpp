// See comparison_view.h. Every plot is rebuilt from m_runs on setRuns(); colours: bars by
// metric (float / fake-quant / integer, float / int8), scatter points and curves by run.
#include "charts/comparison_view.h"

#include <QLabel>
#include <QScrollArea>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include <qcustomplot.h>

#include "charts/chart_panel.h"

namespace qatui {

namespace {

constexpr int kMaxLabelledGroups = 5; // value labels above bars up to this many runs

double percent(double fraction) {
    return std::isfinite(fraction) ? 100.0 * fraction : NAN;
}
double kib(qint64 bytes) {
    return bytes > 0 ? static_cast<double>(bytes) / 1024.0 : NAN;
}
double ms(double v, bool measured) {
    return measured && v > 0.0 ? v : NAN;
}

// Two lines for names longer than `lineChars` so tick labels stay inside their group.
QString tickLabel(const QString& name, int lineChars) {
    QString s = name.size() > 26 ? name.left(25) + QChar(0x2026) : name;
    if (s.size() <= lineChars)
        return s;
    int best = -1;
    for (int i = 0; i < s.size(); ++i)
        if (s[i] == ' ' && (best < 0 || std::abs(i - s.size() / 2) < std::abs(best - s.size() / 2)))
            best = i;
    if (best > 0)
        s[best] = '\n';
    return s;
}

struct BarSeries {
    QString name;
    QColor color;
    QVector<double> values; // one per run; NaN = not measured
};

QCPItemText* addText(QCPAxisRect* rect, double key, double value, const QString& text,
                     const QColor& color, bool italic = false, bool rotated = false) {
    QCustomPlot* plot = rect->parentPlot();
    auto* item = new QCPItemText(plot);
    item->setClipAxisRect(rect);
    item->setClipToAxisRect(true);
    item->position->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    item->position->setCoords(key, value);
    // Rotated labels run upwards from the bar's top, so neighbours in narrow groups never
    // overlap.
    item->setPositionAlignment(rotated ? Qt::AlignLeft | Qt::AlignVCenter
                                       : Qt::AlignHCenter | Qt::AlignBottom);
    if (rotated)
        item->setRotation(-90);
    QFont f = plot->font();
    f.setPointSizeF(7.5);
    f.setItalic(italic);
    item->setFont(f);
    item->setColor(color);
    item->setText(text);
    item->setPadding(rotated ? QMargins(2, 0, 0, 0) : QMargins(0, 0, 0, 2));
    return item;
}

// Grouped bars: one group per run, one bar per series, absent bars marked "n/m".
// Returns the largest value drawn (0 when none).
double groupedBars(QCPAxisRect* rect, const QStringList& groups, const QVector<BarSeries>& series,
                   int decimals, int lineChars = 12, bool rotateLabels = false) {
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    const int k = static_cast<int>(series.size());
    const double slot = 0.8 / k;
    const bool labels = groups.size() <= kMaxLabelledGroups;
    double maxValue = 0.0;
    for (int s = 0; s < k; ++s) {
        auto* bars = new QCPBars(x, y);
        bars->setName(series[s].name);
        bars->setWidth(slot * 0.9);
        bars->setPen(QPen(series[s].color.darker(125), 1));
        bars->setBrush(series[s].color);
        for (int r = 0; r < groups.size(); ++r) {
            const double key = r + (s - (k - 1) / 2.0) * slot;
            const double v = series[s].values.value(r, NAN);
            if (std::isfinite(v)) {
                bars->addData(key, v);
                maxValue = std::max(maxValue, v);
            }
        }
    }
    // Labels after the bars so the value range is known.
    for (int s = 0; s < k; ++s)
        for (int r = 0; r < groups.size(); ++r) {
            const double key = r + (s - (k - 1) / 2.0) * slot;
            const double v = series[s].values.value(r, NAN);
            if (!std::isfinite(v))
                addText(rect, key, 0.0, QStringLiteral("n/m"), QColor(130, 130, 130), true,
                        rotateLabels);
            else if (labels)
                addText(rect, key, v, QString::number(v, 'f', decimals), QColor(60, 60, 60), false,
                        rotateLabels);
        }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int r = 0; r < groups.size(); ++r)
        ticker->addTick(r, tickLabel(groups[r], lineChars));
    x->setTicker(ticker);
    x->setTickLength(0, 3);
    x->setSubTicks(false);
    x->grid()->setVisible(false);
    x->setRange(-0.6, groups.size() - 0.4);
    return maxValue;
}

void setValueRange(QCPAxis* axis, double maxValue, double headroom = 1.2) {
    axis->setRange(0.0, maxValue > 0.0 ? maxValue * headroom : 1.0);
}

QStringList runNames(const QVector<RunRecord>& runs) {
    QStringList names;
    for (const auto& r : runs)
        names << (r.name.isEmpty() ? QStringLiteral("run %1").arg(r.id) : r.name);
    return names;
}

} // namespace

ComparisonView::ComparisonView(QWidget* parent)
    : QWidget(parent), m_stack(new QStackedWidget(this)), m_empty(new QLabel(this)),
      m_accuracy(new ChartPanel(QStringLiteral("accuracy"))),
      m_size(new ChartPanel(QStringLiteral("model-size"))),
      m_latency(new ChartPanel(QStringLiteral("latency"))),
      m_scatter(new ChartPanel(QStringLiteral("accuracy-vs-size"))),
      m_curves(new ChartPanel(QStringLiteral("training-curves"))) {
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setText(tr("Select one or more runs in the Runs table to compare their accuracy, "
                        "model size and latency."));

    auto* charts = new QWidget;
    auto* grid = new QGridLayout(charts);
    grid->setContentsMargins(4, 4, 4, 4);
    grid->setSpacing(6);
    grid->addWidget(m_accuracy, 0, 0);
    grid->addWidget(m_size, 0, 1);
    grid->addWidget(m_latency, 0, 2);
    grid->addWidget(m_scatter, 1, 0);
    grid->addWidget(m_curves, 1, 1, 1, 2);
    for (int c = 0; c < 3; ++c)
        grid->setColumnStretch(c, 1);
    for (ChartPanel* p : {m_accuracy, m_size, m_latency, m_scatter, m_curves})
        p->setMinimumSize(330, 300);
    auto* scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(charts);

    m_stack->addWidget(m_empty);
    m_stack->addWidget(scroll);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);

    auto accuracyRects = chartstyle::makeLayout(m_accuracy->plot(), tr("Top-1 accuracy"));
    accuracyRects[0]->axis(QCPAxis::atLeft)->setLabel(tr("Top-1 accuracy (%)"));
    chartstyle::makeLayout(m_size->plot(), tr("Model size (.tflite file)"))[0]
        ->axis(QCPAxis::atLeft)
        ->setLabel(tr("Size (KiB)"));
    auto latencyRects = chartstyle::makeLayout(m_latency->plot(), tr("Inference latency"), 2);
    latencyRects[0]->axis(QCPAxis::atLeft)->setLabel(tr("Batch 1 (ms per batch)"));
    latencyRects[1]->axis(QCPAxis::atLeft)->setLabel(tr("Batch 64 (ms per batch)"));
    auto scatterRects = chartstyle::makeLayout(m_scatter->plot(), tr("Accuracy vs model size"));
    scatterRects[0]->axis(QCPAxis::atBottom)->setLabel(tr("Model size (KiB, .tflite)"));
    scatterRects[0]->axis(QCPAxis::atLeft)->setLabel(tr("Top-1 accuracy (%)"));
    auto curveRects = chartstyle::makeLayout(m_curves->plot(), tr("Training curves"), 2);
    curveRects[0]->axis(QCPAxis::atBottom)->setLabel(tr("Epoch"));
    curveRects[0]->axis(QCPAxis::atLeft)->setLabel(tr("Training loss (cross-entropy)"));
    curveRects[1]->axis(QCPAxis::atBottom)->setLabel(tr("Epoch"));
    curveRects[1]->axis(QCPAxis::atLeft)->setLabel(tr("Accuracy (%)"));
    m_stack->setCurrentIndex(0);
}

void ComparisonView::setRuns(const QVector<RunRecord>& runs) {
    m_runs = runs;
    rebuild();
}

bool ComparisonView::scatterPoint(const RunRecord& run, double& sizeKiB, double& accuracyPercent) {
    const bool quantized = run.kind != qat::RunKind::Float;
    sizeKiB = kib(quantized ? run.metrics.int8TfliteBytes : run.metrics.floatTfliteBytes);
    accuracyPercent = percent(quantized ? run.metrics.integerAccuracy : run.metrics.floatAccuracy);
    return std::isfinite(sizeKiB) && std::isfinite(accuracyPercent);
}

QVector<int> ComparisonView::paretoFront(const QVector<QPointF>& pts) {
    QVector<int> front;
    for (int i = 0; i < pts.size(); ++i) {
        bool dominated = false;
        for (int j = 0; j < pts.size() && !dominated; ++j) {
            if (j == i)
                continue;
            const bool noWorse = pts[j].x() <= pts[i].x() && pts[j].y() >= pts[i].y();
            const bool better = pts[j].x() < pts[i].x() || pts[j].y() > pts[i].y();
            // Exact duplicates: keep the first one only.
            dominated = noWorse && (better || j < i);
        }
        if (!dominated)
            front.push_back(i);
    }
    std::sort(front.begin(), front.end(), [&](int a, int b) { return pts[a].x() < pts[b].x(); });
    return front;
}

void ComparisonView::rebuild() {
    for (ChartPanel* p : {m_accuracy, m_size, m_latency, m_scatter, m_curves}) {
        p->plot()->clearPlottables();
        p->plot()->clearItems();
        chartstyle::setFootnote(p->plot(), QString());
    }
    m_pareto.clear();
    m_stack->setCurrentIndex(m_runs.isEmpty() ? 0 : 1);
    if (!m_runs.isEmpty()) {
        plotAccuracy();
        plotSize();
        plotLatency();
        plotScatter();
        plotCurves();
    }
    for (ChartPanel* p : {m_accuracy, m_size, m_latency, m_scatter, m_curves}) {
        chartstyle::fitToWidth(p->plot());
        p->plot()->replot(QCustomPlot::rpQueuedReplot);
    }
}

void ComparisonView::plotAccuracy() {
    QCustomPlot* plot = m_accuracy->plot();
    QVector<BarSeries> series{{tr("Float"), chartstyle::color(0), {}},
                              {tr("Fake-quant"), chartstyle::color(1), {}},
                              {tr("Integer (int8 executor)"), chartstyle::color(2), {}}};
    for (const auto& r : m_runs) {
        series[0].values << percent(r.metrics.floatAccuracy);
        series[1].values << percent(r.metrics.fakeQuantAccuracy);
        series[2].values << percent(r.metrics.integerAccuracy);
    }
    QCPAxisRect* rect = plot->axisRect(0);
    groupedBars(rect, runNames(m_runs), series, 1);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(20.0);
    y->setTicker(ticker);
    y->setRange(0.0, 112.0);
    chartstyle::setFootnote(plot, tr("Test split; n/m = not measured (float runs have no "
                                     "quantized model)."));
}

void ComparisonView::plotSize() {
    QCustomPlot* plot = m_size->plot();
    QVector<BarSeries> series{{tr("Float32 .tflite"), chartstyle::color(0), {}},
                              {tr("Int8 .tflite"), chartstyle::color(2), {}}};
    for (const auto& r : m_runs) {
        series[0].values << kib(r.metrics.floatTfliteBytes);
        series[1].values << kib(r.metrics.int8TfliteBytes);
    }
    QCPAxisRect* rect = plot->axisRect(0);
    setValueRange(rect->axis(QCPAxis::atLeft), groupedBars(rect, runNames(m_runs), series, 1));
    chartstyle::setFootnote(plot, tr("Bytes of the exported files; n/m = not measured."));
}

void ComparisonView::plotLatency() {
    QCustomPlot* plot = m_latency->plot();
    QVector<BarSeries> b1{{tr("Float32"), chartstyle::color(0), {}},
                          {tr("Int8"), chartstyle::color(2), {}}};
    QVector<BarSeries> b64 = b1;
    QStringList setups;
    QStringList unstable;
    for (const auto& r : m_runs) {
        const qat::LatencyReport& l = r.metrics.latency;
        if (l.measured && !l.stable)
            unstable << r.name;
        b1[0].values << ms(l.floatBatch1Ms, l.measured);
        b1[1].values << ms(l.int8Batch1Ms, l.measured);
        b64[0].values << ms(l.floatBatch64Ms, l.measured);
        b64[1].values << ms(l.int8Batch64Ms, l.measured);
        if (l.measured) {
            const QString s = (l.threads == 1 ? tr("1 thread") : tr("%1 threads").arg(l.threads)) +
                              QStringLiteral(", ") +
                              QString::fromStdString(l.isa.empty() ? "ISA unknown" : l.isa);
            if (!setups.contains(s))
                setups << s;
        }
    }
    const QStringList names = runNames(m_runs);
    QCPAxisRect* r1 = plot->axisRect(0);
    QCPAxisRect* r64 = plot->axisRect(1);
    setValueRange(r1->axis(QCPAxis::atLeft), groupedBars(r1, names, b1, 3, 6, true), 1.35);
    setValueRange(r64->axis(QCPAxis::atLeft), groupedBars(r64, names, b64, 1, 6, true), 1.35);
    // One legend entry per metric: the batch-64 series repeat the batch-1 colours.
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (plot->plottable(i)->keyAxis()->axisRect() == r64)
            plot->plottable(i)->removeFromLegend();
    QString footnote =
        tr("Median per batch after warm-up%1; n/m = not measured.")
            .arg(setups.isEmpty() ? QString() : QStringLiteral(" (") + setups.join("; ") + ")");
    if (!unstable.isEmpty())
        footnote += tr(" Unreliable (timings spread widely; the machine was busy): %1.")
                        .arg(unstable.join(", "));
    chartstyle::setFootnote(plot, footnote);
}

void ComparisonView::plotScatter() {
    QCustomPlot* plot = m_scatter->plot();
    QCPAxisRect* rect = plot->axisRect(0);
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    QVector<QPointF> pts;
    QVector<int> runOf;
    QStringList missing;
    for (int i = 0; i < m_runs.size(); ++i) {
        double size = 0, acc = 0;
        if (scatterPoint(m_runs[i], size, acc)) {
            pts << QPointF(size, acc);
            runOf << i;
        } else {
            missing << runNames({m_runs[i]}).first();
        }
    }
    const QVector<int> front = paretoFront(pts);
    for (int f : front)
        m_pareto << runOf[f];

    if (front.size() >= 1) {
        auto* line = new QCPGraph(x, y);
        line->setName(tr("Pareto front"));
        line->setLineStyle(QCPGraph::lsStepLeft);
        line->setPen(QPen(QColor(60, 60, 60), 1.5, Qt::DashLine));
        line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle,
                                              QPen(QColor(40, 40, 40), 1.5), Qt::NoBrush, 13));
        for (int f : front)
            line->addData(pts[f].x(), pts[f].y());
    }
    for (int k = 0; k < pts.size(); ++k) {
        auto* g = new QCPGraph(x, y);
        g->setName(runNames({m_runs[runOf[k]]}).first());
        g->setLineStyle(QCPGraph::lsNone);
        const QColor c = chartstyle::color(runOf[k]);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, c.darker(120), c, 8));
        g->addData(pts[k].x(), pts[k].y());
    }
    double xMax = 1.0, yMin = 100.0, yMax = 0.0;
    for (const QPointF& p : pts) {
        xMax = std::max(xMax, p.x());
        yMin = std::min(yMin, p.y());
        yMax = std::max(yMax, p.y());
    }
    x->setRange(0.0, xMax * 1.15);
    if (pts.isEmpty()) {
        y->setRange(0.0, 100.0);
    } else {
        const double pad = std::max(2.0, (yMax - yMin) * 0.15);
        y->setRange(std::max(0.0, yMin - pad), std::min(100.0, yMax + pad));
    }
    QString note = tr("Each run's deployable model: int8 for PTQ/QAT, float32 for float runs. "
                      "Front: best accuracy for its size.");
    if (!missing.isEmpty())
        note += QLatin1Char(' ') + tr("Not plotted (not measured): %1.").arg(missing.join(", "));
    chartstyle::setFootnote(plot, note);
}

void ComparisonView::plotCurves() {
    QCustomPlot* plot = m_curves->plot();
    QCPAxisRect* lossRect = plot->axisRect(0);
    QCPAxisRect* accRect = plot->axisRect(1);
    QStringList noCurve;
    double maxEpoch = 0.0, maxLoss = 0.0;
    for (int i = 0; i < m_runs.size(); ++i) {
        const RunRecord& r = m_runs[i];
        const QString name = runNames({r}).first();
        if (r.curve.isEmpty() && r.epochs.isEmpty()) {
            noCurve << name;
            continue;
        }
        const QColor c = chartstyle::color(i);
        auto* loss =
            new QCPGraph(lossRect->axis(QCPAxis::atBottom), lossRect->axis(QCPAxis::atLeft));
        loss->setName(name);
        loss->setPen(QPen(c, 1.6));
        auto* train =
            new QCPGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
        train->setPen(QPen(c, 1.6));
        train->removeFromLegend();
        for (const qat::CurvePoint& p : r.curve) {
            loss->addData(p.epoch, p.loss);
            train->addData(p.epoch, 100.0 * p.trainAccuracy);
            maxEpoch = std::max(maxEpoch, p.epoch);
            if (std::isfinite(p.loss))
                maxLoss = std::max(maxLoss, p.loss);
        }
        auto* test = new QCPGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
        test->setPen(QPen(c, 1.6, Qt::DashLine));
        test->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c, Qt::white, 6));
        test->removeFromLegend();
        for (const qat::EpochResult& e : r.epochs) {
            // An epoch without a test evaluation carries 0: skip it rather than plot a zero.
            if (e.testAccuracy > 0.0)
                test->addData(e.epoch, 100.0 * e.testAccuracy);
            maxEpoch = std::max(maxEpoch, static_cast<double>(e.epoch));
        }
    }
    // Legend keys for the line styles of the accuracy panel (no data of their own).
    auto* trainKey = new QCPGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
    trainKey->setName(tr("train accuracy"));
    trainKey->setPen(QPen(QColor(90, 90, 90), 1.6));
    auto* testKey = new QCPGraph(accRect->axis(QCPAxis::atBottom), accRect->axis(QCPAxis::atLeft));
    testKey->setName(tr("test accuracy (per epoch)"));
    testKey->setPen(QPen(QColor(90, 90, 90), 1.6, Qt::DashLine));
    testKey->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(90, 90, 90), Qt::white, 6));

    for (QCPAxisRect* rect : {lossRect, accRect})
        rect->axis(QCPAxis::atBottom)->setRange(0.0, std::max(1.0, maxEpoch) * 1.04);
    lossRect->axis(QCPAxis::atLeft)->setRange(0.0, maxLoss > 0 ? maxLoss * 1.1 : 1.0);
    accRect->axis(QCPAxis::atLeft)->setRange(0.0, 100.0);
    QString note = tr("Running means over each epoch; QAT curves are its fine-tuning epochs.");
    if (!noCurve.isEmpty())
        note += QLatin1Char(' ') +
                tr("No training curve: %1 (nothing trained in that run).").arg(noCurve.join(", "));
    chartstyle::setFootnote(plot, note);
}

} // namespace qatui
