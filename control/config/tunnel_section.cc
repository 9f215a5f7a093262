// The `tunnels:` section: point-to-point VXLAN tunnels (RFC 7348) between
// appliances, each with a host interface carrying its overlay address.

#include "control/config/tunnel_section.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace isthmus::config_internal {
namespace {

constexpr uint32_t kMaxVni = 0xffffff;     // 24 bits (RFC 7348 section 5)
constexpr uint32_t kMaxUdpPort = 65535;
constexpr uint32_t kMinMtu = 68;           // RFC 791
constexpr uint32_t kMaxTunnelMtu = 8950;   // the largest port MTU (9000) minus VXLAN's 50 bytes
constexpr uint32_t kMinMss = 536;          // RFC 9293 3.7.1 default MSS
constexpr uint32_t kMaxMss = kMaxTunnelMtu - 40;
constexpr size_t kMaxTunnels = 64;         // dataplane/tunnel/tunnel.h kMaxTunnels
constexpr size_t kMaxNameLen = 15;
constexpr size_t kMaxIfNameLen = 15;
constexpr uint8_t kMaxOverlayLen = 31;     // a point-to-point link needs a peer address
constexpr absl::string_view kDefaultInterfacePrefix = "tun-";

constexpr absl::string_view kTypeNames[] = {"vxlan"};
constexpr TunnelType kTypes[] = {TunnelType::kVxlan};
constexpr absl::string_view kDfNames[] = {"set", "clear", "inherit"};
constexpr TunnelDf kDfModes[] = {TunnelDf::kSet, TunnelDf::kClear, TunnelDf::kInherit};

constexpr absl::string_view kNameRule = "1 to 15 characters from a-z, 0-9, '_' and '-'";
constexpr absl::string_view kOverlayRule = "HOST/LEN with LEN 1-31, e.g. 198.18.250.1/30";
constexpr absl::string_view kMssRule = "off, auto (tunnel MTU - 40) or an MSS 536-8910";
constexpr absl::string_view kIfNameRule = "1 to 15 characters without '/', ':' or whitespace, not '.' or '..'";

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLen) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsValidIfName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxIfNameLen || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r'); });
}

// What the checks across tunnels need to point at.
struct ParsedTunnel {
  TunnelConfig tunnel;
  std::string path;
  YAML::Node node;
  YAML::Node remote_node;
  bool has_overlay = false;
  bool has_remote = false;
};

class TunnelReader {
 public:
  TunnelReader(const Config& config, absl::flat_hash_map<std::string, std::string>& interface_owners,
               Diagnostics& diag)
      : config_(config), interface_owners_(interface_owners), diag_(diag) {}

  void Read(const YAML::Node& node, const std::string& path, std::vector<TunnelConfig>* out) {
    ForEachElement(node, path, "a list of tunnels", diag_,
                   [&](const YAML::Node& v, const std::string& p) { ReadTunnel(v, p); });
    if (parsed_.size() > kMaxTunnels) {
      diag_.Add(node, path, absl::StrCat("lists ", parsed_.size(), " tunnels"),
                absl::StrCat("at most ", kMaxTunnels));
    }
    CheckOverlaysDisjoint();
    CheckRecursion();
    out->clear();
    for (ParsedTunnel& t : parsed_) out->push_back(std::move(t.tunnel));
  }

