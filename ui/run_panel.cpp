// RunPanel: dataset choice, run settings, run buttons and progress.
#include "run_panel.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

namespace qatui {

namespace {

constexpr int kChooseDirectory = -1; // item data of "Choose directory…"

// Learning rates span decades: shown as "0.001" / "1e-05", stepped by factors of 2.
class LrSpinBox : public QDoubleSpinBox {
public:
    LrSpinBox() {
        setDecimals(10);
        setRange(1e-7, 10.0);
        setKeyboardTracking(false);
        setToolTip(QStringLiteral("Learning rate (Adam). Arrow keys halve or double it."));
    }
    QString textFromValue(double v) const override { return QString::number(v, 'g', 4); }
    double valueFromText(const QString& text) const override { return text.toDouble(); }
    QValidator::State validate(QString& text, int&) const override {
        bool ok = false;
        const double v = text.toDouble(&ok);
        if (ok && v >= minimum() && v <= maximum())
            return QValidator::Acceptable;
        return QValidator::Intermediate;
    }
    void stepBy(int steps) override { setValue(value() * std::pow(2.0, steps)); }
};

QSpinBox* spin(int lo, int hi, const QString& tip, const QString& special = {}) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setToolTip(tip);
    s->setSpecialValueText(special);
    s->setKeyboardTracking(false);
    s->setAccelerated(true);
    return s;
}

} // namespace

QString formatDuration(double seconds) {
    if (seconds < 0 || !std::isfinite(seconds))
        return QStringLiteral("—");
    const int s = static_cast<int>(std::lround(seconds));
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2:%3")
        .arg(s / 3600)
        .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(s % 60, 2, 10, QLatin1Char('0'));
}

