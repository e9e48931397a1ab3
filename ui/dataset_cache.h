// Loaded datasets shared by the run worker and the background tasks that inspect models.
// A dataset is loaded once (off the GUI thread) and then only read, so it is handed out as
// shared_ptr<const>. Thread-safe; keeps the most recently used few to bound memory (the
// full Fashion-MNIST is ~220 MB as float32).
#pragma once

#include <QMutex>
#include <QString>
#include <QVector>

#include <memory>
#include <utility>

#include "qat/dataset.h"
#include "qat/status.h"

namespace qatui {

class DatasetCache {
public:
    explicit DatasetCache(int capacity = 2) : m_capacity(capacity) {}

    // Loads `name` (qat::loadDataset: a known name or a directory) or returns the cached copy.
    // Loads are serialized: a second caller for the same name waits and gets the same data.
    qat::Result<std::shared_ptr<const qat::DatasetSplits>> get(const QString& name);

private:
    QMutex m_mutex;
    int m_capacity;
    QVector<std::pair<QString, std::shared_ptr<const qat::DatasetSplits>>> m_entries; // MRU first
};

} // namespace qatui
