#pragma once
// A point-in-time copy of the data plane's counters, taken by the control
// side and read by the metrics exporter and the admin commands. Plain values
// only: building one must not touch DPDK from the reader's thread.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bgp/speaker/speaker_types.h"
#include "dataplane/drop_reason.h"

namespace isthmus {

struct PortCounters {
  std::string name;
  std::string driver;
  std::string interface;
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_missed = 0;
  uint64_t rx_ring_full = 0;  // AF_XDP: dropped by the kernel, the RX ring was full
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
  bool link_up = false;
};

struct WorkerCounters {
  uint32_t id = 0;
  uint64_t busy_polls = 0;  // poll rounds that received at least one packet
  uint64_t idle_polls = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t stalls = 0;                    // poll rounds longer than kWorkerStallSeconds
  double longest_loop_gap_seconds = 0;    // the longest poll round since start
};

// A DPDK mempool (mbufs, crypto sessions, ...): a count that does not come
// back down when traffic stops is a leak.
struct MempoolSnapshot {
  std::string name;
  uint64_t size = 0;     // objects
  uint64_t in_use = 0;   // objects not in the pool nor in a per-lcore cache
};

// What the XDP steering program decided on one port.
struct XdpCounters {
  std::string port;
  uint64_t to_kernel = 0;
  uint64_t to_dataplane = 0;
};

// One ESP SA direction of an ipsec tunnel (never its key).
struct EspSaSnapshot {
  std::string direction;  // "outbound" or "inbound"
  uint32_t spi = 0;
  uint64_t highest_seq = 0;  // outbound: last number sent; inbound: top of the replay window
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool soft_expired = false;
  bool hard_expired = false;
};

// One tunnel's counters, summed over workers.
struct TunnelSnapshot {
  std::string name;
  std::string type;
  bool up = false;
  uint64_t encap_packets = 0;
  uint64_t encap_bytes = 0;
  uint64_t decap_packets = 0;
  uint64_t decap_bytes = 0;
  std::array<uint64_t, kDropReasonCount> drops{};  // charged to this tunnel
  std::vector<EspSaSnapshot> esp_sas;              // ipsec only
};

// One backend of an anycast service.
struct BackendSnapshotMetrics {
  std::string backend;                 // address:port
  bool up = false;
  double probe_latency_seconds = -1;   // last finished probe; < 0: none yet
  uint64_t probes_total = 0;
  uint64_t probes_failed_total = 0;
};

struct ServiceSnapshotMetrics {
  std::string name;
  std::string state;   // up, degraded, down, drained
  bool up = false;     // announced (up or degraded)
  std::vector<BackendSnapshotMetrics> backends;
};

// The NAT flow table (present when services are configured).
struct NatSnapshotMetrics {
  bool present = false;
  uint64_t active = 0;
  uint64_t created = 0;
  uint64_t expired = 0;
  uint64_t capacity = 0;
  uint64_t snat_ports_in_use = 0;
};

struct DataplaneSnapshot {
  std::vector<PortCounters> ports;
  std::vector<WorkerCounters> workers;
  std::vector<MempoolSnapshot> mempools;
  std::array<uint64_t, kDropReasonCount> drops{};  // indexed by DropReason
  std::array<uint64_t, kPuntReasonCount> punts{};  // indexed by PuntReason
  uint64_t fib_routes = 0;
  uint64_t neighbors_resolved = 0;  // next hops whose MAC is currently known
  uint64_t neighbor_requests = 0;   // resolutions asked of the kernel, ever
  std::vector<XdpCounters> xdp;
  std::vector<TunnelSnapshot> tunnels;
  double uptime_seconds = 0;
  std::optional<bgp::SpeakerMetrics> bgp;   // set when BGP is configured
  std::vector<ServiceSnapshotMetrics> services;
  NatSnapshotMetrics nat;
};

// Called on the metrics exporter's HTTP thread at every scrape: it must be
// thread-safe.
using SnapshotFn = std::function<DataplaneSnapshot()>;

}  // namespace isthmus