RunPanel::RunPanel(QWidget* parent) : QWidget(parent) {
    // Dataset.
    m_dataset = new QComboBox;
    m_dataset->setToolTip(tr("Dataset for training, calibration and evaluation"));
    m_dataset->addItem(tr("Fashion-MNIST"), QStringLiteral("fashion-mnist"));
    m_dataset->setItemData(0,
                           tr("Debian's dataset-fashion-mnist (60,000 / 10,000 images); the "
                              "bundled sample when it is not installed"),
                           Qt::ToolTipRole);
    m_dataset->addItem(tr("Fashion-MNIST sample"), QStringLiteral("fashion-mnist-sample"));
    m_dataset->setItemData(1, tr("600 / 300 images shipped with QAT Lab: quick experiments"),
                           Qt::ToolTipRole);
    m_dataset->insertSeparator(2);
    m_dataset->addItem(tr("Choose directory…"), kChooseDirectory);
    m_dataset->setItemData(
        m_dataset->count() - 1,
        tr("A directory with MNIST-format IDX files, CIFAR-10 binary batches, or "
           "PNG/JPEG images in one subdirectory per class (optionally "
           "inside train/ and test/)"),
        Qt::ToolTipRole);
    m_datasetInfo = new QLabel;
    m_datasetInfo->setWordWrap(true);
    m_datasetInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_datasetError = new QLabel;
    m_datasetError->setWordWrap(true);
    m_datasetError->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_datasetError->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_datasetError->hide();
    auto* dataBox = new QGroupBox(tr("Dataset"));
    auto* dataLayout = new QVBoxLayout(dataBox);
    dataLayout->addWidget(m_dataset);
    dataLayout->addWidget(m_datasetInfo);
    dataLayout->addWidget(m_datasetError);
    connect(m_dataset, &QComboBox::activated, this, &RunPanel::onDatasetActivated);

    // Settings.
    m_floatEpochs = spin(0, 1000, tr("Float training epochs (0: measure the model as loaded)"));
    m_floatLr = new LrSpinBox;
    m_qatEpochs = spin(0, 1000, tr("QAT fine-tuning epochs"));
    m_qatLr = new LrSpinBox;
    m_batch = spin(1, 4096, tr("Training batch size"));
    m_calibration = spin(1, 100000,
                         tr("Batches of training images used to calibrate activation "
                            "ranges (PTQ, and QAT's starting ranges)"));
    m_freezeBn =
        spin(-1, 100000000, tr("QAT: BatchNorm uses its running statistics after this many steps"),
             tr("never"));
    m_freezeObservers =
        spin(-1, 100000000, tr("QAT: activation ranges stop updating after this many steps"),
             tr("never"));
    m_seed = spin(0, 1000000000, tr("Seed for initialization, shuffling and dropout"));
    m_limitTrain =
        spin(0, 100000000, tr("Train on the first N images (all: the whole split)"), tr("all"));
    m_limitTest = spin(0, 100000000,
                       tr("Evaluate on the first N test images (all: the whole split)"), tr("all"));
    m_measureLatency = new QCheckBox(tr("Measure latency"));
    m_measureLatency->setToolTip(
        tr("Time float and int8 inference (batch 1 and 64) after each run"));
    m_latencyRepeats = spin(1, 1000, tr("Timed repetitions (the median is reported)"));
    m_latencyRepeats->setSuffix(tr(" repeats"));
    m_rounding = new QComboBox;
    m_rounding->addItem(tr("single (LiteRT, XNNPACK)"));
    m_rounding->addItem(tr("double (TFLite reference)"));
    m_rounding->setToolTip(
        tr("How the integer model rounds when it requantizes: once (LiteRT/XNNPACK), or twice "
           "as TFLite's builtin reference kernels do (differs by 1 LSB at exact ties)"));
    connect(m_rounding, &QComboBox::currentIndexChanged, this, &RunPanel::settingsChanged);

    auto* settingsBox = new QGroupBox(tr("Training and quantization"));
    auto* form = new QFormLayout(settingsBox);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    auto pair = [](QWidget* a, QWidget* b) {
        auto* w = new QWidget;
        auto* l = new QHBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        l->addWidget(a, 1);
        l->addWidget(b, 1);
        return w;
    };
    form->addRow(tr("Float epochs / LR"), pair(m_floatEpochs, m_floatLr));
    form->addRow(tr("QAT epochs / LR"), pair(m_qatEpochs, m_qatLr));
    form->addRow(tr("Batch size"), m_batch);
    form->addRow(tr("Calibration batches"), m_calibration);
    form->addRow(tr("Freeze BN after"), m_freezeBn);
    form->addRow(tr("Freeze ranges after"), m_freezeObservers);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Train / test images"), pair(m_limitTrain, m_limitTest));
    form->addRow(tr("Integer rounding"), m_rounding);
    form->addRow(m_measureLatency, m_latencyRepeats);
    m_freezeBn->setSuffix(tr(" steps"));
    m_freezeObservers->setSuffix(tr(" steps"));

    for (QSpinBox* s : {m_floatEpochs, m_qatEpochs, m_batch, m_calibration, m_freezeBn,
                        m_freezeObservers, m_seed, m_limitTrain, m_limitTest, m_latencyRepeats})
        connect(s, &QSpinBox::valueChanged, this, &RunPanel::settingsChanged);
    for (QDoubleSpinBox* s : {m_floatLr, m_qatLr})
        connect(s, &QDoubleSpinBox::valueChanged, this, &RunPanel::settingsChanged);
    connect(m_measureLatency, &QCheckBox::toggled, this, [this](bool on) {
        m_latencyRepeats->setEnabled(on);
        emit settingsChanged();
    });

    // Run.
    m_kind = new QComboBox;
    m_kind->addItem(tr("Float training"), static_cast<int>(qat::RunKind::Float));
    m_kind->addItem(tr("PTQ (calibrate + convert)"), static_cast<int>(qat::RunKind::Ptq));
    m_kind->addItem(tr("QAT (fine-tune with fake-quant)"), static_cast<int>(qat::RunKind::Qat));
    m_kind->setToolTip(tr("What Start runs"));
    m_startFrom = new QComboBox;
    m_startFrom->setToolTip(tr("PTQ/QAT start from these float weights: a finished float run of "
                               "this model, or the model as loaded"));
    m_startFrom->addItem(tr("Model as loaded"), qint64(0));
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] {
        updateKindFields();
        emit kindChanged();
    });

    m_startButton = new QToolButton;
    m_cancelButton = new QToolButton;
    m_comparisonButton = new QToolButton;
    for (QToolButton* b : {m_startButton, m_cancelButton, m_comparisonButton}) {
        b->setToolButtonStyle(Qt::ToolButtonTextOnly);
        b->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    }
    m_comparisonButton->setMinimumHeight(36);
    QFont big = m_comparisonButton->font();
    big.setBold(true);
    big.setPointSizeF(big.pointSizeF() * 1.1);
    m_comparisonButton->setFont(big);

    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setValue(0);
    m_progress->setFormat(QStringLiteral("%p%"));
    m_stage = new QLabel;
    m_stage->setWordWrap(true);
    m_eta = new QLabel;

    auto* runBox = new QGroupBox(tr("Run"));
    auto* runLayout = new QVBoxLayout(runBox);
    runLayout->addWidget(m_comparisonButton);
    auto* single = new QFormLayout;
    single->addRow(tr("Kind"), m_kind);
    single->addRow(tr("Start from"), m_startFrom);
    runLayout->addLayout(single);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_startButton);
    buttons->addWidget(m_cancelButton);
    runLayout->addLayout(buttons);
    runLayout->addWidget(m_progress);
    runLayout->addWidget(m_stage);
    runLayout->addWidget(m_eta);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(dataBox);
    layout->addWidget(settingsBox);
    layout->addWidget(runBox);
    layout->addStretch(1);

    setSettings(RunSettings());
    updateKindFields();
    setIdle(tr("Idle"));
}

