// The built-in model zoo: weightless JSON models in <resourceDir>/zoo/<name>.json.
// The resource directory is $QATLAB_RESOURCES when set, else the source tree (developer
// builds), else the install prefix, else <exe>/../share/qatlab (relocated installs).
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "qat/model_io.h"

#ifndef QAT_RESOURCE_DIR
#define QAT_RESOURCE_DIR ""
#endif
#ifndef QAT_INSTALL_RESOURCE_DIR
#define QAT_INSTALL_RESOURCE_DIR ""
#endif

namespace qat {

namespace {

namespace fs = std::filesystem;

bool hasZoo(const fs::path& dir) {
    std::error_code ec;
    return !dir.empty() && fs::is_directory(dir / "zoo", ec);
}

std::string zooList() {
    std::string s;
    for (const auto& name : zooModelNames())
        s += (s.empty() ? "" : ", ") + name;
    return s;
}

} // namespace

std::vector<std::string> zooModelNames() {
    return {"mnist-cnn", "cnn-bn", "mobilenet-tiny", "resnet-tiny", "inception-tiny"};
}

std::string resourceDir() {
    if (const char* env = std::getenv("QATLAB_RESOURCES"); env && *env)
        return env;
    if (hasZoo(QAT_RESOURCE_DIR))
        return QAT_RESOURCE_DIR;
    if (hasZoo(QAT_INSTALL_RESOURCE_DIR))
        return QAT_INSTALL_RESOURCE_DIR;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path relocated = exe.parent_path().parent_path() / "share" / "qatlab";
        if (hasZoo(relocated))
            return relocated.string();
    }
    return QAT_INSTALL_RESOURCE_DIR;
}

Result<Graph> loadModelOrZoo(const std::string& nameOrPath, const std::optional<Shape>& inputShape,
                             uint64_t seed, std::optional<int64_t> numClasses) {
    const auto names = zooModelNames();
    if (std::find(names.begin(), names.end(), nameOrPath) != names.end()) {
        const std::string path =
            (fs::path(resourceDir()) / "zoo" / (nameOrPath + ".json")).string();
        auto graph = loadModel(path, inputShape, seed, numClasses);
        if (!graph)
            return Status::error("zoo model '" + nameOrPath + "': " + graph.message() +
                                 " (set QATLAB_RESOURCES to the directory holding zoo/)");
        return graph;
    }
    std::error_code ec;
    const fs::path p(nameOrPath);
    const bool looksLikePath =
        nameOrPath.find('/') != std::string::npos || p.has_extension() || fs::exists(p, ec);
    if (!looksLikePath)
        return Status::error("unknown model '" + nameOrPath +
                             "': not a file and not a zoo model (zoo models: " + zooList() + ")");
    return loadModel(nameOrPath, inputShape, seed, numClasses);
}

} // namespace qat
