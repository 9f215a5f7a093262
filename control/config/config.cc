// Parses and validates the isthmusd YAML configuration (see yaml_reader.h for
// why the node tree is walked by hand). The `bgp:` section is read by
// bgp_section.cc.

#include "control/config/config.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "control/config/bgp_section.h"
#include "control/config/service_section.h"
#include "control/config/tunnel_section.h"
#include "control/config/yaml_reader.h"

namespace isthmus {
namespace {

using config_internal::ClaimUnique;
using config_internal::ClosestMatch;
using config_internal::Describe;
using config_internal::Diagnostics;
using config_internal::Field;
using config_internal::ForEachElement;
using config_internal::JoinPath;
using config_internal::kAddressRule;
using config_internal::kPrefixRule;
using config_internal::NotUnicastReason;
using config_internal::ParseDecimal;
using config_internal::PrefixMask;
using config_internal::Quote;
using config_internal::ReadBool;
using config_internal::ReadChoice;
using config_internal::ReadPrefix;
using config_internal::ReadString;
using config_internal::ReadUint;
using config_internal::ReadUnicastAddress;
using config_internal::SeenKeys;
using config_internal::ToAbsl;
using config_internal::ToStd;
using config_internal::UintRange;
using config_internal::WalkMap;

constexpr uint32_t kIpv4Bits = 32;
constexpr uint32_t kMaxOctet = 255;
constexpr size_t kMaxOctetDigits = 3;
constexpr size_t kMaxPrefixLenDigits = 2;
constexpr size_t kMaxPortDigits = 5;
constexpr uint32_t kMaxUdpTcpPort = 65535;

constexpr uint32_t kMaxWorkers = 64;
constexpr uint32_t kMaxCpuId = 1023;  // CPU_SETSIZE - 1 in glibc
constexpr uint32_t kMaxIdleSleepUs = 100'000;
constexpr uint32_t kMaxIdlePolls = 1'000'000;
constexpr uint32_t kMaxBurst = 256;
// rte_mempool is most memory-efficient at 2^n - 1 elements; the bounds follow.
constexpr uint32_t kMinMbufs = 1023;
constexpr uint32_t kMaxMbufs = 1'048'575;
constexpr uint32_t kMaxPuntRatePps = 10'000'000;
constexpr uint32_t kMaxFibRoutes = 1u << 24;
constexpr uint32_t kMaxTbl8Groups = 1u << 16;
constexpr uint32_t kMinMtu = 68;  // RFC 791: every IPv4 link carries 68 octets
constexpr uint32_t kMaxMtu = 9000;
constexpr size_t kMaxEcmpWidth = 16;
constexpr size_t kMaxIfNameLen = 15;     // IFNAMSIZ - 1: the kernel counts NUL
constexpr size_t kMaxPortNameLen = 15;   // shows up in tap names and metrics
constexpr size_t kMaxUnixPathLen = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr uint8_t kMaxSubnetLenWithBroadcast = 30;  // /31 and /32: RFC 3021
constexpr size_t kMaxConfigBytes = 16u << 20;
constexpr size_t kReadChunkBytes = 64u << 10;

constexpr absl::string_view kDriverNames[] = {"af_xdp", "af_packet", "pmd"};
constexpr PortDriver kDrivers[] = {PortDriver::kAfXdp, PortDriver::kAfPacket,
                                   PortDriver::kPmd};
constexpr absl::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                            "error", "critical", "off"};

// Linux dev_valid_name() (net/core/dev.c): 1..IFNAMSIZ-1 bytes, not "." or
// "..", and no '/', ':' or whitespace.
bool IsValidInterfaceName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxIfNameLen) return false;
  if (name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r');
  });
}

bool IsValidPortName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxPortNameLen) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}


// ---------------------------------------------------------------- parser

constexpr absl::string_view kIfNameRule =
    "1 to 15 characters without '/', ':' or whitespace, not '.' or '..'";
constexpr absl::string_view kPortNameRule =
    "1 to 15 characters from a-z, 0-9, '_' and '-'";
constexpr absl::string_view kInterfaceAddressRule =
    "HOST/LEN with LEN 1-32, e.g. 198.18.0.1/24";
constexpr absl::string_view kListenRule =
    "IPV4:PORT or localhost:PORT with PORT 0-65535, or \"\" to disable";

class ConfigParser {
 public:
  explicit ConfigParser(const std::string& source) : diag_(source) {
    config_.source = source;
  }

