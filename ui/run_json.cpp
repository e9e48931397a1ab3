// JSON codecs for stored runs, plan summaries and plan differences.
#include "run_json.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <map>

namespace qatui {

namespace {

QJsonValue number(double v) {
    return std::isnan(v) ? QJsonValue() : QJsonValue(v);
}
double numberOr(const QJsonValue& v, double fallback) {
    return v.isDouble() ? v.toDouble() : fallback;
}

QString valueText(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
    case QJsonValue::Double:
        return QString::number(v.toDouble(), 'g', 8);
    case QJsonValue::String:
        return v.toString();
    case QJsonValue::Undefined:
    case QJsonValue::Null:
        return QStringLiteral("—");
    default:
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    }
}

// Flattens {"weights": {"bits": 8}} into {"weights.bits": 8}.
void flatten(const QJsonObject& o, const QString& prefix, std::map<QString, QJsonValue>& out) {
    for (auto it = o.begin(); it != o.end(); ++it) {
        const QString key = prefix.isEmpty() ? it.key() : prefix + "." + it.key();
        if (it->isObject())
            flatten(it->toObject(), key, out);
        else
            out[key] = *it;
    }
}

void diffObjects(const QString& layer, const QJsonObject& a, const QJsonObject& b,
                 QVector<PlanDifference>& out) {
    std::map<QString, QJsonValue> fa, fb;
    flatten(a, {}, fa);
    flatten(b, {}, fb);
    QSet<QString> keys;
    for (const auto& [k, v] : fa)
        keys.insert(k);
    for (const auto& [k, v] : fb)
        keys.insert(k);
    QStringList sorted(keys.begin(), keys.end());
    sorted.sort();
    for (const QString& k : sorted) {
        const QJsonValue va = fa.count(k) ? fa[k] : QJsonValue(QJsonValue::Undefined);
        const QJsonValue vb = fb.count(k) ? fb[k] : QJsonValue(QJsonValue::Undefined);
        if (va != vb)
            out.push_back({layer, k, valueText(va), valueText(vb)});
    }
}

} // namespace

QJsonObject metricsToJson(const qat::RunMetrics& m) {
    QJsonObject o;
    o["float_accuracy"] = number(m.floatAccuracy);
    o["fake_quant_accuracy"] = number(m.fakeQuantAccuracy);
    o["integer_accuracy"] = number(m.integerAccuracy);
    o["float_tflite_bytes"] = static_cast<double>(m.floatTfliteBytes);
    o["int8_tflite_bytes"] = static_cast<double>(m.int8TfliteBytes);
    QJsonObject lat;
    lat["measured"] = m.latency.measured;
    lat["float_batch1_ms"] = m.latency.floatBatch1Ms;
    lat["int8_batch1_ms"] = m.latency.int8Batch1Ms;
    lat["float_batch64_ms"] = m.latency.floatBatch64Ms;
    lat["int8_batch64_ms"] = m.latency.int8Batch64Ms;
    lat["threads"] = m.latency.threads;
    lat["isa"] = QString::fromStdString(m.latency.isa);
    lat["stable"] = m.latency.stable;
    lat["note"] = QString::fromStdString(m.latency.note);
    o["latency"] = lat;
    o["train_images_per_second"] = m.trainImagesPerSecond;
    o["seconds"] = m.seconds;
    return o;
}

qat::RunMetrics metricsFromJson(const QJsonObject& o) {
    qat::RunMetrics m;
    m.floatAccuracy = numberOr(o["float_accuracy"], qat::RunMetrics::kNone);
    m.fakeQuantAccuracy = numberOr(o["fake_quant_accuracy"], qat::RunMetrics::kNone);
    m.integerAccuracy = numberOr(o["integer_accuracy"], qat::RunMetrics::kNone);
    m.floatTfliteBytes = static_cast<int64_t>(o["float_tflite_bytes"].toDouble());
    m.int8TfliteBytes = static_cast<int64_t>(o["int8_tflite_bytes"].toDouble());
    const QJsonObject lat = o["latency"].toObject();
    m.latency.measured = lat["measured"].toBool();
    m.latency.floatBatch1Ms = lat["float_batch1_ms"].toDouble();
    m.latency.int8Batch1Ms = lat["int8_batch1_ms"].toDouble();
    m.latency.floatBatch64Ms = lat["float_batch64_ms"].toDouble();
    m.latency.int8Batch64Ms = lat["int8_batch64_ms"].toDouble();
    m.latency.threads = lat["threads"].toInt();
    m.latency.isa = lat["isa"].toString().toStdString();
    m.latency.stable = lat["stable"].toBool(true); // runs stored before the field: stable
    m.latency.note = lat["note"].toString().toStdString();
    m.trainImagesPerSecond = o["train_images_per_second"].toDouble();
    m.seconds = o["seconds"].toDouble();
    return m;
}