void RunPanel::setActions(QAction* start, QAction* cancel, QAction* comparison) {
    m_startButton->setDefaultAction(start);
    m_cancelButton->setDefaultAction(cancel);
    m_comparisonButton->setDefaultAction(comparison);
}

QString RunPanel::datasetName() const {
    return m_dataset->currentData().toString();
}

void RunPanel::setDatasetName(const QString& name) {
    int i = m_dataset->findData(name);
    if (i < 0) {
        const int at = m_dataset->count() - 1; // before "Choose directory…"
        m_dataset->insertItem(at, QDir::toNativeSeparators(name), name);
        m_dataset->setItemData(at, name, Qt::ToolTipRole);
        i = at;
    }
    m_dataset->setCurrentIndex(i);
}

void RunPanel::setRecentDatasetDirs(const QStringList& dirs) {
    for (const QString& d : dirs)
        if (m_dataset->findData(d) < 0) {
            const int at = m_dataset->count() - 1;
            m_dataset->insertItem(at, QDir::toNativeSeparators(d), d);
            m_dataset->setItemData(at, d, Qt::ToolTipRole);
        }
}

void RunPanel::onDatasetActivated(int index) {
    const QVariant item = m_dataset->itemData(index);
    if (item.typeId() == QMetaType::Int && item.toInt() == kChooseDirectory) {
        emit chooseDatasetDirectory();
        return;
    }
    emit datasetChosen(item.toString());
}

void RunPanel::setDatasetInfo(const QString& info, const QString& error) {
    m_datasetInfo->setText(info);
    m_datasetInfo->setVisible(!info.isEmpty());
    m_datasetError->setText(error);
    m_datasetError->setVisible(!error.isEmpty());
}

RunSettings RunPanel::settings() const {
    RunSettings s;
    s.floatEpochs = m_floatEpochs->value();
    s.floatLr = m_floatLr->value();
    s.qatEpochs = m_qatEpochs->value();
    s.qatLr = m_qatLr->value();
    s.batch = m_batch->value();
    s.calibrationBatches = m_calibration->value();
    s.freezeBnAfter = m_freezeBn->value();
    s.freezeObserversAfter = m_freezeObservers->value();
    s.seed = static_cast<quint64>(m_seed->value());
    s.limitTrain = m_limitTrain->value();
    s.limitTest = m_limitTest->value();
    s.measureLatency = m_measureLatency->isChecked();
    s.latencyRepeats = m_latencyRepeats->value();
    s.doubleRounding = m_rounding->currentIndex() == 1;
    return s;
}

