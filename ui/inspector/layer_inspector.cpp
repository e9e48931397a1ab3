// See layer_inspector.h. Three background jobs, each tagged with a generation number so a
// result for a selection the user has left is dropped:
//   prepare      load the run's .qatm, take the first kImages test images, build the
//                qat::ModelInspector (float, fake-quant and integer passes) and the
//                per-layer error summary;
//   inspect      qat::ModelInspector::inspect for the chosen layer and example position;
//   sensitivity  qat::layerSensitivity (cancellable, progress polled from an atomic).
#include "inspector/layer_inspector.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include <cmath>

#include <qcustomplot.h>

#include "charts/chart_panel.h"
#include "inspector/histogram_panel.h"

namespace qatui {

struct LayerInspector::Prepared {
    quint64 gen = 0;
    std::shared_ptr<const qat::ModelInspector> inspector;
    std::vector<qat::LayerError> errors;
    QString error;
};

struct LayerInspector::Inspected {
    quint64 gen = 0;
    std::optional<qat::LayerInspection> result;
    QString error;
};

struct LayerInspector::Sensitivity {
    quint64 gen = 0;
    QString layer;
    std::optional<qat::SensitivityResult> result;
    QString error;
};

namespace {

QString minus(QString s) {
    if (s.startsWith('-'))
        s.replace(0, 1, QChar(0x2212));
    return s;
}
QString num(double v, int precision = 4) {
    if (std::isnan(v))
        return QStringLiteral("n/a");
    if (std::isinf(v))
        return v > 0 ? QStringLiteral("∞") : QStringLiteral("−∞");
    return minus(QString::number(v, 'g', precision));
}
QString inum(qint64 v) {
    return minus(QString::number(v));
}
QString db(double v) {
    return std::isnan(v) ? QStringLiteral("n/a") : num(v, 3) + " dB";
}
QString pct(double fraction) {
    const double p = 100.0 * fraction;
    // Rare clipping must not read as none: 12 of 400,000 is 0.003 %, not 0.00 %.
    if (p > 0.0 && p < 0.01)
        return QString::number(p, 'g', 1) + " %";
    return minus(QString::number(p, 'f', 2)) + " %";
}
QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

QString gridText(const qat::QuantParams& g, const qat::GridUsage& u, int64_t count) {
    return LayerInspector::tr("scale %1 · zero point %2 · q ∈ [%3, %4] (%5 levels, %6 used) · "
                              "clip range [%7, %8] · clipped %9 of %L10 (%11)")
        .arg(num(g.scale))
        .arg(inum(g.zeroPoint))
        .arg(inum(g.qmin))
        .arg(inum(g.qmax))
        .arg(qat::gridLevelCount(g))
        .arg(u.levelsUsed)
        .arg(num(g.min()))
        .arg(num(g.max()))
        .arg(u.clipped)
        .arg(count)
        .arg(pct(u.fractionClipped));
}

QString configText(const qat::QuantizerConfig& c, bool weights) {
    QString s = QStringLiteral("int%1").arg(c.bits);
    if (weights)
        s += c.perAxis ? LayerInspector::tr(" per-channel") : LayerInspector::tr(" per-tensor");
    s += c.symmetric ? LayerInspector::tr(" symmetric") : LayerInspector::tr(" asymmetric");
    if (c.narrowRange)
        s += LayerInspector::tr(" (narrow range)");
    return s;
}

QTableWidgetItem* cell(const QString& text, bool right = true) {
    auto* item = new QTableWidgetItem(text);
    item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    if (right)
        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

QTableWidget* makeTable(const QStringList& headers) {
    auto* t = new QTableWidget(0, static_cast<int>(headers.size()));
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->setVisible(false);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setAlternatingRowColors(true);
    t->horizontalHeader()->setHighlightSections(false);
    return t;
}

qat::Tensor gatherFirst(const qat::Dataset& d, int64_t n) {
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        idx[static_cast<size_t>(i)] = i;
    qat::Tensor batch;
    std::vector<int32_t> labels;
    d.gather(idx, 0, n, batch, labels);
    return batch;
}
} // namespace

LayerInspector::LayerInspector(QWidget* parent) : QWidget(parent) {
    buildUi();
    clearDisplay(tr("Select a run in the Runs table to inspect its layers."));
}

LayerInspector::~LayerInspector() {
    if (m_prepareCancel)
        m_prepareCancel->cancel();
    if (m_sensCancel)
        m_sensCancel->cancel();
}

void LayerInspector::buildUi() {
    m_layerCombo = new QComboBox;
    m_layerCombo->setMinimumContentsLength(22);
    m_layerCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_layerCombo->setToolTip(tr("Quantizable layers (blocks: conv/dense with folded BatchNorm "
                                "and fused ReLU, Add, Concat, pooling, softmax)"));
    m_summary = new QLabel;
    m_summary->setTextFormat(Qt::RichText);
    m_summary->setWordWrap(true);
    m_status = new QLabel;
    m_status->setStyleSheet(QStringLiteral("color: #555;"));
    m_note = new QLabel;
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral(
        "QLabel { background: #fff6dd; border: 1px solid #e6cf8b; padding: 4px 6px; }"));
    m_note->hide();

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("&Layer:")));
    qobject_cast<QLabel*>(top->itemAt(0)->widget())->setBuddy(m_layerCombo);
    top->addWidget(m_layerCombo);
    top->addWidget(m_summary, 1);
    top->addWidget(m_status);

    // Left: histograms.
    m_channelCombo = new QComboBox;
    m_channelCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_channelCombo->setToolTip(tr("Weights of all output channels, or of one channel with its "
                                  "own grid (per-channel quantization)"));
    m_logCounts = new QCheckBox(tr("Log counts"));
    m_logCounts->setToolTip(tr("Logarithmic count axis: shows the sparse tails next to the "
                               "spike at zero"));
    auto* channelRow = new QHBoxLayout;
    channelRow->addWidget(new QLabel(tr("Weights of:")));
    channelRow->addWidget(m_channelCombo);
    channelRow->addStretch(1);
    channelRow->addWidget(m_logCounts);
    m_weightPlot = new HistogramPanel(QStringLiteral("weight-histogram"));
    m_activationPlot = new HistogramPanel(QStringLiteral("activation-histogram"));
    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(channelRow);
    auto* plots = new QSplitter(Qt::Vertical);
    plots->addWidget(m_weightPlot);
    plots->addWidget(m_activationPlot);
    leftLayout->addWidget(plots, 1);

    // Right: tabs.
    m_tabs = new QTabWidget;

    auto* example = new QWidget;
    m_exampleImage = new QSpinBox;
    m_exampleImage->setRange(0, kImages - 1);
    m_exampleImage->setToolTip(tr("Which of the inspected test images"));
    m_positionMode = new QComboBox;
    m_positionMode->addItems({tr("largest |accumulator|"), tr("chosen (y, x, c)")});
    m_posY = new QSpinBox;
    m_posX = new QSpinBox;
    m_posC = new QSpinBox;
    auto* exampleControls = new QHBoxLayout;
    exampleControls->addWidget(new QLabel(tr("Image")));
    exampleControls->addWidget(m_exampleImage);
    exampleControls->addSpacing(8);
    exampleControls->addWidget(new QLabel(tr("Output")));
    exampleControls->addWidget(m_positionMode);
    for (auto [label, spin] : {std::pair{"y", m_posY}, {"x", m_posX}, {"c", m_posC}}) {
        exampleControls->addWidget(new QLabel(QString::fromLatin1(label)));
        exampleControls->addWidget(spin);
    }
    exampleControls->addStretch(1);
    m_exampleHeader = new QLabel;
    m_exampleHeader->setWordWrap(true);
    m_exampleHeader->setTextFormat(Qt::RichText);
    m_terms = makeTable({tr("#"), tr("Kernel (ky, kx)"), tr("Input (y, x, c)"), tr("x_q"),
                         tr("x_q − z_x"), tr("w_q"), tr("(x_q − z_x)·w_q")});
    m_terms->setMaximumHeight(170);
    m_steps = makeTable({tr("Step"), tr("Computation"), tr("Result")});
    m_steps->setWordWrap(true);
    m_steps->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_steps->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_steps->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    m_steps->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    auto* exampleLayout = new QVBoxLayout(example);
    exampleLayout->addLayout(exampleControls);
    exampleLayout->addWidget(m_exampleHeader);
    exampleLayout->addWidget(m_terms);
    exampleLayout->addWidget(m_steps, 1);
    exampleLayout->addStretch();
    m_tabs->addTab(example, tr("Worked example"));

    auto* scales = new QWidget;
    m_scalesHeader = new QLabel;
    m_scalesHeader->setWordWrap(true);
    m_scalesHeader->setTextFormat(Qt::RichText);
    m_scales =
        makeTable({tr("Channel"), tr("Weight scale s_w"), tr("Zero point"), tr("Clip min"),
                   tr("Clip max"), tr("Weight SQNR"), tr("Bias b_q (int32)"), tr("Multiplier m"),
                   tr("Shift"), tr("M = m·2^(shift−31)"), tr("Real ratio encoded")});
    m_scales->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    auto* scalesLayout = new QVBoxLayout(scales);
    scalesLayout->addWidget(m_scalesHeader);
    scalesLayout->addWidget(m_scales, 1);
    scalesLayout->addStretch();
    m_tabs->addTab(scales, tr("Scales && multipliers"));

    auto* errors = new QWidget;
    m_errorFigures = new QLabel;
    m_errorFigures->setTextFormat(Qt::RichText);
    m_errorFigures->setWordWrap(true);
    m_errorChart = new ChartPanel(QStringLiteral("layer-sqnr"));
    {
        auto rects =
            chartstyle::makeLayout(m_errorChart->plot(), tr("Quantization error by layer"));
        rects[0]->axis(QCPAxis::atLeft)->setLabel(tr("SQNR (dB, higher is better)"));
    }
    m_errorChart->setMinimumHeight(230);
    auto* sens = new QGroupBox(tr("Sensitivity: quantize only this layer"));
    m_sensImages = new QSpinBox;
    m_sensImages->setRange(16, 100000);
    m_sensImages->setValue(kSensitivityImages);
    m_sensImages->setSuffix(tr(" test images"));
    m_sensButton = new QPushButton(tr("Measure"));
    m_sensButton->setToolTip(tr("Fake-quantize only this layer (every other layer float, the "
                                "model input quantized) with the run's ranges and measure the "
                                "accuracy drop against the float model"));
    m_sensCancelButton = new QPushButton(tr("Cancel"));
    m_sensCancelButton->setEnabled(false);
    m_sensBar = new QProgressBar;
    m_sensBar->setRange(0, 1000);
    m_sensBar->setTextVisible(false);
    m_sensBar->setMaximumHeight(10);
    m_sensBar->hide();
    m_sensResult = new QLabel;
    m_sensResult->setWordWrap(true);
    m_sensResult->setTextFormat(Qt::RichText);
    auto* sensRow = new QHBoxLayout;
    sensRow->addWidget(new QLabel(tr("On the first")));
    sensRow->addWidget(m_sensImages);
    sensRow->addWidget(m_sensButton);
    sensRow->addWidget(m_sensCancelButton);
    sensRow->addStretch(1);
    auto* sensLayout = new QVBoxLayout(sens);
    sensLayout->addLayout(sensRow);
    sensLayout->addWidget(m_sensBar);
    sensLayout->addWidget(m_sensResult);
    auto* errorsLayout = new QVBoxLayout(errors);
    errorsLayout->addWidget(m_errorFigures);
    errorsLayout->addWidget(m_errorChart, 1);
    errorsLayout->addWidget(sens);
    m_tabs->addTab(errors, tr("Error && sensitivity"));

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(left);
    split->addWidget(m_tabs);
    left->setMinimumWidth(420);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_note);
    layout->addWidget(split, 1);

    m_sensPoll = new QTimer(this);
    m_sensPoll->setInterval(100);
    connect(m_sensPoll, &QTimer::timeout, this, [this] {
        if (m_sensProgress)
            m_sensBar->setValue(static_cast<int>(1000.0 * m_sensProgress->load()));
    });
    m_exampleDebounce = new QTimer(this);
    m_exampleDebounce->setSingleShot(true);
    m_exampleDebounce->setInterval(150);
    connect(m_exampleDebounce, &QTimer::timeout, this, &LayerInspector::requestInspect);

    connect(m_layerCombo, &QComboBox::activated, this, [this](int index) {
        m_pendingLayer = m_layerCombo->itemData(index).toString();
        cancelSensitivity();
        m_sensResult->clear();
        requestInspect();
        emit layerChosen(m_pendingLayer);
    });
    connect(m_channelCombo, &QComboBox::currentIndexChanged, this, [this] {
        redrawWeights();
        fillErrors();
        const int ch = m_channelCombo->currentIndex() - 1;
        if (ch >= 0 && ch < m_scales->rowCount())
            m_scales->selectRow(ch);
        else
            m_scales->clearSelection();
    });
    connect(m_logCounts, &QCheckBox::toggled, this, [this] {
        redrawWeights();
        redrawActivations();
    });
    auto exampleChanged = [this] {
        const bool chosen = m_positionMode->currentIndex() == 1;
        for (QSpinBox* s : {m_posY, m_posX, m_posC})
            s->setEnabled(chosen);
        if (m_inspector)
            m_exampleDebounce->start();
    };
    connect(m_exampleImage, &QSpinBox::valueChanged, this, exampleChanged);
    connect(m_positionMode, &QComboBox::currentIndexChanged, this, exampleChanged);
    for (QSpinBox* s : {m_posY, m_posX, m_posC}) {
        s->setEnabled(false);
        connect(s, &QSpinBox::valueChanged, this, exampleChanged);
    }
    connect(m_sensButton, &QPushButton::clicked, this, &LayerInspector::startSensitivity);
    connect(m_sensCancelButton, &QPushButton::clicked, this, &LayerInspector::cancelSensitivity);
}

