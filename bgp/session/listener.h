#pragma once
// The passive side of BGP: one listening TCP socket on the BGP port. Each
// accepted connection is handed, non-blocking, to a callback with the
// peer's address; the callback owns the fd (typically it finds the Session
// for that address and calls AcceptIncoming, or closes it).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "bgp/config/bgp_config.h"
#include "bgp/session/event_loop.h"
#include "control/config/config.h"

namespace isthmus::bgp {

class Listener {
 public:
  using AcceptCallback = std::function<void(int fd, Ipv4Addr peer)>;

  // `address` nullopt: all addresses. `port` 0: the kernel picks (tests).
  static absl::StatusOr<std::unique_ptr<Listener>> Create(EventLoop* loop,
                                                          std::optional<Ipv4Addr> address,
                                                          uint16_t port, AcceptCallback callback);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  uint16_t port() const { return port_; }   // the bound port

  // RFC 2385 keys on the listening socket, one per peer address: after
  // this, exactly the peers in `keys` have one (with that password), so
  // their SYNs must be signed and accepted connections inherit the key;
  // keys of addresses not listed are removed. Continues past a failure and
  // returns the first one.
  [[nodiscard]] absl::Status SetMd5Keys(const std::vector<std::pair<Ipv4Addr, TcpMd5Password>>& keys);

 private:
  Listener(EventLoop* loop, int fd, uint16_t port, AcceptCallback callback)
      : loop_(loop), fd_(fd), port_(port), callback_(std::move(callback)) {}
  void AcceptAll();

  EventLoop* loop_;
  int fd_;
  uint16_t port_;
  AcceptCallback callback_;
  absl::flat_hash_map<uint32_t, TcpMd5Password> md5_keys_;  // by peer address, as installed
};

}  // namespace isthmus::bgp
