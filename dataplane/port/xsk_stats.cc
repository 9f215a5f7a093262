#include "dataplane/port/xsk_stats.h"

#include <dirent.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace isthmus {
namespace {

// Kernels before 5.9 fill only the first three fields; the rest stay 0.
bool ReadOne(int fd, xdp_statistics* out) {
  *out = {};
  socklen_t len = sizeof(*out);
  return ::getsockopt(fd, SOL_XDP, XDP_STATISTICS, out, &len) == 0;
}

}  // namespace

XskCounters& XskCounters::operator+=(const XskCounters& o) {
  rx_dropped += o.rx_dropped;
  rx_invalid += o.rx_invalid;
  rx_ring_full += o.rx_ring_full;
  fill_ring_empty += o.fill_ring_empty;
  tx_invalid += o.tx_invalid;
  tx_ring_empty += o.tx_ring_empty;
  return *this;
}

absl::flat_hash_set<int> AfXdpSocketFds() {
  absl::flat_hash_set<int> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), ::closedir);
  if (dir == nullptr) return out;
  const int own = ::dirfd(dir.get());
  while (const dirent* entry = ::readdir(dir.get())) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    xdp_statistics stats;
    if (ReadOne(static_cast<int>(fd), &stats)) out.insert(static_cast<int>(fd));
  }
  return out;
}

std::vector<int> XskSocketWatch::Added() const {
  std::vector<int> out;
  for (int fd : AfXdpSocketFds()) {
    if (!before_.contains(fd)) out.push_back(fd);
  }
  std::sort(out.begin(), out.end());
  return out;
}

XskCounters ReadXskCounters(const std::vector<int>& fds) {
  XskCounters sum;
  for (int fd : fds) {
    xdp_statistics s;
    if (!ReadOne(fd, &s)) continue;
    sum += XskCounters{s.rx_dropped,         s.rx_invalid_descs, s.rx_ring_full,
                       s.rx_fill_ring_empty_descs, s.tx_invalid_descs, s.tx_ring_empty_descs};
  }
  return sum;
}

}  // namespace isthmus