// ---------------------------------------------------------------- selection

void LayerInspector::setRun(const RunRecord& run) {
    const bool same =
        m_hasRun && run.id != 0 && run.id == m_run.id && run.artefactPath == m_run.artefactPath;
    m_run = run;
    m_hasRun = true;
    if (!same) // a refreshed selection or a rename keeps what is shown
        prepare();
}

void LayerInspector::setDataset(std::shared_ptr<const qat::DatasetSplits> dataset) {
    if (dataset == m_data)
        return;
    m_data = std::move(dataset);
    if (m_hasRun)
        prepare();
}

QString LayerInspector::anchorFor(const QString& name) const {
    if (!m_inspector)
        return name;
    const std::string n = name.toStdString();
    for (const auto& b : m_inspector->blocks())
        if (b.anchor == n || b.bn == n || b.activation == n)
            return qs(b.anchor);
    return name;
}

void LayerInspector::setLayer(const QString& layerName) {
    const QString anchor = anchorFor(layerName);
    if (anchor == m_pendingLayer && (m_shown || !m_inspector))
        return;
    m_pendingLayer = anchor;
    if (!m_inspector)
        return; // applied when the model is ready
    const int index = m_layerCombo->findData(anchor);
    if (index < 0)
        return; // not a quantizable layer of this model: keep showing the current one
    m_layerCombo->setCurrentIndex(index);
    cancelSensitivity();
    m_sensResult->clear();
    requestInspect();
}

