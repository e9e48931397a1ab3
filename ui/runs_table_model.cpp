// RunsTableModel: display, sorting keys and inline rename of runs.
#include "runs_table_model.h"

#include <QColor>
#include <QFileInfo>
#include <QFont>
#include <QLocale>

#include <cmath>

#include "run_json.h"

namespace qatui {

QString formatAccuracy(double accuracy) {
    return std::isnan(accuracy) ? QStringLiteral("—")
                                : QStringLiteral("%1 %").arg(100.0 * accuracy, 0, 'f', 2);
}

QString formatBytes(qint64 bytes) {
    if (bytes <= 0)
        return QStringLiteral("—");
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    if (bytes < 1024 * 1024)
        return QStringLiteral("%1 KiB").arg(bytes / 1024.0, 0, 'f', 1);
    return QStringLiteral("%1 MiB").arg(bytes / (1024.0 * 1024.0), 0, 'f', 2);
}

namespace {

// Unstable figures (measured on a busy machine) carry a warning sign; the tooltip says why.
QString formatMs(double ms, bool measured, bool stable) {
    if (!measured || !(ms > 0))
        return QStringLiteral("—");
    return QStringLiteral("%1 ms%2").arg(ms, 0, 'f', ms < 1 ? 3 : 2).arg(stable ? "" : " ⚠");
}

QString modelName(const QString& model) {
    return model.contains('/') ? QFileInfo(model).fileName() : model;
}

} // namespace

RunsTableModel::RunsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

int RunsTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_runs.size());
}

int RunsTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_runs.size())
        return {};
    const RunRecord& r = m_runs[index.row()];
    const auto& m = r.metrics;
    const QJsonObject& settings = m_settings[index.row()];
    const bool quantized = r.kind != qat::RunKind::Float;

    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        switch (index.column()) {
        case Name:
            return r.name;
        case Kind:
            return r.cancelled ? tr("%1 (cancelled)").arg(r.kindName().toUpper())
                               : r.kindName().toUpper();
        case Model:
            return modelName(r.model);
        case Dataset:
            return modelName(r.dataset);
        case Plan:
            return settings["plan_summary"].toString(quantized ? QString()
                                                               : QStringLiteral("float"));
        case Epochs:
            return settings["epochs"].toInt();
        case Lr:
            return r.kind == qat::RunKind::Ptq ? QStringLiteral("—")
                                               : QString::number(settings["lr"].toDouble(), 'g', 3);
        case FloatAcc:
            return formatAccuracy(m.floatAccuracy);
        case FakeQuantAcc:
            return formatAccuracy(m.fakeQuantAccuracy);
        case IntegerAcc:
            return formatAccuracy(m.integerAccuracy);
        case FloatSize:
            return formatBytes(m.floatTfliteBytes);
        case Int8Size:
            return formatBytes(m.int8TfliteBytes);
        case FloatLatency:
            return formatMs(m.latency.floatBatch1Ms, m.latency.measured, m.latency.stable);
        case Int8Latency:
            return formatMs(m.latency.int8Batch1Ms, m.latency.measured && quantized,
                            m.latency.stable);
        case Seconds:
            return QStringLiteral("%1 s").arg(m.seconds, 0, 'f', 1);
        case Created:
            return QLocale().toString(r.created, QLocale::ShortFormat);
        }
    }
    if (role == SortRole) {
        auto num = [](double v) { return std::isnan(v) ? -1.0 : v; };
        switch (index.column()) {
        case FloatAcc:
            return num(m.floatAccuracy);
        case FakeQuantAcc:
            return num(m.fakeQuantAccuracy);
        case IntegerAcc:
            return num(m.integerAccuracy);
        case FloatSize:
            return static_cast<qlonglong>(m.floatTfliteBytes);
        case Int8Size:
            return static_cast<qlonglong>(m.int8TfliteBytes);
        case FloatLatency:
            return m.latency.floatBatch1Ms;
        case Int8Latency:
            return m.latency.int8Batch1Ms;
        case Seconds:
            return m.seconds;
        case Created:
            return r.created;
        case Epochs:
            return settings["epochs"].toInt();
        case Lr:
            return settings["lr"].toDouble();
        default:
            return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::TextAlignmentRole && index.column() >= Epochs && index.column() <= Seconds)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case Name:
            if (r.cancelled)
                return tr("%1\nCancelled after %2 s: training curves kept, no model file\n"
                          "Started from: %3")
                    .arg(r.name)
                    .arg(r.metrics.seconds, 0, 'f', 1)
                    .arg(settings["start_from"].toString());
            return QStringLiteral("%1\nModel file: %2\nStarted from: %3")
                .arg(r.name, r.artefactPath, settings["start_from"].toString());
        case Plan:
            return quantized ? r.planJson : QStringLiteral("Float run: no quantization plan");
        case FloatLatency:
        case Int8Latency:
            return m.latency.measured
                       ? QStringLiteral("Median per image at batch 1 (batch 64: float %1 ms, int8 "
                                        "%2 ms per batch), %3 threads, %4")
                                 .arg(m.latency.floatBatch64Ms, 0, 'f', 2)
                                 .arg(m.latency.int8Batch64Ms, 0, 'f', 2)
                                 .arg(m.latency.threads)
                                 .arg(QString::fromStdString(m.latency.isa)) +
                             (m.latency.note.empty()
                                  ? QString()
                                  : QStringLiteral("\n") + QString::fromStdString(m.latency.note))
                       : QStringLiteral("Latency was not measured for this run");
        case FloatSize:
        case Int8Size:
            return QStringLiteral("Bytes of the exported .tflite file");
        default:
            return {};
        }
    }
    if (role == Qt::FontRole && (index.column() == Name || r.cancelled)) {
        QFont f;
        f.setBold(index.column() == Name);
        f.setItalic(r.cancelled);
        return f;
    }
    if (role == Qt::ForegroundRole && r.cancelled)
        return QColor(110, 110, 110);
    if (role == Qt::ForegroundRole && !m.latency.stable &&
        (index.column() == FloatLatency || index.column() == Int8Latency))
        return QColor(170, 90, 0);
    return {};
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return {};
    static const char* const kHeaders[ColumnCount] = {
        "Name",       "Kind",       "Model",      "Dataset", "Plan",       "Epochs",
        "LR",         "Float acc.", "Fake-quant", "Integer", "Float size", "Int8 size",
        "Float lat.", "Int8 lat.",  "Time",       "Created"};
    static const char* const kTips[ColumnCount] = {
        "Run name (double-click or F2 to rename)",
        "Float training, post-training quantization (PTQ) or quantization-aware training (QAT)",
        "Model the run is about",
        "Dataset it was trained and evaluated on",
        "Quantization plan: preset, quantized layers, weight and activation bits",
        "Training epochs (QAT: fine-tuning epochs)",
        "Learning rate",
        "Top-1 test accuracy of the float model",
        "Top-1 test accuracy of the fake-quant simulation",
        "Top-1 test accuracy of the integer model (reference executor)",
        "Size of the float32 .tflite",
        "Size of the int8 .tflite",
        "Float latency, batch 1 (oneDNN fp32)",
        "Int8 latency, batch 1 (oneDNN int8 executor)",
        "Wall time of the run",
        "When the run finished"};
    if (role == Qt::DisplayRole)
        return QString::fromUtf8(kHeaders[section]);
    if (role == Qt::ToolTipRole)
        return QString::fromUtf8(kTips[section]);
    return {};
}

