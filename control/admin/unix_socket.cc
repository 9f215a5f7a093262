#include "control/admin/unix_socket.h"

#include <unistd.h>

#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_format.h"

namespace isthmus {

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int ScopedFd::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void ScopedFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

absl::StatusOr<sockaddr_un> UnixSocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // One byte is kept for the terminating NUL so the kernel and every tool
  // (ss, lsof) see the same name.
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "socket path \"%s\" must be 1 to %d bytes long", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be `buf`.
  return std::string(strerror_r(err, buf, sizeof(buf)));
}

}  // namespace isthmus
