#pragma once
// Kernel-side counters of a port's AF_XDP sockets (getsockopt XDP_STATISTICS).
// DPDK's af_xdp driver reports only the "no buffer" drops as rx_missed; a
// packet the kernel dropped because a socket's RX ring was full (the workers
// fell behind) would otherwise be counted nowhere.
//
// The driver does not hand out its socket descriptors, so they are found the
// way the kernel sees them: the AF_XDP sockets that appeared in this process
// while the port was being created (ports are created one at a time by the
// control thread).

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace isthmus {

struct XskCounters {
  uint64_t rx_dropped = 0;       // no buffer in the fill ring
  uint64_t rx_invalid = 0;       // invalid RX descriptors
  uint64_t rx_ring_full = 0;     // the RX ring had no room
  uint64_t fill_ring_empty = 0;  // times the fill ring was found empty
  uint64_t tx_invalid = 0;
  uint64_t tx_ring_empty = 0;

  XskCounters& operator+=(const XskCounters& o);
};

// The process's open file descriptors that are AF_XDP sockets.
absl::flat_hash_set<int> AfXdpSocketFds();

// Records the AF_XDP sockets open at construction; Added() lists those
// opened since.
class XskSocketWatch {
 public:
  XskSocketWatch() : before_(AfXdpSocketFds()) {}
  std::vector<int> Added() const;

 private:
  absl::flat_hash_set<int> before_;
};

// Sums XDP_STATISTICS over `fds`; a descriptor that no longer answers is
// skipped.
XskCounters ReadXskCounters(const std::vector<int>& fds);

}  // namespace isthmus
