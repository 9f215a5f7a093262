#pragma once
// Sockets that keep the kernel quiet about tunnel traffic it also receives.
//
// With af_packet ports (and pmd ports on net_af_packet) the kernel gets its
// own copy of every frame, tunnel packets included. With nothing listening
// on UDP 4789 / 4500 and no ESP handler (this kernel has no CONFIG_INET_ESP),
// it answers each one with ICMP port or protocol unreachable, in cleartext
// on the underlay, quoting SPI, sequence number, IV and ciphertext. A UDP
// socket bound to each endpoint and a raw ESP socket give the kernel a
// taker; a classic BPF filter that accepts nothing makes it drop the packet
// at once (without the filter a raw socket's buffer fills and the errors
// come back). With af_xdp ports the XDP program steers tunnel packets away
// from the kernel, and these sockets stay idle.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "dataplane/xdp/xdp_punt_maps.h"

namespace isthmus {

class TunnelKernelSinks {
 public:
  TunnelKernelSinks() = default;
  ~TunnelKernelSinks() { Close(); }
  TunnelKernelSinks(const TunnelKernelSinks&) = delete;
  TunnelKernelSinks& operator=(const TunnelKernelSinks&) = delete;

  // Replaces the sockets with one per UDP endpoint and one raw socket per
  // other protocol. Every endpoint is tried; the first failure is returned.
  absl::Status Set(const std::vector<XdpPuntMaps::TunnelEndpoint>& endpoints);
  size_t size() const { return fds_.size(); }

 private:
  void Close();
  std::vector<int> fds_;
};

}  // namespace isthmus
