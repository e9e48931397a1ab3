// ExportDialog: writes a run as .tflite through the engine (on the worker thread) and
// shows the file's size and the validation result. Non-modal: the window stays usable.
#pragma once

#include <QDialog>

#include "engine_types.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;

namespace qatui {

class EngineController;

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(const RunRecord& run, EngineController* engine, QWidget* parent = nullptr);

    QString path() const;
    void setPath(const QString& path);
    // Starts the export (what the Export button does).
    void startExport();
    bool isExporting() const { return m_pending != 0; }
    const ExportResult& lastResult() const { return m_result; }
    QLabel* resultLabel() const { return m_resultLabel; }
    // Format choice (tests): full-integer or float32, float or int8 I/O.
    void setInteger(bool integer, bool floatIo = false);

signals:
    void exported(const qatui::ExportResult& result);

private:
    void onFinished(const ExportResult& result);
    void browse();

    RunRecord m_run;
    EngineController* m_engine = nullptr;
    QRadioButton* m_float = nullptr;
    QRadioButton* m_integer = nullptr;
    QComboBox* m_io = nullptr;
    QCheckBox* m_int4 = nullptr;
    QLineEdit* m_path = nullptr;
    QPushButton* m_export = nullptr;
    QLabel* m_resultLabel = nullptr;
    quint64 m_pending = 0;
    ExportResult m_result;
};

} // namespace qatui