  absl::StatusOr<Config> Parse(const YAML::Node& root) {
    const Field sections[] = {{"admin", nullptr},   {"bgp", nullptr},
                              {"dataplane", nullptr}, {"log", nullptr},
                              {"metrics", nullptr}, {"ports", nullptr},
                              {"nat", nullptr},     {"punt", nullptr},
                              {"routes", nullptr},  {"services", nullptr},
                              {"tunnels", nullptr}};
    const SeenKeys seen =
        WalkMap(root, "", sections, /*allow_empty=*/true, diag_);
    // Sections are read in dependency order, not file order: ports must be
    // known before routes name them.
    ReadSection(seen, "dataplane", &ConfigParser::ReadDataplane);
    ReadSection(seen, "ports", &ConfigParser::ReadPorts);
    ReadSection(seen, "punt", &ConfigParser::ReadPunt);
    ReadSection(seen, "routes", &ConfigParser::ReadRoutes);
    ReadSection(seen, "metrics", &ConfigParser::ReadMetrics);
    ReadSection(seen, "admin", &ConfigParser::ReadAdmin);
    ReadSection(seen, "log", &ConfigParser::ReadLog);
    ReadSection(seen, "bgp", &ConfigParser::ReadBgp);
    // Last: tunnels are checked against the routes and BGP networks.
    ReadSection(seen, "tunnels", &ConfigParser::ReadTunnels);
    ReadSection(seen, "nat", &ConfigParser::ReadNat);
    // After everything else: a VIP must not be an address of a port, a
    // tunnel or a BGP session, and announce.peers names BGP peers.
    ReadSection(seen, "services", &ConfigParser::ReadServices);
    if (root.IsNull() || root.IsMap()) {
      RequireKey(seen, "ports", root, "",
                 "a list of at least one port, e.g. ports: [{name: p0, "
                 "interface: eth1}]");
    }
    if (!diag_.empty()) return diag_.ToStatus();
    return std::move(config_);
  }

 private:
  using SectionReader = void (ConfigParser::*)(const YAML::Node&,
                                               const std::string&);

  void ReadSection(const SeenKeys& seen, const std::string& key,
                   SectionReader read) {
    if (const auto it = seen.find(key); it != seen.end()) {
      (this->*read)(it->second, key);
    }
  }

  void RequireKey(const SeenKeys& seen, absl::string_view key,
                  const YAML::Node& map, const std::string& path,
                  absl::string_view accepted = {}) {
    if (seen.contains(key)) return;
    diag_.Add(map, JoinPath(path, key), "missing required key", accepted);
  }

  Field UintField(absl::string_view key, UintRange range, uint32_t* out) {
    return {key, [this, range, out](const YAML::Node& v, const std::string& p) {
              if (const auto x = ReadUint(v, p, range, diag_)) {
                *out = static_cast<uint32_t>(*x);
              }
            }};
  }

  Field BoolField(absl::string_view key, bool* out) {
    return {key, [this, out](const YAML::Node& v, const std::string& p) {
              if (const auto x = ReadBool(v, p, diag_)) *out = *x;
            }};
  }

  // -------------------------------------------------------- dataplane

