// LiteRT (official TFLite runtime in WASM, @litertjs/core) driven from C++ tests through
// tests/interop/litert_runner.mjs under Node.js: find the runtime, run a .tflite on raw
// samples, read the outputs back. Tests skip with a message when Node or the package is
// missing (scripts/setup installs them).
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace qat::testing {

namespace fs = std::filesystem;

inline std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

// $QAT_NODE, else the first `node` on PATH; empty if none.
inline std::string findNode() {
    if (const char* env = std::getenv("QAT_NODE"); env && *env)
        return ::access(env, X_OK) == 0 ? env : "";
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / "node";
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
    }
    return "";
}

struct LiteRt {
    std::string node;
    fs::path runner;
    std::string unavailable; // why the tests must skip; empty when usable
};

inline const LiteRt& liteRt() {
    static const LiteRt lrt = [] {
        LiteRt l;
        const fs::path dir = fs::path(QAT_SOURCE_DIR) / "tests" / "interop";
        l.runner = dir / "litert_runner.mjs";
        l.node = findNode();
        if (l.node.empty())
            l.unavailable = "Node.js (node) is not on PATH";
        else if (!fs::exists(dir / "node_modules" / "@litertjs" / "core" / "package.json"))
            l.unavailable = "the npm package @litertjs/core is not installed in " + dir.string();
        return l;
    }();
    return lrt;
}

class TempDir {
public:
    explicit TempDir(const std::string& tag) {
        m_path =
            fs::temp_directory_path() / ("qat_interop_" + std::to_string(::getpid()) + "_" + tag);
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

template <typename T> void writeRaw(const fs::path& path, const std::vector<T>& values) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(T)));
}

struct LiteRtRun {
    std::vector<char> outputs; // raw bytes in the output's dtype
    std::string summary;       // the runner's JSON line
    std::string error;         // empty on success
};

// Runs the samples in `inputs` (raw, in the model input's dtype) through a .tflite file in
// LiteRT with litert_runner.mjs.
template <typename T>
LiteRtRun runLiteRt(const std::vector<uint8_t>& model, const std::vector<T>& inputs,
                    const std::string& tag) {
    LiteRtRun r;
    TempDir dir(tag);
    writeRaw(dir / "model.tflite", model);
    writeRaw(dir / "input.bin", inputs);
    const std::string cmd = shellQuote(liteRt().node) + " " + shellQuote(liteRt().runner) + " " +
                            shellQuote((dir / "model.tflite").string()) + " " +
                            shellQuote((dir / "input.bin").string()) + " " +
                            shellQuote((dir / "output.bin").string()) + " 2>" +
                            shellQuote((dir / "stderr.txt").string());
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) {
        r.error = "cannot start: " + cmd;
        return r;
    }
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
        r.summary.append(buf, n);
    const int status = ::pclose(pipe);
    while (!r.summary.empty() && (r.summary.back() == '\n' || r.summary.back() == '\r'))
        r.summary.pop_back();
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream err(dir / "stderr.txt");
        const std::string stderrText((std::istreambuf_iterator<char>(err)),
                                     std::istreambuf_iterator<char>());
        r.error = "runner failed (status " + std::to_string(status) + "): " + r.summary + "\n" +
                  stderrText.substr(0, 4000);
        return r;
    }
    std::ifstream out(dir / "output.bin", std::ios::binary);
    r.outputs.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
    return r;
}

template <typename T> std::vector<T> as(const std::vector<char>& bytes) {
    std::vector<T> values(bytes.size() / sizeof(T));
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(values.size() * sizeof(T)),
              reinterpret_cast<char*>(values.data()));
    return values;
}

} // namespace qat::testing

#define SKIP_WITHOUT_LITERT()                                                                      \
    do {                                                                                           \
        if (!::qat::testing::liteRt().unavailable.empty())                                         \
            GTEST_SKIP() << "LiteRT interop test skipped: "                                        \
                         << ::qat::testing::liteRt().unavailable                                   \
                         << " (run scripts/setup; it needs Node.js >= 20 and npm)";                \
    } while (0)
