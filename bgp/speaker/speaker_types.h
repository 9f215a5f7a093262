#pragma once
// Values exchanged between the speaker and the daemon: FIB updates, service
// VIP announcements and metric snapshots. Plain data, no BGP internals.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "control/config/config.h"

namespace isthmus::bgp {

struct FibRoute {
  Ipv4Prefix prefix;
  absl::InlinedVector<Ipv4Addr, 2> nexthops;   // sorted, unique; empty = withdrawn
  friend bool operator==(const FibRoute&, const FibRoute&) = default;
};
// Called on the BGP thread with a batch of changes; the daemon posts it to its
// control thread. Only routes learned from peers are sent (locally originated
// prefixes are ours and are not forwarded through a BGP next hop).
using FibSink = std::function<void(std::vector<FibRoute>)>;

struct Announcement {
  Ipv4Prefix prefix;
  uint32_t prepend = 0;                 // our ASN prepended N extra times
  std::optional<uint32_t> med;
  std::vector<uint32_t> communities;
  std::vector<std::string> peers;       // peer names; empty = all
  friend bool operator==(const Announcement&, const Announcement&) = default;
};

// Message counters are indexed by the RFC 4271 type code (1 OPEN ..
// 5 ROUTE-REFRESH); index 0 is unused.
inline constexpr size_t kPeerMetricsMessageSlots = 6;

struct PeerMetrics {
  std::string name;
  std::string address;
  uint32_t state = 0;           // 0 Idle, 1 Connect, 2 Active, 3 OpenSent, 4 OpenConfirm, 5 Established
  double uptime_seconds = 0;    // 0 unless Established
  uint64_t prefixes_received = 0;     // now in Adj-RIB-In
  uint64_t prefixes_accepted = 0;     // now in Loc-RIB (passed import policy)
  uint64_t prefixes_advertised = 0;   // now in Adj-RIB-Out
  uint64_t prefixes_rejected_total = 0;     // import policy rejections since start
  uint64_t prefixes_not_advertised = 0;     // held back by max_advertised now
  std::array<uint64_t, kPeerMetricsMessageSlots> messages_in{};
  std::array<uint64_t, kPeerMetricsMessageSlots> messages_out{};
  std::map<std::pair<uint8_t, uint8_t>, uint64_t> notifications_sent;       // (code, subcode)
  std::map<std::pair<uint8_t, uint8_t>, uint64_t> notifications_received;
};

struct VipAdvertisedMetric {
  Ipv4Prefix prefix;
  std::string peer;
  bool advertised = false;      // in that peer's Adj-RIB-Out now
};

struct SpeakerMetrics {
  std::vector<PeerMetrics> peers;
  std::vector<VipAdvertisedMetric> vips;
  uint64_t loc_rib_prefixes = 0;
  bool dataplane_ready = false;
};

}  // namespace isthmus::bgp
