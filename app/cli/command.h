// The subcommands of qatlab-cli. Each add*Command registers its options on the parent
// CLI::App and returns the subcommand plus the function that runs it after parsing.
// A new subcommand is one file in app/cli/ and one line in app/cli.cpp.
// Exit codes: 0 success, 1 runtime error ("qatlab-cli: error: ..."), 2 usage error,
// 130 interrupted by Ctrl-C.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "qat/runtime.h"
#include "qat/tensor.h"

namespace qat::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command addTrainCommand(CLI::App& parent);
Command addZooCommand(CLI::App& parent);
Command addInfoCommand(CLI::App& parent);
Command addQuantizeCommand(CLI::App& parent);
Command addExportCommand(CLI::App& parent);
Command addBenchCommand(CLI::App& parent);
Command addImportCommand(CLI::App& parent);

// Prints "qatlab-cli: error: <message>" on stderr and returns kExitError.
int fail(const std::string& message);

// Parses "28x28x1" (or "784") into a per-sample shape; nullopt when malformed.
std::optional<Shape> parseShape(const std::string& text);
// CLI11 validators with messages that say what is expected ("must be > 0, got 'x'").
CLI::Validator shapeValidator();
CLI::Validator positiveNumber();    // finite and > 0
CLI::Validator nonNegativeNumber(); // finite and >= 0

// Formats seconds as "42s", "3m07s" or "1h05m".
std::string formatDuration(double seconds);

// While alive, the first SIGINT cancels `token` (and prints a note), the second exits
// with kExitInterrupted at once. The previous handler is restored on destruction.
class InterruptGuard {
public:
    explicit InterruptGuard(CancelToken& token);
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;
    bool interrupted() const;
};

} // namespace qat::cli
