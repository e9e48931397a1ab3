// Engine tasks run off the GUI thread: model/dataset inspection, plan building, validation.
#include "engine_tasks.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <exception>
#include <optional>

#include "qat/importers.h"
#include "qat/model_io.h"

namespace qatui {

namespace {

QString fromStd(const std::string& s) {
    return QString::fromStdString(s);
}

qint64 weightCount(const qat::Node& node) {
    auto it = node.params.find("weights");
    return it == node.params.end() ? 0 : it->second.size();
}

// Multiply-accumulates per sample: every output position of a conv reads one full filter.
qint64 macsOf(const qat::Node& node) {
    switch (node.type) {
    case qat::OpType::Conv2D:
    case qat::OpType::DepthwiseConv2D: {
        const auto& out = node.outputShape;
        if (out.size() != 3)
            return 0;
        return out[0] * out[1] * weightCount(node);
    }
    case qat::OpType::Dense:
        return weightCount(node);
    default:
        return 0;
    }
}

} // namespace

bool isZooModel(const QString& source) {
    const auto names = qat::zooModelNames();
    return std::find(names.begin(), names.end(), source.toStdString()) != names.end();
}

namespace {

// QAT Lab's own files: "QATMODEL" magic, or a JSON graph. Anything else goes to the
// importers, which recognise ONNX and .tflite by content.
bool isQatModelFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return true; // let the model loader report the unreadable file
    const QByteArray head = f.read(64);
    return head.startsWith("QATMODEL") || head.trimmed().startsWith('{');
}

} // namespace

qat::Result<qat::Graph> loadModelSource(const QString& source, const qat::Dataset* zooData,
                                        uint64_t seed, const ImportSettings& import,
                                        QString* report) {
    if (report)
        report->clear();
    if (isZooModel(source)) {
        if (!zooData)
            return qat::loadModelOrZoo(source.toStdString(), std::nullopt, seed);
        return qat::loadModelOrZoo(source.toStdString(), zooData->sampleShape, seed,
                                   zooData->numClasses);
    }
    if (isQatModelFile(source))
        return qat::loadModelOrZoo(source.toStdString(), std::nullopt, seed);
    qat::ImportOptions options;
    options.inputMean.assign(import.mean.begin(), import.mean.end());
    options.inputScale.assign(import.scale.begin(), import.scale.end());
    options.outputName = import.output.toStdString();
    auto imported = qat::importModel(source.toStdString(), options);
    if (!imported)
        return imported.status();
    if (report)
        *report = fromStd(qat::formatCoverageReport(imported->report));
    if (!imported->report.supported || !imported->graph)
        return qat::Status::error(qat::formatCoverageReport(imported->report));
    return std::move(*imported->graph);
}

ModelSummary summarizeModel(const QString& source, std::shared_ptr<const qat::Graph> graph) {
    ModelSummary s;
    s.source = source;
    s.isZoo = isZooModel(source);
    s.displayName = s.isZoo ? source : QFileInfo(source).fileName();
    const qat::Graph& g = *graph;
    s.inputShape = fromStd(qat::shapeToString(g.inputShape()));
    const auto out = g.outputShape();
    s.classes = out.empty() ? 0 : static_cast<int>(out.back());
    s.params = g.parameterCount();

    const auto blocks = qat::findQuantBlocks(g);
    for (const auto& node : g.nodes) {
        LayerInfo l;
        l.name = fromStd(node.name);
        l.type = QString::fromLatin1(qat::opTypeName(node.type));
        l.outputShape = fromStd(qat::shapeToString(node.outputShape));
        for (const auto& [name, tensor] : node.params)
            l.params += tensor.size();
        l.macs = macsOf(node);
        s.macs += l.macs;
        if (node.type == qat::OpType::Input) {
            l.role = LayerInfo::Role::Input;
        } else {
            l.role = LayerInfo::Role::SameScale;
            for (const auto& b : blocks) {
                if (b.anchor == node.name) {
                    l.role = LayerInfo::Role::Anchor;
                    l.hasWeights = b.hasWeights();
                } else if (b.bn == node.name || b.activation == node.name) {
                    l.role = LayerInfo::Role::Fused;
                    l.fusedInto = fromStd(b.anchor);
                }
            }
        }
        s.layers.push_back(l);
    }
    s.graph = std::move(graph);
    return s;
}

ExperimentInfo inspectExperiment(quint64 requestId, const QString& modelSource,
                                 const QString& datasetName, const QString& preset,
                                 const ImportSettings& import,
                                 const std::shared_ptr<DatasetCache>& cache) {
    ExperimentInfo info;
    info.requestId = requestId;
    info.modelSource = modelSource;
    info.datasetName = datasetName;
    info.preset = preset;
    info.import = import;
    try {
        auto data = cache->get(datasetName);
        if (data) {
            const qat::DatasetSplits& d = *data.value();
            info.datasetOk = true;
            info.dataset.name = datasetName;
            info.dataset.source = fromStd(d.source);
            info.dataset.sampleShape = fromStd(qat::shapeToString(d.train.sampleShape));
            info.dataset.trainCount = d.train.size();
            info.dataset.testCount = d.test.size();
            info.dataset.classes = d.train.numClasses;
            info.dataset.data = data.value();
        } else {
            info.datasetError = fromStd(data.message());
        }

        const qat::Dataset* zooData = info.datasetOk ? &info.dataset.data->train : nullptr;
        auto graph = loadModelSource(modelSource, zooData, 0, import, &info.importReport);
        if (!graph) {
            info.modelError = fromStd(graph.message());
            return info;
        }
        auto shared = std::make_shared<const qat::Graph>(std::move(graph).value());
        info.model = summarizeModel(modelSource, shared);
        info.modelOk = true;

        if (info.datasetOk) {
            const auto st =
                qat::checkCompatible(info.dataset.data->train, shared->inputShape(),
                                     info.model.classes, info.model.displayName.toStdString());
            if (!st)
                info.compatibilityError = fromStd(st.message());
        }
        auto plan = qat::makePlan(*shared, preset.toStdString());
        if (plan) {
            info.plan = std::move(plan).value();
            info.planOk = true;
        } else {
            info.planError = fromStd(plan.message());
        }
    } catch (const std::exception& e) {
        // Nothing may escape a pool thread; report it like any other failure.
        if (!info.modelOk)
            info.modelError =
                QStringLiteral("%1: %2").arg(modelSource, QString::fromLocal8Bit(e.what()));
        else
            info.planError = QString::fromLocal8Bit(e.what());
    }
    return info;
}

PlanResult buildPlan(quint64 requestId, const std::shared_ptr<const qat::Graph>& graph,
                     const QString& preset) {
    PlanResult r;
    r.requestId = requestId;
    r.preset = preset;
    auto plan = qat::makePlan(*graph, preset.toStdString());
    if (!plan) {
        r.error = fromStd(plan.message());
        return r;
    }
    r.plan = std::move(plan).value();
    r.ok = true;
    return r;
}

PlanValidation checkPlan(quint64 requestId, const std::shared_ptr<const qat::Graph>& graph,
                         const qat::QuantPlan& plan) {
    PlanValidation v;
    v.requestId = requestId;
    const auto st = qat::validatePlan(*graph, plan);
    v.ok = st.isOk();
    v.message = fromStd(st.message());
    return v;
}

} // namespace qatui
