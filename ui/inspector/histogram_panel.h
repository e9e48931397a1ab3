// HistogramPanel: a value histogram with the quantization grid drawn over it — the
// clipping range [min, max] as red lines with the region beyond it shaded, and the grid's
// representable levels as vertical lines when there are few (<= kMaxLevelLines) or as tick
// marks along the bottom edge otherwise. Used for weights and activations.
#pragma once

#include <QString>

#include "charts/chart_panel.h"
#include "qat/inspect.h"

namespace qatui {

struct HistogramSpec {
    QString title;
    QString xLabel;
    qat::Histogram histogram;
    bool gridded = false;
    qat::QuantParams grid;
    QString footnote;
    bool logCounts = false;
};

class HistogramPanel : public ChartPanel {
    Q_OBJECT
public:
    static constexpr int kMaxLevelLines = 33;   // draw every level as a line up to this many
    static constexpr int kMaxLevelTicks = 4096; // tick marks beyond that; none above

    explicit HistogramPanel(const QString& exportBaseName, QWidget* parent = nullptr);

    void showHistogram(const HistogramSpec& spec);
    // An empty plot with a message in place of the data.
    void showMessage(const QString& title, const QString& message);

    // What the last showHistogram() drew (tests).
    int levelLines() const { return m_levelLines; }
    int levelTicks() const { return m_levelTicks; }
    bool clipRangeDrawn() const { return m_clipDrawn; }

private:
    int m_levelLines = 0;
    int m_levelTicks = 0;
    bool m_clipDrawn = false;
};

} // namespace qatui