QString LayerInspector::currentLayer() const {
    return m_pendingLayer;
}
bool LayerInspector::isBusy() const {
    return m_busyJobs > 0;
}
QString LayerInspector::statusText() const {
    return m_status->text();
}
QString LayerInspector::noteText() const {
    return m_note->isVisible() ? m_note->text() : QString();
}

void LayerInspector::setStatus(const QString& text, bool busy) {
    m_status->setText(text);
    m_status->setStyleSheet(busy ? QStringLiteral("color: #1f5fa8;")
                                 : QStringLiteral("color: #555;"));
}

void LayerInspector::setNote(const QString& text) {
    m_note->setText(text);
    m_note->setVisible(!text.isEmpty());
}

void LayerInspector::clearDisplay(const QString& message) {
    m_shown.reset();
    m_summary->clear();
    m_channelCombo->clear();
    m_channelCombo->setEnabled(false);
    m_weightPlot->showMessage(tr("Weights"), message);
    m_activationPlot->showMessage(tr("Activations"), message);
    m_scales->setRowCount(0);
    m_scales->setVisible(false);
    m_scalesHeader->setText(message);
    m_terms->setRowCount(0);
    m_steps->setRowCount(0);
    m_terms->setVisible(false);
    m_steps->setVisible(false);
    m_exampleHeader->setText(message);
    m_errorFigures->setText(message);
    m_errorChart->plot()->clearPlottables();
    m_errorChart->plot()->clearItems();
    m_errorChart->plot()->replot(QCustomPlot::rpQueuedReplot);
    m_sensButton->setEnabled(false);
    m_sensResult->clear();
}

// ---------------------------------------------------------------- background jobs

