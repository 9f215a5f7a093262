// The `tunnels:` section: point-to-point VXLAN (RFC 7348) and ESP tunnel
// mode (RFC 4303) tunnels between appliances, optionally VXLAN carried
// inside ESP, each with a host interface carrying its overlay address.

#include "control/config/tunnel_section.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "dataplane/ipsec/esp_key_file.h"

namespace isthmus::config_internal {
namespace {

constexpr uint32_t kMaxVni = 0xffffff;     // 24 bits (RFC 7348 section 5)
constexpr uint32_t kMaxUdpPort = 65535;
constexpr uint16_t kVxlanPort = 4789;      // IANA (RFC 7348 section 5)
constexpr uint32_t kMinMtu = 68;           // RFC 791
constexpr uint32_t kMaxTunnelMtu = 8950;   // the largest port MTU (9000) minus VXLAN's 50 bytes
constexpr uint32_t kMinMss = 536;          // RFC 9293 3.7.1 default MSS
constexpr uint32_t kMaxMss = kMaxTunnelMtu - 40;
constexpr size_t kMaxTunnels = 64;         // dataplane/tunnel/tunnel.h kMaxTunnels
constexpr size_t kMaxNameLen = 15;
constexpr size_t kMaxIfNameLen = 15;
constexpr uint8_t kMaxOverlayLen = 31;     // a point-to-point link needs a peer address
constexpr absl::string_view kDefaultInterfacePrefix = "tun-";

constexpr absl::string_view kTypeNames[] = {"vxlan", "ipsec"};
constexpr TunnelType kTypes[] = {TunnelType::kVxlan, TunnelType::kIpsec};
constexpr absl::string_view kCipherNames[] = {"aes-128-gcm", "aes-256-gcm"};
constexpr IpsecCipher kCiphers[] = {IpsecCipher::kAes128Gcm, IpsecCipher::kAes256Gcm};
// ESP (dataplane/ipsec/esp_types.h, tunnel.h kMaxEspInboundSas).
constexpr uint64_t kMinSpi = 256;  // RFC 4303 2.1: 0 and 1-255 are reserved
constexpr uint64_t kMaxSpi = 0xffffffff;
constexpr uint64_t kMinReplayWindow = 32;
constexpr uint64_t kMaxReplayWindow = 65536;
constexpr size_t kMaxInboundSas = 4;
constexpr size_t kMaxLifetimeDigits = 19;  // below 2^64
constexpr absl::string_view kSpiRule = "an SPI 256-4294967295 (0 and 1-255 are reserved, RFC 4303 2.1)";
constexpr absl::string_view kKeyFileRule =
    "an absolute path to a regular file of mode 0600 or 0400 holding the key and 4-byte salt as hex "
    "(40 hex digits for aes-128-gcm, 72 for aes-256-gcm)";
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

// `ipsec.vxlan` of an ipsec tunnel: VXLAN carried inside ESP. Kept in the
// tunnel's own `vni` and `dst_port` (TunnelConfig), which describe the same
// VXLAN layer as for a vxlan tunnel; here only until the type is known.
struct EspVxlan {
  uint32_t vni = 0;  // 0: not set (plain IPv4 in ESP)
  uint16_t dst_port = kVxlanPort;
  YAML::Node vni_node;
  std::string vni_path;
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
    EspVxlan esp_vxlan;
    // An unknown type is reported once; the keys of a type not known are
    // not checked (they would be checked against the default, vxlan).
    bool type_ok = false;
    const Field fields[] = {
        {"name", [&](const YAML::Node& v, const std::string& p) { ReadName(v, p, &t.name); }},
        {"type",
         [&](const YAML::Node& v, const std::string& p) {
           const auto choice = ReadChoice(v, p, kTypeNames, diag_);
           type_ok = choice.has_value();
           if (choice) t.type = kTypes[*choice];
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
           if (vni) t.vni = static_cast<uint32_t>(*vni);
         }},
        {"ipsec", [&](const YAML::Node& v, const std::string& p) { t.ipsec = ReadIpsec(v, p, &esp_vxlan); }},
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
                                    {"type", "vxlan, ipsec"},
                                    {"local", "our underlay IPv4 address, e.g. 192.0.2.1"},
                                    {"remote", "the peer's underlay IPv4 address, e.g. 192.0.2.2"},
                                    {"overlay", kOverlayRule}}) {
      if (!seen.contains(key)) diag_.Add(node, JoinPath(path, key), "missing required key", rule);
    }
    if (type_ok) CheckKindKeys(node, path, seen, esp_vxlan, t);
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

