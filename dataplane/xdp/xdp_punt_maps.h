#pragma once
// Control-side view of the maps of isthmus_xdp.bpf.o: which IPv4 addresses
// are the appliance's own and which TCP/UDP ports the kernel keeps, plus the
// program's per-CPU decision counters. A thin adapter over libbpf; the
// classification itself lives in the BPF program.

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/drop_reason.h"
#include "dataplane/xdp/xdp_abi.h"

namespace isthmus {

// Sums over all CPUs of the xdp_stats counters; field meanings are the help
// texts in xdp_abi.h.
struct XdpStats {
#define ISTHMUS_XDP_STAT_FIELD(id, field, help) uint64_t field = 0;
  ISTHMUS_XDP_STATS(ISTHMUS_XDP_STAT_FIELD)
#undef ISTHMUS_XDP_STAT_FIELD

  friend bool operator==(const XdpStats&, const XdpStats&) = default;
};

// One xdp_stats slot: its index, a label value for metrics and the field of
// XdpStats it is summed into.
struct XdpStatInfo {
  uint32_t index;
  std::string_view name;
  std::string_view help;
  uint64_t XdpStats::*field;
};

inline constexpr std::array<XdpStatInfo, ISTHMUS_XDP_STAT_COUNT> kXdpStatInfo = {{
#define ISTHMUS_XDP_STAT_INFO(id, field, help) \
  {ISTHMUS_XDP_STAT_##id, #field, help, &XdpStats::field},
    ISTHMUS_XDP_STATS(ISTHMUS_XDP_STAT_INFO)
#undef ISTHMUS_XDP_STAT_INFO
}};

// kXdpStatInfo[i] describes xdp_stats slot i.
constexpr bool XdpStatInfoIsIndexed() {
  for (uint32_t i = 0; i < kXdpStatInfo.size(); ++i) {
    if (kXdpStatInfo[i].index != i) return false;
  }
  return true;
}
static_assert(XdpStatInfoIsIndexed());

// The data plane's punt class (a punt reason) of each XDP punt class,
// indexed by enum isthmus_xdp_punt_class.
inline constexpr std::array<PuntReason, ISTHMUS_XDP_PUNT_CLASS_COUNT> kXdpPuntClassReason = {
    PuntReason::kControl, PuntReason::kArp, PuntReason::kIcmp,
    PuntReason::kLocal, PuntReason::kMulticastBroadcast, PuntReason::kNonIpv4,
};
// The LIMITED_* counters follow the classes (the program indexes them so).
static_assert(ISTHMUS_XDP_STAT_LIMITED_NON_IPV4 - ISTHMUS_XDP_STAT_LIMITED_CONTROL ==
              ISTHMUS_XDP_PUNT_CLASS_NON_IPV4);

// XDP rate-limit drops by data-plane punt class (indexed by PuntReason), to
// be added to the punt_limited_* drop reasons.
std::array<uint64_t, kPuntReasonCount> LimitedByPuntReason(const XdpStats& stats);

// Owns one fd per map; move-only, closes them on destruction. Not
// thread-safe: the control thread is the single writer of these maps.
class XdpPuntMaps {
 public:
  // Map fds as loaded from isthmus_xdp.bpf.o (e.g. by a test with libbpf).
  struct MapFds {
    int local_addrs = -1;
    int punt_tcp_ports = -1;
    int punt_udp_ports = -1;
    int xdp_stats = -1;
    int tunnel_endpoints = -1;
    int control_peers = -1;
    int punt_limits = -1;
    int punt_buckets = -1;
  };

  // Finds the XDP program attached to `ifindex` in this network namespace
  // (DPDK attached it) and opens its maps by name.
  [[nodiscard]] static absl::StatusOr<XdpPuntMaps> FromInterface(int ifindex);
  // Duplicates `fds` (the caller keeps its own) after checking each map's
  // type, key and value size.
  [[nodiscard]] static absl::StatusOr<XdpPuntMaps> FromMapFds(const MapFds& fds);

  XdpPuntMaps(XdpPuntMaps&& other) noexcept;
  XdpPuntMaps& operator=(XdpPuntMaps&& other) noexcept;
  XdpPuntMaps(const XdpPuntMaps&) = delete;
  XdpPuntMaps& operator=(const XdpPuntMaps&) = delete;
  ~XdpPuntMaps();

  // Makes local_addrs exactly `addrs_host_order` (entries not listed are
  // removed). Duplicates are allowed.
  [[nodiscard]] absl::Status SetLocalAddresses(
      const std::vector<uint32_t>& addrs_host_order);
  // Makes punt_tcp_ports / punt_udp_ports exactly `tcp` / `udp`.
  [[nodiscard]] absl::Status SetPuntPorts(const std::vector<uint16_t>& tcp,
                                          const std::vector<uint16_t>& udp);
  // Makes tunnel_endpts (the XDP map; 15-character map names) exactly `endpoints`.
  struct TunnelEndpoint {
    uint32_t addr_host_order = 0;
    uint8_t protocol = 0;
    uint16_t port = 0;  // 0 for protocols without ports
    friend bool operator==(const TunnelEndpoint&, const TunnelEndpoint&) = default;
  };
  [[nodiscard]] absl::Status SetTunnelEndpoints(const std::vector<TunnelEndpoint>& endpoints);
  // Makes ctrl_peers exactly `addrs_host_order`: frames for the kernel from
  // these addresses are punt class control.
  [[nodiscard]] absl::Status SetControlPeers(const std::vector<uint32_t>& addrs_host_order);
  // Sets each XDP punt class's per-CPU rate from `rates_pps` (indexed by
  // PuntReason, 0 = unlimited); burst as in the data plane (PuntBurst).
  [[nodiscard]] absl::Status SetPuntRates(const std::array<uint32_t, kPuntReasonCount>& rates_pps);
  [[nodiscard]] absl::StatusOr<XdpStats> ReadStats() const;

 private:
  explicit XdpPuntMaps(const MapFds& owned) : fds_(owned) {}
  void Close();

  MapFds fds_;
};

}  // namespace isthmus
