#pragma once
// A thin owner of one NETLINK_ROUTE socket (libmnl) plus the request/reply
// bookkeeping every rtnetlink exchange needs: sequence numbers, waiting for
// the acknowledgement or the end of a dump, and decoding NLMSG_ERROR.

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "control/config/config.h"

namespace isthmus::rtnl {

// A dump skb is at most 32 KiB (NLMSG_GOODSIZE on large-page systems plus
// headroom); a smaller buffer would make recvmsg truncate.
inline constexpr size_t kReceiveBufferBytes = 32 * 1024;
// Largest request we build: a family header and a few short attributes.
inline constexpr size_t kRequestBufferBytes = 512;

// One rtnetlink request under construction, in its own aligned buffer.
class RtnlRequest {
 public:
  RtnlRequest(uint16_t type, uint16_t flags);
  RtnlRequest(const RtnlRequest&) = delete;
  RtnlRequest& operator=(const RtnlRequest&) = delete;

  // Appends the zeroed fixed family header (ndmsg, ifaddrmsg, ifinfomsg).
  template <typename Header>
  Header* AddHeader() {
    return static_cast<Header*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(Header)));
  }
  void PutBytes(uint16_t type, const void* data, size_t len);
  void PutU32(uint16_t type, uint32_t value);
  void PutIpv4(uint16_t type, Ipv4Addr address);  // network byte order on the wire
  void PutString(uint16_t type, absl::string_view text);

  nlmsghdr* header() { return nlh_; }
  // False when an attribute did not fit; such a request is never sent.
  bool complete() const { return !overflowed_; }

 private:
  alignas(NLMSG_ALIGNTO) std::array<char, kRequestBufferBytes> buffer_{};
  nlmsghdr* nlh_;
  bool overflowed_ = false;
};

struct SocketOptions {
  bool nonblocking = false;
  std::vector<unsigned> groups;  // RTNLGRP_* multicast groups to join
  int receive_buffer_bytes = 0;  // 0 keeps the kernel default
  // Blocking sockets: the longest any single wait for a reply may take.
  absl::Duration receive_timeout = absl::Seconds(2);
};

// Calls `on_message` for every netlink message in one datagram; stops at the
// first error it returns.
absl::Status ForEachMessage(std::span<const char> datagram,
                            absl::FunctionRef<absl::Status(const nlmsghdr&)> on_message);

class RtnlSocket {
 public:
  using ReplyHandler = absl::FunctionRef<absl::Status(const nlmsghdr&)>;

  static absl::StatusOr<RtnlSocket> Open(const SocketOptions& options);

  int fd() const { return mnl_socket_get_fd(socket_.get()); }
  uint32_t port_id() const { return port_id_; }

  // Stamps a fresh sequence number and sends; returns that number.
  absl::StatusOr<uint32_t> Send(RtnlRequest& request);
  // Reads one datagram into `buffer`. Returns 0 when nothing arrived (a
  // non-blocking socket with an empty queue, or a blocking one that timed
  // out), ResourceExhausted when the kernel dropped messages (ENOBUFS).
  absl::StatusOr<size_t> Receive(std::span<char> buffer);

  // Sends with NLM_F_ACK and waits for the matching acknowledgement.
  absl::Status Execute(RtnlRequest& request);
  // Sends a get or dump request and passes every reply to `on_reply` until
  // the single answer, NLMSG_DONE, or an error.
  absl::Status Query(RtnlRequest& request, ReplyHandler on_reply);

 private:
  struct Closer {
    void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
  };
  RtnlSocket(std::unique_ptr<mnl_socket, Closer> socket, uint32_t port_id)
      : socket_(std::move(socket)), port_id_(port_id) {}

  absl::Status Configure(const SocketOptions& options);
  // Reads replies to `seq` until `on_reply` reports the exchange finished.
  absl::Status AwaitReplies(uint32_t seq, ReplyHandler on_reply);

  std::unique_ptr<mnl_socket, Closer> socket_;
  uint32_t port_id_ = 0;
  uint32_t next_seq_ = 1;
};

}  // namespace isthmus::rtnl