QJsonObject curvesToJson(const QVector<qat::CurvePoint>& curve,
                         const QVector<qat::EpochResult>& epochs) {
    QJsonArray points;
    for (const auto& p : curve)
        points.append(QJsonArray{static_cast<double>(p.step), p.epoch, p.loss, p.trainAccuracy});
    QJsonArray eps;
    for (const auto& e : epochs) {
        QJsonObject o;
        o["epoch"] = e.epoch;
        o["train_loss"] = e.trainLoss;
        o["train_accuracy"] = e.trainAccuracy;
        o["test_loss"] = e.testLoss;
        o["test_accuracy"] = e.testAccuracy;
        o["seconds"] = e.seconds;
        eps.append(o);
    }
    QJsonObject o;
    o["points"] = points;
    o["epochs"] = eps;
    return o;
}

void curvesFromJson(const QJsonObject& o, QVector<qat::CurvePoint>& curve,
                    QVector<qat::EpochResult>& epochs) {
    curve.clear();
    epochs.clear();
    for (const auto& v : o["points"].toArray()) {
        const QJsonArray a = v.toArray();
        if (a.size() != 4)
            continue;
        qat::CurvePoint p;
        p.step = static_cast<int64_t>(a[0].toDouble());
        p.epoch = a[1].toDouble();
        p.loss = a[2].toDouble();
        p.trainAccuracy = a[3].toDouble();
        curve.push_back(p);
    }
    for (const auto& v : o["epochs"].toArray()) {
        const QJsonObject e = v.toObject();
        qat::EpochResult r;
        r.epoch = e["epoch"].toInt();
        r.trainLoss = e["train_loss"].toDouble();
        r.trainAccuracy = e["train_accuracy"].toDouble();
        r.testLoss = e["test_loss"].toDouble();
        r.testAccuracy = e["test_accuracy"].toDouble();
        r.seconds = e["seconds"].toDouble();
        epochs.push_back(r);
    }
}

QJsonObject parseObject(const QString& json) {
    return QJsonDocument::fromJson(json.toUtf8()).object();
}

QString toJsonText(const QJsonObject& o) {
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QString planSummary(const QString& planJson, const QStringList& weightedLayers) {
    const QJsonObject plan = parseObject(planJson);
    if (plan.isEmpty())
        return QStringLiteral("float");
    const QJsonObject layers = plan["layers"].toObject();
    int enabled = 0;
    QSet<int> wBits, aBits;
    for (auto it = layers.begin(); it != layers.end(); ++it) {
        const QJsonObject l = it->toObject();
        if (!l["enabled"].toBool(true))
            continue;
        ++enabled;
        if (weightedLayers.isEmpty() || weightedLayers.contains(it.key()))
            wBits.insert(l["weights"].toObject()["bits"].toInt());
        aBits.insert(l["activations"].toObject()["bits"].toInt());
    }
    auto bitsText = [](const QSet<int>& bits) {
        if (bits.isEmpty())
            return QStringLiteral("—");
        const auto [lo, hi] = std::minmax_element(bits.begin(), bits.end());
        return *lo == *hi ? QString::number(*lo) : QStringLiteral("%1–%2").arg(*lo).arg(*hi);
    };
    return QStringLiteral("%1 · %2/%3 layers · W%4 A%5")
        .arg(plan["preset"].toString(), QString::number(enabled), QString::number(layers.size()),
             bitsText(wBits), bitsText(aBits));
}

QVector<PlanDifference> diffRuns(const RunRecord& a, const RunRecord& b) {
    QVector<PlanDifference> out;
    const QJsonObject pa = parseObject(a.planJson);
    const QJsonObject pb = parseObject(b.planJson);
    if (pa.isEmpty() != pb.isEmpty()) {
        out.push_back({QStringLiteral("plan"), QStringLiteral("quantized"),
                       pa.isEmpty() ? QStringLiteral("no (float run)") : QStringLiteral("yes"),
                       pb.isEmpty() ? QStringLiteral("no (float run)") : QStringLiteral("yes")});
    }
    if (pa["preset"] != pb["preset"])
        out.push_back({QStringLiteral("plan"), QStringLiteral("preset"), valueText(pa["preset"]),
                       valueText(pb["preset"])});
    diffObjects(QStringLiteral("input"), pa["input"].toObject(), pb["input"].toObject(), out);
    const QJsonObject la = pa["layers"].toObject();
    const QJsonObject lb = pb["layers"].toObject();
    QStringList names = la.keys();
    for (const QString& k : lb.keys())
        if (!names.contains(k))
            names.push_back(k);
    for (const QString& name : names) {
        if (!la.contains(name) || !lb.contains(name)) {
            if (!pa.isEmpty() && !pb.isEmpty())
                out.push_back(
                    {name, QStringLiteral("layer"),
                     la.contains(name) ? QStringLiteral("present") : QStringLiteral("—"),
                     lb.contains(name) ? QStringLiteral("present") : QStringLiteral("—")});
            continue;
        }
        diffObjects(name, la[name].toObject(), lb[name].toObject(), out);
    }
    QJsonObject sa = parseObject(a.settingsJson);
    QJsonObject sb = parseObject(b.settingsJson);
    sa.remove("plan_summary");
    sb.remove("plan_summary");
    diffObjects(QStringLiteral("settings"), sa, sb, out);
    if (a.model != b.model)
        out.push_back({QStringLiteral("settings"), QStringLiteral("model"), a.model, b.model});
    if (a.dataset != b.dataset)
        out.push_back(
            {QStringLiteral("settings"), QStringLiteral("dataset"), a.dataset, b.dataset});
    return out;
}

} // namespace qatui
