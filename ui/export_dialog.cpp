// ExportDialog: .tflite export of a run, with size and validation.
#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "engine_controller.h"
#include "runs_table_model.h"

namespace qatui {

namespace {

QString defaultPath(const RunRecord& run) {
    QString base = run.name;
    base.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
    QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    if (dir.isEmpty())
        dir = QDir::homePath();
    return QDir(dir).filePath(base + QStringLiteral(".tflite"));
}

} // namespace

ExportDialog::ExportDialog(const RunRecord& run, EngineController* engine, QWidget* parent)
    : QDialog(parent), m_run(run), m_engine(engine) {
    setWindowTitle(tr("Export %1 as TensorFlow Lite").arg(run.name));

    m_float = new QRadioButton(tr("Float32 model"));
    m_float->setToolTip(tr("float32 weights and activations: the size and accuracy baseline"));
    m_integer = new QRadioButton(tr("Full-integer model (int8; int16 where the plan says)"));
    m_integer->setToolTip(tr("The run's integer model: int8 weights and activations, int32 "
                             "biases, per-axis weights where the plan has them"));
    m_float->setChecked(true);
    m_io = new QComboBox;
    m_io->addItem(tr("int8 input and output"));
    m_io->addItem(tr("float32 input and output (QUANTIZE/DEQUANTIZE at the edges)"));
    m_int4 = new QCheckBox(tr("Pack 2-4 bit weights as INT4"));
    m_int4->setToolTip(tr("TensorType INT4, two weights per byte (CONV_2D/DEPTHWISE_CONV_2D v7, "
                          "FULLY_CONNECTED v10): smaller, but only runtimes that know INT4 load "
                          "it. Off: low-bit weights are stored in int8 tensors, which every "
                          "runtime loads."));
    auto* note = new QLabel;
    note->setWordWrap(true);
    if (run.kind == qat::RunKind::Float) {
        m_integer->setEnabled(false);
        note->setText(tr("A float run has no quantization ranges: export it as float32, or run "
                         "PTQ/QAT from it first."));
    } else {
        m_integer->setChecked(true);
        note->hide();
    }
    auto updateOptions = [this] {
        m_io->setEnabled(m_integer->isChecked());
        m_int4->setEnabled(m_integer->isChecked());
    };
    connect(m_integer, &QRadioButton::toggled, this, updateOptions);
    updateOptions();

    m_path = new QLineEdit(defaultPath(run));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, &ExportDialog::browse);
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browse);

    m_resultLabel = new QLabel;
    m_resultLabel->setWordWrap(true);
    m_resultLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_resultLabel->setMinimumHeight(60);

    auto* form = new QFormLayout;
    form->addRow(tr("Run"),
                 new QLabel(QStringLiteral("<b>%1</b> (%2)")
                                .arg(run.name.toHtmlEscaped(), run.kindName().toUpper())));
    form->addRow(tr("Format"), m_float);
    form->addRow(QString(), m_integer);
    form->addRow(tr("Model I/O"), m_io);
    form->addRow(QString(), m_int4);
    form->addRow(QString(), note);
    form->addRow(tr("File"), pathRow);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    m_export = buttons->addButton(tr("Export"), QDialogButtonBox::AcceptRole);
    m_export->setDefault(true);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_export, &QPushButton::clicked, this, &ExportDialog::startExport);
    connect(m_engine, &EngineController::exportFinished, this, &ExportDialog::onFinished);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_resultLabel);
    layout->addWidget(buttons);
    resize(620, sizeHint().height());
}

void ExportDialog::setInteger(bool integer, bool floatIo) {
    (integer ? m_integer : m_float)->setChecked(true);
    m_io->setCurrentIndex(floatIo ? 1 : 0);
}

QString ExportDialog::path() const {
    return m_path->text().trimmed();
}
void ExportDialog::setPath(const QString& path) {
    m_path->setText(path);
}

void ExportDialog::browse() {
    const QString p = QFileDialog::getSaveFileName(this, tr("Export as"), path(),
                                                   tr("TensorFlow Lite (*.tflite)"));
    if (!p.isEmpty())
        m_path->setText(p.endsWith(QStringLiteral(".tflite")) ? p : p + QStringLiteral(".tflite"));
}

void ExportDialog::startExport() {
    if (m_pending)
        return;
    if (path().isEmpty()) {
        m_resultLabel->setText(tr("Choose a file to write."));
        return;
    }
    ExportRequest req;
    req.run = m_run;
    req.path = path();
    req.integer = m_integer->isChecked();
    req.floatIo = m_io->currentIndex() == 1;
    req.int4Weights = m_int4->isChecked();
    m_export->setEnabled(false);
    m_resultLabel->setText(m_engine->isBusy()
                               ? tr("Waiting for the running job to finish, then exporting…")
                               : tr("Exporting…"));
    m_pending = m_engine->exportRun(req);
}

void ExportDialog::onFinished(const ExportResult& result) {
    if (result.id != m_pending)
        return;
    m_pending = 0;
    m_result = result;
    m_export->setEnabled(true);
    if (!result.ok) {
        m_resultLabel->setText(tr("<span style='color:#b00020'><b>Export failed:</b> %1</span>")
                                   .arg(result.error.toHtmlEscaped()));
    } else {
        QString text = tr("<b>Wrote</b> %1<br><b>Size:</b> %2 (%3 bytes; weights and biases %4) "
                          "· %5<br><b>Validation:</b> %6")
                           .arg(QDir::toNativeSeparators(result.path).toHtmlEscaped(),
                                formatBytes(result.bytes), QString::number(result.bytes),
                                formatBytes(result.weightBytes), result.format,
                                result.validation.toHtmlEscaped());
        for (const QString& w : result.warnings)
            text +=
                tr("<br><span style='color:#a65f00'><b>Note:</b> %1</span>").arg(w.toHtmlEscaped());
        m_resultLabel->setText(text);
    }
    emit exported(result);
}

} // namespace qatui
