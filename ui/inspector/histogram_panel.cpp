// See histogram_panel.h.
#include "inspector/histogram_panel.h"

#include <algorithm>
#include <cmath>

#include <QFontMetrics>

#include <qcustomplot.h>

namespace qatui {

namespace {

const QColor kBars(0x4E, 0x79, 0xA7);
const QColor kClip(0xD6, 0x27, 0x28);
const QColor kLevel(0x2C, 0x8C, 0x3C);

QString number(double v) {
    QString s = QString::number(v, 'g', 4);
    if (s.startsWith('-'))
        s.replace(0, 1, QChar(0x2212));
    return s;
}

} // namespace

HistogramPanel::HistogramPanel(const QString& exportBaseName, QWidget* parent)
    : ChartPanel(exportBaseName, parent) {
    auto rects = chartstyle::makeLayout(plot(), QString());
    rects[0]->axis(QCPAxis::atLeft)->setLabel(tr("Count"));
    chartstyle::title(plot())->setFont([this] {
        QFont f = plot()->font();
        f.setPointSizeF(9.5);
        f.setBold(true);
        return f;
    }());
}

void HistogramPanel::showMessage(const QString& titleText, const QString& message) {
    QCustomPlot* p = plot();
    p->clearPlottables();
    p->clearItems();
    m_levelLines = m_levelTicks = 0;
    m_clipDrawn = false;
    chartstyle::title(p)->setText(titleText);
    chartstyle::setFootnote(p, QString());
    // No axes for no data: the message stands in the middle of the plot.
    QCPAxisRect* rect = p->axisRect(0);
    for (QCPAxis* axis : rect->axes()) {
        axis->setVisible(false);
        axis->grid()->setVisible(false);
    }
    auto* text = new QCPItemText(p);
    text->position->setType(QCPItemPosition::ptAxisRectRatio);
    text->position->setAxisRect(rect);
    text->position->setCoords(0.5, 0.5);
    text->setPositionAlignment(Qt::AlignCenter);
    text->setTextAlignment(Qt::AlignCenter);
    text->setColor(QColor(90, 90, 90));
    QFontMetrics fm(text->font());
    QStringList lines;
    QString line;
    for (const QString& word : message.split(' ', Qt::SkipEmptyParts)) {
        const QString candidate = line.isEmpty() ? word : line + ' ' + word;
        if (!line.isEmpty() && fm.horizontalAdvance(candidate) > std::max(200, p->width() - 60)) {
            lines << line;
            line = word;
        } else {
            line = candidate;
        }
    }
    lines << line;
    text->setText(lines.join('\n'));
    text->setClipToAxisRect(false);
    p->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramPanel::showHistogram(const HistogramSpec& spec) {
    QCustomPlot* p = plot();
    p->clearPlottables();
    p->clearItems();
    m_levelLines = m_levelTicks = 0;
    m_clipDrawn = false;
    chartstyle::title(p)->setText(spec.title);
    QCPAxisRect* rect = p->axisRect(0);
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    for (QCPAxis* axis : {x, y}) {
        axis->setVisible(true);
        axis->grid()->setVisible(true);
    }

    x->setLabel(spec.xLabel);

    const qat::Histogram& h = spec.histogram;
    const double span = h.hi - h.lo;
    const double xLo = h.lo - 0.03 * span, xHi = h.hi + 0.03 * span;
    x->setRange(xLo, xHi);
    const double base = spec.logCounts ? 0.7 : 0.0;
    y->setScaleType(spec.logCounts ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (spec.logCounts)
        y->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        y->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    y->setLabel(spec.logCounts ? tr("Count (log scale)") : tr("Count"));
    const double top = std::max<double>(1.0, static_cast<double>(h.maxCount()));
    y->setRange(base, spec.logCounts ? top * 2.5 : top * 1.12);

    // The region beyond the clipping range, shaded first so the bars draw over it.
    auto shade = [&](double from, double to) {
        if (to <= from)
            return;
        auto* r = new QCPItemRect(p);
        r->setClipAxisRect(rect);
        r->setLayer(QStringLiteral("background"));
        r->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
        r->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
        r->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
        r->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
        r->topLeft->setAxes(x, y);
        r->bottomRight->setAxes(x, y);
        r->topLeft->setAxisRect(rect);
        r->bottomRight->setAxisRect(rect);
        r->topLeft->setCoords(from, 0.0);
        r->bottomRight->setCoords(to, 1.0);
        r->setPen(Qt::NoPen);
        r->setBrush(QColor(kClip.red(), kClip.green(), kClip.blue(), 28));
    };

    auto* bars = new QCPBars(x, y);
    bars->setName(tr("float values (%L1)").arg(h.total()));
    bars->setWidth(h.binWidth());
    bars->setBaseValue(base);
    bars->setPen(QPen(kBars.darker(115), 0.5));
    bars->setBrush(QColor(kBars.red(), kBars.green(), kBars.blue(), 200));
    for (size_t i = 0; i < h.counts.size(); ++i)
        if (!spec.logCounts || h.counts[i] > 0)
            bars->addData(h.binCenter(i), static_cast<double>(h.counts[i]));

    if (spec.gridded) {
        const qat::QuantParams& g = spec.grid;
        const double lo = g.min(), hi = g.max();
        shade(xLo, lo);
        shade(hi, xHi);
        const int64_t levels = qat::gridLevelCount(g);
        auto vline = [&](double at, const QPen& pen) {
            auto* l = new QCPItemStraightLine(p);
            l->setClipAxisRect(rect);
            l->point1->setAxes(x, y);
            l->point2->setAxes(x, y);
            l->point1->setCoords(at, 1.0);
            l->point2->setCoords(at, 2.0);
            l->setPen(pen);
            return l;
        };
        if (levels <= kMaxLevelLines) {
            for (double v : qat::gridLevels(g)) {
                vline(v, QPen(QColor(kLevel.red(), kLevel.green(), kLevel.blue(), 150), 1,
                              Qt::DashLine));
                ++m_levelLines;
            }
        } else if (levels <= kMaxLevelTicks) {
            for (double v : qat::gridLevels(g)) {
                auto* t = new QCPItemLine(p);
                t->setClipAxisRect(rect);
                for (QCPItemPosition* pos : {t->start, t->end}) {
                    pos->setTypeX(QCPItemPosition::ptPlotCoords);
                    pos->setTypeY(QCPItemPosition::ptAxisRectRatio);
                    pos->setAxes(x, y);
                    pos->setAxisRect(rect);
                }
                t->start->setCoords(v, 1.0);
                t->end->setCoords(v, 0.955);
                t->setPen(QPen(kLevel, 1));
                ++m_levelTicks;
            }
        }
        // The real value 0 (q = zero point) is always on the grid.
        if (g.zeroPoint >= g.qmin && g.zeroPoint <= g.qmax)
            vline(0.0, QPen(kLevel.darker(140), 1.5));
        for (double at : {lo, hi})
            vline(at, QPen(kClip, 2));
        m_clipDrawn = true;
        auto label = [&](double at, const QString& text, Qt::Alignment align) {
            auto* t = new QCPItemText(p);
            t->setClipAxisRect(rect);
            t->position->setTypeX(QCPItemPosition::ptPlotCoords);
            t->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            t->position->setAxes(x, y);
            t->position->setAxisRect(rect);
            t->position->setCoords(at, 0.0);
            t->setPositionAlignment(align | Qt::AlignTop);
            QFont f = p->font();
            f.setPointSizeF(7.5);
            t->setFont(f);
            t->setColor(kClip.darker(120));
            t->setBrush(QColor(255, 255, 255, 210));
            t->setPadding(QMargins(3, 1, 3, 1));
            t->setText(text);
        };
        label(lo, tr("min %1").arg(number(lo)), Qt::AlignLeft);
        label(hi, tr("max %1").arg(number(hi)), Qt::AlignRight);

        // Legend keys for the overlay (items have no legend entries of their own).
        auto* clipKey = new QCPGraph(x, y);
        clipKey->setName(tr("clip range [min, max]"));
        clipKey->setPen(QPen(kClip, 2));
        auto* levelKey = new QCPGraph(x, y);
        levelKey->setName(levels <= kMaxLevelLines ? tr("%1 grid levels").arg(levels)
                          : levels <= kMaxLevelTicks
                              ? tr("%1 grid levels (ticks)").arg(levels)
                              : tr("%1 grid levels (not drawn)").arg(levels));
        levelKey->setPen(QPen(kLevel, 1, levels <= kMaxLevelLines ? Qt::DashLine : Qt::SolidLine));
        auto* zeroKey = new QCPGraph(x, y);
        zeroKey->setName(tr("0.0 (q = zero point)"));
        zeroKey->setPen(QPen(kLevel.darker(140), 1.5));
    }
    chartstyle::setFootnote(p, spec.footnote);
    chartstyle::fitToWidth(p);
    p->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace qatui
