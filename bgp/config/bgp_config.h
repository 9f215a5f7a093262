#pragma once
// The `bgp:` section of the daemon's configuration, as parsed and validated
// by control/config. Policies are ordered lists of terms; the first term that
// matches and says accept or reject decides (like a route-map).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/core/types.h"
#include "control/config/ipv4.h"
#include "control/config/secret_file.h"

namespace isthmus::bgp {

struct PrefixMatch {
  Ipv4Prefix prefix;
  std::optional<uint8_t> ge;   // matched length >= ge (default: prefix.len)
  std::optional<uint8_t> le;   // matched length <= le (default: 32 when ge is given, else prefix.len)
  friend bool operator==(const PrefixMatch&, const PrefixMatch&) = default;
};

// Every condition given must hold (AND); a list matches if any entry does.
struct PolicyMatch {
  std::vector<PrefixMatch> prefixes;
  std::vector<Asn> as_path_contains;          // any of these ASNs in the path
  std::optional<uint32_t> as_path_length_ge;
  std::optional<uint32_t> as_path_length_le;
  std::vector<uint32_t> communities;          // any of these present
  std::vector<std::string> neighbors;         // peer names (the route's source on import, the target on export)
  std::vector<RouteKind> origins;             // bgp / static / service_vip
  friend bool operator==(const PolicyMatch&, const PolicyMatch&) = default;
};

struct PolicyActions {
  std::vector<Asn> as_path_exclude;           // remove these ASNs from the AS path (the seeds' "remove 65515")
  bool as_override = false;                   // replace the peer's ASN in the path with ours (export)
  uint32_t prepend = 0;                       // prepend our ASN N times (export)
  bool next_hop_self = false;
  std::optional<uint32_t> local_pref;
  std::optional<uint32_t> med;
  std::vector<uint32_t> add_communities;
  bool clear_communities = false;
  friend bool operator==(const PolicyActions&, const PolicyActions&) = default;
};

enum class TermResult : uint8_t { kContinue, kAccept, kReject };

struct PolicyTerm {
  std::string name;
  PolicyMatch match;
  PolicyActions actions;
  TermResult result = TermResult::kAccept;
  friend bool operator==(const PolicyTerm&, const PolicyTerm&) = default;
};

struct Policy {
  std::string name;
  std::vector<PolicyTerm> terms;
  TermResult default_result = TermResult::kReject;   // when no term decided
  friend bool operator==(const Policy&, const Policy&) = default;
};

enum class MaxPrefixAction : uint8_t { kWarn, kStopAccepting, kRestart };

struct MaxPrefix {
  uint32_t limit = 0;                          // 0: no limit
  MaxPrefixAction action = MaxPrefixAction::kRestart;
  uint32_t restart_after_s = 60;
  uint32_t warn_percent = 90;
  friend bool operator==(const MaxPrefix&, const MaxPrefix&) = default;
};

enum class PeerRole : uint8_t { kPeer, kRouteServer };

// RFC 2385 TCP MD5 signature password, as read from its key file (never
// written inline in the configuration). Shared, immutable and held in a
// no-dump buffer; two passwords are equal when their bytes are, so a
// reload that re-reads an unchanged file changes nothing.
struct TcpMd5Password {
  std::shared_ptr<const SecretBytes> bytes;  // null: no password
  bool configured() const { return bytes != nullptr; }
  friend bool operator==(const TcpMd5Password& a, const TcpMd5Password& b) {
    if (a.bytes == nullptr || b.bytes == nullptr) return a.bytes == b.bytes;
    return a.bytes->SameBytes(*b.bytes);
  }
};

// Linux accepts TCP-MD5 passwords of 1 to 80 bytes (TCP_MD5SIG_MAXKEYLEN).
inline constexpr size_t kTcpMd5MaxPasswordLen = 80;
// The data plane keeps every peer's address in the punt class `control`
// (dataplane/worker/punt_limiter.h, and the XDP program's map of the same
// size), so the config refuses more peers than that holds.
inline constexpr size_t kMaxPeers = 256;

struct PeerConfig {
  std::string name;
  Ipv4Addr address;
  Asn remote_as = 0;
  std::string description;
  PeerRole role = PeerRole::kPeer;            // route_server: Azure Route Server instance
  std::string group;                          // peers of one group get identical advertisements
  std::optional<Ipv4Addr> source;             // local address to bind
  bool passive = false;
  uint8_t multihop_ttl = 1;                   // eBGP multihop: TTL of our packets (ARS: 2+)
  bool gtsm = false;                          // RFC 5082 (incompatible with multihop > 1)
  std::string tcp_md5_key_file;               // RFC 2385 password file; empty: no TCP-MD5
  TcpMd5Password tcp_md5;                     // its content, read at config load
  uint16_t hold_time_s = 180;
  uint16_t keepalive_s = 60;
  uint16_t connect_retry_s = 30;
  std::vector<std::string> import_policies;   // RFC 8212: eBGP needs both to exchange routes
  std::vector<std::string> export_policies;
  MaxPrefix max_prefix;
  uint32_t max_advertised = 0;                // outbound cap; 0 = default (2000 for route_server, none otherwise)
  bool graceful_restart = true;
  uint16_t port = 179;                        // tests use other ports
  friend bool operator==(const PeerConfig&, const PeerConfig&) = default;
};

struct Network {                              // originated statically
  Ipv4Prefix prefix;
  friend bool operator==(const Network&, const Network&) = default;
};

// What a graceful shutdown (SIGTERM) does to our advertisements before the
// sessions close: withdraw every route, or keep them tagged with the
// GRACEFUL_SHUTDOWN community (RFC 8326) so that receivers that honour it
// prefer other paths while ours still work.
enum class ShutdownMode : uint8_t { kWithdraw, kGracefulShutdown };

struct BgpConfig {
  bool enabled = false;
  Asn asn = 0;
  Ipv4Addr router_id;
  uint16_t listen_port = 179;
  std::optional<Ipv4Addr> listen_address;
  bool multipath = true;
  uint32_t max_paths = 16;
  uint16_t graceful_restart_time_s = 120;
  ShutdownMode shutdown_mode = ShutdownMode::kWithdraw;
  // How long the data plane keeps forwarding after the peers acknowledged
  // the shutdown UPDATEs, before the Cease; 0: close at once.
  uint32_t shutdown_drain_ms = 1000;
  std::vector<Network> networks;
  std::vector<Policy> policies;
  std::vector<PeerConfig> peers;
  friend bool operator==(const BgpConfig&, const BgpConfig&) = default;
};

// ASNs an NVA must not use as its own (Azure Route Server FAQ; IANA).
bool IsReservedAsn(Asn asn);

}  // namespace isthmus::bgp
