// ImportDialog: how to import an ONNX or .tflite file — the input normalisation the model
// expects (model_input = (data - mean) * scale, per channel or one value; baked into the
// graph by the engine) and, optionally, which tensor is the output.
#pragma once

#include <QDialog>

#include "engine_types.h"

class QDialogButtonBox;
class QLabel;
class QLineEdit;

namespace qatui {

class ImportDialog : public QDialog {
    Q_OBJECT
public:
    ImportDialog(const QString& path, const ImportSettings& initial, QWidget* parent = nullptr);
    ImportSettings settings() const { return m_settings; }

    // "0.5" or "0.485, 0.456, 0.406" -> values; false (with a message) on anything else.
    static bool parseValues(const QString& text, bool nonZero, QVector<float>& out, QString* error);
    static QString valuesText(const QVector<float>& values);

private:
    void validate();

    QLineEdit* m_mean = nullptr;
    QLineEdit* m_scale = nullptr;
    QLineEdit* m_output = nullptr;
    QLabel* m_error = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
    ImportSettings m_settings;
};

} // namespace qatui