  void ReadDataplane(const YAML::Node& node, const std::string& path) {
    DataplaneConfig& dp = config_.dataplane;
    bool workers_ok = true;
    const Field fields[] = {
        {"workers",
         [&](const YAML::Node& v, const std::string& p) {
           const auto x = ReadUint(v, p, {1, kMaxWorkers}, diag_);
           workers_ok = x.has_value();
           if (x) dp.workers = static_cast<uint32_t>(*x);
         }},
        {"worker_cpus", [&](const YAML::Node& v,
                            const std::string& p) { ReadWorkerCpus(v, p); }},
        UintField("idle_sleep_us", {0, kMaxIdleSleepUs}, &dp.idle_sleep_us),
        UintField("idle_polls_before_sleep", {1, kMaxIdlePolls},
                  &dp.idle_polls_before_sleep),
        UintField("burst", {1, kMaxBurst}, &dp.burst),
        UintField("mbufs", {kMinMbufs, kMaxMbufs}, &dp.mbufs),
        BoolField("hugepages", &dp.hugepages),
        {"punt_interface",
         [&](const YAML::Node& v, const std::string& p) {
           ReadInterfaceName(v, p, &dp.punt_interface);
         }},
        UintField("punt_rate_pps", {0, kMaxPuntRatePps}, &dp.punt_rate_pps),
        {"punt_class_rate_pps",
         [&](const YAML::Node& v, const std::string& p) { ReadPuntClassRates(v, p); }},
        UintField("fib_max_routes", {1, kMaxFibRoutes}, &dp.fib_max_routes),
        UintField("fib_tbl8_groups", {1, kMaxTbl8Groups}, &dp.fib_tbl8_groups),
        {"eal_args",
         [&](const YAML::Node& v, const std::string& p) { ReadEalArgs(v, p); }},
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
    const auto cpus = seen.find("worker_cpus");
    if (workers_ok && cpus != seen.end() && !dp.worker_cpus.empty() &&
        dp.worker_cpus.size() != dp.workers) {
      diag_.Add(cpus->second, JoinPath(path, "worker_cpus"),
                absl::StrCat("lists ", dp.worker_cpus.size(), " CPUs for ",
                             dp.workers, " workers"),
                "one CPU id per worker, or an empty list");
    }
  }

  // A map from punt class name (the punt reasons) to its packets per second.
  void ReadPuntClassRates(const YAML::Node& node, const std::string& path) {
    auto& rates = config_.dataplane.punt_class_rate_pps;
    rates.fill(std::nullopt);
    std::array<Field, kPuntReasonCount> fields;
    for (size_t i = 0; i < kPuntReasonCount; ++i) {
      const std::string_view name = kPuntReasonInfo[i].name;
      fields[i] = {absl::string_view(name.data(), name.size()), [this, &rates, i](const YAML::Node& v, const std::string& p) {
                     if (const auto x = ReadUint(v, p, {0, kMaxPuntRatePps}, diag_)) {
                       rates[i] = static_cast<uint32_t>(*x);
                     }
                   }};
    }
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadWorkerCpus(const YAML::Node& node, const std::string& path) {
    std::vector<uint32_t>& cpus = config_.dataplane.worker_cpus;
    cpus.clear();
    ForEachElement(
        node, path, "a list of CPU ids", diag_,
        [&](const YAML::Node& v, const std::string& p) {
          if (const auto cpu = ReadUint(v, p, {0, kMaxCpuId}, diag_)) {
            cpus.push_back(static_cast<uint32_t>(*cpu));
          }
        });
  }

  void ReadEalArgs(const YAML::Node& node, const std::string& path) {
    std::vector<std::string>& args = config_.dataplane.eal_args;
    args.clear();
    ForEachElement(node, path, "a list of strings", diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     if (auto arg = ReadString(v, p, "a string", diag_)) {
                       args.push_back(std::move(*arg));
                     }
                   });
  }

  bool ReadInterfaceName(const YAML::Node& node, const std::string& path,
                         std::string* out) {
    const auto name = ReadString(node, path, kIfNameRule, diag_);
    if (!name) return false;
    if (!IsValidInterfaceName(*name)) {
      diag_.Add(node, path,
                absl::StrCat(Quote(*name), " is not a Linux interface name"),
                kIfNameRule);
      return false;
    }
    *out = *name;
    return true;
  }

  // -------------------------------------------------------- ports

  void ReadPorts(const YAML::Node& node, const std::string& path) {
    // A port's interface must not collide with the punt tap either.
    interface_owners_.emplace(config_.dataplane.punt_interface,
                              "dataplane.punt_interface");
    size_t entries = 0;
    const bool is_list =
        ForEachElement(node, path, "a list of ports", diag_,
                       [&](const YAML::Node& v, const std::string& p) {
                         ++entries;
                         ReadPort(v, p);
                       });
    if (is_list && entries == 0) {
      diag_.Add(node, path, "no ports configured",
                "a list of at least one port");
    }
  }

  void ReadPort(const YAML::Node& node, const std::string& path) {
    PortConfig port;
    bool driver_ok = true;
    const Field fields[] = {
        {"name", [&](const YAML::Node& v,
                     const std::string& p) { ReadPortName(v, p, &port.name); }},
        {"driver",
         [&](const YAML::Node& v, const std::string& p) {
           const auto choice = ReadChoice(v, p, kDriverNames, diag_);
           driver_ok = choice.has_value();
           if (choice) port.driver = kDrivers[*choice];
         }},
        {"interface",
         [&](const YAML::Node& v, const std::string& p) {
           if (ReadInterfaceName(v, p, &port.interface)) {
             ClaimUnique(interface_owners_, port.interface, v, p,
                         "an interface name", diag_);
           }
         }},
        {"devargs",
         [&](const YAML::Node& v, const std::string& p) {
           ReadDevargs(v, p, &port.devargs);
         }},
        {"address",
         [&](const YAML::Node& v, const std::string& p) {
           port.address = ReadInterfaceAddress(v, p);
         }},
        UintField("mtu", {kMinMtu, kMaxMtu}, &port.mtu),
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    RequireKey(seen, "name", node, path, kPortNameRule);
    RequireKey(seen, "interface", node, path,
               "the kernel interface (af_xdp, af_packet) or the name of the "
               "exception tap to create (pmd)");
    if (driver_ok) CheckDriverKeys(port.driver, seen, node, path);
    config_.ports.push_back(std::move(port));
  }

  void ReadPortName(const YAML::Node& node, const std::string& path,
                    std::string* out) {
    const auto name = ReadString(node, path, kPortNameRule, diag_);
    if (!name) return;
    if (!IsValidPortName(*name)) {
      diag_.Add(node, path,
                absl::StrCat(Quote(*name), " is not a valid port name"),
                kPortNameRule);
      return;
    }
    // Remembered even if the port has other problems, so that routes naming
    // it do not pile up a second, misleading error.
    if (ClaimUnique(port_owners_, *name, node, path, "a port name", diag_)) {
      *out = *name;
    }
  }

  void ReadDevargs(const YAML::Node& node, const std::string& path,
                   std::string* out) {
    constexpr absl::string_view kRule =
        "EAL device arguments, e.g. net_tap0,iface=tap0";
    const auto devargs = ReadString(node, path, kRule, diag_);
    if (!devargs) return;
    if (devargs->empty()) {
      diag_.Add(node, path, "is empty", kRule);
      return;
    }
    *out = *devargs;
  }

  std::optional<InterfaceAddress> ReadInterfaceAddress(
      const YAML::Node& node, const std::string& path) {
    const auto text = ReadString(node, path, kInterfaceAddressRule, diag_);
    if (!text) return std::nullopt;
    const auto address = ParseInterfaceAddress(*text);
    if (!address || address->subnet.len == 0) {
      diag_.Add(node, path,
                absl::StrCat(Quote(*text), " is not an IPv4 interface address"),
                kInterfaceAddressRule);
      return std::nullopt;
    }
    if (const auto problem = HostAddressProblem(*address)) {
      diag_.Add(node, path, absl::StrCat(*text, " ", *problem),
                "a unicast host address in its subnet, e.g. 198.18.0.1/24");
      return std::nullopt;
    }
    return address;
  }

  static std::optional<std::string> HostAddressProblem(
      const InterfaceAddress& a) {
    if (auto reason = NotUnicastReason(a.host)) return reason;
    if (a.subnet.len > kMaxSubnetLenWithBroadcast) return std::nullopt;
    const uint32_t broadcast = a.subnet.addr.value | ~PrefixMask(a.subnet.len);
    if (a.host == a.subnet.addr) {
      return "is the network address of its subnet";
    }
    if (a.host.value == broadcast)
      return "is the broadcast address of its subnet";
    return std::nullopt;
  }

  // pmd ports have no kernel interface to learn their address from, so they
  // need one here; af_xdp/af_packet ports take it from the kernel instead.
  void CheckDriverKeys(PortDriver driver, const SeenKeys& seen,
                       const YAML::Node& node, const std::string& path) {
    const std::string driver_name(ToString(driver));
    for (const absl::string_view key : {"devargs", "address"}) {
      const auto it = seen.find(key);
      if (driver == PortDriver::kPmd && it == seen.end()) {
        diag_.Add(
            node, JoinPath(path, key), "missing required key for driver pmd",
            key == "devargs" ? "EAL device arguments, e.g. net_tap0,iface=tap0"
                             : kInterfaceAddressRule);
      }
      if (driver != PortDriver::kPmd && it != seen.end()) {
        diag_.Add(it->second, JoinPath(path, key),
                  absl::StrCat("not allowed for driver ", driver_name),
                  absl::StrCat("only with driver pmd; ", driver_name,
                               " ports take their addresses from the kernel "
                               "interface"));
      }
    }
  }

  // -------------------------------------------------------- punt

  void ReadPunt(const YAML::Node& node, const std::string& path) {
    PuntConfig& punt = config_.punt;
    const Field fields[] = {
        {"tcp_ports",
         [&](const YAML::Node& v, const std::string& p) {
           ReadPortNumbers(v, p, &punt.tcp_ports);
         }},
        {"udp_ports",
         [&](const YAML::Node& v, const std::string& p) {
           ReadPortNumbers(v, p, &punt.udp_ports);
         }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadPortNumbers(const YAML::Node& node, const std::string& path,
                       std::vector<uint16_t>* out) {
    out->clear();
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(
        node, path, "a list of port numbers 1-65535", diag_,
        [&](const YAML::Node& v, const std::string& p) {
          const auto port = ReadUint(v, p, {1, kMaxUdpTcpPort}, diag_);
          if (!port) return;
          if (ClaimUnique(owners, absl::StrCat(*port), v, p, "a port number",
                          diag_)) {
            out->push_back(static_cast<uint16_t>(*port));
          }
        });
  }

  // -------------------------------------------------------- routes

  void ReadRoutes(const YAML::Node& node, const std::string& path) {
    ForEachElement(
        node, path, "a list of routes", diag_,
        [&](const YAML::Node& v, const std::string& p) { ReadRoute(v, p); });
  }

  void ReadRoute(const YAML::Node& node, const std::string& path) {
    StaticRoute route;
    bool blackhole_ok = true;
    const Field fields[] = {
        {"prefix",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto prefix = ReadRoutePrefix(v, p))
             route.prefix = *prefix;
         }},
        {"via", [&](const YAML::Node& v,
                    const std::string& p) { ReadGateways(v, p, &route.via); }},
        {"port",
         [&](const YAML::Node& v, const std::string& p) {
           ReadPortReference(v, p, &route.port);
         }},
        {"blackhole",
         [&](const YAML::Node& v, const std::string& p) {
           const auto x = ReadBool(v, p, diag_);
           blackhole_ok = x.has_value();
           if (x) route.blackhole = *x;
         }},
    };
    const SeenKeys seen =
        WalkMap(node, path, fields, /*allow_empty=*/false, diag_);
    if (!node.IsMap()) return;
    RequireKey(seen, "prefix", node, path, kPrefixRule);
    if (blackhole_ok) CheckNextHopKeys(route.blackhole, seen, node, path);
    config_.routes.push_back(std::move(route));
  }

  // A route either forwards (via) or drops (blackhole); never both, never
  // neither. `port` narrows gateways, so it only makes sense with via.
  void CheckNextHopKeys(bool blackhole, const SeenKeys& seen,
                        const YAML::Node& node, const std::string& path) {
    constexpr absl::string_view kRule = "exactly one of via or blackhole: true";
    const bool has_via = seen.contains("via");
    if (has_via && blackhole) {
      diag_.Add(node, path, "has both via and blackhole: true", kRule);
    } else if (!has_via && !blackhole) {
      diag_.Add(node, path, "has neither via nor blackhole: true", kRule);
    }
    if (blackhole && seen.contains("port")) {
      diag_.Add(seen.at("port"), JoinPath(path, "port"),
                "not allowed on a blackhole route",
                "port only together with via");
    }
  }

  std::optional<Ipv4Prefix> ReadRoutePrefix(const YAML::Node& node,
                                            const std::string& path) {
    const auto prefix = ReadPrefix(node, path, diag_);
    if (!prefix) return std::nullopt;
    if (!ClaimUnique(route_owners_, ToString(*prefix), node, path,
                     "a prefix (one route per prefix; list several gateways "
                     "in via for ECMP)",
                     diag_)) {
      return std::nullopt;
    }
    return prefix;
  }

  void ReadGateways(const YAML::Node& node, const std::string& path,
                    std::vector<Ipv4Addr>* out) {
    constexpr absl::string_view kRule =
        "an IPv4 address or a list of 1 to 16 distinct IPv4 addresses";
    if (node.IsScalar()) {
      if (const auto gateway = ReadGateway(node, path))
        out->push_back(*gateway);
      return;
    }
    if (!node.IsSequence()) {
      diag_.Add(
          node, path,
          absl::StrCat("expected an address or a list, got ", Describe(node)),
          kRule);
      return;
    }
    if (node.size() == 0 || node.size() > kMaxEcmpWidth) {
      diag_.Add(node, path, absl::StrCat("lists ", node.size(), " gateways"),
                kRule);
      return;
    }
    absl::flat_hash_map<std::string, std::string> owners;
    ForEachElement(node, path, kRule, diag_,
                   [&](const YAML::Node& v, const std::string& p) {
                     const auto gateway = ReadGateway(v, p);
                     if (gateway && ClaimUnique(owners, ToString(*gateway), v,
                                                p, "a gateway", diag_)) {
                       out->push_back(*gateway);
                     }
                   });
  }

  std::optional<Ipv4Addr> ReadGateway(const YAML::Node& node,
                                      const std::string& path) {
    return ReadUnicastAddress(node, path, "gateway", diag_);
  }

  void ReadPortReference(const YAML::Node& node, const std::string& path,
                         std::string* out) {
    std::vector<absl::string_view> names;
    for (const auto& [name, owner] : port_owners_) names.push_back(name);
    std::sort(names.begin(), names.end());
    const std::string accepted = names.empty() ? "the name of a configured port"
                                               : absl::StrJoin(names, ", ");
    const auto name = ReadString(node, path, accepted, diag_);
    if (!name) return;
    if (!port_owners_.contains(*name)) {
      std::string problem = absl::StrCat("no port named ", Quote(*name));
      if (const auto hint = ClosestMatch(*name, names)) {
        absl::StrAppend(&problem, ", did you mean '", *hint, "'?");
      }
      diag_.Add(node, path, problem, accepted);
      return;
    }
    *out = *name;
  }

  // -------------------------------------------------------- the rest

  void ReadMetrics(const YAML::Node& node, const std::string& path) {
    const Field fields[] = {
        {"listen",
         [&](const YAML::Node& v, const std::string& p) {
           const auto text = ReadString(v, p, kListenRule, diag_);
           if (!text) return;
           if (!text->empty() && !ParseListenAddress(*text)) {
             diag_.Add(v, p, absl::StrCat(Quote(*text), " is not HOST:PORT"),
                       kListenRule);
             return;
           }
           config_.metrics.listen = *text;
         }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadAdmin(const YAML::Node& node, const std::string& path) {
    const Field fields[] = {
        {"socket", [&](const YAML::Node& v,
                       const std::string& p) { ReadSocketPath(v, p); }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadSocketPath(const YAML::Node& node, const std::string& path) {
    constexpr absl::string_view kRule =
        "an absolute path of at most 107 bytes naming a file, e.g. "
        "/run/isthmus/isthmusd.sock";
    const auto text = ReadString(node, path, kRule, diag_);
    if (!text) return;
    if (text->empty() || text->front() != '/') {
      diag_.Add(node, path,
                absl::StrCat(Quote(*text), " is not an absolute path"), kRule);
    } else if (text->size() > kMaxUnixPathLen) {
      diag_.Add(node, path,
                absl::StrCat("is ", text->size(),
                             " bytes long, too long for a unix socket"),
                kRule);
    } else if (text->back() == '/') {
      diag_.Add(node, path, absl::StrCat(Quote(*text), " names a directory"),
                kRule);
    } else {
      config_.admin.socket = *text;
    }
  }

  void ReadLog(const YAML::Node& node, const std::string& path) {
    const Field fields[] = {
        {"level",
         [&](const YAML::Node& v, const std::string& p) {
           if (const auto level = ReadChoice(v, p, kLogLevels, diag_)) {
             config_.log_level = std::string(kLogLevels[*level]);
           }
         }},
    };
    WalkMap(node, path, fields, /*allow_empty=*/true, diag_);
  }

  void ReadBgp(const YAML::Node& node, const std::string& path) {
    config_internal::ReadBgpSection(node, path, diag_, &config_.bgp);
  }

  void ReadTunnels(const YAML::Node& node, const std::string& path) {
    config_internal::ReadTunnelsSection(node, path, config_, interface_owners_, diag_, &config_.tunnels);
  }

  void ReadNat(const YAML::Node& node, const std::string& path) {
    config_internal::ReadNatSection(node, path, diag_, &config_.nat);
  }

  void ReadServices(const YAML::Node& node, const std::string& path) {
    config_internal::ReadServicesSection(node, path, config_, diag_, &config_.services);
  }

  Diagnostics diag_;
  Config config_;
  // Name -> key path of its first use, for uniqueness and references.
  absl::flat_hash_map<std::string, std::string> port_owners_;
  absl::flat_hash_map<std::string, std::string> interface_owners_;
  absl::flat_hash_map<std::string, std::string> route_owners_;
};

// Whether line `index` (0-based) of `text` is indented with a tab, which
// YAML forbids and yaml-cpp reports only as "illegal block entry" or the like.
bool IndentedWithTab(absl::string_view text, int index) {
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (index < 0 || static_cast<size_t>(index) >= lines.size()) return false;
  const absl::string_view line = lines[static_cast<size_t>(index)];
  const size_t indent = line.find_first_not_of(" \t");
  return line.substr(0, indent).find('\t') != absl::string_view::npos;
}

// yaml-cpp's own words ("end of sequence flow not found") do not say that
// the file is not YAML at all, which is the first thing an operator needs.
absl::Status SyntaxError(const std::string& source, absl::string_view text,
                         const YAML::Exception& e) {
  constexpr absl::string_view kWhat =
      "is not valid YAML (accepted: YAML 1.2 block or flow syntax";
  // yaml-cpp quotes the offending character, which may be a line break.
  const std::string msg = config_internal::OneLine(e.msg);
  if (e.mark.is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", msg, ": the file ", kWhat, ")"));
  }
  const absl::string_view hint = IndentedWithTab(text, e.mark.line)
                                     ? "; indent with spaces, never tabs"
                                     : "";
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s:%d:%d: %s: the file %s%s)", source, e.mark.line + 1,
      e.mark.column + 1, msg, kWhat, hint));
}

// YAML 1.2 (5.1) allows only printable Unicode in a stream: tab, line
// breaks, U+0020-U+007E, U+0085, U+00A0-U+D7FF, U+E000-U+FFFD and the
// planes above, encoded as UTF-8 here. Checked before yaml-cpp sees the
// text: yaml-cpp 0.7 does not return (and grows by gigabytes) on some small
// inputs with control characters or broken UTF-8, which the config fuzzer
// found (tests/fuzz/regressions/config/yaml_cpp_*). A config file is text,
// so refusing such bytes with their position costs an operator nothing.
absl::Status CheckYamlCharacters(const std::string& source,
                                 absl::string_view text) {
  int line = 1;
  int column = 1;
  size_t i = 0;
  const auto refuse = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d:%d: %s: the file is not valid YAML (accepted: printable UTF-8 "
        "text, tabs and line breaks; YAML 1.2 5.1)",
        source, line, column, what));
  };
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    uint32_t cp = 0;
    size_t len = 1;
    if (lead < 0x80) {
      cp = lead;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      cp = lead & 0x1Fu;
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      cp = lead & 0x0Fu;
      len = 3;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      cp = lead & 0x07u;
      len = 4;
    } else {
      return refuse(absl::StrFormat("byte 0x%02X is not UTF-8", lead));
    }
    if (i + len > text.size()) return refuse("UTF-8 sequence cut short");
    for (size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0u) != 0x80u) {
        return refuse(absl::StrFormat("byte 0x%02X is not UTF-8", lead));
      }
      cp = (cp << 6) | (cont & 0x3Fu);
    }
    // Overlong forms and surrogates are not UTF-8 either.
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return refuse(absl::StrFormat("byte 0x%02X is not UTF-8", lead));
    }
    const bool printable =
        cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
        cp == 0x85 || (cp >= 0xA0 && cp <= 0xD7FF) ||
        (cp >= 0xE000 && cp <= 0xFFFD && (cp != 0xFEFF || i == 0)) ||
        cp >= 0x10000;
    if (!printable) {
      return refuse(absl::StrFormat("character U+%04X is not allowed", cp));
    }
    if (cp == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += len;
  }
  return absl::OkStatus();
}

