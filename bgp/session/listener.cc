#include "bgp/session/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "bgp/session/transport.h"
#include "spdlog/spdlog.h"

namespace isthmus::bgp {
namespace {

constexpr int kBacklog = 64;

absl::Status ErrnoStatus(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Listener>> Listener::Create(EventLoop* loop,
                                                           std::optional<Ipv4Addr> address,
                                                           uint16_t port,
                                                           AcceptCallback callback) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket");
  auto fail = [fd](absl::Status s) {
    close(fd);
    return s;
  };
  const int one = 1;
  // A restarted daemon must not wait for TIME_WAIT to bind port 179 again.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail(ErrnoStatus("SO_REUSEADDR"));
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(address.has_value() ? address->value : INADDR_ANY);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)) != 0) {
    return fail(ErrnoStatus(absl::StrCat(
        "bind ", address.has_value() ? ToString(*address) : std::string("0.0.0.0"), ":", port)));
  }
  if (listen(fd, kBacklog) != 0) return fail(ErrnoStatus("listen"));
  socklen_t len = sizeof(sin);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    return fail(ErrnoStatus("getsockname"));
  }
  std::unique_ptr<Listener> listener(new Listener(loop, fd, ntohs(sin.sin_port), std::move(callback)));
  Listener* raw = listener.get();
  if (absl::Status s = loop->AddFd(fd, EPOLLIN, [raw](uint32_t) { raw->AcceptAll(); }); !s.ok()) {
    return s;   // the destructor closes fd
  }
  return listener;
}

Listener::~Listener() {
  loop_->RemoveFd(fd_);
  close(fd_);
}

absl::Status Listener::SetMd5Keys(const std::vector<std::pair<Ipv4Addr, TcpMd5Password>>& keys) {
  absl::Status first;
  auto keep = [&first](absl::Status s) {
    if (first.ok()) first = std::move(s);
  };
  absl::flat_hash_map<uint32_t, TcpMd5Password> wanted;
  for (const auto& [peer, password] : keys) {
    if (password.configured()) wanted[peer.value] = password;
  }
  for (auto it = md5_keys_.begin(); it != md5_keys_.end();) {
    auto next = std::next(it);
    if (!wanted.contains(it->first)) {
      keep(SetTcpMd5(fd_, Ipv4Addr{it->first}, {}));
      md5_keys_.erase(it);
    }
    it = next;
  }
  for (const auto& [addr, password] : wanted) {
    auto it = md5_keys_.find(addr);
    if (it != md5_keys_.end() && it->second == password) continue;
    if (absl::Status s = SetTcpMd5(fd_, Ipv4Addr{addr}, password.bytes->view()); !s.ok()) {
      keep(std::move(s));
      continue;
    }
    md5_keys_[addr] = password;
  }
  return first;
}

void Listener::AcceptAll() {
  while (true) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("bgp listener: accept: {}", std::strerror(errno));
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    callback_(fd, Ipv4Addr{ntohl(peer.sin_addr.s_addr)});
  }
}

}  // namespace isthmus::bgp
