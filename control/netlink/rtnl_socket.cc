#include "control/netlink/rtnl_socket.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/netlink/ipv4_wire.h"
#include "control/netlink/rtnl_message.h"

namespace isthmus::rtnl {
namespace {

constexpr int kEnable = 1;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::ErrnoToStatus(errno, absl::StrCat("netlink ", what));
}

absl::Status SetSocketOption(int fd, int level, int name, const void* value, socklen_t len,
                             absl::string_view what) {
  if (setsockopt(fd, level, name, value, len) < 0) return ErrnoStatus(what);
  return absl::OkStatus();
}

// Root may exceed net.core.rmem_max (SO_RCVBUFFORCE); others get what the
// sysctl allows.
absl::Status SetReceiveBuffer(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) {
    return absl::OkStatus();
  }
  return SetSocketOption(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes), "SO_RCVBUF");
}

absl::Status SetReceiveTimeout(int fd, absl::Duration timeout) {
  const timeval tv = absl::ToTimeval(timeout);
  return SetSocketOption(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv), "SO_RCVTIMEO");
}

}  // namespace

RtnlRequest::RtnlRequest(uint16_t type, uint16_t flags)
    : nlh_(mnl_nlmsg_put_header(buffer_.data())) {
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = NLM_F_REQUEST | flags;
}

void RtnlRequest::PutBytes(uint16_t type, const void* data, size_t len) {
  if (!mnl_attr_put_check(nlh_, buffer_.size(), type, len, data)) overflowed_ = true;
}

void RtnlRequest::PutU32(uint16_t type, uint32_t value) { PutBytes(type, &value, sizeof(value)); }

void RtnlRequest::PutIpv4(uint16_t type, Ipv4Addr address) {
  PutU32(type, ToNetworkOrder(address));
}

void RtnlRequest::PutString(uint16_t type, absl::string_view text) {
  // The kernel expects NUL-terminated strings (NLA_NUL_STRING/NLA_STRING).
  std::array<char, kRequestBufferBytes> copy{};
  if (text.size() >= copy.size()) {
    overflowed_ = true;
    return;
  }
  std::memcpy(copy.data(), text.data(), text.size());
  PutBytes(type, copy.data(), text.size() + 1);
}

absl::Status ForEachMessage(std::span<const char> datagram,
                            absl::FunctionRef<absl::Status(const nlmsghdr&)> on_message) {
  int left = static_cast<int>(datagram.size());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
  while (mnl_nlmsg_ok(nlh, left)) {
    if (absl::Status status = on_message(*nlh); !status.ok()) return status;
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  if (left > 0) {
    return absl::DataLossError(
        absl::StrFormat("netlink datagram ends with %d bytes that are no message", left));
  }
  return absl::OkStatus();
}

absl::StatusOr<RtnlSocket> RtnlSocket::Open(const SocketOptions& options) {
  const int type_flags = SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
  std::unique_ptr<mnl_socket, Closer> socket(mnl_socket_open2(NETLINK_ROUTE, type_flags));
  if (socket == nullptr) return ErrnoStatus("socket(NETLINK_ROUTE)");
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return ErrnoStatus("bind");
  }
  const uint32_t port_id = mnl_socket_get_portid(socket.get());
  RtnlSocket result(std::move(socket), port_id);
  if (absl::Status status = result.Configure(options); !status.ok()) return status;
  return result;
}

absl::Status RtnlSocket::Configure(const SocketOptions& options) {
  const int socket_fd = fd();
  // Error text from the kernel (extended ack) without an echo of our request.
  absl::Status status = SetSocketOption(socket_fd, SOL_NETLINK, NETLINK_EXT_ACK, &kEnable,
                                        sizeof(kEnable), "NETLINK_EXT_ACK");
  if (status.ok()) {
    status = SetSocketOption(socket_fd, SOL_NETLINK, NETLINK_CAP_ACK, &kEnable, sizeof(kEnable),
                             "NETLINK_CAP_ACK");
  }
  for (unsigned group : options.groups) {
    if (!status.ok()) return status;
    status = SetSocketOption(socket_fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group),
                             "NETLINK_ADD_MEMBERSHIP");
  }
  if (status.ok() && options.receive_buffer_bytes > 0) {
    status = SetReceiveBuffer(socket_fd, options.receive_buffer_bytes);
  }
  if (status.ok() && !options.nonblocking) {
    status = SetReceiveTimeout(socket_fd, options.receive_timeout);
  }
  return status;
}

absl::StatusOr<uint32_t> RtnlSocket::Send(RtnlRequest& request) {
  if (!request.complete()) {
    return absl::InternalError("netlink request does not fit its buffer");
  }
  nlmsghdr* nlh = request.header();
  nlh->nlmsg_seq = next_seq_++;
  nlh->nlmsg_pid = port_id_;
  const ssize_t sent = mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len);
  if (sent < 0) return ErrnoStatus("sendto");
  if (static_cast<size_t>(sent) != nlh->nlmsg_len) {
    return absl::InternalError("netlink sendto sent a partial message");
  }
  return nlh->nlmsg_seq;
}

absl::StatusOr<size_t> RtnlSocket::Receive(std::span<char> buffer) {
  const ssize_t got = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
  if (got >= 0) return static_cast<size_t>(got);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  if (errno == ENOBUFS) {
    return absl::ResourceExhaustedError("netlink receive queue overrun (ENOBUFS)");
  }
  return ErrnoStatus("recvmsg");
}

absl::Status RtnlSocket::Execute(RtnlRequest& request) {
  request.header()->nlmsg_flags |= NLM_F_ACK;
  absl::StatusOr<uint32_t> seq = Send(request);
  if (!seq.ok()) return seq.status();
  return AwaitReplies(*seq, [](const nlmsghdr&) { return absl::OkStatus(); });
}

absl::Status RtnlSocket::Query(RtnlRequest& request, ReplyHandler on_reply) {
  absl::StatusOr<uint32_t> seq = Send(request);
  if (!seq.ok()) return seq.status();
  return AwaitReplies(*seq, on_reply);
}

absl::Status RtnlSocket::AwaitReplies(uint32_t seq, ReplyHandler on_reply) {
  // Per call, not shared: a reply handler may itself query another socket.
  std::vector<char> buffer(kReceiveBufferBytes);
  bool finished = false;
  absl::Status result;
  auto on_message = [&](const nlmsghdr& nlh) -> absl::Status {
    // Anything else is a late answer to an earlier request that timed out.
    if (finished || nlh.nlmsg_seq != seq || nlh.nlmsg_pid != port_id_) {
      return absl::OkStatus();
    }
    if (nlh.nlmsg_type == NLMSG_ERROR || nlh.nlmsg_type == NLMSG_DONE) {
      finished = true;
      result =
          nlh.nlmsg_type == NLMSG_ERROR ? StatusFromErrorMessage(nlh) : StatusFromDoneMessage(nlh);
      return absl::OkStatus();
    }
    finished = (nlh.nlmsg_flags & NLM_F_MULTI) == 0;
    return on_reply(nlh);
  };
  while (!finished) {
    absl::StatusOr<size_t> got = Receive(buffer);
    if (!got.ok()) return got.status();
    if (*got == 0) return absl::DeadlineExceededError("no netlink reply from the kernel");
    if (absl::Status status = ForEachMessage({buffer.data(), *got}, on_message); !status.ok()) {
      return status;
    }
  }
  return result;
}

}  // namespace isthmus::rtnl
