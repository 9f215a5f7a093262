#include "bgp/session/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace isthmus::bgp {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Seconds(1);
constexpr uint32_t kMaxBackoffDoublings = 16;

absl::Status ErrnoStatus(const std::string& what, int err) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(err)));
}

sockaddr_in MakeSockaddr(Ipv4Addr addr, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr.value);
  return sin;
}

absl::Status SetIntOption(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) return ErrnoStatus(what, errno);
  return absl::OkStatus();
}

absl::StatusOr<Ipv4Addr> AddressOf(int fd, bool local) {
  sockaddr_in sin{};
  socklen_t len = sizeof(sin);
  const int rc = local ? getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len)
                       : getpeername(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  if (rc != 0) return ErrnoStatus(local ? "getsockname" : "getpeername", errno);
  if (sin.sin_family != AF_INET) return absl::InvalidArgumentError("not an IPv4 socket");
  return Ipv4Addr{ntohl(sin.sin_addr.s_addr)};
}

}  // namespace

SocketOptions SocketOptionsFor(const PeerConfig& peer, bool ibgp) {
  SocketOptions options;
  options.source = peer.source;
  options.md5 = peer.tcp_md5;
  const uint8_t hops = std::max<uint8_t>(peer.multihop_ttl, 1);
  if (peer.gtsm) {
    options.ttl = kMaxTtl;
    options.min_ttl = static_cast<uint8_t>(kMaxTtl - (hops - 1));
  } else if (!ibgp) {
    options.ttl = hops;
  }
  return options;
}

absl::Status ApplySocketOptions(int fd, const SocketOptions& options) {
  if (auto s = SetIntOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"); !s.ok()) return s;
  if (options.ttl.has_value()) {
    if (auto s = SetIntOption(fd, IPPROTO_IP, IP_TTL, *options.ttl, "IP_TTL"); !s.ok()) return s;
  }
  if (options.min_ttl.has_value()) {
    if (auto s = SetIntOption(fd, IPPROTO_IP, IP_MINTTL, *options.min_ttl, "IP_MINTTL"); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status SetTcpMd5(int fd, Ipv4Addr peer, std::string_view password) {
  if (password.size() > TCP_MD5SIG_MAXKEYLEN) {
    return absl::InvalidArgumentError(absl::StrCat("TCP-MD5 password for ", ToString(peer), " is ",
                                                   password.size(), " bytes; at most ",
                                                   TCP_MD5SIG_MAXKEYLEN, " are accepted"));
  }
  tcp_md5sig sig{};
  const sockaddr_in addr = MakeSockaddr(peer, 0);
  static_assert(sizeof(addr) <= sizeof(sig.tcpm_addr));
  std::memcpy(&sig.tcpm_addr, &addr, sizeof(addr));
  sig.tcpm_keylen = static_cast<uint16_t>(password.size());
  // An empty password (remove the key) may have a null data().
  if (!password.empty()) std::memcpy(sig.tcpm_key, password.data(), password.size());
  const int rc = setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof(sig));
  const int err = errno;
  explicit_bzero(sig.tcpm_key, sizeof(sig.tcpm_key));  // the kernel has its own copy now
  // Deleting a key the socket does not have: already in the wanted state.
  if (rc != 0 && !(password.empty() && err == ENOENT)) {
    return ErrnoStatus(absl::StrCat("TCP_MD5SIG for ", ToString(peer)), err);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> StartConnect(Ipv4Addr remote, uint16_t port, const SocketOptions& options) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  auto fail = [fd](absl::Status s) {
    close(fd);
    return s;
  };
  if (auto s = ApplySocketOptions(fd, options); !s.ok()) return fail(s);
  // Before connect(): RFC 2385 signs the SYN too.
  if (options.md5.configured()) {
    if (auto s = SetTcpMd5(fd, remote, options.md5.bytes->view()); !s.ok()) return fail(s);
  }
  if (options.source.has_value()) {
    // Choose the port at connect() time, so many sessions from one source
    // address do not exhaust the ephemeral range on bind().
    (void)SetIntOption(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1, "IP_BIND_ADDRESS_NO_PORT");
    const sockaddr_in local = MakeSockaddr(*options.source, 0);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
      return fail(ErrnoStatus(absl::StrCat("bind ", ToString(*options.source)), errno));
    }
  }
  const sockaddr_in sin = MakeSockaddr(remote, port);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)) != 0 &&
      errno != EINPROGRESS) {
    return fail(ErrnoStatus(absl::StrCat("connect ", ToString(remote), ":", port), errno));
  }
  return fd;
}

absl::Status ConnectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return ErrnoStatus("SO_ERROR", errno);
  if (err != 0) return ErrnoStatus("connect", err);
  return absl::OkStatus();
}

absl::StatusOr<Ipv4Addr> LocalAddress(int fd) { return AddressOf(fd, true); }
absl::StatusOr<Ipv4Addr> RemoteAddress(int fd) { return AddressOf(fd, false); }

absl::Duration ConnectBackoff(uint32_t failures, absl::Duration cap) {
  const uint32_t doublings = std::min(failures, kMaxBackoffDoublings);
  const absl::Duration delay = kFirstBackoff * (int64_t{1} << doublings);
  return std::max(std::min(delay, cap), kFirstBackoff);
}

}  // namespace isthmus::bgp
