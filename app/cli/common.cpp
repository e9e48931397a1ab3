// Helpers shared by the qatlab-cli subcommands: error output, shape parsing, duration
// formatting and Ctrl-C handling (a signal handler that only touches lock-free atomics
// and write(2), which are async-signal-safe).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/command.h"

namespace qat::cli {

namespace {

std::atomic<CancelToken*> g_cancelToken{nullptr};
std::atomic<int> g_interrupts{0};
struct sigaction g_previousAction {};

static_assert(std::atomic<CancelToken*>::is_always_lock_free);
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void onInterrupt(int) {
    if (g_interrupts.fetch_add(1) >= 1) {
        static const char kQuit[] = "\nqatlab-cli: interrupted\n";
        [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kQuit, sizeof kQuit - 1);
        _exit(kExitInterrupted);
    }
    if (CancelToken* token = g_cancelToken.load())
        token->cancel();
    static const char kNote[] =
        "\nqatlab-cli: stopping after the current batch (press Ctrl-C again to quit now)\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kNote, sizeof kNote - 1);
}

} // namespace

int fail(const std::string& message) {
    std::cout.flush();
    std::cerr << "qatlab-cli: error: " << message << std::endl;
    return kExitError;
}

std::optional<Shape> parseShape(const std::string& text) {
    Shape shape;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t next = text.find_first_of("xX", pos);
        if (next == std::string::npos)
            next = text.size();
        const std::string part = text.substr(pos, next - pos);
        if (part.empty() || part.size() > 9 ||
            part.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        const int64_t dim = std::stoll(part);
        if (dim <= 0)
            return std::nullopt;
        shape.push_back(dim);
        pos = next + 1;
    }
    if (shape.empty() || shape.size() > 3)
        return std::nullopt;
    return shape;
}

CLI::Validator shapeValidator() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            if (parseShape(value))
                return {};
            return "'" + value + "' is not a shape; use HxWxC such as 28x28x1, or F for vectors";
        },
        "HxWxC");
}

namespace {

CLI::Validator numberValidator(bool allowZero) {
    return CLI::Validator(
        [allowZero](std::string& value) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(value.c_str(), &end);
            const bool parsed = !value.empty() && end == value.c_str() + value.size();
            if (parsed && std::isfinite(v) && (allowZero ? v >= 0 : v > 0))
                return {};
            return std::string("must be a ") + (allowZero ? "non-negative" : "positive") +
                   " number, got '" + value + "'";
        },
        allowZero ? "NONNEGATIVE" : "POSITIVE");
}

} // namespace

CLI::Validator positiveNumber() {
    return numberValidator(false);
}

CLI::Validator nonNegativeNumber() {
    return numberValidator(true);
}

std::string formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return "?";
    const long total = std::lround(seconds);
    char buf[32];
    if (total < 60)
        std::snprintf(buf, sizeof buf, "%lds", total);
    else if (total < 3600)
        std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
    else
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
    return buf;
}

InterruptGuard::InterruptGuard(CancelToken& token) {
    g_interrupts.store(0);
    g_cancelToken.store(&token);
    struct sigaction action {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, &g_previousAction);
}

InterruptGuard::~InterruptGuard() {
    sigaction(SIGINT, &g_previousAction, nullptr);
    g_cancelToken.store(nullptr);
}

bool InterruptGuard::interrupted() const {
    return g_interrupts.load() > 0;
}

} // namespace qat::cli
