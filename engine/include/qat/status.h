// Status and Result<T>: how every input-caused failure travels through the engine.
// Messages name the file, node or field at fault and say what to do; they are shown to
// users verbatim by the CLI and the GUI. Broken invariants use QAT_ASSERT instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace qat {

class [[nodiscard]] Status {
public:
    Status() = default;
    static Status ok() { return Status(); }
    static Status error(std::string message) {
        Status s;
        s.m_ok = false;
        s.m_message = std::move(message);
        return s;
    }
    bool isOk() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const std::string& message() const { return m_message; }
    // Prefixes context ("file.qatm: ") to an error; ok statuses pass through unchanged.
    Status withContext(const std::string& context) const {
        if (m_ok)
            return *this;
        return error(context + ": " + m_message);
    }

private:
    bool m_ok = true;
    std::string m_message;
};

template <typename T> class [[nodiscard]] Result {
public:
    Result(T value) : m_value(std::move(value)) {}
    Result(Status status) : m_value(std::move(status)) {
        if (std::get<Status>(m_value).isOk())
            m_value = Status::error("internal error: Result constructed from an ok Status");
    }
    bool isOk() const { return std::holds_alternative<T>(m_value); }
    explicit operator bool() const { return isOk(); }
    T& value() & { return std::get<T>(m_value); }
    const T& value() const& { return std::get<T>(m_value); }
    T&& value() && { return std::get<T>(std::move(m_value)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    Status status() const { return isOk() ? Status::ok() : std::get<Status>(m_value); }
    const std::string& message() const {
        static const std::string kEmpty;
        return isOk() ? kEmpty : std::get<Status>(m_value).message();
    }

private:
    std::variant<T, Status> m_value;
};

[[noreturn]] inline void assertFailed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: internal invariant broken: %s\n", file, line, expr);
    std::abort();
}

} // namespace qat

// Always-on invariant check (also in release builds). Not for input validation.
#define QAT_ASSERT(expr)                                                                           \
    do {                                                                                           \
        if (!(expr))                                                                               \
            ::qat::assertFailed(#expr, __FILE__, __LINE__);                                        \
    } while (0)

#define QAT_RETURN_IF_ERROR(expr)                                                                  \
    do {                                                                                           \
        ::qat::Status qatStatus_ = (expr);                                                         \
        if (!qatStatus_.isOk())                                                                    \
            return qatStatus_;                                                                     \
    } while (0)
