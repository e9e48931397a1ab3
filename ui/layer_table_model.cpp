// LayerTableModel: layer descriptions and in-place plan editing.
#include "layer_table_model.h"

#include <QBrush>
#include <QColor>
#include <QFont>
#include <QLocale>
#include <QPalette>

#include <algorithm>
#include <iterator>

namespace qatui {

namespace {

constexpr qat::RangeEstimator kEstimators[] = {
    qat::RangeEstimator::MinMax, qat::RangeEstimator::Ema, qat::RangeEstimator::Percentile,
    qat::RangeEstimator::Mse};
constexpr int kMinWeightBits = 2, kMaxWeightBits = 8;
constexpr int kMinActBits = 2, kMaxActBits = 16;

QString formatCount(qint64 n) {
    if (n <= 0)
        return QString();
    if (n >= 1000000)
        return QStringLiteral("%1 M").arg(n / 1e6, 0, 'f', 2);
    if (n >= 10000)
        return QStringLiteral("%1 K").arg(n / 1e3, 0, 'f', 1);
    return QLocale().toString(n);
}

const QStringList& weightSchemeChoices() {
    static const QStringList c = {QStringLiteral("symmetric, narrow"), QStringLiteral("symmetric"),
                                  QStringLiteral("asymmetric")};
    return c;
}
const QStringList& actSchemeChoices() {
    static const QStringList c = {QStringLiteral("asymmetric"), QStringLiteral("symmetric")};
    return c;
}
const QStringList& granularityChoices() {
    static const QStringList c = {QStringLiteral("per-axis"), QStringLiteral("per-tensor")};
    return c;
}

int weightSchemeOf(const qat::QuantizerConfig& q) {
    if (!q.symmetric)
        return LayerTableModel::Asymmetric;
    return q.narrowRange ? LayerTableModel::SymmetricNarrow : LayerTableModel::Symmetric;
}

void setWeightScheme(qat::QuantizerConfig& q, int choice) {
    q.symmetric = choice != LayerTableModel::Asymmetric;
    q.narrowRange = choice == LayerTableModel::SymmetricNarrow;
}

void setActScheme(qat::QuantizerConfig& q, int choice) {
    q.symmetric = choice == LayerTableModel::ActSymmetric;
    q.narrowRange = false; // narrow range is a weight convention
}

bool isWeightColumn(int c) {
    return c == LayerTableModel::WeightBits || c == LayerTableModel::Granularity ||
           c == LayerTableModel::WeightScheme || c == LayerTableModel::WeightEstimator;
}
bool isActColumn(int c) {
    return c == LayerTableModel::ActBits || c == LayerTableModel::ActScheme ||
           c == LayerTableModel::ActEstimator;
}

} // namespace

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

QStringList LayerTableModel::estimatorChoices() {
    QStringList names;
    for (auto e : kEstimators)
        names.push_back(QString::fromLatin1(qat::estimatorName(e)));
    return names;
}

qat::RangeEstimator LayerTableModel::estimatorAt(int index) {
    return kEstimators[std::clamp(index, 0, static_cast<int>(std::size(kEstimators)) - 1)];
}

int LayerTableModel::indexOfEstimator(qat::RangeEstimator e) {
    for (int i = 0; i < static_cast<int>(std::size(kEstimators)); ++i)
        if (kEstimators[i] == e)
            return i;
    return 0;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_model.layers.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

qat::LayerQuantConfig* LayerTableModel::configOf(int row) {
    if (row < 0 || row >= m_model.layers.size() ||
        m_model.layers[row].role != LayerInfo::Role::Anchor)
        return nullptr;
    return m_plan.find(m_model.layers[row].name.toStdString());
}

const qat::LayerQuantConfig* LayerTableModel::configOf(int row) const {
    return const_cast<LayerTableModel*>(this)->configOf(row);
}

qat::QuantizerConfig* LayerTableModel::actConfigOf(int row) {
    if (row < 0 || row >= m_model.layers.size())
        return nullptr;
    if (m_model.layers[row].role == LayerInfo::Role::Input)
        return &m_plan.input;
    auto* c = configOf(row);
    return c ? &c->activations : nullptr;
}

const qat::QuantizerConfig* LayerTableModel::actConfigOf(int row) const {
    return const_cast<LayerTableModel*>(this)->actConfigOf(row);
}

bool LayerTableModel::isEditableRow(int row) const {
    return actConfigOf(row) != nullptr;
}

int LayerTableModel::rowOf(const QString& layerName) const {
    for (int i = 0; i < m_model.layers.size(); ++i)
        if (m_model.layers[i].name == layerName)
            return i;
    return -1;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_model.layers.size())
        return {};
    const int row = index.row();
    const int col = index.column();
    const LayerInfo& l = m_model.layers[row];
    const qat::LayerQuantConfig* cfg = configOf(row);
    const qat::QuantizerConfig* act = actConfigOf(row);
    const bool weightCell = isWeightColumn(col) && cfg && l.hasWeights;
    const bool actCell = isActColumn(col) && act;

    if (role == Qt::DisplayRole) {
        switch (col) {
        case Name:
            return l.name;
        case Type:
            return l.type;
        case Output:
            return l.outputShape;
        case Params:
            return formatCount(l.params);
        case Macs:
            return formatCount(l.macs);
        case Quantize:
            switch (l.role) {
            case LayerInfo::Role::Input:
                return QStringLiteral("input grid");
            case LayerInfo::Role::Fused:
                return QStringLiteral("in %1").arg(l.fusedInto);
            case LayerInfo::Role::SameScale:
                return QStringLiteral("input's grid");
            case LayerInfo::Role::Anchor:
                return cfg && cfg->enabled ? QStringLiteral("on") : QStringLiteral("off");
            }
            return {};
        default:
            break;
        }
        if (isWeightColumn(col) && cfg && !l.hasWeights)
            return QStringLiteral("—");
        if (weightCell) {
            switch (col) {
            case WeightBits:
                return cfg->weights.bits;
            case Granularity:
                return granularityChoices()[cfg->weights.perAxis ? 0 : 1];
            case WeightScheme:
                return weightSchemeChoices()[weightSchemeOf(cfg->weights)];
            case WeightEstimator:
                return QString::fromLatin1(qat::estimatorName(cfg->weights.estimator));
            }
        }
        if (actCell) {
            switch (col) {
            case ActBits:
                return act->bits;
            case ActScheme:
                return actSchemeChoices()[act->symmetric ? ActSymmetric : ActAsymmetric];
            case ActEstimator:
                return QString::fromLatin1(qat::estimatorName(act->estimator));
            }
        }
        return {};
    }
    if (role == Qt::EditRole) {
        if (weightCell) {
            switch (col) {
            case WeightBits:
                return cfg->weights.bits;
            case Granularity:
                return cfg->weights.perAxis ? 0 : 1;
            case WeightScheme:
                return weightSchemeOf(cfg->weights);
            case WeightEstimator:
                return indexOfEstimator(cfg->weights.estimator);
            }
        }
        if (actCell) {
            switch (col) {
            case ActBits:
                return act->bits;
            case ActScheme:
                return act->symmetric ? int(ActSymmetric) : int(ActAsymmetric);
            case ActEstimator:
                return indexOfEstimator(act->estimator);
            }
        }
        return data(index, Qt::DisplayRole);
    }
    if (role == Qt::CheckStateRole && col == Quantize && cfg)
        return cfg->enabled ? Qt::Checked : Qt::Unchecked;
    if (role == OptionsRole) {
        switch (col) {
        case Granularity:
            return granularityChoices();
        case WeightScheme:
            return weightSchemeChoices();
        case ActScheme:
            return actSchemeChoices();
        case WeightEstimator:
        case ActEstimator:
            return estimatorChoices();
        }
        return {};
    }
    if (role == MinimumRole)
        return col == WeightBits ? kMinWeightBits : col == ActBits ? kMinActBits : QVariant();
    if (role == MaximumRole)
        return col == WeightBits ? kMaxWeightBits : col == ActBits ? kMaxActBits : QVariant();
    if (role == Qt::TextAlignmentRole &&
        (col == Params || col == Macs || col == WeightBits || col == ActBits))
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ForegroundRole) {
        const bool quantColumn = col >= Quantize;
        if (quantColumn &&
            (l.role == LayerInfo::Role::Fused || l.role == LayerInfo::Role::SameScale))
            return QBrush(QPalette().color(QPalette::Disabled, QPalette::Text));
        if (quantColumn && col != Quantize && cfg && !cfg->enabled)
            return QBrush(QPalette().color(QPalette::Disabled, QPalette::Text));
        if (isWeightColumn(col) && cfg && !l.hasWeights)
            return QBrush(QPalette().color(QPalette::Disabled, QPalette::Text));
        return {};
    }
    if (role == Qt::FontRole && col == Name && l.role == LayerInfo::Role::Anchor) {
        QFont f;
        f.setBold(true);
        return f;
    }
    if (role == Qt::ToolTipRole) {
        switch (l.role) {
        case LayerInfo::Role::Input:
            if (col >= Quantize)
                return QStringLiteral("The model input is quantized with these activation "
                                      "settings (the plan's input quantizer).");
            break;
        case LayerInfo::Role::Fused:
            if (col >= Quantize)
                return QStringLiteral("%1 runs inside %2's integer op (BatchNorm folded, "
                                      "activation fused); edit %2 instead.")
                    .arg(l.name, l.fusedInto);
            break;
        case LayerInfo::Role::SameScale:
            if (col >= Quantize)
                return QStringLiteral("%1 passes its input's quantization parameters through "
                                      "(TFLite's same-scale rule); it has no settings of its own.")
                    .arg(l.type);
            break;
        case LayerInfo::Role::Anchor:
            if (isWeightColumn(col) && !l.hasWeights)
                return QStringLiteral("%1 has no weights: only its output (activation) "
                                      "quantizer applies.")
                    .arg(l.type);
            if (col == Quantize)
                return QStringLiteral("Quantize this block (off: it stays float32 in the "
                                      "integer model, with QUANTIZE/DEQUANTIZE around it)");
            if (col == Granularity)
                return QStringLiteral("Per-axis: one scale per output channel (TFLite's default "
                                      "for convolutions); per-tensor: one scale");
            if (col == WeightScheme)
                return QStringLiteral("TFLite deploys symmetric narrow-range int8 weights "
                                      "([-127, 127], zero point 0)");
            break;
        }
        if (col == Macs)
            return QStringLiteral("Multiply-accumulates per image");
        return {};
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return {};
    static const char* const kHeaders[ColumnCount] = {
        "Layer",  "Type",     "Output",  "Params", "MACs",     "Quantize", "W bits",
        "W axis", "W scheme", "W range", "A bits", "A scheme", "A range"};
    static const char* const kTips[ColumnCount] = {
        "Node name",
        "Operation",
        "Output shape per image (H x W x C, or features)",
        "Parameter count (weights, biases, BatchNorm statistics)",
        "Multiply-accumulates per image",
        "Whether the block is quantized",
        "Weight bits (2-8)",
        "Weight quantization granularity: per output channel or per tensor",
        "Weight grid: symmetric narrow range (TFLite), symmetric, or asymmetric",
        "How the weight range is chosen: min-max, EMA, percentile, MSE-optimal",
        "Activation (output) bits (2-16)",
        "Activation grid: asymmetric (TFLite int8) or symmetric (int16)",
        "How the activation range is estimated during calibration / QAT"};
    if (role == Qt::DisplayRole)
        return QString::fromUtf8(kHeaders[section]);
    if (role == Qt::ToolTipRole)
        return QString::fromUtf8(kTips[section]);
    return {};
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = Qt::ItemIsSelectable | Qt::ItemIsEnabled;
    if (!index.isValid())
        return f;
    const int row = index.row();
    const int col = index.column();
    const LayerInfo& l = m_model.layers[row];
    if (col == Quantize && configOf(row))
        f |= Qt::ItemIsUserCheckable;
    if (isWeightColumn(col) && configOf(row) && l.hasWeights)
        f |= Qt::ItemIsEditable;
    if (isActColumn(col) && actConfigOf(row))
        f |= Qt::ItemIsEditable;
    return f;
}

bool LayerTableModel::applyValue(int row, int col, const QVariant& value) {
    qat::LayerQuantConfig* cfg = configOf(row);
    qat::QuantizerConfig* act = actConfigOf(row);
    const LayerInfo& l = m_model.layers[row];
    bool ok = true;
    const int v = value.toInt(&ok);
    if (!ok)
        return false;
    if (isWeightColumn(col)) {
        if (!cfg || !l.hasWeights)
            return false;
        auto& w = cfg->weights;
        switch (col) {
        case WeightBits:
            if (v < kMinWeightBits || v > kMaxWeightBits)
                return false;
            w.bits = v;
            return true;
        case Granularity:
            w.perAxis = v == 0;
            return true;
        case WeightScheme:
            if (v < SymmetricNarrow || v > Asymmetric)
                return false;
            setWeightScheme(w, v);
            return true;
        case WeightEstimator:
            w.estimator = estimatorAt(v);
            return true;
        }
    }
    if (isActColumn(col)) {
        if (!act)
            return false;
        switch (col) {
        case ActBits:
            if (v < kMinActBits || v > kMaxActBits)
                return false;
            act->bits = v;
            return true;
        case ActScheme:
            setActScheme(*act, v);
            return true;
        case ActEstimator:
            act->estimator = estimatorAt(v);
            return true;
        }
    }
    return false;
}

void LayerTableModel::emitRowChanged(int row) {
    emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid())
        return false;
    const int row = index.row();
    if (role == Qt::CheckStateRole && index.column() == Quantize) {
        auto* cfg = configOf(row);
        if (!cfg)
            return false;
        cfg->enabled = value.toInt() == Qt::Checked;
        emitRowChanged(row);
        emit planEdited();
        return true;
    }
    if (role != Qt::EditRole || !applyValue(row, index.column(), value))
        return false;
    emitRowChanged(row);
    emit planEdited();
    return true;
}

