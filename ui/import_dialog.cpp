// ImportDialog: normalisation and output choice for imported models.
#include "import_dialog.h"

#include <QDialogButtonBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <cmath>

namespace qatui {

bool ImportDialog::parseValues(const QString& text, bool nonZero, QVector<float>& out,
                               QString* error) {
    out.clear();
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return true;
    for (const QString& part : trimmed.split(QLatin1Char(','))) {
        bool ok = false;
        const float v = part.trimmed().toFloat(&ok);
        if (!ok || !std::isfinite(v)) {
            if (error)
                *error = QObject::tr("'%1' is not a number").arg(part.trimmed());
            return false;
        }
        if (nonZero && v == 0.0f) {
            if (error)
                *error = QObject::tr("a scale of 0 would erase the input");
            return false;
        }
        out.push_back(v);
    }
    return true;
}

QString ImportDialog::valuesText(const QVector<float>& values) {
    QStringList parts;
    for (float v : values)
        parts << QString::number(v, 'g', 7);
    return parts.join(QStringLiteral(", "));
}

ImportDialog::ImportDialog(const QString& path, const ImportSettings& initial, QWidget* parent)
    : QDialog(parent) {
    setWindowTitle(tr("Import %1").arg(QFileInfo(path).fileName()));
    auto* intro = new QLabel(
        tr("QAT Lab feeds images as values in [0, 1]. If the model was trained on normalised "
           "inputs, state how: <i>model input = (data − mean) · scale</i>, one value or one per "
           "channel (e.g. ImageNet: mean 0.485, 0.456, 0.406 and scale 4.367, 4.464, 4.444). "
           "The normalisation becomes the model's first layer and is trained and quantized "
           "with it."));
    intro->setWordWrap(true);
    m_mean = new QLineEdit(valuesText(initial.mean));
    m_mean->setPlaceholderText(tr("none"));
    m_scale = new QLineEdit(valuesText(initial.scale));
    m_scale->setPlaceholderText(tr("none"));
    m_output = new QLineEdit(initial.output);
    m_output->setPlaceholderText(tr("the file's output"));
    m_output->setToolTip(tr("Import up to this tensor (to cut off a post-processing head); "
                            "empty: the file's single output"));
    m_error = new QLabel;
    m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_error->setWordWrap(true);

    auto* form = new QFormLayout;
    form->addRow(tr("Input mean"), m_mean);
    form->addRow(tr("Input scale"), m_scale);
    form->addRow(tr("Output tensor"), m_output);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("Import"));
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    for (QLineEdit* e : {m_mean, m_scale, m_output})
        connect(e, &QLineEdit::textChanged, this, &ImportDialog::validate);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addWidget(m_error);
    layout->addWidget(m_buttons);
    resize(560, sizeHint().height());
    validate();
}

void ImportDialog::validate() {
    QString error;
    ImportSettings s;
    bool ok = parseValues(m_mean->text(), false, s.mean, &error);
    if (ok) {
        ok = parseValues(m_scale->text(), true, s.scale, &error);
        if (!ok)
            error = tr("Input scale: %1").arg(error);
    } else {
        error = tr("Input mean: %1").arg(error);
    }
    s.output = m_output->text().trimmed();
    m_error->setText(error);
    m_error->setVisible(!ok);
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(ok);
    if (ok)
        m_settings = s;
}

} // namespace qatui