// yaml-cpp 0.7 (Debian 12) does not return on some malformed inputs: it
// keeps creating nodes and grows by gigabytes (the config fuzzer found
// printable ones as short as "!0keepa,"; tests/fuzz/regressions/config/
// yaml_cpp_*). A config file must never stall isthmusd's start or a
// reload, so yaml-cpp first reads the text in a child process with a time
// limit; only text it finished with is parsed here. The child runs nothing
// but yaml-cpp (glibc keeps malloc usable after fork in a threaded process)
// and leaves with _exit. Costs a fork per load: well under a millisecond
// for a config file.
constexpr int kYamlProbeLimitMs = 3000;

absl::Status ProbeYamlParser(const std::string& source, const std::string& text) {
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(source, ": cannot start the YAML check"));
  }
  if (pid == 0) {
    // The daemon blocks the signals it reads through signalfd; the child
    // needs SIGALRM back to be stopped by its timer.
    sigset_t alarm_only;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alarm_only, nullptr);
    signal(SIGALRM, SIG_DFL);
    itimerval limit{};
    limit.it_value.tv_sec = kYamlProbeLimitMs / 1000;
    limit.it_value.tv_usec = (kYamlProbeLimitMs % 1000) * 1000;
    setitimer(ITIMER_REAL, &limit, nullptr);
    try {
      (void)YAML::LoadAll(text);
    } catch (...) {
      // A syntax error is reported by the real parse, with its position.
    }
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::ErrnoToStatus(errno, absl::StrCat(source, ": lost the YAML check"));
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  const std::string what =
      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM
          ? absl::StrCat("the YAML parser (yaml-cpp) did not finish within ",
                         kYamlProbeLimitMs / 1000, " s")
          : WIFSIGNALED(status)
                ? absl::StrCat("the YAML parser (yaml-cpp) failed with signal ", WTERMSIG(status))
                : absl::StrCat("the YAML parser (yaml-cpp) failed with status ", WEXITSTATUS(status));
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", what,
      ": the file is not valid YAML (accepted: YAML 1.2 block or flow syntax without tags; "
      "yaml-cpp 0.7 loops on some malformed input)"));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"),
                                             &std::fclose);
  if (!file)
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  std::string text;
  std::string chunk(kReadChunkBytes, '\0');
  while (true) {
    const size_t n = std::fread(chunk.data(), 1, chunk.size(), file.get());
    text.append(chunk, 0, n);
    if (text.size() > kMaxConfigBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", kMaxConfigBytes, " bytes"));
    }
    if (n < chunk.size()) break;
  }
  if (std::ferror(file.get())) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot read"));
  }
  return text;
}

}  // namespace

