// See chart_panel.h.
#include "charts/chart_panel.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontMetrics>
#include <QHBoxLayout>
#include <QMessageBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <qcustomplot.h>

namespace qatui {

namespace chartstyle {

QColor color(int index) {
    static const QColor kColors[] = {QColor(0x4E, 0x79, 0xA7), QColor(0xF2, 0x8E, 0x2B),
                                     QColor(0xE1, 0x57, 0x59), QColor(0x76, 0xB7, 0xB2),
                                     QColor(0x59, 0xA1, 0x4F), QColor(0xB0, 0x7A, 0xA1),
                                     QColor(0xED, 0xC9, 0x48), QColor(0xFF, 0x9D, 0xA7),
                                     QColor(0x9C, 0x75, 0x5F), QColor(0x79, 0x70, 0x6E)};
    const int n = static_cast<int>(sizeof kColors / sizeof kColors[0]);
    return kColors[((index % n) + n) % n];
}

void styleAxisRect(QCPAxisRect* rect) {
    QFont labelFont = rect->parentPlot()->font();
    labelFont.setPointSizeF(9.0);
    QFont tickFont = labelFont;
    tickFont.setPointSizeF(8.0);
    for (QCPAxis* axis : rect->axes()) {
        axis->setLabelFont(labelFont);
        axis->setTickLabelFont(tickFont);
        axis->grid()->setPen(QPen(QColor(225, 225, 225), 0, Qt::SolidLine));
        axis->grid()->setZeroLinePen(QPen(QColor(170, 170, 170), 0, Qt::SolidLine));
        axis->grid()->setSubGridVisible(false);
        axis->setBasePen(QPen(QColor(110, 110, 110)));
        axis->setTickPen(QPen(QColor(110, 110, 110)));
        axis->setSubTickPen(QPen(QColor(150, 150, 150)));
    }
}

static QCPLayoutElement* findElement(QCustomPlot* plot, const QString& name) {
    QCPLayoutGrid* layout = plot->plotLayout();
    for (int i = 0; i < layout->elementCount(); ++i)
        if (QCPLayoutElement* el = layout->elementAt(i); el && el->objectName() == name)
            return el;
    return nullptr;
}

namespace {

// Greedy word wrap to `width` pixels; explicit newlines are kept. QCPTextElement sizes
// itself from its text's lines, so wrapping here gives it the height it needs.
QString wrapText(const QString& text, const QFontMetrics& fm, int width) {
    QStringList out;
    for (const QString& paragraph : text.split('\n')) {
        QString line;
        for (const QString& word : paragraph.split(' ', Qt::SkipEmptyParts)) {
            const QString candidate = line.isEmpty() ? word : line + ' ' + word;
            if (!line.isEmpty() && fm.horizontalAdvance(candidate) > width) {
                out << line;
                line = word;
            } else {
                line = candidate;
            }
        }
        out << line;
    }
    return out.join('\n');
}

int usableWidth(const QCustomPlot* plot) {
    return plot->width() > 150 ? plot->width() - 24 : 860;
}

// Keeps a plot's legend and footnote inside its width: on every resize the legend takes
// as many columns as fit and the footnote is re-wrapped.
class WidthFitter : public QObject {
public:
    explicit WidthFitter(QCustomPlot* plot) : QObject(plot), m_plot(plot) {
        setObjectName(QStringLiteral("widthFitter"));
        plot->installEventFilter(this);
    }
    static WidthFitter* of(QCustomPlot* plot) {
        return static_cast<WidthFitter*>(
            plot->findChild<QObject*>(QStringLiteral("widthFitter"), Qt::FindDirectChildrenOnly));
    }
    void setFootnote(QCPTextElement* note, const QString& text) {
        m_note = note;
        m_text = text;
    }
    // True when something changed.
    bool apply() {
        bool changed = false;
        if (m_note) {
            const QString wrapped =
                wrapText(m_text, QFontMetrics(m_note->font()), usableWidth(m_plot));
            changed = wrapped != m_note->text();
            m_note->setText(wrapped);
        }
        QCPLegend* legend = m_plot->legend;
        const int items = legend->itemCount();
        int wrap = std::max(1, std::min(items, kMaxLegendColumns));
        for (; wrap > 1; --wrap) {
            legend->setWrap(wrap);
            legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
            if (legend->minimumOuterSizeHint().width() <= usableWidth(m_plot))
                break;
        }
        if (wrap != m_wrap) {
            legend->setWrap(wrap);
            legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
            m_wrap = wrap;
            changed = true;
        }
        return changed;
    }
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (watched == m_plot && event->type() == QEvent::Resize && apply())
            m_plot->replot(QCustomPlot::rpQueuedReplot);
        return false;
    }

private:
    static constexpr int kMaxLegendColumns = 6;
    QCustomPlot* m_plot;
    QCPTextElement* m_note = nullptr;
    QString m_text;
    int m_wrap = -1;
};

} // namespace

QVector<QCPAxisRect*> makeLayout(QCustomPlot* plot, const QString& titleText, int axisRects,
                                 bool vertical) {
    plot->setAntialiasedElements(QCP::aeAll);
    plot->setNoAntialiasingOnDrag(true);
    QCPLayoutGrid* layout = plot->plotLayout();
    QCPAxisRect* first = plot->axisRect(0);
    if (first->insetLayout()->take(plot->legend))
        first->insetLayout()->simplify();
    layout->take(first);
    layout->simplify();

    QFont titleFont = plot->font();
    titleFont.setPointSizeF(10.5);
    titleFont.setBold(true);
    auto* titleElement = new QCPTextElement(plot, titleText, titleFont);
    titleElement->setObjectName(QStringLiteral("title"));
    layout->addElement(0, 0, titleElement);

    QFont legendFont = plot->font();
    legendFont.setPointSizeF(8.5);
    plot->legend->setVisible(true);
    plot->legend->setFont(legendFont);
    plot->legend->setBorderPen(Qt::NoPen);
    plot->legend->setBrush(Qt::NoBrush);
    plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot->legend->setWrap(5);
    plot->legend->setRowSpacing(0);
    plot->legend->setColumnSpacing(12);
    plot->legend->setMargins(QMargins(4, 0, 4, 0));
    // The legend sits between two stretchable spacers: centred, and never limiting the
    // width of the plot (an empty legend's maximum width would otherwise clamp the column).
    auto* legendRow = new QCPLayoutGrid;
    legendRow->setObjectName(QStringLiteral("legendRow"));
    layout->addElement(1, 0, legendRow);
    legendRow->addElement(0, 0, new QCPLayoutElement(plot));
    legendRow->addElement(0, 1, plot->legend);
    legendRow->addElement(0, 2, new QCPLayoutElement(plot));
    legendRow->setColumnStretchFactors({1.0, 0.001, 1.0});
    legendRow->setColumnSpacing(0);

    auto* grid = new QCPLayoutGrid;
    grid->setObjectName(QStringLiteral("axes"));
    layout->addElement(2, 0, grid);
    QVector<QCPAxisRect*> rects{first};
    for (int i = 1; i < axisRects; ++i)
        rects.push_back(new QCPAxisRect(plot, true));
    auto* margins = new QCPMarginGroup(plot);
    for (int i = 0; i < rects.size(); ++i) {
        if (vertical) {
            grid->addElement(i, 0, rects[i]);
            rects[i]->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
        } else {
            grid->addElement(0, i, rects[i]);
            rects[i]->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
        }
        styleAxisRect(rects[i]);
    }
    new WidthFitter(plot);
    layout->setRowSpacing(2);
    layout->setRowStretchFactor(0, 0.001);
    layout->setRowStretchFactor(1, 0.001);
    layout->setRowStretchFactor(2, 1.0);
    return rects;
}

QCPTextElement* title(QCustomPlot* plot) {
    return qobject_cast<QCPTextElement*>(findElement(plot, QStringLiteral("title")));
}

void fitToWidth(QCustomPlot* plot) {
    if (WidthFitter* f = WidthFitter::of(plot))
        f->apply();
}

void setFootnote(QCustomPlot* plot, const QString& text) {
    QCPLayoutGrid* layout = plot->plotLayout();
    auto* note = qobject_cast<QCPTextElement*>(findElement(plot, QStringLiteral("footnote")));
    WidthFitter* fitter = WidthFitter::of(plot);
    if (text.isEmpty()) {
        if (note) {
            fitter->setFootnote(nullptr, QString());
            layout->remove(note);
            layout->simplify();
        }
        return;
    }
    if (!note) {
        QFont f = plot->font();
        f.setPointSizeF(8.0);
        note = new QCPTextElement(plot, QString(), f);
        note->setObjectName(QStringLiteral("footnote"));
        note->setTextColor(QColor(90, 90, 90));
        note->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
        note->setMargins(QMargins(8, 2, 8, 4));
        layout->addElement(layout->rowCount(), 0, note);
        layout->setRowStretchFactor(layout->rowCount() - 1, 0.001);
    }
    fitter->setFootnote(note, text);
    fitter->apply();
}

} // namespace chartstyle

