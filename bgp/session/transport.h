#pragma once
// TCP plumbing for BGP sessions: non-blocking connect from an optional
// source address, the TTL rules for eBGP, multihop and GTSM, and the
// connect back-off. The rules are pure functions; the rest are thin
// wrappers over the socket calls.

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bgp/config/bgp_config.h"
#include "control/config/config.h"

namespace isthmus::bgp {

inline constexpr uint8_t kMaxTtl = 255;

struct SocketOptions {
  std::optional<Ipv4Addr> source;    // bind before connect
  std::optional<uint8_t> ttl;        // IP_TTL; nullopt: kernel default (iBGP)
  std::optional<uint8_t> min_ttl;    // IP_MINTTL (GTSM)
  TcpMd5Password md5;                // RFC 2385, set before connect()
  friend bool operator==(const SocketOptions&, const SocketOptions&) = default;
};

// eBGP: TTL = multihop_ttl (1 = directly connected). GTSM (RFC 5082 3):
// send with TTL 255 and accept only TTL >= 255 - (hops - 1), hops being
// multihop_ttl. iBGP without GTSM keeps the kernel default.
SocketOptions SocketOptionsFor(const PeerConfig& peer, bool ibgp);

// TCP_NODELAY (a KEEPALIVE must not wait behind Nagle), IP_TTL, IP_MINTTL.
// Not the MD5 password: an accepted socket inherits its key from the
// listening socket, and StartConnect sets it on the active one.
[[nodiscard]] absl::Status ApplySocketOptions(int fd, const SocketOptions& options);

// RFC 2385 on socket `fd`: every segment exchanged with `peer` is signed
// and verified with `password` (setsockopt TCP_MD5SIG; the kernel keeps a
// key per peer address, so on a listening socket this covers the
// connections that peer opens). An empty password removes the key for
// `peer`; removing a key that is not there is not an error. Errors carry
// the peer address, never the password.
[[nodiscard]] absl::Status SetTcpMd5(int fd, Ipv4Addr peer, std::string_view password);

// A non-blocking socket with connect() in progress (or done); the caller
// waits for EPOLLOUT and then calls ConnectResult.
[[nodiscard]] absl::StatusOr<int> StartConnect(Ipv4Addr remote, uint16_t port,
                                               const SocketOptions& options);
// The outcome of a finished non-blocking connect (SO_ERROR).
[[nodiscard]] absl::Status ConnectResult(int fd);

[[nodiscard]] absl::StatusOr<Ipv4Addr> LocalAddress(int fd);
[[nodiscard]] absl::StatusOr<Ipv4Addr> RemoteAddress(int fd);

// Delay before the next automatic start after `failures` consecutive
// failed attempts: 1 s, 2 s, 4 s ... capped at `cap` (the configured
// ConnectRetryTime), so a dead peer is not hammered and a flapping one
// comes back fast.
absl::Duration ConnectBackoff(uint32_t failures, absl::Duration cap);

}  // namespace isthmus::bgp
