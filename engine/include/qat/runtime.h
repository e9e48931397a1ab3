// Cross-cutting runtime services: cancellation, progress reporting, threads.
// Long engine calls take a CancelToken (checked at least once per batch) and a
// rate-limited progress callback. No Qt here; the UI adapts these to signals.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

namespace qat {

class CancelToken {
public:
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    void reset() { m_cancelled.store(false, std::memory_order_relaxed); }
    bool isCancelled() const { return m_cancelled.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> m_cancelled{false};
};

// Limits a callback to one call per interval, but always lets the final call through.
class RateLimiter {
public:
    explicit RateLimiter(std::chrono::milliseconds interval) : m_interval(interval) {}
    bool ready(bool force = false) {
        auto now = std::chrono::steady_clock::now();
        if (force || now - m_last >= m_interval) {
            m_last = now;
            return true;
        }
        return false;
    }

private:
    std::chrono::milliseconds m_interval;
    std::chrono::steady_clock::time_point m_last{};
};

// Sets the number of threads oneDNN and the element-wise kernels use (0 = all cores).
void setNumThreads(int threads);
int numThreads();
// The CPU ISA oneDNN dispatches to, e.g. "avx512_core_amx".
std::string oneDnnIsa();

} // namespace qat
