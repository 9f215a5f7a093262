// The `nat:` and `services:` sections (issue 5): anycast VIPs announced as
// /32s while enough health-checked backends are up, new flows spread over
// the healthy backends by Maglev hashing, optional SNAT.

#include "control/config/service_section.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "dataplane/service/maglev.h"

namespace isthmus::config_internal {
namespace {

constexpr uint32_t kMaxPort = 65535;
constexpr uint32_t kMinFlowCapacity = 1024;
constexpr uint32_t kMaxFlowCapacity = 1u << 26;  // 64 Mi flows, ~8 GiB at 128 bytes each
constexpr uint32_t kMaxTimeoutS = 7 * 24 * 3600;
constexpr uint32_t kMaxPercent = 100;
constexpr uint32_t kMaxSynRatePerWorker = 100'000'000;   // far above what one core can translate
// Maglev wants M well above the backend count (NSDI 2016 section 3.4:
// M > 100 N keeps the imbalance under 1%); the smallest prime above
// kMaxBackends keeps every table buildable.
constexpr uint32_t kMinMaglevTableSize = 1031;
constexpr uint32_t kMaxMaglevTableSizePrime = 16777213;  // largest prime below 2^24
constexpr size_t kMaxServices = 256;
constexpr size_t kMaxPorts = 64;
constexpr size_t kMaxBackends = 1024;
constexpr size_t kMaxSnatPool = 64;
constexpr uint32_t kMaxWeight = 1000;
constexpr uint32_t kMinIntervalMs = 10;
constexpr uint32_t kMaxIntervalMs = 3'600'000;
constexpr uint32_t kMaxRiseFall = 100;
constexpr uint32_t kMinHttpStatus = 100;
constexpr uint32_t kMaxHttpStatus = 599;
constexpr size_t kMaxHttpPathLen = 1024;
constexpr uint32_t kMaxPrepend = 10;  // as bgp policies' prepend
constexpr uint32_t kMaxMed = 4294967295u;
constexpr uint32_t kMaxCommunityHalf = 65535;
constexpr size_t kMaxCommunityHalfDigits = 5;
constexpr size_t kMaxNameLen = 32;

constexpr absl::string_view kNameRule = "1 to 32 characters from a-z, 0-9, '_' and '-'";
constexpr absl::string_view kVipRule = "an IPv4 address or ADDRESS/32, e.g. 203.0.113.10";
constexpr absl::string_view kProtocolNames[] = {"tcp", "udp"};
constexpr ServiceProtocol kProtocols[] = {ServiceProtocol::kTcp, ServiceProtocol::kUdp};
constexpr absl::string_view kHealthTypeNames[] = {"tcp", "http"};
constexpr HealthCheckType kHealthTypes[] = {HealthCheckType::kTcp, HealthCheckType::kHttp};
constexpr absl::string_view kPolicyNames[] = {"reset", "reselect"};
constexpr BackendDownPolicy kPolicies[] = {BackendDownPolicy::kReset, BackendDownPolicy::kReselect};
constexpr absl::string_view kDegradedRule =
    "none, prepend N (N 1-10), med N (N 0-4294967295) or community ASN:VALUE (both 0-65535)";
constexpr absl::string_view kSnatRule = "off, or a map {pool: [ADDRESS, ...]}";
constexpr absl::string_view kHttpPathRule = "an absolute path of 1-1024 printable ASCII characters without spaces, e.g. /healthz";
constexpr absl::string_view kMaglevSizeRule = "a prime number 1031-16777213 (default 65537)";

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLen) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsValidHttpPath(absl::string_view path) {
  if (path.empty() || path.size() > kMaxHttpPathLen || path.front() != '/') return false;
  return std::all_of(path.begin(), path.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string BackendIdentity(const ServiceBackendConfig& b) {
  return b.port == 0 ? ToString(b.address) : absl::StrCat(ToString(b.address), ":", b.port);
}

// A Field reader that stores an integer in `range` into *value.
ValueReader UintInto(uint32_t* value, UintRange range, Diagnostics& diag) {
  return [&diag, value, range](const YAML::Node& v, const std::string& p) {
    if (const auto x = ReadUint(v, p, range, diag)) *value = static_cast<uint32_t>(*x);
  };
}

// The readers of `flow_timeouts` in `nat.timeouts` and in a service: each
// key given replaces the value in *out, the others stay.
void ReadFlowTimeouts(const YAML::Node& node, const std::string& path, Diagnostics& diag, FlowTimeouts* out) {
  constexpr UintRange kTimeout{1, kMaxTimeoutS};
  const Field fields[] = {
      {"tcp_established_s", UintInto(&out->tcp_established_s, kTimeout, diag)},
      {"tcp_transitory_s", UintInto(&out->tcp_transitory_s, kTimeout, diag)},
      {"udp_s", UintInto(&out->udp_s, kTimeout, diag)},
      {"tcp_embryonic_s", UintInto(&out->tcp_embryonic_s, kTimeout, diag)},
  };
  WalkMap(node, path, fields, /*allow_empty=*/true, diag);
}

// What a service needs to know about the rest of the file.
struct Context {
  // Address -> the key path that makes it one of ours.
  absl::flat_hash_map<uint32_t, std::string> own_addresses;
  std::vector<absl::string_view> peer_names;  // sorted
  bool bgp_enabled = false;
};

Context MakeContext(const Config& config) {
  Context c;
  for (size_t i = 0; i < config.ports.size(); ++i) {
    if (config.ports[i].address) {
      c.own_addresses.emplace(config.ports[i].address->host.value, absl::StrCat("ports[", i, "].address"));
    }
  }
  for (size_t i = 0; i < config.tunnels.size(); ++i) {
    c.own_addresses.emplace(config.tunnels[i].local.value, absl::StrCat("tunnels[", i, "].local"));
    c.own_addresses.emplace(config.tunnels[i].overlay.host.value, absl::StrCat("tunnels[", i, "].overlay"));
  }
  c.bgp_enabled = config.bgp.enabled;
  if (config.bgp.listen_address) c.own_addresses.emplace(config.bgp.listen_address->value, "bgp.listen_address");
  for (size_t i = 0; i < config.bgp.peers.size(); ++i) {
    const bgp::PeerConfig& peer = config.bgp.peers[i];
    if (peer.source) c.own_addresses.emplace(peer.source->value, absl::StrCat("bgp.peers[", i, "].source"));
    c.peer_names.push_back(peer.name);
  }
  std::sort(c.peer_names.begin(), c.peer_names.end());
  return c;
}

class ServiceReader {
 public:
  ServiceReader(const Config& config, Diagnostics& diag) : config_(config), context_(MakeContext(config)), diag_(diag) {}

  void Read(const YAML::Node& node, const std::string& path, std::vector<ServiceConfig>* out) {
    out->clear();
    ForEachElement(node, path, "a list of services", diag_, [&](const YAML::Node& v, const std::string& p) {
      if (auto s = ReadService(v, p)) out->push_back(std::move(*s));
    });
    if (node.IsSequence() && node.size() > kMaxServices) {
      diag_.Add(node, path, absl::StrCat("lists ", node.size(), " services"), absl::StrCat("at most ", kMaxServices));
    }
  }

 private:
  std::optional<ServiceConfig> ReadService(const YAML::Node& node, const std::string& path) {
    ServiceConfig s;
    s.flow_timeouts = config_.nat.timeouts;
    std::optional<uint32_t> degraded_below;
    const Field fields[] = {
        {"name", [&](const YAML::Node& v, const std::string& p) { ReadName(v, p, &s.name); }},
        {"vip",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto vip = ReadVip(v, p)) s.vip = *vip;
         }},
        {"protocol",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kProtocolNames, diag_)) s.protocol = kProtocols[*choice];
         }},
        {"ports", [&](const YAML::Node& v, const std::string& p) { ReadPorts(v, p, &s.ports); }},
        {"backends", [&](const YAML::Node& v, const std::string& p) { ReadBackends(v, p, &s.backends); }},
        {"health", [&](const YAML::Node& v, const std::string& p) { ReadHealth(v, p, &s.health); }},
        {"min_up",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto x = ReadUint(v, p, {1, kMaxBackends}, diag_)) s.min_up = static_cast<uint32_t>(*x);
         }},
        {"snat", [&](const YAML::Node& v, const std::string& p) { ReadSnat(v, p, &s.snat_pool); }},
        {"on_backend_down",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kPolicyNames, diag_)) s.on_backend_down = kPolicies[*choice];
         }},
        {"announce",
         [&](const YAML::Node& v, const std::string& p) { ReadAnnounce(v, p, &s.announce, &degraded_below); }},
        {"flow_timeouts",
         [&](const YAML::Node& v, const std::string& p) { ReadFlowTimeouts(v, p, diag_, &s.flow_timeouts); }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return std::nullopt;
    for (const auto& [key, rule] : {std::pair<absl::string_view, absl::string_view>{"name", kNameRule},
                                    {"vip", kVipRule},
                                    {"ports", "a list of 1 to 64 ports 1-65535"},
                                    {"backends", "a list of {address, port, weight} maps"}}) {
      if (!seen.contains(key)) diag_.Add(node, JoinPath(path, key), "missing required key", rule);
    }
    CheckCounts(s, seen, path, degraded_below);
    CheckVip(s, seen, path);
    return s;
  }

  // min_up and degraded_below against the number of backends.
  void CheckCounts(ServiceConfig& s, const SeenKeys& seen, const std::string& path,
                   std::optional<uint32_t> degraded_below) {
    const uint32_t backends = static_cast<uint32_t>(s.backends.size());
    if (backends == 0) return;  // reported by ReadBackends or as missing
    if (auto it = seen.find("min_up"); it != seen.end() && s.min_up > backends) {
      diag_.Add(it->second, JoinPath(path, "min_up"), absl::StrCat("is ", s.min_up, ", more than the number of backends (", backends, ")"),
                absl::StrCat("1 to ", backends));
    }
    s.announce.degraded_below = degraded_below.value_or(backends);
    if (degraded_below && (*degraded_below <= s.min_up || *degraded_below > backends)) {
      diag_.Add(seen.at("announce"), JoinPath(path, "announce.degraded_below"),
                absl::StrCat("is ", *degraded_below, " with min_up ", s.min_up, " and ", backends, " backends"),
                absl::StrCat("more than min_up and at most the number of backends (", backends, ")"));
    }
  }

  // The VIP must be no address of ours (the kernel would answer for it)
  // nor a backend (DNAT would loop), and (VIP, protocol, port) names one
  // service.
  void CheckVip(const ServiceConfig& s, const SeenKeys& seen, const std::string& path) {
    auto vip_node = seen.find("vip");
    if (vip_node == seen.end() || s.vip.value == 0) return;
    const std::string vip_path = JoinPath(path, "vip");
    if (auto own = context_.own_addresses.find(s.vip.value); own != context_.own_addresses.end()) {
      diag_.Add(vip_node->second, vip_path, absl::StrCat(ToString(s.vip), " is an address of this appliance (", own->second, ")"),
                "an address used by no port, tunnel or BGP session");
    }
    for (size_t i = 0; i < s.backends.size(); ++i) {
      if (s.backends[i].address == s.vip) {
        diag_.Add(seen.at("backends"), JoinPath(IndexPath(JoinPath(path, "backends"), i), "address"),
                  absl::StrCat(ToString(s.vip), " is the service's VIP"), "a backend address other than the VIP");
      }
    }
    auto ports_node = seen.find("ports");
    if (ports_node == seen.end()) return;
    for (size_t i = 0; i < s.ports.size(); ++i) {
      const std::string key = absl::StrCat(ToString(s.vip), " ", ToAbsl(ToString(s.protocol)), " port ", s.ports[i]);
      ClaimUnique(listener_owners_, key, ports_node->second, IndexPath(JoinPath(path, "ports"), i),
                  "a VIP, protocol and port", diag_);
    }
  }

  void ReadName(const YAML::Node& node, const std::string& path, std::string* out) {
    const auto name = ReadString(node, path, kNameRule, diag_);
    if (!name) return;
    if (!IsValidName(*name)) {
      diag_.Add(node, path, absl::StrCat(Quote(*name), " is not a valid service name"), kNameRule);
      return;
    }
    if (ClaimUnique(name_owners_, *name, node, path, "a service name", diag_)) *out = *name;
  }

  // A plain address or ADDRESS/32: the VIP is announced as a host route.
  std::optional<Ipv4Addr> ReadVip(const YAML::Node& node, const std::string& path) {
    const auto text = ReadString(node, path, kVipRule, diag_);
    if (!text) return std::nullopt;
    std::optional<Ipv4Addr> vip = ParseIpv4(*text);
    if (!vip) {
      const auto prefix = ParseInterfaceAddress(*text);
      if (prefix && prefix->subnet.len == 32) vip = prefix->host;
    }
    if (!vip) {
      diag_.Add(node, path, absl::StrCat(Quote(*text), " is not a single IPv4 address"), kVipRule);
      return std::nullopt;
    }
    if (const auto reason = NotUnicastReason(*vip)) {
      diag_.Add(node, path, absl::StrCat(ToString(*vip), " ", *reason), "a unicast address");
      return std::nullopt;
    }
    return vip;
  }

  void ReadPorts(const YAML::Node& node, const std::string& path, std::vector<uint16_t>* out) {
    constexpr absl::string_view kRule = "a list of 1 to 64 distinct ports 1-65535";
    absl::flat_hash_map<std::string, std::string> owners;
    const bool is_list = ForEachElement(node, path, kRule, diag_, [&](const YAML::Node& v, const std::string& p) {
      const auto port = ReadUint(v, p, {1, kMaxPort}, diag_);
      if (port && ClaimUnique(owners, absl::StrCat(*port), v, p, "a port", diag_)) {
        out->push_back(static_cast<uint16_t>(*port));
      }
    });
    if (is_list && (node.size() == 0 || node.size() > kMaxPorts)) {
      diag_.Add(node, path, absl::StrCat("lists ", node.size(), " ports"), kRule);
    }
  }

  void ReadBackends(const YAML::Node& node, const std::string& path, std::vector<ServiceBackendConfig>* out) {
    constexpr absl::string_view kRule = "a list of 1 to 1024 {address, port, weight} maps";
    absl::flat_hash_map<std::string, std::string> owners;
    const bool is_list = ForEachElement(node, path, kRule, diag_, [&](const YAML::Node& v, const std::string& p) {
      auto backend = ReadBackend(v, p);
      if (backend && ClaimUnique(owners, BackendIdentity(*backend), v, p, "a backend address and port", diag_)) {
        out->push_back(*backend);
      }
    });
    if (is_list && (node.size() == 0 || node.size() > kMaxBackends)) {
      diag_.Add(node, path, absl::StrCat("lists ", node.size(), " backends"), kRule);
    }
  }

  std::optional<ServiceBackendConfig> ReadBackend(const YAML::Node& node, const std::string& path) {
    ServiceBackendConfig b;
    bool ok = true;
    const Field fields[] = {
        {"address",
         [&](const YAML::Node& v, const std::string& p) {
           const auto a = ReadUnicastAddress(v, p, "backend", diag_);
           ok = ok && a.has_value();
           if (a) b.address = *a;
         }},
        {"port",
         [&](const YAML::Node& v, const std::string& p) {
           const auto port = ReadUint(v, p, {1, kMaxPort}, diag_);
           ok = ok && port.has_value();
           if (port) b.port = static_cast<uint16_t>(*port);
         }},
        {"weight",
         [&](const YAML::Node& v, const std::string& p) {
           const auto w = ReadUint(v, p, {1, kMaxWeight}, diag_);
           ok = ok && w.has_value();
           if (w) b.weight = static_cast<uint32_t>(*w);
         }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return std::nullopt;
    if (!seen.contains("address")) {
      diag_.Add(node, JoinPath(path, "address"), "missing required key", "the backend's IPv4 address, e.g. 192.0.2.21");
      return std::nullopt;
    }
    if (!ok) return std::nullopt;
    return b;
  }

  void ReadHealth(const YAML::Node& node, const std::string& path, HealthCheckConfig* out) {
    HealthCheckConfig& h = *out;
    auto uint_field = [&](absl::string_view key, UintRange range, uint32_t* value) {
      return Field{key, [this, range, value](const YAML::Node& v, const std::string& p) {
                     if (const auto x = ReadUint(v, p, range, diag_)) *value = static_cast<uint32_t>(*x);
                   }};
    };
    const Field fields[] = {
        {"type",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kHealthTypeNames, diag_)) h.type = kHealthTypes[*choice];
         }},
        {"path",
         [&](const YAML::Node& v, const std::string& p) {
           const auto text = ReadString(v, p, kHttpPathRule, diag_);
           if (text && !IsValidHttpPath(*text)) {
             diag_.Add(v, p, absl::StrCat(Quote(*text), " is not an HTTP request path"), kHttpPathRule);
           } else if (text) {
             h.path = *text;
           }
         }},
        uint_field("expect_status", {kMinHttpStatus, kMaxHttpStatus}, &h.expect_status),
        {"port",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto port = ReadUint(v, p, {1, kMaxPort}, diag_)) h.port = static_cast<uint16_t>(*port);
         }},
        uint_field("interval_ms", {kMinIntervalMs, kMaxIntervalMs}, &h.interval_ms),
        uint_field("timeout_ms", {1, kMaxIntervalMs}, &h.timeout_ms),
        uint_field("rise", {1, kMaxRiseFall}, &h.rise),
        uint_field("fall", {1, kMaxRiseFall}, &h.fall),
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
    if (h.type == HealthCheckType::kTcp) {
      for (absl::string_view key : {"path", "expect_status"}) {
        if (auto it = seen.find(key); it != seen.end()) {
          diag_.Add(it->second, JoinPath(path, key), "applies to type http only", "omit it for a tcp (connect) check");
        }
      }
    }
    // One probe in flight per backend: a timeout as long as the interval
    // would let probes pile up and delay the verdict.
    if (h.timeout_ms >= h.interval_ms) {
      const auto it = seen.find("timeout_ms");
      diag_.Add(it != seen.end() ? it->second : node, JoinPath(path, "timeout_ms"),
                absl::StrCat("is ", h.timeout_ms, " ms, not shorter than interval_ms (", h.interval_ms, " ms)"),
                absl::StrCat("less than interval_ms, 1-", h.interval_ms - 1));
    }
  }

  void ReadSnat(const YAML::Node& node, const std::string& path, std::vector<Ipv4Addr>* out) {
    if (node.IsScalar()) {
      if (node.Scalar() != "off") diag_.Add(node, path, absl::StrCat("unknown value ", Quote(node.Scalar())), kSnatRule);
      return;
    }
    if (!node.IsMap()) {
      diag_.Add(node, path, absl::StrCat("expected off or a map, got ", Describe(node)), kSnatRule);
      return;
    }
    constexpr absl::string_view kPoolRule = "a list of 1 to 64 distinct unicast IPv4 addresses";
    const Field fields[] = {
        {"pool",
         [&](const YAML::Node& v, const std::string& p) {
           absl::flat_hash_map<std::string, std::string> owners;
           const bool is_list = ForEachElement(v, p, kPoolRule, diag_, [&](const YAML::Node& e, const std::string& ep) {
             const auto a = ReadUnicastAddress(e, ep, "SNAT", diag_);
             if (a && ClaimUnique(owners, ToString(*a), e, ep, "an SNAT address", diag_)) out->push_back(*a);
           });
           if (is_list && (v.size() == 0 || v.size() > kMaxSnatPool)) {
             diag_.Add(v, p, absl::StrCat("lists ", v.size(), " addresses"), kPoolRule);
           }
         }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!seen.contains("pool")) diag_.Add(node, JoinPath(path, "pool"), "missing required key", kPoolRule);
  }

  void ReadAnnounce(const YAML::Node& node, const std::string& path, AnnounceConfig* out,
                    std::optional<uint32_t>* degraded_below) {
    const Field fields[] = {
        {"peers", [&](const YAML::Node& v, const std::string& p) { ReadPeers(v, p, &out->peers); }},
        {"degraded",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto d = ReadDegraded(v, p)) out->degraded = *d;
         }},
        {"degraded_below",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto x = ReadUint(v, p, {2, kMaxBackends}, diag_)) *degraded_below = static_cast<uint32_t>(*x);
         }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadPeers(const YAML::Node& node, const std::string& path, std::vector<std::string>* out) {
    const std::string accepted = context_.peer_names.empty() ? std::string("the name of a bgp peer")
                                                             : absl::StrJoin(context_.peer_names, ", ");
    if (!context_.bgp_enabled) {
      diag_.Add(node, path, "names BGP peers but there is no bgp section", "omit announce.peers, or configure bgp");
      return;
    }
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(node, path, "a list of bgp peer names", diag_, [&](const YAML::Node& v, const std::string& p) {
      const auto name = ReadString(v, p, accepted, diag_);
      if (!name) return;
      if (!std::binary_search(context_.peer_names.begin(), context_.peer_names.end(), absl::string_view(*name))) {
        std::string problem = absl::StrCat("no bgp peer named ", Quote(*name));
        if (const auto hint = ClosestMatch(*name, context_.peer_names)) {
          absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
        }
        diag_.Add(v, p, problem, accepted);
        return;
      }
      if (ClaimUnique(owners, *name, v, p, "a peer", diag_)) out->push_back(*name);
    });
  }

  // "none", "prepend N", "med N" or "community ASN:VALUE".
  std::optional<DegradedAnnounce> ReadDegraded(const YAML::Node& node, const std::string& path) {
    const auto text = ReadString(node, path, kDegradedRule, diag_);
    if (!text) return std::nullopt;
    const std::vector<absl::string_view> words = absl::StrSplit(*text, ' ', absl::SkipEmpty());
    std::optional<DegradedAnnounce> d;
    if (words.size() == 1 && words[0] == "none") {
      d = DegradedAnnounce{};
    } else if (words.size() == 2 && words[0] == "prepend") {
      const auto n = ParseDecimal(words[1], kMaxIntegerDigits);
      if (n && *n >= 1 && *n <= kMaxPrepend) d = DegradedAnnounce{DegradedAnnounce::Kind::kPrepend, static_cast<uint32_t>(*n)};
    } else if (words.size() == 2 && words[0] == "med") {
      const auto n = ParseDecimal(words[1], kMaxIntegerDigits);
      if (n && *n <= kMaxMed) d = DegradedAnnounce{DegradedAnnounce::Kind::kMed, static_cast<uint32_t>(*n)};
    } else if (words.size() == 2 && words[0] == "community") {
      const std::vector<absl::string_view> halves = absl::StrSplit(words[1], ':');
      if (halves.size() == 2) {
        const auto asn = ParseDecimal(halves[0], kMaxCommunityHalfDigits);
        const auto value = ParseDecimal(halves[1], kMaxCommunityHalfDigits);
        if (asn && value && *asn <= kMaxCommunityHalf && *value <= kMaxCommunityHalf) {
          d = DegradedAnnounce{DegradedAnnounce::Kind::kCommunity, static_cast<uint32_t>(*asn << 16 | *value)};
        }
      }
    }
    if (!d) diag_.Add(node, path, absl::StrCat(Quote(*text), " is not a degraded announcement"), kDegradedRule);
    return d;
  }

  const Config& config_;
  const Context context_;
  Diagnostics& diag_;
  absl::flat_hash_map<std::string, std::string> name_owners_;
  absl::flat_hash_map<std::string, std::string> listener_owners_;  // "VIP PROTOCOL port N"
};