void LayerTableModel::setModel(const ModelSummary& model, const qat::QuantPlan& presetPlan,
                               const qat::QuantPlan* edited) {
    beginResetModel();
    m_model = model;
    m_presetPlan = presetPlan;
    m_plan = edited ? *edited : presetPlan;
    endResetModel();
}

void LayerTableModel::setPlan(const qat::QuantPlan& plan) {
    m_plan = plan;
    m_presetPlan = plan;
    if (!m_model.layers.isEmpty())
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

void LayerTableModel::clear() {
    beginResetModel();
    m_model = ModelSummary();
    m_plan = qat::QuantPlan();
    m_presetPlan = qat::QuantPlan();
    endResetModel();
}

LayerTableModel::BulkResult LayerTableModel::applyBulk(const QList<int>& rows, const BulkEdit& e) {
    BulkResult result;
    for (int row : rows) {
        qat::LayerQuantConfig* cfg = configOf(row);
        qat::QuantizerConfig* act = actConfigOf(row);
        if (!act) {
            ++result.skippedRows;
            continue;
        }
        const bool hasWeights = cfg && m_model.layers[row].hasWeights;
        bool skipped = false;
        bool changed = false;
        if (e.enabled) {
            if (cfg) {
                changed |= cfg->enabled != *e.enabled;
                cfg->enabled = *e.enabled;
            } else {
                skipped = true;
            }
        }
        if (e.touchesWeights()) {
            if (hasWeights) {
                const qat::QuantizerConfig before = cfg->weights;
                if (e.weightBits)
                    cfg->weights.bits = std::clamp(*e.weightBits, kMinWeightBits, kMaxWeightBits);
                if (e.perAxis)
                    cfg->weights.perAxis = *e.perAxis;
                if (e.weightScheme)
                    setWeightScheme(cfg->weights, *e.weightScheme);
                if (e.weightEstimator)
                    cfg->weights.estimator = *e.weightEstimator;
                changed |= !(before == cfg->weights);
            } else {
                skipped = true;
            }
        }
        const qat::QuantizerConfig before = *act;
        if (e.actBits)
            act->bits = std::clamp(*e.actBits, kMinActBits, kMaxActBits);
        if (e.actScheme)
            setActScheme(*act, *e.actScheme);
        if (e.actEstimator)
            act->estimator = *e.actEstimator;
        changed |= !(before == *act);
        if (changed) {
            ++result.changedRows;
            emitRowChanged(row);
        }
        if (skipped)
            ++result.skippedRows;
    }
    if (result.changedRows > 0)
        emit planEdited();
    return result;
}

} // namespace qatui