ChartPanel::ChartPanel(const QString& exportBaseName, QWidget* parent)
    : QFrame(parent), m_baseName(exportBaseName), m_plot(new QCustomPlot(this)),
      m_export(new QToolButton(this)) {
    setFrameShape(QFrame::StyledPanel);
    m_export->setText(tr("Export plot…"));
    m_export->setToolTip(tr("Save this plot as a PNG image or a PDF document"));
    m_export->setAutoRaise(true);
    connect(m_export, &QToolButton::clicked, this, &ChartPanel::exportWithDialog);
    auto* header = new QHBoxLayout;
    header->setContentsMargins(0, 0, 0, 0);
    header->addStretch(1);
    header->addWidget(m_export);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(0);
    layout->addLayout(header);
    layout->addWidget(m_plot, 1);
    m_plot->setMinimumSize(280, 200);
}

bool ChartPanel::exportTo(const QString& path, QString* error) const {
    int w = m_plot->width(), h = m_plot->height();
    if (!m_plot->isVisible() || w < 300 || h < 200) {
        w = 900;
        h = 560;
    }
    const bool pdf =
        QFileInfo(path).suffix().compare(QStringLiteral("pdf"), Qt::CaseInsensitive) == 0;
    const bool ok = pdf ? m_plot->savePdf(path, w, h) : m_plot->savePng(path, w, h, 2.0);
    if (!ok && error)
        *error =
            tr("Could not write %1 (is the folder writable?)").arg(QDir::toNativeSeparators(path));
    return ok;
}

void ChartPanel::exportWithDialog() {
    static QString lastDir = QDir::homePath();
    const QString png = tr("PNG image (*.png)"), pdf = tr("PDF document (*.pdf)");
    QString filter = png;
    QString path = QFileDialog::getSaveFileName(this, tr("Export plot"),
                                                QDir(lastDir).filePath(m_baseName + ".png"),
                                                png + ";;" + pdf, &filter);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += filter == pdf ? QStringLiteral(".pdf") : QStringLiteral(".png");
    lastDir = QFileInfo(path).absolutePath();
    QString error;
    if (!exportTo(path, &error))
        QMessageBox::warning(this, tr("Export plot"), error);
}

} // namespace qatui
