// RunRecord: one run as the UI keeps, compares and persists it (a value type, copied
// freely across threads). Built from an engine RunResult plus where its artefacts live.
#pragma once

#include <QDateTime>
#include <QString>
#include <QVector>

#include "qat/experiment.h"

namespace qatui {

struct RunRecord {
    qint64 id = 0; // database row id; 0 = not yet persisted
    QString name;  // user-editable display name
    qat::RunKind kind = qat::RunKind::Float;
    QString model;        // zoo name or model file path it started from
    QString dataset;      // dataset name or path
    QString planJson;     // the effective plan (Ptq/Qat), planToJson
    QString settingsJson; // epochs, lr, batch, calibration batches, freeze steps, seed
    qat::RunMetrics metrics;
    QVector<qat::CurvePoint> curve;
    QVector<qat::EpochResult> epochs;
    QString artefactPath; // .qatm: trained float model, or quantized model (plan + ranges)
    QDateTime created;
    bool cancelled = false;

    QString kindName() const { return QString::fromLatin1(qat::runKindName(kind)); }
};

} // namespace qatui
