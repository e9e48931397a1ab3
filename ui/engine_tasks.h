// Short engine jobs the GUI needs answered while a run may be busy on the worker thread:
// loading a model (and its dataset) for the layer table, building a preset's plan,
// validating an edited plan. EngineController runs them on QtConcurrent's pool; each is a
// pure function of its (value or shared immutable) arguments.
#pragma once

#include <QString>

#include <memory>
#include <optional>

#include "dataset_cache.h"
#include "engine_types.h"

namespace qatui {

// True if `source` names a built-in zoo model (not a file).
bool isZooModel(const QString& source);

// A model as the worker and the layer table load it: a zoo model (fitted to `zooData`'s
// image shape and class count when given, initialized from `seed`), a QAT Lab model file
// (.qatm, or a .json graph initialized from `seed`), or an ONNX / .tflite file through the
// engine's importers. `report`, when given, receives the importer's coverage report for
// imported files (empty otherwise). An importable file with unsupported ops is an error
// listing every one of them.
qat::Result<qat::Graph> loadModelSource(const QString& source, const qat::Dataset* zooData,
                                        uint64_t seed, const ImportSettings& import = {},
                                        QString* report = nullptr);

// Loads the dataset and the model (a zoo model takes the dataset's sample shape and class
// count), describes every layer, checks that they fit, and builds the preset's plan.
ExperimentInfo inspectExperiment(quint64 requestId, const QString& modelSource,
                                 const QString& datasetName, const QString& preset,
                                 const ImportSettings& import,
                                 const std::shared_ptr<DatasetCache>& cache);

// Describes a finalized graph for the layer table.
ModelSummary summarizeModel(const QString& source, std::shared_ptr<const qat::Graph> graph);

PlanResult buildPlan(quint64 requestId, const std::shared_ptr<const qat::Graph>& graph,
                     const QString& preset);

PlanValidation checkPlan(quint64 requestId, const std::shared_ptr<const qat::Graph>& graph,
                         const qat::QuantPlan& plan);

} // namespace qatui
