// How a RunRecord's parts are stored as JSON (the SQLite columns) and read back, plus the
// plan summaries and plan differences the runs table and the diff dialog show. Works on
// the stored JSON only, so old runs stay readable whatever model is loaded.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QVector>

#include "run_record.h"

namespace qatui {

QJsonObject metricsToJson(const qat::RunMetrics& m);
qat::RunMetrics metricsFromJson(const QJsonObject& o);

// {"points": [[step, epoch, loss, trainAccuracy], ...], "epochs": [{...}, ...]}
QJsonObject curvesToJson(const QVector<qat::CurvePoint>& curve,
                         const QVector<qat::EpochResult>& epochs);
void curvesFromJson(const QJsonObject& o, QVector<qat::CurvePoint>& curve,
                    QVector<qat::EpochResult>& epochs);

QJsonObject parseObject(const QString& json);
QString toJsonText(const QJsonObject& o);

// One line describing a plan (planToJson text): preset, quantized layer count, bit widths.
// `weightedLayers` lists the layers whose weight quantizer is used (others' weight fields
// are ignored by the engine); empty means "all".
QString planSummary(const QString& planJson, const QStringList& weightedLayers = {});

struct PlanDifference {
    QString layer; // "input", a layer name, or "settings"
    QString field; // e.g. "weights.bits"
    QString a;     // value in the first run ("—" when absent)
    QString b;
};
// Field-by-field differences of two runs' plans (a float run has no plan) and settings.
QVector<PlanDifference> diffRuns(const RunRecord& a, const RunRecord& b);

} // namespace qatui