// ---------------------------------------------------------------- public

std::string ToString(Ipv4Addr a) {
  return absl::StrFormat("%d.%d.%d.%d", a.value >> 24, (a.value >> 16) & 0xff,
                         (a.value >> 8) & 0xff, a.value & 0xff);
}

std::string ToString(const Ipv4Prefix& p) {
  return absl::StrCat(ToString(p.addr), "/", p.len);
}

std::optional<Ipv4Addr> ParseIpv4(std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  constexpr size_t kOctets = 4;
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != kOctets) return std::nullopt;
  uint32_t value = 0;
  for (const absl::string_view part : parts) {
    const auto octet = ParseDecimal(part, kMaxOctetDigits);
    if (!octet || *octet > kMaxOctet) return std::nullopt;
    value = (value << 8) | static_cast<uint32_t>(*octet);
  }
  return Ipv4Addr{value};
}

std::optional<InterfaceAddress> ParseInterfaceAddress(std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  const auto host = ParseIpv4(ToStd(text.substr(0, slash)));
  const auto len = ParseDecimal(text.substr(slash + 1), kMaxPrefixLenDigits);
  if (!host || !len || *len > kIpv4Bits) return std::nullopt;
  const uint8_t prefix_len = static_cast<uint8_t>(*len);
  return InterfaceAddress{
      .host = *host,
      .subnet = {.addr = {host->value & PrefixMask(prefix_len)},
                 .len = prefix_len}};
}