void RunPanel::setSettings(const RunSettings& s) {
    const QSignalBlocker b(this);
    m_floatEpochs->setValue(s.floatEpochs);
    m_floatLr->setValue(s.floatLr);
    m_qatEpochs->setValue(s.qatEpochs);
    m_qatLr->setValue(s.qatLr);
    m_batch->setValue(static_cast<int>(s.batch));
    m_calibration->setValue(static_cast<int>(s.calibrationBatches));
    m_freezeBn->setValue(static_cast<int>(s.freezeBnAfter));
    m_freezeObservers->setValue(static_cast<int>(s.freezeObserversAfter));
    m_seed->setValue(static_cast<int>(s.seed));
    m_limitTrain->setValue(static_cast<int>(s.limitTrain));
    m_limitTest->setValue(static_cast<int>(s.limitTest));
    m_measureLatency->setChecked(s.measureLatency);
    m_latencyRepeats->setValue(s.latencyRepeats);
    m_latencyRepeats->setEnabled(s.measureLatency);
    m_rounding->setCurrentIndex(s.doubleRounding ? 1 : 0);
}

qat::RunKind RunPanel::kind() const {
    return static_cast<qat::RunKind>(m_kind->currentData().toInt());
}

void RunPanel::setKind(qat::RunKind kind) {
    m_kind->setCurrentIndex(m_kind->findData(static_cast<int>(kind)));
}

void RunPanel::setStartFromRuns(const QVector<QPair<qint64, QString>>& runs) {
    const qint64 current = startFromRunId();
    const QSignalBlocker b(m_startFrom);
    m_startFrom->clear();
    for (const auto& [id, label] : runs)
        m_startFrom->addItem(label, id);
    m_startFrom->addItem(tr("Model as loaded"), qint64(0));
    // Keep the user's choice; otherwise prefer the newest trained run.
    const int keep = m_startFrom->findData(current);
    m_startFrom->setCurrentIndex(current != 0 && keep >= 0 ? keep : 0);
}

qint64 RunPanel::startFromRunId() const {
    return m_startFrom->currentData().toLongLong();
}

void RunPanel::setStartFromRunId(qint64 id) {
    const int i = m_startFrom->findData(id);
    if (i >= 0)
        m_startFrom->setCurrentIndex(i);
}

void RunPanel::updateKindFields() {
    m_startFrom->setEnabled(kind() != qat::RunKind::Float);
}

void RunPanel::setProgress(const JobProgress& p) {
    m_progress->setValue(static_cast<int>(std::lround(p.fraction * 1000)));
    QString stage =
        p.steps > 1
            ? tr("Step %1/%2 · %3 · %4").arg(p.step + 1).arg(p.steps).arg(p.stepName, p.message)
            : tr("%1 · %2").arg(p.stepName, p.message);
    if (p.training)
        stage += tr("\nepoch %1/%2 · step %3/%4 · loss %5 · acc %6 % · %7 img/s")
                     .arg(p.train.epoch)
                     .arg(p.train.epochs)
                     .arg(p.train.step)
                     .arg(p.train.totalSteps)
                     .arg(p.train.loss, 0, 'f', 4)
                     .arg(100.0 * p.train.trainAccuracy, 0, 'f', 1)
                     .arg(p.train.imagesPerSecond, 0, 'f', 0);
    m_stage->setText(stage);
    m_eta->setText(p.etaSeconds >= 0
                       ? (p.steps > 1 ? tr("ETA (this step): %1").arg(formatDuration(p.etaSeconds))
                                      : tr("ETA: %1").arg(formatDuration(p.etaSeconds)))
                       : tr("ETA: estimating…"));
}

void RunPanel::setIdle(const QString& text, bool complete) {
    m_progress->setValue(complete ? m_progress->maximum() : 0);
    m_stage->setText(text);
    m_eta->clear();
}

} // namespace qatui
