#include "control/admin/admin_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/admin/admin_protocol.h"
#include "control/admin/unix_socket.h"

namespace isthmus {
namespace {

// A full FIB dump of a million routes is a few hundred MB of JSON; anything
// beyond this is not an answer from isthmusd.
constexpr size_t kMaxResponseBytes = size_t{512} << 20;
constexpr size_t kReadChunkBytes = 64 * 1024;

std::string ConnectHint(int err) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED:
      return " — is isthmusd running?";
    case EACCES:
    case EPERM:
      return " — run as root or as the daemon's user";
    case EAGAIN:
      return " — isthmusd is too busy to accept connections";
    default:
      return "";
  }
}

absl::StatusOr<ScopedFd> Connect(const std::string& path) {
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(path);
  if (!addr.ok()) return addr.status();
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", ErrnoText(errno)));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", path, ": ", ErrnoText(err), ConnectHint(err)));
  }
  return fd;
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline, const std::string& path) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("no answer from isthmusd on ", path,
                                                      " within the timeout"));
    }
    pollfd pfd{fd, events, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", ErrnoText(errno)));
    }
  }
}

absl::Status SendAll(int fd, const std::string& data, absl::Time deadline,
                     const std::string& path) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (absl::Status s = WaitFor(fd, POLLOUT, deadline, path); !s.ok()) return s;
    } else if (errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat("cannot send the request to ", path, ": ", ErrnoText(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReceiveLine(int fd, absl::Time deadline, const std::string& path) {
  std::string data;
  char buf[kReadChunkBytes];
  while (true) {
    const size_t newline = data.find('\n');
    if (newline != std::string::npos) return data.substr(0, newline);
    if (data.size() > kMaxResponseBytes) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("response from %s exceeds %d bytes", path, kMaxResponseBytes));
    }
    if (absl::Status s = WaitFor(fd, POLLIN, deadline, path); !s.ok()) return s;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("isthmusd closed the connection on ", path, " without answering"));
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("cannot read the answer from ", path, ": ", ErrnoText(errno)));
    }
  }
}

absl::StatusOr<nlohmann::json> ParseResponse(const std::string& line, const std::string& path) {
  nlohmann::json response = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (response.is_discarded() || !response.is_object()) {
    return absl::DataLossError(absl::StrCat("the answer on ", path, " is not a JSON object"));
  }
  const auto ok = response.find("ok");
  if (ok == response.end() || !ok->is_boolean()) {
    return absl::DataLossError(absl::StrCat("the answer on ", path, " has no boolean \"ok\""));
  }
  return response;
}

}  // namespace

absl::StatusOr<nlohmann::json> AdminCall(const std::string& socket_path,
                                         const nlohmann::json& request, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<ScopedFd> fd = Connect(socket_path);
  if (!fd.ok()) return fd.status();
  const std::string line = DumpJsonLine(request) + "\n";
  if (absl::Status s = SendAll(fd->get(), line, deadline, socket_path); !s.ok()) return s;
  absl::StatusOr<std::string> answer = ReceiveLine(fd->get(), deadline, socket_path);
  if (!answer.ok()) return answer.status();
  return ParseResponse(*answer, socket_path);
}

}  // namespace isthmus
