// ChartPanel: one QCustomPlot with an "Export plot…" button (PNG or PDF), and the look
// every chart of the app shares (fonts, run colours, a title and legend laid out above
// the axes so the legend never covers data). Titles and footnotes live inside the plot
// so exported files carry them.
#pragma once

#include <QColor>
#include <QFrame>
#include <QString>

class QCustomPlot;
class QCPAxisRect;
class QCPLayoutGrid;
class QCPTextElement;
class QToolButton;

namespace qatui {

namespace chartstyle {
// Distinguishable colours (Tableau 10) for runs and series, cycling.
QColor color(int index);
// Axis fonts, grid pens and antialiasing for a fresh plot.
void styleAxisRect(QCPAxisRect* rect);
// Rebuilds the plot's layout as: title row, legend row (horizontal, outside the axes),
// then `axisRects` axis rects side by side (vertical = stacked), then a footnote row.
// Returns the axis rects. The plot's default axis rect is reused as the first one.
QVector<QCPAxisRect*> makeLayout(QCustomPlot* plot, const QString& title, int axisRects = 1,
                                 bool vertical = false);
QCPTextElement* title(QCustomPlot* plot);
// Sets (or clears with an empty string) the small grey text under the axes, word-wrapped
// to the plot's width (again on every resize).
void setFootnote(QCustomPlot* plot, const QString& text);
// Gives the legend as many columns as fit the plot's width; call after adding plottables
// (resizes do it on their own).
void fitToWidth(QCustomPlot* plot);
} // namespace chartstyle

class ChartPanel : public QFrame {
    Q_OBJECT
public:
    explicit ChartPanel(const QString& exportBaseName, QWidget* parent = nullptr);

    QCustomPlot* plot() const { return m_plot; }
    // The file name the export dialog proposes (without suffix).
    void setExportBaseName(const QString& name) { m_baseName = name; }
    QToolButton* exportButton() const { return m_export; }

    // Writes the plot as shown (title, legend, footnote included): ".pdf" -> PDF, any
    // other suffix -> PNG. An unlaid-out widget is rendered at 900x560. Returns false
    // with a message when the file cannot be written.
    bool exportTo(const QString& path, QString* error = nullptr) const;

public slots:
    void exportWithDialog();

private:
    QString m_baseName;
    QCustomPlot* m_plot;
    QToolButton* m_export;
};

} // namespace qatui