  // Keys that belong to one tunnel type only.
  void CheckKindKeys(const YAML::Node& node, const std::string& path, const SeenKeys& seen, const EspVxlan& esp_vxlan,
                     TunnelConfig& t) {
    const bool ipsec = t.type == TunnelType::kIpsec;
    if (!ipsec && !seen.contains("vni")) diag_.Add(node, JoinPath(path, "vni"), "missing required key", "a VNI 1-16777215");
    if (ipsec && !seen.contains("ipsec")) {
      diag_.Add(node, JoinPath(path, "ipsec"), "missing required key",
                "a map with cipher, outbound {spi, key_file} and inbound [{spi, key_file}, ...]");
    }
    const absl::string_view other = ipsec ? "vxlan" : "ipsec";
    for (absl::string_view key : ipsec ? std::vector<absl::string_view>{"vni", "dst_port"}
                                       : std::vector<absl::string_view>{"ipsec"}) {
      auto it = seen.find(key);
      if (it == seen.end()) continue;
      diag_.Add(it->second, JoinPath(path, key), absl::StrCat("applies to type ", other, " only"),
                ipsec ? "omit it for a type ipsec tunnel (VXLAN inside ESP: ipsec.vxlan: {vni, dst_port})"
                      : "omit it for a type vxlan tunnel");
    }
    if (ipsec) {
      // VXLAN inside ESP shares the VNI space with vxlan tunnels: a VNI
      // names one overlay segment whichever way it travels.
      t.vni = esp_vxlan.vni;
      t.dst_port = esp_vxlan.dst_port;
      if (t.vni != 0) ClaimUnique(vni_owners_, absl::StrCat(t.vni), esp_vxlan.vni_node, esp_vxlan.vni_path, "a VNI", diag_);
      if (auto it = seen.find("df"); it != seen.end() && t.df == TunnelDf::kInherit) {
        diag_.Add(it->second, JoinPath(path, "df"), "inherit is not offered for ipsec (DF is fixed in the SA)",
                  "set, clear");
      }
    } else {
      t.ipsec.reset();
      if (auto it = seen.find("vni"); it != seen.end() && t.vni != 0) {
        ClaimUnique(vni_owners_, absl::StrCat(t.vni), it->second, JoinPath(path, "vni"), "a VNI", diag_);
      }
    }
  }

