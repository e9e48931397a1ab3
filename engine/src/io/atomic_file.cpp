// See atomic_file.h.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace qat {

Status writeFileAtomically(const std::string& path, std::string_view data) {
    std::random_device rd;
    const std::string tmp =
        path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() & 0xffffff);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return Status::error(path + ": cannot write (" + std::strerror(errno) + ")");
    auto fail = [&](const char* what) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        std::string msg = path + ": " + what + " (" + std::strerror(err) + ")";
        if (err == ENOSPC)
            msg += "; the disk is full, free some space and try again";
        return Status::error(msg);
    };
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("write failed");
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0)
        return fail("flush failed");
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return Status::error(path + ": close failed (" + std::strerror(err) + ")");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return Status::error(path + ": cannot replace file (" + std::strerror(err) + ")");
    }
    return Status::ok();
}

} // namespace qat
