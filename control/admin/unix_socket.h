#pragma once
// Small pieces shared by the admin server and its client: an owning file
// descriptor and the AF_UNIX address of a socket path.

#include <sys/un.h>

#include <string>

#include "absl/status/statusor.h"

namespace isthmus {

// Owns one file descriptor and closes it once.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.Release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The sockaddr for `path`; fails when the path does not fit in sun_path
// (108 bytes on Linux, see unix(7)).
absl::StatusOr<sockaddr_un> UnixSocketAddress(const std::string& path);

// strerror(err) without the thread-safety trap of strerror().
std::string ErrnoText(int err);

}  // namespace isthmus
