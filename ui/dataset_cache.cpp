// DatasetCache: a small most-recently-used cache of loaded datasets.
#include "dataset_cache.h"

#include <QMutexLocker>

namespace qatui {

qat::Result<std::shared_ptr<const qat::DatasetSplits>> DatasetCache::get(const QString& name) {
    QMutexLocker lock(&m_mutex);
    for (int i = 0; i < m_entries.size(); ++i) {
        if (m_entries[i].first == name) {
            auto entry = m_entries[i];
            m_entries.remove(i);
            m_entries.prepend(entry);
            return entry.second;
        }
    }
    auto loaded = qat::loadDataset(name.toStdString());
    if (!loaded)
        return loaded.status();
    auto data = std::make_shared<const qat::DatasetSplits>(std::move(loaded).value());
    m_entries.prepend({name, data});
    while (m_entries.size() > m_capacity)
        m_entries.removeLast();
    return std::shared_ptr<const qat::DatasetSplits>(data);
}

} // namespace qatui