std::optional<Ipv4Prefix> ParsePrefix(std::string_view text) {
  const auto address = ParseInterfaceAddress(text);
  if (!address || address->host != address->subnet.addr) return std::nullopt;
  return address->subnet;
}

std::optional<ListenAddress> ParseListenAddress(std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  const absl::string_view host = text.substr(0, colon);
  const auto port = ParseDecimal(text.substr(colon + 1), kMaxPortDigits);
  if (!port || *port > kMaxUdpTcpPort) return std::nullopt;
  if (host != "localhost" && !ParseIpv4(ToStd(host))) return std::nullopt;
  return ListenAddress{.host = std::string(host),
                       .port = static_cast<uint16_t>(*port)};
}

std::array<uint32_t, kPuntReasonCount> EffectivePuntRates(const DataplaneConfig& dp) {
  std::array<uint32_t, kPuntReasonCount> rates;
  for (size_t i = 0; i < kPuntReasonCount; ++i) rates[i] = dp.punt_class_rate_pps[i].value_or(dp.punt_rate_pps);
  return rates;
}

std::string_view ToString(TunnelType t) {
  switch (t) {
    case TunnelType::kVxlan: return "vxlan";
    case TunnelType::kIpsec: return "ipsec";
  }
  return "unknown";
}

std::string_view ToString(IpsecCipher c) {
  switch (c) {
    case IpsecCipher::kAes128Gcm: return "aes-128-gcm";
    case IpsecCipher::kAes256Gcm: return "aes-256-gcm";
  }
  return "?";
}