Qt::ItemFlags RunsTableModel::flags(const QModelIndex& index) const {
    auto f = QAbstractTableModel::flags(index);
    if (index.column() == Name)
        f |= Qt::ItemIsEditable;
    return f;
}

bool RunsTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || index.column() != Name || index.row() >= m_runs.size())
        return false;
    const QString name = value.toString().trimmed();
    if (name.isEmpty() || name == m_runs[index.row()].name)
        return false;
    emit renameRequested(m_runs[index.row()].id, name);
    return true;
}

void RunsTableModel::setRuns(QVector<RunRecord> runs) {
    beginResetModel();
    m_runs = std::move(runs);
    m_settings.clear();
    for (const auto& r : m_runs)
        m_settings.push_back(parseObject(r.settingsJson));
    endResetModel();
}

void RunsTableModel::addRun(const RunRecord& run) {
    const int row = static_cast<int>(m_runs.size());
    beginInsertRows({}, row, row);
    m_runs.push_back(run);
    m_settings.push_back(parseObject(run.settingsJson));
    endInsertRows();
}

void RunsTableModel::removeRunById(qint64 id) {
    const int row = rowOf(id);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_runs.remove(row);
    m_settings.remove(row);
    endRemoveRows();
}

void RunsTableModel::setName(qint64 id, const QString& name) {
    const int row = rowOf(id);
    if (row < 0)
        return;
    m_runs[row].name = name;
    emit dataChanged(index(row, Name), index(row, Name));
}

int RunsTableModel::rowOf(qint64 id) const {
    for (int i = 0; i < m_runs.size(); ++i)
        if (m_runs[i].id == id)
            return i;
    return -1;
}

} // namespace qatui