void ReadAdmission(const YAML::Node& node, const std::string& path, Diagnostics& diag, NatAdmissionConfig* out) {
  constexpr UintRange kPercent{1, kMaxPercent};
  const Field fields[] = {
      {"embryonic_max_percent", UintInto(&out->embryonic_max_percent, kPercent, diag)},
      {"service_embryonic_max_percent", UintInto(&out->service_embryonic_max_percent, kPercent, diag)},
      {"syn_rate_per_worker", UintInto(&out->syn_rate_per_worker, {0, kMaxSynRatePerWorker}, diag)},
  };
  WalkMap(node, path, fields, /*allow_empty=*/true, diag);
}

}  // namespace

void ReadNatSection(const YAML::Node& node, const std::string& path, Diagnostics& diag, NatConfig* out) {
  const Field fields[] = {
      {"capacity",
       [&](const YAML::Node& v, const std::string& p) {
         if (const auto x = ReadUint(v, p, {kMinFlowCapacity, kMaxFlowCapacity}, diag)) out->capacity = static_cast<uint32_t>(*x);
       }},
      {"maglev_table_size",
       [&](const YAML::Node& v, const std::string& p) {
         const auto x = ReadUint(v, p, {kMinMaglevTableSize, kMaxMaglevTableSizePrime}, diag);
         if (x && !IsPrime(static_cast<uint32_t>(*x))) {
           diag.Add(v, p, absl::StrCat(*x, " is not a prime"), kMaglevSizeRule);
         } else if (x) {
           out->maglev_table_size = static_cast<uint32_t>(*x);
         }
       }},
      {"timeouts", [&](const YAML::Node& v, const std::string& p) { ReadFlowTimeouts(v, p, diag, &out->timeouts); }},
      {"admission", [&](const YAML::Node& v, const std::string& p) { ReadAdmission(v, p, diag, &out->admission); }},
  };
  WalkMap(node, path, fields, /*allow_empty=*/true, diag);
}

void ReadServicesSection(const YAML::Node& node, const std::string& path, const Config& config, Diagnostics& diag,
                         std::vector<ServiceConfig>* out) {
  ServiceReader(config, diag).Read(node, path, out);
}

}  // namespace isthmus::config_internal

namespace isthmus {
namespace {

// The config word for `value`, from the tables the parser reads with.
template <typename T, size_t N>
std::string_view NameOf(T value, const T (&values)[N], const absl::string_view (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (values[i] == value) return config_internal::ToStd(names[i]);
  }
  return "unknown";
}

}  // namespace

std::string_view ToString(ServiceProtocol p) {
  return NameOf(p, config_internal::kProtocols, config_internal::kProtocolNames);
}
std::string_view ToString(HealthCheckType t) {
  return NameOf(t, config_internal::kHealthTypes, config_internal::kHealthTypeNames);
}
std::string_view ToString(BackendDownPolicy p) {
  return NameOf(p, config_internal::kPolicies, config_internal::kPolicyNames);
}

}  // namespace isthmus