void LayerInspector::prepare() {
    ++m_prepareGen;
    ++m_inspectGen; // any inspection in flight belongs to the old model
    if (m_prepareCancel)
        m_prepareCancel->cancel();
    cancelSensitivity();
    m_inspector.reset();
    m_errors.clear();
    m_layerCombo->clear();
    m_layerCombo->setEnabled(false);
    setNote(QString());
    const QString path = m_run.artefactPath;
    if (path.isEmpty() || !QFileInfo::exists(path)) {
        const QString msg = path.isEmpty() ? tr("Run \"%1\" has no saved model to inspect (it was "
                                                "cancelled or has not finished).")
                                                 .arg(m_run.name)
                                           : tr("The model file of run \"%1\" is missing: %2")
                                                 .arg(m_run.name, QDir::toNativeSeparators(path));
        clearDisplay(msg);
        setStatus(QString(), false);
        emit inspectionFailed(msg);
        return;
    }
    if (!m_data) {
        clearDisplay(tr("Waiting for the dataset: the inspection runs the model on test images."));
        setStatus(tr("No dataset loaded"), false);
        return;
    }
    clearDisplay(tr("Loading %1 and running it on %2 test images…")
                     .arg(QFileInfo(path).fileName())
                     .arg(kImages));
    setStatus(tr("Computing…"), true);

    const quint64 gen = m_prepareGen;
    auto cancel = std::make_shared<qat::CancelToken>();
    m_prepareCancel = cancel;
    auto dataset = m_data;
    auto job = [path, dataset, gen, cancel]() -> Prepared {
        Prepared p;
        p.gen = gen;
        try {
            auto file = qat::loadQuantizedModel(path.toStdString());
            if (!file) {
                p.error = qs(file.message());
                return p;
            }
            const qat::Dataset& test = dataset->test.size() > 0 ? dataset->test : dataset->train;
            if (test.sampleShape != file->graph.inputShape()) {
                p.error = LayerInspector::tr("The run's model expects %1 images but the dataset "
                                             "\"%2\" has %3; choose the dataset the run used.")
                              .arg(qs(qat::shapeToString(file->graph.inputShape())),
                                   qs(dataset->source.empty() ? test.name : dataset->source),
                                   qs(qat::shapeToString(test.sampleShape)));
                return p;
            }
            const int64_t n = std::min<int64_t>(kImages, test.size());
            if (n < 1) {
                p.error = LayerInspector::tr("The dataset has no images.");
                return p;
            }
            auto ins = qat::ModelInspector::create(std::move(file).value(), gatherFirst(test, n),
                                                   qat::Rounding::Single, cancel.get());
            if (!ins) {
                p.error = qs(ins.message());
                return p;
            }
            p.errors = ins.value()->layerErrors();
            p.inspector = std::shared_ptr<const qat::ModelInspector>(std::move(ins).value());
        } catch (const std::exception& e) {
            p.error =
                LayerInspector::tr("Inspection failed: %1").arg(QString::fromLocal8Bit(e.what()));
        }
        return p;
    };
    auto* watcher = new QFutureWatcher<Prepared>(this);
    ++m_busyJobs;
    connect(watcher, &QFutureWatcher<Prepared>::finished, this, [this, watcher] {
        --m_busyJobs;
        watcher->deleteLater();
        onPrepared(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(job));
}

void LayerInspector::onPrepared(const Prepared& p) {
    if (p.gen != m_prepareGen)
        return; // the run or dataset changed meanwhile
    if (!p.inspector) {
        if (p.error == QLatin1String("cancelled"))
            return;
        clearDisplay(p.error);
        setStatus(tr("Failed"), false);
        setNote(p.error);
        emit inspectionFailed(p.error);
        return;
    }
    m_inspector = p.inspector;
    m_errors = p.errors;
    m_layerCombo->clear();
    QString firstWeighted;
    for (const auto& b : m_inspector->blocks()) {
        const QString anchor = qs(b.anchor);
        QString label = anchor;
        const qat::Node* node = m_inspector->graph().find(b.anchor);
        label += QStringLiteral("  (") + qs(qat::opTypeName(node->type));
        if (!b.bn.empty())
            label += QStringLiteral(" + BN");
        if (!b.activation.empty())
            label += QStringLiteral(" + ") +
                     qs(qat::opTypeName(m_inspector->graph().find(b.activation)->type));
        label += QLatin1Char(')');
        m_layerCombo->addItem(label, anchor);
        if (firstWeighted.isEmpty() && b.hasWeights())
            firstWeighted = anchor;
    }
    m_layerCombo->setEnabled(m_layerCombo->count() > 0);
    QString layer = anchorFor(m_pendingLayer);
    if (m_layerCombo->findData(layer) < 0)
        layer = firstWeighted.isEmpty() ? m_layerCombo->itemData(0).toString() : firstWeighted;
    m_pendingLayer = layer;
    m_layerCombo->setCurrentIndex(m_layerCombo->findData(layer));
    requestInspect();
}

void LayerInspector::requestInspect() {
    if (!m_inspector || m_pendingLayer.isEmpty())
        return;
    const quint64 gen = ++m_inspectGen;
    auto inspector = m_inspector;
    qat::InspectOptions opts;
    opts.exampleSample = m_exampleImage->value();
    if (m_positionMode->currentIndex() == 1)
        opts.examplePosition =
            std::array<int64_t, 3>{m_posY->value(), m_posX->value(), m_posC->value()};
    const std::string layer = m_pendingLayer.toStdString();
    auto job = [inspector, layer, opts, gen]() -> Inspected {
        Inspected r;
        r.gen = gen;
        try {
            auto res = inspector->inspect(layer, opts);
            if (res)
                r.result = std::move(res).value();
            else
                r.error = qs(res.message());
        } catch (const std::exception& e) {
            r.error =
                LayerInspector::tr("Inspection failed: %1").arg(QString::fromLocal8Bit(e.what()));
        }
        return r;
    };
    setStatus(tr("Computing…"), true);
    auto* watcher = new QFutureWatcher<Inspected>(this);
    ++m_busyJobs;
    connect(watcher, &QFutureWatcher<Inspected>::finished, this, [this, watcher] {
        --m_busyJobs;
        watcher->deleteLater();
        onInspected(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(job));
}

void LayerInspector::onInspected(const Inspected& r) {
    if (r.gen != m_inspectGen)
        return; // another layer or position was asked for meanwhile
    if (!r.result) {
        clearDisplay(r.error);
        setStatus(tr("Failed"), false);
        emit inspectionFailed(r.error);
        return;
    }
    const bool sameLayer = m_shown && m_shown->layer == r.result->layer;
    const int channel = sameLayer ? m_channelCombo->currentIndex() : 0;
    m_shown = r.result;
    showInspection();
    if (sameLayer && channel >= 0 && channel < m_channelCombo->count())
        m_channelCombo->setCurrentIndex(channel);
    setStatus(tr("%1 test images").arg(m_shown->images), false);
    emit inspectionShown(qs(m_shown->layer));
}

// ---------------------------------------------------------------- display

void LayerInspector::showInspection() {
    const qat::LayerInspection& in = *m_shown;
    QString summary = QStringLiteral("<b>%1</b> — %2")
                          .arg(qs(in.layer).toHtmlEscaped(), qs(in.description).toHtmlEscaped());
    if (in.modelQuantized && in.layerQuantized) {
        if (in.weights.present)
            summary += tr(" · weights %1").arg(configText(in.weights.config, true));
        if (in.activations.quantized)
            summary += tr(" · output int%1").arg(in.activations.bits);
        if (!in.intOpName.empty())
            summary += tr(" · integer op %1").arg(qs(in.intOpName));
    } else if (!in.modelQuantized) {
        summary += tr(" · float model");
    } else {
        summary += tr(" · kept float by the plan");
    }
    m_summary->setText(summary);
    setNote(qs(in.note));

    m_channelCombo->blockSignals(true);
    m_channelCombo->clear();
    if (in.weights.present) {
        m_channelCombo->addItem(tr("all %1 output channels").arg(in.weights.channels.size()));
        for (const auto& ch : in.weights.channels)
            m_channelCombo->addItem(tr("channel %1").arg(ch.channel));
    }
    m_channelCombo->setEnabled(in.weights.present);
    m_channelCombo->blockSignals(false);

    // Example position limits from the output shape ([H, W, C] or [C]).
    const qat::Shape& s = in.activations.shape;
    const bool spatial = s.size() == 3;
    for (QSpinBox* sp : {m_posY, m_posX, m_posC})
        sp->blockSignals(true);
    m_posY->setRange(0, spatial ? static_cast<int>(s[0]) - 1 : 0);
    m_posX->setRange(0, spatial ? static_cast<int>(s[1]) - 1 : 0);
    m_posC->setRange(0, s.empty() ? 0 : static_cast<int>(s.back()) - 1);
    if (in.example.available) {
        m_posY->setValue(static_cast<int>(in.example.y));
        m_posX->setValue(static_cast<int>(in.example.x));
        m_posC->setValue(static_cast<int>(in.example.c));
    }
    for (QSpinBox* sp : {m_posY, m_posX, m_posC})
        sp->blockSignals(false);
    m_exampleImage->blockSignals(true);
    m_exampleImage->setMaximum(static_cast<int>(std::max<int64_t>(1, in.images)) - 1);
    m_exampleImage->blockSignals(false);

    redrawWeights();
    redrawActivations();
    fillScales();
    fillExample();
    fillErrors();
    m_sensButton->setEnabled(in.modelQuantized && in.layerQuantized && m_data != nullptr);
    m_sensButton->setToolTip(in.modelQuantized && in.layerQuantized
                                 ? tr("Fake-quantize only this layer (every other layer float, "
                                      "the model input quantized) with the run's ranges and "
                                      "measure the accuracy drop against the float model")
                                 : tr("Only layers the run quantizes have a sensitivity"));
}

void LayerInspector::redrawWeights() {
    if (!m_shown)
        return;
    const qat::LayerInspection& in = *m_shown;
    const qat::WeightInspection& w = in.weights;
    if (!w.present) {
        m_weightPlot->showMessage(tr("Weights of %1").arg(qs(in.layer)),
                                  tr("%1 has no weights: its integer op only requantizes its "
                                     "inputs. See its output below.")
                                      .arg(qs(in.description)));
        return;
    }
    HistogramSpec spec;
    spec.logCounts = m_logCounts->isChecked();
    spec.xLabel =
        w.bnFolded ? tr("Weight value (real, BatchNorm folded)") : tr("Weight value (real)");
    const int index = m_channelCombo->currentIndex();
    if (index <= 0) {
        spec.title =
            tr("%1 weights — all %2 output channels").arg(qs(in.layer)).arg(w.channels.size());
        spec.histogram = w.histogram;
        if (!w.quantized) {
            spec.footnote =
                in.modelQuantized
                    ? tr("Float weights: the plan keeps this layer float.")
                    : tr("Float weights: this run is not quantized, so there is no grid.");
        } else if (w.perAxis) {
            float narrow = INFINITY, wide = 0;
            for (const auto& ch : w.channels) {
                narrow = std::min(narrow, ch.grid.max());
                wide = std::max(wide, ch.grid.max());
            }
            spec.footnote = tr("Per-channel grids (%1 channels, each with its own scale): choose "
                               "one channel to see its grid. Clip ranges from ±%2 to ±%3. "
                               "SQNR of all weights %4.")
                                .arg(w.channels.size())
                                .arg(num(narrow), num(wide), db(w.sqnrDb));
        } else {
            spec.gridded = true;
            spec.grid = w.channels.front().grid;
            qat::GridUsage all;
            all.codeCounts.assign(static_cast<size_t>(qat::gridLevelCount(spec.grid)), 0);
            for (const auto& ch : w.channels) {
                all.clipped += ch.usage.clipped;
                for (size_t k = 0; k < ch.usage.codeCounts.size(); ++k)
                    all.codeCounts[k] += ch.usage.codeCounts[k];
            }
            for (int64_t c : all.codeCounts)
                all.levelsUsed += c > 0;
            all.fractionClipped = w.count ? static_cast<double>(all.clipped) / w.count : 0.0;
            spec.footnote = tr("Per-tensor grid: %1. SQNR %2.")
                                .arg(gridText(spec.grid, all, w.count), db(w.sqnrDb));
        }
    } else {
        const qat::ChannelWeights& ch = w.channels[static_cast<size_t>(index - 1)];
        spec.title = tr("%1 weights — output channel %2").arg(qs(in.layer)).arg(ch.channel);
        spec.histogram = ch.histogram;
        if (ch.quantized) {
            spec.gridded = true;
            spec.grid = ch.grid;
            spec.footnote = tr("%1 grid: %2. SQNR %3.")
                                .arg(w.perAxis ? tr("This channel's") : tr("The tensor's"),
                                     gridText(ch.grid, ch.usage, ch.count), db(ch.sqnrDb));
        } else {
            spec.footnote = tr("Float weights (no grid).");
        }
    }
    m_weightPlot->setExportBaseName(
        QStringLiteral("weights-%1%2")
            .arg(qs(in.layer),
                 index > 0 ? QStringLiteral("-channel%1").arg(index - 1) : QString()));
    m_weightPlot->showHistogram(spec);
}

void LayerInspector::redrawActivations() {
    if (!m_shown)
        return;
    const qat::LayerInspection& in = *m_shown;
    const qat::ActivationInspection& a = in.activations;
    HistogramSpec spec;
    spec.logCounts = m_logCounts->isChecked();
    spec.title =
        tr("%1 output (%2) on %3 test images").arg(qs(in.layer), qs(a.node)).arg(in.images);
    // A spike holding a quarter of all values (ReLU's zeros) hides the rest on a linear axis.
    spec.logCounts = spec.logCounts ||
                     (a.histogram.total() > 0 && a.histogram.maxCount() * 4 > a.histogram.total());
    spec.xLabel = tr("Activation value (real, float network)");
    spec.histogram = a.histogram;
    if (a.quantized) {
        spec.gridded = true;
        spec.grid = a.grid;
        spec.footnote =
            tr("Output grid (int%1): %2.").arg(a.bits).arg(gridText(a.grid, a.usage, a.count));
    } else {
        spec.footnote = in.modelQuantized ? tr("Float output: no grid at this point.")
                                          : tr("Float output: this run is not quantized.");
    }
    m_activationPlot->setExportBaseName(QStringLiteral("activations-%1").arg(qs(in.layer)));
    m_activationPlot->showHistogram(spec);
}

void LayerInspector::fillScales() {
    const qat::LayerInspection& in = *m_shown;
    m_scales->setRowCount(0);
    m_scales->setVisible(false);
    if (!in.modelQuantized) {
        m_scalesHeader->setText(tr("This run is a float model: there are no scales, zero points "
                                   "or integer multipliers."));
        return;
    }
    QString header;
    if (in.hasInputGrid)
        header += (in.weights.present ? tr("Input grid: scale s_x = %1, zero point z_x = %2.  ")
                                      : tr("First input's grid: scale %1, zero point %2.  "))
                      .arg(num(in.inputGrid.scale), inum(in.inputGrid.zeroPoint));
    if (in.activations.quantized)
        header += tr("Output grid: scale s_y = %1, zero point z_y = %2, q ∈ [%3, %4].  ")
                      .arg(num(in.activations.grid.scale), inum(in.activations.grid.zeroPoint),
                           inum(in.activations.grid.qmin), inum(in.activations.grid.qmax));
    if (!in.requantization.empty())
        header += tr("<br>Each multiplier M is stored as an int32 m in [2^30, 2^31) and a shift "
                     "(TFLite QuantizeMultiplier), so the requantization is integer-only.");
    else if (!in.layerQuantized)
        header += tr("The plan keeps this layer float.");
    else if (!in.intOpName.empty())
        header += tr("Its integer op (%1) needs no multiplier.").arg(qs(in.intOpName));
    m_scalesHeader->setText(header);

    const auto& channels = in.weights.channels;
    const bool perChannelRows = in.weights.present && in.weights.quantized;
    const int rows = perChannelRows ? static_cast<int>(channels.size())
                                    : static_cast<int>(in.requantization.size());
    m_scales->setRowCount(rows);
    m_scales->setVisible(rows > 0);
    for (int c = 1; c <= 6; ++c)
        m_scales->setColumnHidden(c, !perChannelRows);
    for (int r = 0; r < rows; ++r) {
        const qat::Requantization* q = nullptr;
        for (const auto& rq : in.requantization)
            if ((perChannelRows && rq.channel == r) ||
                (!perChannelRows && &rq == &in.requantization[static_cast<size_t>(r)]))
                q = &rq;
        if (perChannelRows) {
            const qat::ChannelWeights& ch = channels[static_cast<size_t>(r)];
            m_scales->setItem(r, 0, cell(QString::number(ch.channel)));
            m_scales->setItem(r, 1, cell(num(ch.grid.scale, 6)));
            m_scales->setItem(r, 2, cell(inum(ch.grid.zeroPoint)));
            m_scales->setItem(r, 3, cell(num(ch.grid.min())));
            m_scales->setItem(r, 4, cell(num(ch.grid.max())));
            m_scales->setItem(r, 5, cell(db(ch.sqnrDb)));
        } else {
            m_scales->setItem(r, 0, cell(q ? qs(q->label) : QString(), false));
            for (int c = 1; c <= 5; ++c)
                m_scales->setItem(r, c, cell(QStringLiteral("—")));
        }
        if (q) {
            m_scales->setItem(r, 6, cell(q->hasBias ? inum(q->bias) : QStringLiteral("—")));
            m_scales->setItem(r, 7, cell(QString::number(q->multiplier)));
            m_scales->setItem(r, 8, cell(inum(q->shift)));
            m_scales->setItem(r, 9, cell(num(q->effective, 8)));
            m_scales->setItem(r, 10, cell(num(q->intended, 8)));
        } else {
            for (int c = 6; c <= 10; ++c)
                m_scales->setItem(r, c, cell(QStringLiteral("n/a")));
        }
    }
}

void LayerInspector::fillExample() {
    const qat::LayerInspection& in = *m_shown;
    const qat::WorkedExample& ex = in.example;
    m_terms->setRowCount(0);
    m_steps->setRowCount(0);
    const bool enable = ex.available;
    for (QWidget* w : std::initializer_list<QWidget*>{m_exampleImage, m_positionMode})
        w->setEnabled(enable || (in.modelQuantized && !ex.reason.empty() &&
                                 ex.reason.find("outside") != std::string::npos));
    m_terms->setVisible(ex.available);
    m_steps->setVisible(ex.available);
    if (!ex.available) {
        m_exampleHeader->setText(
            tr("No worked example for this layer: %1.").arg(qs(ex.reason).toHtmlEscaped()));
        return;
    }
    const bool dense = in.activations.shape.size() == 1;
    const QString where = dense ? QStringLiteral("y[%1]").arg(ex.c)
                                : QStringLiteral("y[%1, %2, %3]").arg(ex.y).arg(ex.x).arg(ex.c);
    m_exampleHeader->setText(
        tr("<b>%1</b> of image %2 (%3), computed with integers only as %4 does it: "
           "%5 multiply-accumulate terms%6, the first %7 listed. z_x = %8 is the input zero "
           "point; weights are symmetric (zero point 0).")
            .arg(where)
            .arg(ex.sample)
            .arg(m_positionMode->currentIndex() == 1
                     ? tr("chosen position")
                     : tr("the position with the largest |accumulator|"))
            .arg(qs(ex.opName))
            .arg(ex.termCount)
            .arg(ex.paddingTerms ? tr(" (+%1 in the zero padding)").arg(ex.paddingTerms)
                                 : QString())
            .arg(ex.terms.size())
            .arg(inum(ex.inputZeroPoint)));
    m_terms->setRowCount(static_cast<int>(ex.terms.size()));
    for (int r = 0; r < m_terms->rowCount(); ++r) {
        const qat::WorkedTerm& t = ex.terms[static_cast<size_t>(r)];
        m_terms->setItem(r, 0, cell(QString::number(r + 1)));
        m_terms->setItem(
            r, 1,
            cell(dense ? QStringLiteral("—") : QStringLiteral("(%1, %2)").arg(t.ky).arg(t.kx)));
        m_terms->setItem(r, 2,
                         cell(dense
                                  ? QStringLiteral("(%1)").arg(t.ic)
                                  : QStringLiteral("(%1, %2, %3)").arg(t.iy).arg(t.ix).arg(t.ic)));
        m_terms->setItem(r, 3, cell(inum(t.x)));
        m_terms->setItem(r, 4, cell(inum(static_cast<qint64>(t.x) - ex.inputZeroPoint)));
        m_terms->setItem(r, 5, cell(inum(t.w)));
        m_terms->setItem(r, 6, cell(inum(t.product)));
    }
    m_terms->resizeColumnsToContents();
    m_steps->setRowCount(static_cast<int>(ex.steps.size()));
    for (int r = 0; r < m_steps->rowCount(); ++r) {
        const qat::WorkedStep& s = ex.steps[static_cast<size_t>(r)];
        auto* label = cell(qs(s.label), false);
        QFont bold = label->font();
        bold.setBold(true);
        label->setFont(bold);
        m_steps->setItem(r, 0, label);
        m_steps->setItem(r, 1, cell(qs(s.formula), false));
        auto* value = cell(qs(s.value), false);
        if (s.label == "Int8 output" || s.label == "Integer executor")
            value->setFont(bold);
        m_steps->setItem(r, 2, value);
    }
    m_steps->resizeRowsToContents();
}

void LayerInspector::fillErrors() {
    if (!m_shown)
        return;
    const qat::LayerInspection& in = *m_shown;
    const qat::ActivationInspection& a = in.activations;
    if (!in.modelQuantized) {
        m_errorFigures->setText(tr("This run is a float model: there is no quantization error to "
                                   "measure. Inspect a PTQ or QAT run of it to compare."));
    } else {
        QString rows;
        auto row = [&rows](const QString& what, const QString& value, const QString& hint) {
            rows += QStringLiteral("<tr><td>%1</td><td align=right><b>%2</b></td><td "
                                   "style='color:#666'>&nbsp;&nbsp;%3</td></tr>")
                        .arg(what, value, hint);
        };
        if (in.weights.present) {
            row(tr("Weight SQNR, all channels"), db(in.weights.sqnrDb),
                tr("folded float weights vs their grid"));
            const int ch = m_channelCombo->currentIndex() - 1;
            if (ch >= 0 && ch < static_cast<int>(in.weights.channels.size()))
                row(tr("Weight SQNR, channel %1").arg(ch),
                    db(in.weights.channels[static_cast<size_t>(ch)].sqnrDb), QString());
        }
        row(tr("Output SQNR, this layer's grid only"), db(a.gridOnlySqnrDb),
            tr("float output rounded to its grid"));
        row(tr("Output SQNR, fake-quant network"), db(a.fakeQuantSqnrDb),
            tr("all quantized layers up to here"));
        row(tr("Output SQNR, integer model"), db(a.integerSqnrDb),
            tr("int8 executor, dequantized, vs float"));
        if (a.quantized)
            row(tr("Clipped outputs"), pct(a.usage.fractionClipped),
                tr("%L1 of %L2 values saturate the grid").arg(a.usage.clipped).arg(a.count));
        m_errorFigures->setText(QStringLiteral("<table cellspacing=2>") + rows +
                                QStringLiteral("</table>"));
    }

    // Per-layer SQNR bars, the current layer shaded.
    QCustomPlot* plot = m_errorChart->plot();
    plot->clearPlottables();
    plot->clearItems();
    QCPAxisRect* rect = plot->axisRect(0);
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    if (!in.modelQuantized || m_errors.empty()) {
        chartstyle::setFootnote(plot, in.modelQuantized ? QString()
                                                        : tr("Float model: nothing to plot."));
        plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    auto* wBars = new QCPBars(x, y);
    wBars->setName(tr("weights"));
    wBars->setWidth(0.38);
    wBars->setBrush(chartstyle::color(0));
    wBars->setPen(QPen(chartstyle::color(0).darker(125)));
    auto* oBars = new QCPBars(x, y);
    oBars->setName(tr("output, integer model"));
    oBars->setWidth(0.38);
    oBars->setBrush(chartstyle::color(2));
    oBars->setPen(QPen(chartstyle::color(2).darker(125)));
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    double top = 10.0;
    int current = -1;
    for (size_t i = 0; i < m_errors.size(); ++i) {
        const qat::LayerError& e = m_errors[i];
        const double k = static_cast<double>(i);
        ticker->addTick(k, qs(e.layer));
        if (std::isfinite(e.weightSqnrDb)) {
            wBars->addData(k - 0.2, e.weightSqnrDb);
            top = std::max(top, e.weightSqnrDb);
        }
        if (std::isfinite(e.integerSqnrDb)) {
            oBars->addData(k + 0.2, e.integerSqnrDb);
            top = std::max(top, e.integerSqnrDb);
        }
        if (qs(e.layer) == qs(in.layer))
            current = static_cast<int>(i);
    }
    x->setTicker(ticker);
    x->setTickLabelRotation(m_errors.size() > 6 ? -35 : 0);
    x->setSubTicks(false);
    x->grid()->setVisible(false);
    x->setRange(-0.6, static_cast<double>(m_errors.size()) - 0.4);
    y->setRange(0.0, top * 1.15);
    if (current >= 0) {
        auto* band = new QCPItemRect(plot);
        band->setClipAxisRect(rect);
        band->setLayer(QStringLiteral("background"));
        for (QCPItemPosition* pos : {band->topLeft, band->bottomRight}) {
            pos->setTypeX(QCPItemPosition::ptPlotCoords);
            pos->setTypeY(QCPItemPosition::ptAxisRectRatio);
            pos->setAxes(x, y);
            pos->setAxisRect(rect);
        }
        band->topLeft->setCoords(current - 0.48, 0.0);
        band->bottomRight->setCoords(current + 0.48, 1.0);
        band->setPen(Qt::NoPen);
        band->setBrush(QColor(255, 220, 120, 90));
    }
    chartstyle::fitToWidth(plot);
    chartstyle::setFootnote(plot, tr("Shaded: the layer shown. Missing bars: no weights, or the "
                                     "layer is float in the integer model. About 6 dB per bit."));
    plot->replot(QCustomPlot::rpQueuedReplot);
}

// ---------------------------------------------------------------- sensitivity

void LayerInspector::startSensitivity() {
    if (!m_inspector || !m_data || !m_shown)
        return;
    cancelSensitivity();
    const quint64 gen = ++m_sensGen;
    auto cancel = std::make_shared<qat::CancelToken>();
    auto progress = std::make_shared<std::atomic<double>>(0.0);
    m_sensCancel = cancel;
    m_sensProgress = progress;
    auto inspector = m_inspector;
    auto dataset = m_data;
    const QString layer = qs(m_shown->layer);
    const int64_t images = m_sensImages->value();
    auto job = [inspector, dataset, layer, images, gen, cancel, progress]() -> Sensitivity {
        Sensitivity s;
        s.gen = gen;
        s.layer = layer;
        try {
            auto r = qat::layerSensitivity(inspector->model(), layer.toStdString(), dataset->test,
                                           images, cancel.get(),
                                           [progress](double f) { progress->store(f); });
            if (r)
                s.result = r.value();
            else
                s.error = qs(r.message());
        } catch (const std::exception& e) {
            s.error = QString::fromLocal8Bit(e.what());
        }
        return s;
    };
    m_sensButton->setEnabled(false);
    m_sensCancelButton->setEnabled(true);
    m_sensBar->setValue(0);
    m_sensBar->show();
    m_sensPoll->start();
    m_sensResult->setText(tr("Measuring %1 on %2 test images…").arg(layer).arg(images));
    auto* watcher = new QFutureWatcher<Sensitivity>(this);
    ++m_busyJobs;
    connect(watcher, &QFutureWatcher<Sensitivity>::finished, this, [this, watcher] {
        --m_busyJobs;
        watcher->deleteLater();
        onSensitivity(watcher->result());
    });
    watcher->setFuture(QtConcurrent::run(job));
}

void LayerInspector::cancelSensitivity() {
    if (m_sensCancel)
        m_sensCancel->cancel();
    m_sensCancel.reset();
    ++m_sensGen; // whatever is still running reports to nobody
    m_sensPoll->stop();
    m_sensBar->hide();
    m_sensCancelButton->setEnabled(false);
    if (m_shown)
        m_sensButton->setEnabled(m_shown->modelQuantized && m_shown->layerQuantized && m_data);
    if (m_sensResult->text().startsWith(tr("Measuring")))
        m_sensResult->setText(tr("Cancelled."));
}

void LayerInspector::onSensitivity(const Sensitivity& s) {
    if (s.gen != m_sensGen)
        return;
    m_sensCancel.reset();
    m_sensPoll->stop();
    m_sensBar->hide();
    m_sensCancelButton->setEnabled(false);
    m_sensButton->setEnabled(true);
    if (!s.result) {
        m_sensResult->setText(tr("Could not measure: %1").arg(s.error.toHtmlEscaped()));
        return;
    }
    const qat::SensitivityResult& r = *s.result;
    m_sensResult->setText(
        tr("Only <b>%1</b> quantized, on %2 test images: accuracy %3 vs float %4 — "
           "<b>drop %5 points</b>; its output SQNR %6.")
            .arg(s.layer.toHtmlEscaped())
            .arg(r.images)
            .arg(pct(r.quantizedAccuracy), pct(r.floatAccuracy))
            .arg(minus(QString::number(100.0 * r.accuracyDrop, 'f', 2)), db(r.outputSqnrDb)));
    emit sensitivityDone(s.layer);
}

} // namespace qatui