std::string_view ToString(TunnelDf d) {
  switch (d) {
    case TunnelDf::kSet: return "set";
    case TunnelDf::kClear: return "clear";
    case TunnelDf::kInherit: return "inherit";
  }
  return "unknown";
}

std::string_view ToString(PortDriver d) {
  for (size_t i = 0; i < std::size(kDrivers); ++i) {
    if (kDrivers[i] == d) return ToStd(kDriverNames[i]);
  }
  return "unknown";
}

absl::StatusOr<Config> LoadConfigText(const std::string& text,
                                      const std::string& source) {
  if (absl::Status s = CheckYamlCharacters(source, text); !s.ok()) return s;
  if (absl::Status s = ProbeYamlParser(source, text); !s.ok()) return s;
  // yaml-cpp reports syntax errors (and its own nesting limit) by throwing;
  // nothing past this function sees an exception.
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(text);
    if (documents.size() > 1) {
      Diagnostics diag(source);
      diag.Add(documents[1], "",
               absl::StrCat("found ", documents.size(), " YAML documents"),
               "a single document");
      return diag.ToStatus();
    }
    return ConfigParser(source).Parse(documents.empty() ? YAML::Node()
                                                        : documents.front());
  } catch (const YAML::Exception& e) {
    return SyntaxError(source, text, e);
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return LoadConfigText(*text, path);
}