  // `ipsec:` (docs/configuration.md). Key files are read here, with the
  // cipher the map names wherever it appears, so a bad key or file mode
  // stops a load or reload before anything changes; the keys are dropped
  // right after (the daemon reads them again when it builds the SAs).
  std::optional<IpsecConfig> ReadIpsec(const YAML::Node& node, const std::string& path, EspVxlan* esp_vxlan) {
    IpsecConfig c;
    std::vector<KeyRef> keys;
    const Field fields[] = {
        {"cipher",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto choice = ReadChoice(v, p, kCipherNames, diag_)) c.cipher = kCiphers[*choice];
         }},
        {"esn",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto b = ReadBool(v, p, diag_)) c.esn = *b;
         }},
        {"replay_window",
         [&](const YAML::Node& v, const std::string& p) {
           const auto w = ReadUint(v, p, {kMinReplayWindow, kMaxReplayWindow}, diag_);
           if (w && (*w & (*w - 1)) != 0) {
             diag_.Add(v, p, absl::StrCat(*w, " is not a power of two"), "a power of two 32-65536 (default 1024)");
           } else if (w) {
             c.replay_window = static_cast<uint32_t>(*w);
           }
         }},
        {"udp_encap",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto b = ReadBool(v, p, diag_)) c.udp_encap = *b;
         }},
        {"outbound",
         [&](const YAML::Node& v, const std::string& p) {
           if (auto sa = ReadSa(v, p, &keys)) c.outbound = *sa;
         }},
        {"inbound",
         [&](const YAML::Node& v, const std::string& p) {
           ForEachElement(v, p, "a list of {spi, key_file} maps", diag_, [&](const YAML::Node& e, const std::string& ep) {
             if (auto sa = ReadSa(e, ep, &keys)) c.inbound.push_back(*sa);
           });
           if (c.inbound.size() > kMaxInboundSas) {
             diag_.Add(v, p, absl::StrCat("lists ", c.inbound.size(), " SAs"),
                       absl::StrCat("1 to ", kMaxInboundSas, " inbound SAs (old and new during a rekey)"));
           }
         }},
        {"lifetime", [&](const YAML::Node& v, const std::string& p) { ReadLifetime(v, p, &c); }},
        {"vxlan", [&](const YAML::Node& v, const std::string& p) { ReadEspVxlan(v, p, esp_vxlan); }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return std::nullopt;
    if (!seen.contains("outbound")) {
      diag_.Add(node, JoinPath(path, "outbound"), "missing required key", "a map {spi, key_file}");
    }
    if (!seen.contains("inbound")) {
      diag_.Add(node, JoinPath(path, "inbound"), "missing required key", "a list of {spi, key_file} maps");
    } else if (c.inbound.empty()) {
      diag_.Add(seen.at("inbound"), JoinPath(path, "inbound"), "lists no SA",
                absl::StrCat("1 to ", kMaxInboundSas, " inbound SAs"));
    }
    CheckInboundSpis(c, path, seen);
    const EspCipher cipher = c.cipher == IpsecCipher::kAes256Gcm ? EspCipher::kAes256Gcm : EspCipher::kAes128Gcm;
    for (const KeyRef& k : keys) {
      const absl::StatusOr<EspKey> key = LoadEspKeyFile(k.file, cipher);
      if (!key.ok()) diag_.Add(k.node, k.path, key.status().message(), kKeyFileRule);
    }
    return c;
  }

  // `ipsec.vxlan: {vni, dst_port}`: the ESP inner packet is a VXLAN packet
  // between the endpoints (dataplane/tunnel/vxlan_in_esp.h).
  void ReadEspVxlan(const YAML::Node& node, const std::string& path, EspVxlan* out) {
    EspVxlan c;
    const Field fields[] = {
        {"vni",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto vni = ReadUint(v, p, {1, kMaxVni}, diag_)) {
             c.vni = static_cast<uint32_t>(*vni);
             c.vni_node = v;
             c.vni_path = p;
           }
         }},
        {"dst_port",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto port = ReadUint(v, p, {1, kMaxUdpPort}, diag_)) c.dst_port = static_cast<uint16_t>(*port);
         }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    if (!seen.contains("vni")) {
      diag_.Add(node, JoinPath(path, "vni"), "missing required key", "a VNI 1-16777215");
      return;
    }
    *out = c;
  }

  // A key_file to check once the cipher is known.
  struct KeyRef {
    YAML::Node node;
    std::string path;
    std::string file;
  };

  std::optional<IpsecSaConfig> ReadSa(const YAML::Node& node, const std::string& path, std::vector<KeyRef>* keys) {
    IpsecSaConfig sa;
    bool ok = true;
    const Field fields[] = {
        {"spi",
         [&](const YAML::Node& v, const std::string& p) {
           std::optional<uint64_t> spi;
           if (v.IsScalar()) spi = ParseDecimal(v.Scalar(), kMaxIntegerDigits);
           if (!spi || *spi < kMinSpi || *spi > kMaxSpi) {
             diag_.Add(v, p, absl::StrCat(Describe(v), " is not a usable SPI"), kSpiRule);
             ok = false;
             return;
           }
           sa.spi = static_cast<uint32_t>(*spi);
         }},
        {"key_file",
         [&](const YAML::Node& v, const std::string& p) {
           const auto file = ReadString(v, p, kKeyFileRule, diag_);
           if (!file) {
             ok = false;
           } else if (file->empty() || file->front() != '/') {
             diag_.Add(v, p, absl::StrCat(Quote(*file), " is not an absolute path"), kKeyFileRule);
             ok = false;
           } else {
             sa.key_file = *file;
             keys->push_back({v, p, *file});
           }
         }},
    };
    const SeenKeys seen = WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return std::nullopt;
    for (absl::string_view key : {"spi", "key_file"}) {
      if (!seen.contains(key)) {
        diag_.Add(node, JoinPath(path, key), "missing required key", key == "spi" ? kSpiRule : kKeyFileRule);
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return sa;
  }

  void ReadLifetime(const YAML::Node& node, const std::string& path, IpsecConfig* c) {
    constexpr absl::string_view kRule = "0 (no limit) or an integer of up to 19 digits";
    auto reader = [&](uint64_t* out) {
      return [this, out, kRule](const YAML::Node& v, const std::string& p) {
        std::optional<uint64_t> n;
        if (v.IsScalar()) n = ParseDecimal(v.Scalar(), kMaxLifetimeDigits);
        if (!n) {
          diag_.Add(v, p, absl::StrCat(Describe(v), " is not a lifetime"), kRule);
          return;
        }
        *out = *n;
      };
    };
    const Field fields[] = {
        {"packets", reader(&c->lifetime_packets)},
        {"bytes", reader(&c->lifetime_bytes)},
        {"seconds", reader(&c->lifetime_seconds)},
    };
    WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
  }

  // Inbound SPIs find the tunnel and the SA of a received packet: unique
  // within the tunnel and across tunnels.
  void CheckInboundSpis(const IpsecConfig& c, const std::string& path, const SeenKeys& seen) {
    auto it = seen.find("inbound");
    if (it == seen.end()) return;
    for (size_t i = 0; i < c.inbound.size(); ++i) {
      ClaimUnique(inbound_spi_owners_, absl::StrCat(c.inbound[i].spi), it->second,
                  JoinPath(IndexPath(JoinPath(path, "inbound"), i), "spi"), "an inbound SPI", diag_);
    }
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
  absl::flat_hash_map<std::string, std::string> inbound_spi_owners_;
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
