// LayerTableModel: the loaded model's nodes with their shapes, sizes and cost, and the
// quantization plan edited in place. Quantization cells exist only where the plan has a
// setting: block anchors (findQuantBlocks) and the model input; weight cells only on
// anchors with weights. Fused nodes point at their block, same-scale ops say they share
// their input's grid. Edits change the plan immediately and emit planEdited(); the owner
// validates the plan (off the GUI thread) and shows the result.
#pragma once

#include <QAbstractTableModel>
#include <QList>
#include <QStringList>

#include <optional>

#include "engine_types.h"

namespace qatui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Name,
        Type,
        Output,
        Params,
        Macs,
        Quantize,
        WeightBits,
        Granularity,
        WeightScheme,
        WeightEstimator,
        ActBits,
        ActScheme,
        ActEstimator,
        ColumnCount
    };
    enum Role {
        OptionsRole = Qt::UserRole + 1, // QStringList: the choices of a combo cell
        MinimumRole,                    // int: lowest value of a spin cell
        MaximumRole,                    // int: highest value of a spin cell
    };
    // Weight schemes offered: TFLite's symmetric narrow range, full symmetric, asymmetric.
    enum WeightSchemeChoice { SymmetricNarrow, Symmetric, Asymmetric };
    enum ActSchemeChoice { ActAsymmetric, ActSymmetric };

    explicit LayerTableModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    // A newly loaded model with its preset plan; `edited`, when given, is the plan to show
    // instead (the user's edits, kept when the same model is reloaded for another dataset).
    void setModel(const ModelSummary& model, const qat::QuantPlan& presetPlan,
                  const qat::QuantPlan* edited = nullptr);
    // A new plan for the same model (preset chosen); it becomes the unmodified baseline.
    void setPlan(const qat::QuantPlan& plan);
    void clear();

    const ModelSummary& model() const { return m_model; }
    const qat::QuantPlan& plan() const { return m_plan; }
    bool hasModel() const { return m_model.graph != nullptr; }
    bool isModified() const { return m_plan != m_presetPlan; }
    const LayerInfo& layer(int row) const { return m_model.layers[row]; }
    int rowOf(const QString& layerName) const;
    // Rows that hold plan settings (anchors and the input).
    bool isEditableRow(int row) const;

    // A bulk edit: fields left empty stay as they are. Weight fields apply only to rows
    // with weights; the rest to every anchor (activation fields also to the input).
    struct BulkEdit {
        std::optional<bool> enabled;
        std::optional<int> weightBits;
        std::optional<bool> perAxis;
        std::optional<WeightSchemeChoice> weightScheme;
        std::optional<qat::RangeEstimator> weightEstimator;
        std::optional<int> actBits;
        std::optional<ActSchemeChoice> actScheme;
        std::optional<qat::RangeEstimator> actEstimator;
        bool touchesWeights() const {
            return weightBits || perAxis || weightScheme || weightEstimator;
        }
        bool isEmpty() const {
            return !enabled && !touchesWeights() && !actBits && !actScheme && !actEstimator;
        }
    };
    struct BulkResult {
        int changedRows = 0;
        int skippedRows = 0; // selected rows a field did not apply to
    };
    BulkResult applyBulk(const QList<int>& rows, const BulkEdit& edit);

    static QStringList estimatorChoices();
    static qat::RangeEstimator estimatorAt(int index);
    static int indexOfEstimator(qat::RangeEstimator e);

signals:
    void planEdited();

private:
    qat::LayerQuantConfig* configOf(int row);
    const qat::LayerQuantConfig* configOf(int row) const;
    // The activation quantizer a row edits (the layer's output, or the model input).
    qat::QuantizerConfig* actConfigOf(int row);
    const qat::QuantizerConfig* actConfigOf(int row) const;
    bool applyValue(int row, int column, const QVariant& value);
    void emitRowChanged(int row);

    ModelSummary m_model;
    qat::QuantPlan m_plan;
    qat::QuantPlan m_presetPlan;
};

} // namespace qatui
