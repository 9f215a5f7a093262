#pragma once
// The daemon's configuration: one YAML file, parsed and validated as a whole
// before anything is applied. Every error names the file, the key path and
// what would be accepted; LoadConfig reports all of them, not just the first.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
// The address types live in ipv4.h, which the BGP headers include instead of
// this file: bgp_config.h can then be included here without a cycle.
#include "bgp/config/bgp_config.h"
#include "control/config/ipv4.h"
#include "dataplane/drop_reason.h"

namespace isthmus {

// "HOST:PORT" where HOST is a dotted-quad IPv4 address or "localhost" and
// PORT is 0..65535 (0: let the kernel pick, useful in tests).
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
std::optional<ListenAddress> ParseListenAddress(std::string_view text);

enum class PortDriver { kAfXdp, kAfPacket, kPmd };
std::string_view ToString(PortDriver d);

struct PortConfig {
  std::string name;          // our name, used in CLI, metrics and routes
  PortDriver driver = PortDriver::kAfXdp;
  std::string interface;     // kernel interface (af_xdp, af_packet)
  std::string devargs;       // pmd: free-form EAL device arguments
  std::optional<InterfaceAddress> address;  // pmd: given to its exception tap
  uint32_t mtu = 1500;
  friend bool operator==(const PortConfig&, const PortConfig&) = default;
};

struct DataplaneConfig {
  uint32_t workers = 1;
  std::vector<uint32_t> worker_cpus;  // empty: workers float over all CPUs
  uint32_t idle_sleep_us = 100;       // sleep when a poll round found nothing
  uint32_t idle_polls_before_sleep = 64;
  uint32_t burst = 32;
  uint32_t mbufs = 16383;
  bool hugepages = false;
  std::string punt_interface = "isth-punt";  // exception tap (af_xdp/af_packet)
  uint32_t punt_rate_pps = 20000;            // per class and worker (or CPU, XDP), token bucket
  // Per-class overrides of punt_rate_pps, indexed by PuntReason (the punt
  // classes, docs/configuration.md); unset classes use punt_rate_pps.
  std::array<std::optional<uint32_t>, kPuntReasonCount> punt_class_rate_pps{};
  uint32_t fib_max_routes = 1 << 20;
  uint32_t fib_tbl8_groups = 1 << 12;
  std::vector<std::string> eal_args;         // appended to the EAL command line
  friend bool operator==(const DataplaneConfig&, const DataplaneConfig&) = default;
};

// The rate of every punt class, indexed by PuntReason: its override or
// dataplane.punt_rate_pps; 0 = unlimited.
std::array<uint32_t, kPuntReasonCount> EffectivePuntRates(const DataplaneConfig& dp);

struct PuntConfig {
  std::vector<uint16_t> tcp_ports = {179, 22};
  std::vector<uint16_t> udp_ports;
  friend bool operator==(const PuntConfig&, const PuntConfig&) = default;
};

struct StaticRoute {
  Ipv4Prefix prefix;
  std::vector<Ipv4Addr> via;    // gateways; more than one = ECMP
  std::string port;             // optional: restrict gateways to this port
  bool blackhole = false;
  friend bool operator==(const StaticRoute&, const StaticRoute&) = default;
  friend auto operator<=>(const StaticRoute&, const StaticRoute&) = default;
};

// `tunnels:` (docs/configuration.md): vxlan (RFC 7348) or ipsec (ESP
// tunnel mode, RFC 4303).
enum class TunnelType { kVxlan, kIpsec };
std::string_view ToString(TunnelType t);
enum class TunnelDf { kSet, kClear, kInherit };
std::string_view ToString(TunnelDf d);

struct MssClampConfig {
  enum class Mode { kOff, kAuto, kFixed };
  Mode mode = Mode::kOff;
  uint32_t value = 0;  // kFixed only
  friend bool operator==(const MssClampConfig&, const MssClampConfig&) = default;
};

// One direction of an ESP SA: its SPI and the file holding its key and
// salt (dataplane/ipsec/esp_key_file.h). The key itself is never kept in
// the configuration: the daemon reads the file when it creates the SA.
struct IpsecSaConfig {
  uint32_t spi = 0;
  std::string key_file;
  friend bool operator==(const IpsecSaConfig&, const IpsecSaConfig&) = default;
};

enum class IpsecCipher { kAes128Gcm, kAes256Gcm };
std::string_view ToString(IpsecCipher c);

// `ipsec:` of a tunnel with type ipsec.
struct IpsecConfig {
  IpsecCipher cipher = IpsecCipher::kAes128Gcm;
  bool esn = true;                // 64-bit extended sequence numbers (RFC 4303 2.2.1)
  uint32_t replay_window = 1024;  // RFC 4303 3.4.3; a power of two 32-65536
  bool udp_encap = false;         // RFC 3948, UDP port 4500
  IpsecSaConfig outbound;
  std::vector<IpsecSaConfig> inbound;  // old + new during a make-before-break rekey
  uint64_t lifetime_packets = 0;  // hard limits, 0 = none (RFC 4301 4.4.2.1)
  uint64_t lifetime_bytes = 0;
  uint64_t lifetime_seconds = 0;
  friend bool operator==(const IpsecConfig&, const IpsecConfig&) = default;
};

struct TunnelConfig {
  std::string name;
  TunnelType type = TunnelType::kVxlan;
  Ipv4Addr local;                 // our underlay address
  Ipv4Addr remote;                // the peer's underlay address
  uint32_t vni = 0;               // vxlan: 1..16777215; ipsec: 0 = plain ESP, else ipsec.vxlan.vni
  InterfaceAddress overlay;       // ours, on the tunnel's host interface
  std::optional<uint32_t> mtu;    // unset: egress port MTU minus the overhead
  MssClampConfig mss_clamp;
  uint16_t dst_port = 4789;
  std::string interface;          // host interface (kernel) name
  TunnelDf df = TunnelDf::kSet;
  std::optional<IpsecConfig> ipsec;  // type ipsec only
  friend bool operator==(const TunnelConfig&, const TunnelConfig&) = default;
};

// `nat:` and `services:` (docs/configuration.md): anycast VIPs, DNAT to
// health-checked backends chosen by Maglev hashing, optional SNAT.
struct FlowTimeouts {
  uint32_t tcp_established_s = 7440;  // RFC 5382 REQ-5: at least 2 h 4 min
  uint32_t tcp_transitory_s = 240;    // FIN seen one way (RFC 5382 REQ-5: 4 min)
  uint32_t udp_s = 300;               // RFC 4787 REQ-5: at least 2 min, 5 min recommended
  uint32_t tcp_embryonic_s = 10;      // opened by a SYN, handshake not completed (dataplane/nat/tcp_state.h)
  friend bool operator==(const FlowTimeouts&, const FlowTimeouts&) = default;
};

// `nat.admission`: how many new flows a SYN flood can open (see
// "New-flow admission" in dataplane/nat/flow_table.h). The shares are of
// nat.capacity; a whole-table default of 10% leaves nine tenths of the
// table to established flows however long a flood lasts, and one service
// gets at most half of that, so a flood at one VIP leaves the other
// services room for their own handshakes.
struct NatAdmissionConfig {
  uint32_t embryonic_max_percent = 10;          // half-open flows in the table
  uint32_t service_embryonic_max_percent = 5;   // half-open flows of one service
  uint32_t syn_rate_per_worker = 0;             // SYN-opened flows per worker per second; 0: no limit
  friend bool operator==(const NatAdmissionConfig&, const NatAdmissionConfig&) = default;
};

struct NatConfig {
  uint32_t capacity = 1'000'000;        // flows (each holds both directions)
  uint32_t maglev_table_size = 65537;   // a prime (dataplane/service/maglev.h)
  FlowTimeouts timeouts;                // defaults for every service
  NatAdmissionConfig admission;
  friend bool operator==(const NatConfig&, const NatConfig&) = default;
};

enum class ServiceProtocol : uint8_t { kTcp, kUdp };
std::string_view ToString(ServiceProtocol p);

struct ServiceBackendConfig {
  Ipv4Addr address;
  uint16_t port = 0;    // 0: the VIP port the flow was sent to
  uint32_t weight = 1;  // 1..1000, relative share of new flows
  friend bool operator==(const ServiceBackendConfig&, const ServiceBackendConfig&) = default;
};

enum class HealthCheckType { kTcp, kHttp };
std::string_view ToString(HealthCheckType t);

// The defaults find a dead backend within fall * interval = 600 ms (plus at
// most one timeout, 750 ms): issue 5 asks for less than 1 s.
struct HealthCheckConfig {
  HealthCheckType type = HealthCheckType::kTcp;
  std::string path = "/";        // http only
  uint32_t expect_status = 200;  // http only
  uint16_t port = 0;             // 0: the backend's port (its service's first port when that is 0 too)
  uint32_t interval_ms = 200;
  uint32_t timeout_ms = 150;     // < interval_ms: one probe at a time per backend
  uint32_t rise = 2;             // consecutive successes that mark a backend up
  uint32_t fall = 3;             // consecutive failures that mark it down
  friend bool operator==(const HealthCheckConfig&, const HealthCheckConfig&) = default;
};

// What happens to an established flow whose backend has gone down.
enum class BackendDownPolicy { kReset, kReselect };
std::string_view ToString(BackendDownPolicy p);

// How the VIP is announced while degraded: fewer than `degraded_below`
// backends up but at least min_up. Below min_up it is always withdrawn.
struct DegradedAnnounce {
  enum class Kind { kNone, kPrepend, kMed, kCommunity };
  Kind kind = Kind::kNone;  // announce as when healthy
  uint32_t value = 0;       // prepend count, MED, or community (ASN << 16 | value)
  friend bool operator==(const DegradedAnnounce&, const DegradedAnnounce&) = default;
};

struct AnnounceConfig {
  std::vector<std::string> peers;  // bgp peer names; empty: every peer
  DegradedAnnounce degraded;
  uint32_t degraded_below = 0;     // resolved: defaults to the number of backends
  friend bool operator==(const AnnounceConfig&, const AnnounceConfig&) = default;
};

struct ServiceConfig {
  std::string name;
  Ipv4Addr vip;                   // announced as a /32
  ServiceProtocol protocol = ServiceProtocol::kTcp;
  std::vector<uint16_t> ports;
  std::vector<ServiceBackendConfig> backends;
  HealthCheckConfig health;
  uint32_t min_up = 1;
  std::vector<Ipv4Addr> snat_pool;  // empty: no SNAT (the client address is kept)
  BackendDownPolicy on_backend_down = BackendDownPolicy::kReset;
  AnnounceConfig announce;
  FlowTimeouts flow_timeouts;     // resolved: nat.timeouts with the service's overrides
  friend bool operator==(const ServiceConfig&, const ServiceConfig&) = default;
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:9470";  // empty: no endpoint
  friend bool operator==(const MetricsConfig&, const MetricsConfig&) = default;
};

struct AdminConfig {
  std::string socket = "/run/isthmus/isthmusd.sock";
  friend bool operator==(const AdminConfig&, const AdminConfig&) = default;
};

struct Config {
  std::string source;  // file it came from
  DataplaneConfig dataplane;
  std::vector<PortConfig> ports;
  PuntConfig punt;
  std::vector<StaticRoute> routes;
  MetricsConfig metrics;
  AdminConfig admin;
  std::string log_level = "info";
  bgp::BgpConfig bgp;  // enabled only when the file has a `bgp:` section
  std::vector<TunnelConfig> tunnels;
  NatConfig nat;
  std::vector<ServiceConfig> services;
};

// Parses and validates. On failure (InvalidArgument) the status message lists
// every problem, one per line, as "FILE:LINE: KEY.PATH: what is wrong
// (accepted: ...)"; LINE is omitted when yaml-cpp gives no position.
// LoadConfigFile returns NotFound / PermissionDenied / ... for unreadable files.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);
absl::StatusOr<Config> LoadConfigText(const std::string& text, const std::string& source);

// What a reload may change without a restart; returns an error naming the
// keys that would need one. In `bgp`, peers, policies, networks and the
// multipath and graceful-restart settings are live; asn, router_id,
// listen_port, listen_address and adding or removing the section need a
// restart. Of `tunnels`, mss_clamp and df (vxlan) are live, and so are an
// ipsec tunnel's ipsec.outbound and ipsec.inbound (rekey); adding, removing
// or changing anything else about a tunnel needs a restart. `services` and
// `nat` are live except nat.capacity (the flow table is sized at start).
absl::Status CheckReloadable(const Config& running, const Config& next);

}  // namespace isthmus