absl::Status CheckReloadable(const Config& running, const Config& next) {
  std::vector<std::string> problems;
  const auto require_same = [&](bool same, absl::string_view key) {
    if (same) return;
    problems.push_back(absl::StrCat(key, ": changing ", key,
                                    " requires a restart of isthmusd"));
  };
  const DataplaneConfig& a = running.dataplane;
  const DataplaneConfig& b = next.dataplane;
  require_same(running.ports == next.ports, "ports");
  const size_t before_dataplane = problems.size();
  require_same(a.workers == b.workers, "dataplane.workers");
  require_same(a.worker_cpus == b.worker_cpus, "dataplane.worker_cpus");
  require_same(a.burst == b.burst, "dataplane.burst");
  require_same(a.mbufs == b.mbufs, "dataplane.mbufs");
  require_same(a.hugepages == b.hugepages, "dataplane.hugepages");
  require_same(a.punt_interface == b.punt_interface,
               "dataplane.punt_interface");
  require_same(a.fib_max_routes == b.fib_max_routes,
               "dataplane.fib_max_routes");
  require_same(a.fib_tbl8_groups == b.fib_tbl8_groups,
               "dataplane.fib_tbl8_groups");
  require_same(a.eal_args == b.eal_args, "dataplane.eal_args");
  const bool named_a_dataplane_key = problems.size() > before_dataplane;
  require_same(running.metrics.listen == next.metrics.listen, "metrics.listen");
  // The flow table is sized at start; timeouts, the Maglev table size and
  // every service are rebuilt live.
  require_same(running.nat.capacity == next.nat.capacity, "nat.capacity");
  require_same(running.admin.socket == next.admin.socket, "admin.socket");

  // Catch-all for dataplane fields added later and not listed above: with
  // the reloadable ones copied over, anything still different needs a restart.
  DataplaneConfig b_with_a_tunables = b;
  b_with_a_tunables.idle_sleep_us = a.idle_sleep_us;
  b_with_a_tunables.idle_polls_before_sleep = a.idle_polls_before_sleep;
  b_with_a_tunables.punt_rate_pps = a.punt_rate_pps;
  b_with_a_tunables.punt_class_rate_pps = a.punt_class_rate_pps;
  if (!named_a_dataplane_key) require_same(b_with_a_tunables == a, "dataplane");

  // The listener and the identity in every OPEN are fixed at start; peers,
  // policies and networks are applied by the speaker's Reconfigure.
  const bgp::BgpConfig& bgp_a = running.bgp;
  const bgp::BgpConfig& bgp_b = next.bgp;
  if (bgp_a.enabled != bgp_b.enabled) {
    require_same(false, "bgp");
  } else {
    require_same(bgp_a.asn == bgp_b.asn, "bgp.asn");
    require_same(bgp_a.router_id == bgp_b.router_id, "bgp.router_id");
    require_same(bgp_a.listen_port == bgp_b.listen_port, "bgp.listen_port");
    require_same(bgp_a.listen_address == bgp_b.listen_address,
                 "bgp.listen_address");
  }

  // Each tunnel owns a host interface, a data-plane port and addresses made
  // at start; only its MSS clamp and (VXLAN) DF setting are republished
  // live, and an ipsec tunnel's SAs are replaced live (rekey). ESP's DF is
  // fixed in the outbound SA, so it needs a restart like the cipher.
  std::vector<TunnelConfig> tunnels_with_running_live_keys = next.tunnels;
  if (tunnels_with_running_live_keys.size() == running.tunnels.size()) {
    for (size_t i = 0; i < running.tunnels.size(); ++i) {
      TunnelConfig& n = tunnels_with_running_live_keys[i];
      const TunnelConfig& r = running.tunnels[i];
      n.mss_clamp = r.mss_clamp;
      if (r.type == TunnelType::kVxlan) n.df = r.df;
      if (n.ipsec && r.ipsec) {
        n.ipsec->outbound = r.ipsec->outbound;
        n.ipsec->inbound = r.ipsec->inbound;
      }
    }
  }
  require_same(tunnels_with_running_live_keys == running.tunnels, "tunnels");

  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
}

}  // namespace isthmus