 private:
  void ReadTunnel(const YAML::Node& node, const std::string& path) {
    ParsedTunnel parsed;
    parsed.path = path;
    parsed.node = node;
    TunnelConfig& t = parsed.tunnel;
    const Field fields[] = {
        {"name", [&](const YAML::Node& v, const std::string& p) { ReadName(v, p, &t.name); }},
        {"type",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kTypeNames, diag_)) t.type = kTypes[*choice];
         }},
        {"local",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto a = ReadUnicastAddress(v, p, "local underlay address", diag_)) t.local = *a;
         }},
        {"remote",
         [&](const YAML::Node& v, const std::string& p) {
           parsed.remote_node = v;
           if (const auto a = ReadUnicastAddress(v, p, "remote underlay address", diag_)) {
             t.remote = *a;
             parsed.has_remote = true;
           }
         }},
        {"vni",
         [&](const YAML::Node& v, const std::string& p) {
           const auto vni = ReadUint(v, p, {1, kMaxVni}, diag_);
           if (vni && ClaimUnique(vni_owners_, absl::StrCat(*vni), v, p, "a VNI", diag_)) {
             t.vni = static_cast<uint32_t>(*vni);
           }
         }},
        {"overlay",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto a = ReadOverlay(v, p)) {
             t.overlay = *a;
             parsed.has_overlay = true;
           }
         }},
        {"mtu",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto mtu = ReadUint(v, p, {kMinMtu, kMaxTunnelMtu}, diag_)) t.mtu = static_cast<uint32_t>(*mtu);
         }},
        {"mss_clamp", [&](const YAML::Node& v, const std::string& p) { ReadMssClamp(v, p, &t.mss_clamp); }},
        {"dst_port",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto port = ReadUint(v, p, {1, kMaxUdpPort}, diag_)) t.dst_port = static_cast<uint16_t>(*port);
         }},
        {"interface",
         [&](const YAML::Node& v, const std::string& p) {
           const auto name = ReadString(v, p, kIfNameRule, diag_);
           if (!name) return;
           if (!IsValidIfName(*name)) {
             diag_.Add(v, p, absl::StrCat(Quote(*name), " is not a Linux interface name"), kIfNameRule);
             return;
           }
           if (ClaimUnique(interface_owners_, *name, v, p, "an interface name", diag_)) t.interface = *name;
         }},
        {"df",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kDfNames, diag_)) t.df = kDfModes[*choice];
         }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    for (const auto& [key, rule] : {std::pair<absl::string_view, absl::string_view>{"name", kNameRule},
                                    {"type", "vxlan"},
                                    {"local", "our underlay IPv4 address, e.g. 192.0.2.1"},
                                    {"remote", "the peer's underlay IPv4 address, e.g. 192.0.2.2"},
                                    {"vni", "a VNI 1-16777215"},
                                    {"overlay", kOverlayRule}}) {
      if (!seen.contains(key)) diag_.Add(node, JoinPath(path, key), "missing required key", rule);
    }
    if (seen.contains("local") && seen.contains("remote") && t.local == t.remote && parsed.has_remote) {
      diag_.Add(parsed.remote_node, JoinPath(path, "remote"), "is the same address as local",
                "the peer's underlay address, different from ours");
    }
    if (!t.name.empty() && !seen.contains("interface")) {
      const std::string name = DefaultTunnelInterface(t.name);
      if (ClaimUnique(interface_owners_, name, node, JoinPath(path, "interface"),
                      absl::StrCat("an interface name (", name, " is derived from the tunnel name; set interface)"),
                      diag_)) {
        t.interface = name;
      }
    }
    parsed_.push_back(std::move(parsed));
  }

  void ReadName(const YAML::Node& node, const std::string& path, std::string* out) {
    const auto name = ReadString(node, path, kNameRule, diag_);
    if (!name) return;
    if (!IsValidName(*name)) {
      diag_.Add(node, path, absl::StrCat(Quote(*name), " is not a valid tunnel name"), kNameRule);
      return;
    }
    if (ClaimUnique(name_owners_, *name, node, path, "a tunnel name", diag_)) *out = *name;
  }

  std::optional<InterfaceAddress> ReadOverlay(const YAML::Node& node, const std::string& path) {
    const auto text = ReadString(node, path, kOverlayRule, diag_);
    if (!text) return std::nullopt;
    const auto address = ParseInterfaceAddress(*text);
    if (!address || address->subnet.len == 0 || address->subnet.len > kMaxOverlayLen) {
      diag_.Add(node, path, absl::StrCat(Quote(*text), " is not an overlay interface address"), kOverlayRule);
      return std::nullopt;
    }
    std::optional<std::string> problem = NotUnicastReason(address->host);
    const uint32_t broadcast = address->subnet.addr.value | ~PrefixMask(address->subnet.len);
    if (!problem && address->subnet.len < 31 && address->host == address->subnet.addr) {
      problem = "is the network address of its subnet";
    } else if (!problem && address->subnet.len < 31 && address->host.value == broadcast) {
      problem = "is the broadcast address of its subnet";
    }
    if (problem) {
      diag_.Add(node, path, absl::StrCat(*text, " ", *problem), "a unicast host address in its subnet");
      return std::nullopt;
    }
    return address;
  }

  void ReadMssClamp(const YAML::Node& node, const std::string& path, MssClampConfig* out) {
    const auto text = ReadString(node, path, kMssRule, diag_);
    if (!text) return;
    if (*text == "off") {
      *out = {MssClampConfig::Mode::kOff, 0};
    } else if (*text == "auto") {
      *out = {MssClampConfig::Mode::kAuto, 0};
    } else if (const auto mss = ParseDecimal(*text, kMaxIntegerDigits); mss && *mss >= kMinMss && *mss <= kMaxMss) {
      *out = {MssClampConfig::Mode::kFixed, static_cast<uint32_t>(*mss)};
    } else {
      diag_.Add(node, path, absl::StrCat(Quote(*text), " is not an MSS clamp setting"), kMssRule);
    }
  }

  // Two tunnels' overlays must not overlap: a gateway would resolve into
  // either of them.
  void CheckOverlaysDisjoint() {
    for (size_t i = 0; i < parsed_.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        const ParsedTunnel& a = parsed_[i];
        const ParsedTunnel& b = parsed_[j];
        if (!a.has_overlay || !b.has_overlay) continue;
        if (a.tunnel.overlay.subnet.Contains(b.tunnel.overlay.subnet.addr) ||
            b.tunnel.overlay.subnet.Contains(a.tunnel.overlay.subnet.addr)) {
          diag_.Add(a.node, JoinPath(a.path, "overlay"),
                    absl::StrCat(ToString(a.tunnel.overlay.subnet), " overlaps ", ToString(b.tunnel.overlay.subnet),
                                 " of tunnel ", Quote(b.tunnel.name)),
                    "an overlay subnet no other tunnel uses");
        }
      }
    }
  }

  // Issue 4 item 4: an endpoint reached through a tunnel is the recursion
  // that turns into a routing loop between regions.
  void CheckRecursion() {
    for (const ParsedTunnel& t : parsed_) {
      if (!t.has_remote) continue;
      const std::string path = JoinPath(t.path, "remote");
      const std::string remote = ToString(t.tunnel.remote);
      constexpr absl::string_view kRule = "an underlay address that is reached outside every tunnel";
      for (const ParsedTunnel& other : parsed_) {
        if (other.has_overlay && other.tunnel.overlay.subnet.Contains(t.tunnel.remote)) {
          diag_.Add(t.remote_node, path,
                    absl::StrCat(remote, " lies inside the overlay ", ToString(other.tunnel.overlay.subnet),
                                 " of tunnel ", Quote(other.tunnel.name), " (the endpoint would be reached through a tunnel)"),
                    kRule);
        }
      }
      for (const StaticRoute& route : config_.routes) {
        if (route.blackhole || !route.prefix.Contains(t.tunnel.remote)) continue;
        for (const Ipv4Addr& via : route.via) {
          const ParsedTunnel* into = OverlayOf(via);
          if (into == nullptr) continue;
          diag_.Add(t.remote_node, path,
                    absl::StrCat(remote, " lies inside ", ToString(route.prefix), ", which the static route sends into tunnel ",
                                 Quote(into->tunnel.name), " (via ", ToString(via),
                                 "): the tunnel would carry its own packets"),
                    kRule);
          break;
        }
      }
      for (const bgp::Network& network : config_.bgp.networks) {
        if (!network.prefix.Contains(t.tunnel.remote)) continue;
        diag_.Add(t.remote_node, path,
                  absl::StrCat(remote, " lies inside ", ToString(network.prefix),
                               ", which bgp.networks advertises (peers could route the endpoint into the tunnel)"),
                  kRule);
      }
    }
  }

  const ParsedTunnel* OverlayOf(Ipv4Addr a) const {
    for (const ParsedTunnel& t : parsed_) {
      if (t.has_overlay && t.tunnel.overlay.subnet.Contains(a)) return &t;
    }
    return nullptr;
  }

  const Config& config_;
  absl::flat_hash_map<std::string, std::string>& interface_owners_;
  Diagnostics& diag_;
  absl::flat_hash_map<std::string, std::string> name_owners_;
  absl::flat_hash_map<std::string, std::string> vni_owners_;
  std::vector<ParsedTunnel> parsed_;
};

}  // namespace

std::string DefaultTunnelInterface(const std::string& tunnel_name) {
  return absl::StrCat(kDefaultInterfacePrefix, tunnel_name).substr(0, kMaxIfNameLen);
}

void ReadTunnelsSection(const YAML::Node& node, const std::string& path, const Config& config,
                        absl::flat_hash_map<std::string, std::string>& interface_owners, Diagnostics& diag,
                        std::vector<TunnelConfig>* out) {
  TunnelReader(config, interface_owners, diag).Read(node, path, out);
}

}  // namespace isthmus::config_internal
