#include "control/daemon/tunnel_kernel_sinks.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

std::string Describe(const XdpPuntMaps::TunnelEndpoint& e) {
  in_addr a{htonl(e.addr_host_order)};
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return e.protocol == IPPROTO_UDP ? absl::StrFormat("UDP %s:%u", text, e.port)
                                   : absl::StrFormat("IP protocol %u to %s", e.protocol, text);
}

// Accepts nothing: every packet is dropped as it reaches the socket.
absl::Status AttachDropAll(int fd) {
  static sock_filter kDropAll[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  sock_fprog program{};
  program.len = 1;
  program.filter = kDropAll;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0) {
    return absl::InternalError(absl::StrCat("SO_ATTACH_FILTER: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenSink(const XdpPuntMaps::TunnelEndpoint& e) {
  const bool udp = e.protocol == IPPROTO_UDP;
  const int fd = udp ? socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)
                     : socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, e.protocol);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  absl::Status s = AttachDropAll(fd);
  if (s.ok() && udp) {
    // The address may not be on a kernel interface yet (it arrives over
    // netlink): bind anyway.
    const int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(e.addr_host_order);
    addr.sin_port = htons(e.port);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      s = absl::UnavailableError(absl::StrCat("bind: ", strerror(errno)));
    }
  }
  if (!s.ok()) {
    close(fd);
    return absl::Status(s.code(), absl::StrCat(Describe(e), ": ", s.message()));
  }
  return fd;
}

}  // namespace

void TunnelKernelSinks::Close() {
  for (int fd : fds_) close(fd);
  fds_.clear();
}

absl::Status TunnelKernelSinks::Set(const std::vector<XdpPuntMaps::TunnelEndpoint>& endpoints) {
  Close();
  absl::Status first;
  std::set<uint8_t> raw_protocols;   // a raw socket takes its protocol for every address
  for (const XdpPuntMaps::TunnelEndpoint& e : endpoints) {
    if (e.protocol != IPPROTO_UDP && !raw_protocols.insert(e.protocol).second) continue;
    absl::StatusOr<int> fd = OpenSink(e);
    if (fd.ok()) {
      fds_.push_back(*fd);
    } else if (first.ok()) {
      first = fd.status();
    }
  }
  return first;
}

}  // namespace isthmus
