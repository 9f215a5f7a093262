// Every class of operator mistake in the configuration file, in every
// section it can occur in, with the full message it produces (issue 7 item
// 6). A case asserts the whole status message: the file, the line, the key
// path, what is wrong and what would be accepted. docs/operations.md
// ("Configuration errors") lists the same classes with one example each.
//
// The files are real files in a temporary directory and are read with
// LoadConfigFile, the function isthmusd and `isthmusd --check-config` call:
// "$FILE" and "$DIR" in a case stand for the file's path and directory.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bgp/config/bgp_config.h"
#include "control/config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace isthmus {
namespace {

using config_testing::Name;

// The classes of mistakes (docs/operations.md, "Configuration errors").
constexpr char kSyntax[] = "YAML syntax";
constexpr char kFile[] = "file missing or unreadable";
constexpr char kUnknownKey[] = "unknown key";
constexpr char kRepeatedKey[] = "key given twice";
constexpr char kWrongType[] = "wrong type";
constexpr char kOutOfRange[] = "out of range";
constexpr char kUnknownValue[] = "unknown value";
constexpr char kBadValue[] = "malformed value";
constexpr char kBadAddress[] = "bad address or prefix";
constexpr char kMissingKey[] = "missing required key";
constexpr char kDuplicate[] = "duplicate name";
constexpr char kDangling[] = "dangling reference";
constexpr char kConflict[] = "conflict";
constexpr char kKeyFile[] = "key file";
constexpr char kReservedAsn[] = "reserved ASN";

// Which classes each section can produce. Classes a section cannot produce
// are left out on purpose: `log` has no addresses, nothing refers to a
// tunnel or a service by name inside the file (isthmusctl does: see
// tests/integration/test_isthmusctl_errors.sh), and so on.
const std::vector<std::pair<std::string, std::vector<std::string>>>& Coverage() {
  static const auto* const kCoverage = new std::vector<std::pair<std::string, std::vector<std::string>>>{
      {"file", {kSyntax, kFile, kUnknownKey, kRepeatedKey, kWrongType, kMissingKey}},
      {"dataplane", {kUnknownKey, kRepeatedKey, kWrongType, kOutOfRange, kBadValue, kConflict}},
      {"ports",
       {kUnknownKey, kWrongType, kOutOfRange, kUnknownValue, kBadValue, kBadAddress, kMissingKey, kDuplicate,
        kConflict}},
      {"punt", {kUnknownKey, kWrongType, kOutOfRange, kDuplicate}},
      {"routes", {kUnknownKey, kWrongType, kBadAddress, kMissingKey, kDuplicate, kDangling, kConflict}},
      {"metrics", {kUnknownKey, kWrongType, kBadAddress}},
      {"admin", {kUnknownKey, kWrongType, kOutOfRange, kBadValue}},
      {"log", {kUnknownKey, kWrongType, kUnknownValue}},
      {"bgp",
       {kUnknownKey, kWrongType, kOutOfRange, kUnknownValue, kBadValue, kBadAddress, kMissingKey, kDuplicate,
        kDangling, kConflict, kReservedAsn}},
      {"tunnels",
       {kUnknownKey, kWrongType, kOutOfRange, kUnknownValue, kBadAddress, kMissingKey, kDuplicate, kConflict,
        kKeyFile}},
      {"nat", {kUnknownKey, kWrongType, kOutOfRange, kBadValue}},
      {"services",
       {kUnknownKey, kWrongType, kOutOfRange, kUnknownValue, kBadAddress, kMissingKey, kDuplicate, kDangling,
        kConflict}},
  };
  return *kCoverage;
}

struct MessageCase {
  std::string error_class;
  std::string section;
  std::string description;
  std::string yaml;     // the file's text, or kNoFile: no file is written
  std::string message;  // the whole status message
};

void PrintTo(const MessageCase& c, std::ostream* os) { *os << c.section << ": " << c.description; }

constexpr char kNoFile[] = "<no file>";
constexpr char kPort[] = "ports:\n  - {name: p0, interface: veth0}\n";  // lines 1-2
constexpr char kBgpHead[] = "bgp:\n  asn: 65010\n  router_id: 198.18.0.1\n";
constexpr char kVxlan[] =
    "  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 100, overlay: 198.18.250.1/30}\n";
constexpr char kWeb[] = "  - {name: web, vip: 203.0.113.10, ports: [80], backends: [{address: 192.0.2.21}]}\n";
// ESP key files in $DIR (written by the fixture).
constexpr char kGoodKey[] = "00112233445566778899aabbccddeeff c0ffee01\n";
constexpr char kShortKey[] = "00112233445566778899aabbccddeeff\n";

// An ipsec tunnel whose outbound SA reads $DIR/OUT_KEY (lines 3-5).
std::string Ipsec(const std::string& out_key) {
  return absl::StrCat(
      "tunnels:\n  - {name: east, type: ipsec, local: 192.0.2.1, remote: 192.0.2.2, overlay: 198.18.250.1/30,\n"
      "     ipsec: {outbound: {spi: 4097, key_file: $DIR/",
      out_key, "}, inbound: [{spi: 8193, key_file: $DIR/good.key}]}}\n");
}

const MessageCase kCases[] = {
    // ------------------------------------------------------------ the file
    {kSyntax, "file", "unclosed flow sequence", "ports:\n  - name: p0\n    interface: [veth0\nroutes: []\n",
     "$FILE:4:7: end of sequence flow not found: the file is not valid YAML (accepted: YAML 1.2 block or flow "
     "syntax)"},
    {kSyntax, "file", "tab indentation", "ports:\n\t- {name: p0, interface: veth0}\n",
     "$FILE:2:2: illegal block entry: the file is not valid YAML (accepted: YAML 1.2 block or flow syntax; "
     "indent with spaces, never tabs)"},
    {kFile, "file", "file missing", kNoFile,
     "$FILE: cannot open: No such file or directory"},
    {kUnknownKey, "file", "top-level typo",
     absl::StrCat(kPort, "route:\n  - {prefix: 198.51.100.0/24, blackhole: true}\n"),
     "$FILE:3: route: unknown key, did you mean 'routes'? (accepted: admin, bgp, dataplane, log, metrics, "
     "nat, ports, punt, routes, services, tunnels)"},
    {kRepeatedKey, "file", "section given twice", absl::StrCat(kPort, "log: {level: info}\nlog: {level: debug}\n"),
     "$FILE:4: log: key given twice (first at line 3) (accepted: each key once)"},
    {kWrongType, "file", "top level is a list", "- ports\n",
     "$FILE:1: expected a map, got a list (accepted: a map with keys admin, bgp, dataplane, log, metrics, "
     "nat, ports, punt, routes, services, tunnels)"},
    {kMissingKey, "file", "no ports section", "log: {level: info}\n",
     "$FILE:1: ports: missing required key (accepted: a list of at least one port, e.g. ports: [{name: p0, "
     "interface: eth1}])"},

    // ------------------------------------------------------------ dataplane
    {kUnknownKey, "dataplane", "typo", absl::StrCat(kPort, "dataplane:\n  wokers: 2\n"),
     "$FILE:4: dataplane.wokers: unknown key, did you mean 'workers'? (accepted: burst, eal_args, fib_max_routes, "
     "fib_tbl8_groups, hugepages, idle_polls_before_sleep, idle_sleep_us, mbufs, punt_class_rate_pps, "
     "punt_interface, punt_rate_pps, worker_cpus, workers)"},
    {kRepeatedKey, "dataplane", "key twice", absl::StrCat(kPort, "dataplane:\n  burst: 8\n  burst: 16\n"),
     "$FILE:5: dataplane.burst: key given twice (first at line 4) (accepted: each key once)"},
    {kWrongType, "dataplane", "YAML 1.1 boolean", absl::StrCat(kPort, "dataplane:\n  hugepages: yes\n"),
     "$FILE:4: dataplane.hugepages: expected a boolean, got 'yes' (accepted: true, false)"},
    {kOutOfRange, "dataplane", "too many workers", absl::StrCat(kPort, "dataplane:\n  workers: 65\n"),
     "$FILE:4: dataplane.workers: expected an integer between 1 and 64, got '65'"},
    {kBadValue, "dataplane", "bad interface name", absl::StrCat(kPort, "dataplane:\n  punt_interface: a/b\n"),
     "$FILE:4: dataplane.punt_interface: 'a/b' is not a Linux interface name (accepted: 1 to 15 characters "
     "without '/', ':' or whitespace, not '.' or '..')"},
    {kConflict, "dataplane", "worker_cpus does not match workers",
     absl::StrCat(kPort, "dataplane:\n  workers: 2\n  worker_cpus: [1]\n"),
     "$FILE:5: dataplane.worker_cpus: lists 1 CPUs for 2 workers (accepted: one CPU id per worker, or an empty "
     "list)"},
    {kConflict, "dataplane", "punt interface is a port interface",
     absl::StrCat("dataplane:\n  punt_interface: veth0\n", kPort),
     "$FILE:4: ports[0].interface: 'veth0' is already used by dataplane.punt_interface (accepted: an interface "
     "name not used elsewhere)"},

    // ------------------------------------------------------------ ports
    {kUnknownKey, "ports", "typo", "ports:\n  - {name: p0, interface: veth0, mut: 9000}\n",
     "$FILE:2: ports[0].mut: unknown key, did you mean 'mtu'? (accepted: address, devargs, driver, interface, "
     "mtu, name)"},
    {kWrongType, "ports", "mtu is text", "ports:\n  - {name: p0, interface: veth0, mtu: big}\n",
     "$FILE:2: ports[0].mtu: expected an integer between 68 and 9000, got 'big'"},
    {kOutOfRange, "ports", "mtu too large", "ports:\n  - {name: p0, interface: veth0, mtu: 9001}\n",
     "$FILE:2: ports[0].mtu: expected an integer between 68 and 9000, got '9001'"},
    {kUnknownValue, "ports", "driver typo", "ports:\n  - {name: p0, interface: veth0, driver: af_xpd}\n",
     "$FILE:2: ports[0].driver: unknown value 'af_xpd', did you mean 'af_xdp'? (accepted: af_xdp, af_packet, "
     "pmd)"},
    {kBadValue, "ports", "port name with capitals", "ports:\n  - {name: Uplink, interface: veth0}\n",
     "$FILE:2: ports[0].name: 'Uplink' is not a valid port name (accepted: 1 to 15 characters from a-z, 0-9, "
     "'_' and '-')"},
    {kBadAddress, "ports", "pmd address is the network address",
     "ports:\n  - {name: p0, interface: tap0, driver: pmd, devargs: net_tap0, address: 198.18.0.0/24}\n",
     "$FILE:2: ports[0].address: 198.18.0.0/24 is the network address of its subnet (accepted: a unicast host "
     "address in its subnet, e.g. 198.18.0.1/24)"},
    {kMissingKey, "ports", "no interface", "ports:\n  - {name: p0}\n",
     "$FILE:2: ports[0].interface: missing required key (accepted: the kernel interface (af_xdp, af_packet) "
     "or the name of the exception tap to create (pmd))"},
    {kMissingKey, "ports", "pmd without devargs",
     "ports:\n  - {name: p0, interface: tap0, driver: pmd, address: 198.18.0.1/24}\n",
     "$FILE:2: ports[0].devargs: missing required key for driver pmd (accepted: EAL device arguments, e.g. "
     "net_tap0,iface=tap0)"},
    {kDuplicate, "ports", "two ports named p0",
     "ports:\n  - {name: p0, interface: veth0}\n  - {name: p0, interface: veth1}\n",
     "$FILE:3: ports[1].name: 'p0' is already used by ports[0].name (accepted: a port name not used elsewhere)"},
    {kConflict, "ports", "two ports on one interface",
     "ports:\n  - {name: p0, interface: veth0}\n  - {name: p1, interface: veth0}\n",
     "$FILE:3: ports[1].interface: 'veth0' is already used by ports[0].interface (accepted: an interface name "
     "not used elsewhere)"},
    {kConflict, "ports", "devargs on an af_xdp port", "ports:\n  - {name: p0, interface: veth0, devargs: net_tap0}\n",
     "$FILE:2: ports[0].devargs: not allowed for driver af_xdp (accepted: only with driver pmd; af_xdp ports "
     "take their addresses from the kernel interface)"},
    {kMissingKey, "ports", "empty list", "ports: []\n",
     "$FILE:1: ports: no ports configured (accepted: a list of at least one port)"},

    // ------------------------------------------------------------ punt
    {kUnknownKey, "punt", "typo", absl::StrCat(kPort, "punt:\n  tcp: [179]\n"),
     "$FILE:4: punt.tcp: unknown key, did you mean 'tcp_ports'? (accepted: tcp_ports, udp_ports)"},
    {kWrongType, "punt", "a number instead of a list", absl::StrCat(kPort, "punt:\n  tcp_ports: 179\n"),
     "$FILE:4: punt.tcp_ports: expected a list, got '179' (accepted: a list of port numbers 1-65535)"},
    {kOutOfRange, "punt", "port 0", absl::StrCat(kPort, "punt:\n  udp_ports: [0]\n"),
     "$FILE:4: punt.udp_ports[0]: expected an integer between 1 and 65535, got '0'"},
    {kDuplicate, "punt", "port listed twice", absl::StrCat(kPort, "punt:\n  tcp_ports: [179, 179]\n"),
     "$FILE:4: punt.tcp_ports[1]: '179' is already used by punt.tcp_ports[0] (accepted: a port number not "
     "used elsewhere)"},

    // ------------------------------------------------------------ routes
    {kUnknownKey, "routes", "typo", absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, vai: 198.18.0.2}\n"),
     "$FILE:4: routes[0].vai: unknown key, did you mean 'via'? (accepted: blackhole, port, prefix, via)\n$FILE:4: "
     "routes[0]: has neither via nor blackhole: true (accepted: exactly one of via or blackhole: true)"},
    {kWrongType, "routes", "YAML 1.1 boolean",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, blackhole: yes}\n"),
     "$FILE:4: routes[0].blackhole: expected a boolean, got 'yes' (accepted: true, false)"},
    {kBadAddress, "routes", "prefix length 33",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/33, via: 198.18.0.2}\n"),
     "$FILE:4: routes[0].prefix: '198.51.100.0/33' is not an IPv4 prefix (accepted: ADDRESS/LEN with four "
     "decimal octets 0-255 and LEN 0-32, e.g. 198.51.100.0/24)"},
    {kBadAddress, "routes", "prefix with host bits",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.1/24, via: 198.18.0.2}\n"),
     "$FILE:4: routes[0].prefix: 198.51.100.1/24 has host bits set (did you mean 198.51.100.0/24?) (accepted: "
     "ADDRESS/LEN with every bit after LEN zero, e.g. 198.51.100.0/24)"},
    {kBadAddress, "routes", "gateway octet 256",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, via: 198.18.0.256}\n"),
     "$FILE:4: routes[0].via: '198.18.0.256' is not an IPv4 address (accepted: four decimal octets 0-255 without "
     "leading zeros, e.g. 198.51.100.1)"},
    {kBadAddress, "routes", "multicast gateway",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, via: 224.0.0.1}\n"),
     "$FILE:4: routes[0].via: 224.0.0.1 is a multicast address (RFC 5771) (accepted: a unicast gateway address)"},
    {kMissingKey, "routes", "no prefix", absl::StrCat(kPort, "routes:\n  - {via: 198.18.0.2}\n"),
     "$FILE:4: routes[0].prefix: missing required key (accepted: ADDRESS/LEN with four decimal octets 0-255 "
     "and LEN 0-32, e.g. 198.51.100.0/24)"},
    {kDuplicate, "routes", "prefix twice",
     absl::StrCat(kPort,
                  "routes:\n  - {prefix: 198.51.100.0/24, via: 198.18.0.2}\n"
                  "  - {prefix: 198.51.100.0/24, via: 198.18.0.3}\n"),
     "$FILE:5: routes[1].prefix: '198.51.100.0/24' is already used by routes[0].prefix (accepted: a prefix "
     "(one route per prefix; list several gateways in via for ECMP) not used elsewhere)"},
    {kDangling, "routes", "port that does not exist",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, via: 198.18.0.2, port: p1}\n"),
     "$FILE:4: routes[0].port: no port named 'p1', did you mean 'p0'? (accepted: p0)"},
    {kConflict, "routes", "via and blackhole",
     absl::StrCat(kPort, "routes:\n  - {prefix: 198.51.100.0/24, via: 198.18.0.2, blackhole: true}\n"),
     "$FILE:4: routes[0]: has both via and blackhole: true (accepted: exactly one of via or blackhole: true)"},

    // ------------------------------------------------------------ metrics
    {kUnknownKey, "metrics", "typo", absl::StrCat(kPort, "metrics:\n  listen_address: 127.0.0.1:9470\n"),
     "$FILE:4: metrics.listen_address: unknown key, did you mean 'listen'? (accepted: listen)"},
    {kWrongType, "metrics", "a list", absl::StrCat(kPort, "metrics:\n  listen: [127.0.0.1]\n"),
     "$FILE:4: metrics.listen: expected a string, got a list (accepted: IPV4:PORT or localhost:PORT with PORT "
     "0-65535, or \"\" to disable)"},
    {kBadAddress, "metrics", "no port", absl::StrCat(kPort, "metrics:\n  listen: 127.0.0.1\n"),
     "$FILE:4: metrics.listen: '127.0.0.1' is not HOST:PORT (accepted: IPV4:PORT or localhost:PORT with PORT "
     "0-65535, or \"\" to disable)"},

    // ------------------------------------------------------------ admin
    {kUnknownKey, "admin", "typo", absl::StrCat(kPort, "admin:\n  sock: /run/isthmus/isthmusd.sock\n"),
     "$FILE:4: admin.sock: unknown key, did you mean 'socket'? (accepted: socket)"},
    {kWrongType, "admin", "a map", absl::StrCat(kPort, "admin:\n  socket: {path: /run/x.sock}\n"),
     "$FILE:4: admin.socket: expected a string, got a map (accepted: an absolute path of at most 107 bytes "
     "naming a file, e.g. /run/isthmus/isthmusd.sock)"},
    {kOutOfRange, "admin", "path too long for a unix socket",
     absl::StrCat(kPort, "admin:\n  socket: /", std::string(110, 'x'), "\n"),
     "$FILE:4: admin.socket: is 111 bytes long, too long for a unix socket (accepted: an absolute path of "
     "at most 107 bytes naming a file, e.g. /run/isthmus/isthmusd.sock)"},
    {kBadValue, "admin", "relative path", absl::StrCat(kPort, "admin:\n  socket: run/isthmusd.sock\n"),
     "$FILE:4: admin.socket: 'run/isthmusd.sock' is not an absolute path (accepted: an absolute path of at "
     "most 107 bytes naming a file, e.g. /run/isthmus/isthmusd.sock)"},

    // ------------------------------------------------------------ log
    {kUnknownKey, "log", "typo", absl::StrCat(kPort, "log:\n  lvl: info\n"),
     "$FILE:4: log.lvl: unknown key, did you mean 'level'? (accepted: level)"},
    {kWrongType, "log", "a list", absl::StrCat(kPort, "log:\n  level: [info]\n"),
     "$FILE:4: log.level: expected a string, got a list (accepted: trace, debug, info, warn, error, critical, "
     "off)"},
    {kUnknownValue, "log", "warning for warn", absl::StrCat(kPort, "log:\n  level: warning\n"),
     "$FILE:4: log.level: unknown value 'warning', did you mean 'warn'? (accepted: trace, debug, info, warn, "
     "error, critical, off)"},

    // ------------------------------------------------------------ bgp
    {kUnknownKey, "bgp", "typo", absl::StrCat(kPort, kBgpHead, "  multipaths: true\n"),
     "$FILE:6: bgp.multipaths: unknown key, did you mean 'multipath'? (accepted: asn, graceful_restart_time, "
     "listen_address, listen_port, max_paths, multipath, networks, peers, policies, router_id, shutdown_drain_ms, "
     "shutdown_mode)"},
    {kWrongType, "bgp", "YAML 1.1 boolean", absl::StrCat(kPort, kBgpHead, "  multipath: yes\n"),
     "$FILE:6: bgp.multipath: expected a boolean, got 'yes' (accepted: true, false)"},
    {kOutOfRange, "bgp", "max_paths 17", absl::StrCat(kPort, kBgpHead, "  max_paths: 17\n"),
     "$FILE:6: bgp.max_paths: expected an integer between 1 and 16, got '17'"},
    {kOutOfRange, "bgp", "hold time 2",
     absl::StrCat(kPort, kBgpHead, "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020, hold_time: 2}\n"),
     "$FILE:7: bgp.peers[0].hold_time: 2 is not a hold time (accepted: 0 (no keepalives) or 3-65535 seconds "
     "(RFC 4271 4.2))"},
    {kUnknownValue, "bgp", "role typo",
     absl::StrCat(kPort, kBgpHead,
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020, role: routeserver}\n"),
     "$FILE:7: bgp.peers[0].role: unknown value 'routeserver', did you mean 'route_server'? (accepted: peer, "
     "route_server)"},
    {kBadValue, "bgp", "peer name with a space",
     absl::StrCat(kPort, kBgpHead, "  peers:\n    - {name: ars one, address: 192.0.2.1, remote_as: 65020}\n"),
     "$FILE:7: bgp.peers[0].name: 'ars one' is not a valid name (accepted: 1 to 32 characters from a-z, 0-9, "
     "'_' and '-')"},
    {kBadAddress, "bgp", "router id 0.0.0.0", absl::StrCat(kPort, "bgp:\n  asn: 65010\n  router_id: 0.0.0.0\n"),
     "$FILE:5: bgp.router_id: 0.0.0.0 is in 0.0.0.0/8, which only names this host as a source (RFC 1122 3.2.1.3) "
     "(accepted: a unicast router id address)"},
    {kBadAddress, "bgp", "peer address octet 300",
     absl::StrCat(kPort, kBgpHead, "  peers:\n    - {name: a, address: 192.0.2.300, remote_as: 65020}\n"),
     "$FILE:7: bgp.peers[0].address: '192.0.2.300' is not an IPv4 address (accepted: four decimal octets 0-255 "
     "without leading zeros, e.g. 198.51.100.1)"},
    {kBadAddress, "bgp", "network with host bits", absl::StrCat(kPort, kBgpHead, "  networks: [198.51.100.1/24]\n"),
     "$FILE:6: bgp.networks[0]: 198.51.100.1/24 has host bits set (did you mean 198.51.100.0/24?) (accepted: "
     "ADDRESS/LEN with every bit after LEN zero, e.g. 198.51.100.0/24)"},
    {kMissingKey, "bgp", "no router id", absl::StrCat(kPort, "bgp:\n  asn: 65010\n"),
     "$FILE:4: bgp.router_id: missing required key when bgp is configured (accepted: a unicast IPv4 address, "
     "e.g. 198.18.0.1)"},
    {kMissingKey, "bgp", "peer without remote_as",
     absl::StrCat(kPort, kBgpHead, "  peers:\n    - {name: a, address: 192.0.2.1}\n"),
     "$FILE:7: bgp.peers[0].remote_as: missing required key (accepted: an ASN 1-4294967295)"},
    {kDuplicate, "bgp", "two peers named a",
     absl::StrCat(kPort, kBgpHead,
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020}\n"
                  "    - {name: a, address: 192.0.2.2, remote_as: 65020}\n"),
     "$FILE:8: bgp.peers[1].name: 'a' is already used by bgp.peers[0].name (accepted: a peer name not used "
     "elsewhere)"},
    {kDuplicate, "bgp", "two peers on one address",
     absl::StrCat(kPort, kBgpHead,
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020}\n"
                  "    - {name: b, address: 192.0.2.1, remote_as: 65020}\n"),
     "$FILE:8: bgp.peers[1].address: '192.0.2.1' is already used by bgp.peers[0].address (accepted: a peer "
     "address not used elsewhere)"},
    {kDangling, "bgp", "import names no policy",
     absl::StrCat(kPort, kBgpHead,
                  "  policies:\n    - {name: from-ars, default: accept}\n"
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020, import: [from-arz]}\n"),
     "$FILE:9: bgp.peers[0].import[0]: no policy named 'from-arz', did you mean 'from-ars'? (accepted: from-ars)"},
    {kDangling, "bgp", "policy matches an unknown neighbor",
     absl::StrCat(kPort, kBgpHead,
                  "  policies:\n    - name: p\n      terms:\n        - {match: {neighbors: [b]}, result: reject}\n"
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020}\n"),
     "$FILE:9: bgp.policies[0].terms[0].match.neighbors[0]: no peer named 'b', did you mean 'a'? (accepted: "
     "a)"},
    {kConflict, "bgp", "gtsm with multihop",
     absl::StrCat(kPort, kBgpHead,
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020, gtsm: true, multihop: 2}\n"),
     "$FILE:7: bgp.peers[0].gtsm: gtsm: true together with multihop 2 (accepted: gtsm only with multihop 1: "
     "GTSM (RFC 5082) expects directly connected peers)"},
    {kConflict, "bgp", "peers of one group differ",
     absl::StrCat(kPort, kBgpHead,
                  "  peers:\n    - {name: a, address: 192.0.2.1, remote_as: 65020, group: g}\n"
                  "    - {name: b, address: 192.0.2.2, remote_as: 65021, group: g}\n"),
     "$FILE:8: bgp.peers[1]: differs from bgp.peers[0] ('a') in remote_as but both are in group 'g' (accepted: "
     "the same remote_as, export and max_advertised for every peer of a group, which all receive identical "
     "advertisements)"},
    {kReservedAsn, "bgp", "Azure Route Server ASN as ours",
     absl::StrCat(kPort, "bgp:\n  asn: 65515\n  router_id: 198.18.0.1\n"),
     "$FILE:4: bgp.asn: 65515 is reserved and may not be used as our own ASN (accepted: any ASN except 0, "
     "8074, 8075, 12076, 65515, 65517-65520 (Azure Route Server), 23456 (AS_TRANS, RFC 6793), 64496-64511 "
     "and 65536-65551 (documentation, RFC 5398), 65535 and 4294967295 (RFC 7300))"},

    // ------------------------------------------------------------ tunnels
    {kUnknownKey, "tunnels", "typo",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 100, "
                  "overlay: 198.18.250.1/30, mss: auto}\n"),
     "$FILE:4: tunnels[0].mss: unknown key, did you mean 'mss_clamp'? (accepted: df, dst_port, interface, "
     "ipsec, local, mss_clamp, mtu, name, overlay, remote, type, vni)"},
    {kWrongType, "tunnels", "vni is text",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: blue, "
                  "overlay: 198.18.250.1/30}\n"),
     "$FILE:4: tunnels[0].vni: expected an integer between 1 and 16777215, got 'blue'"},
    {kOutOfRange, "tunnels", "vni 2^24",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 16777216, "
                  "overlay: 198.18.250.1/30}\n"),
     "$FILE:4: tunnels[0].vni: expected an integer between 1 and 16777215, got '16777216'"},
    {kUnknownValue, "tunnels", "type gre",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: gre, local: 192.0.2.1, remote: 192.0.2.2, "
                  "overlay: 198.18.250.1/30}\n"),
     "$FILE:4: tunnels[0].type: unknown value 'gre' (accepted: vxlan, ipsec)"},
    {kBadAddress, "tunnels", "local octet 300",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.300, remote: 192.0.2.2, vni: 100, "
                  "overlay: 198.18.250.1/30}\n"),
     "$FILE:4: tunnels[0].local: '192.0.2.300' is not an IPv4 address (accepted: four decimal octets 0-255 "
     "without leading zeros, e.g. 198.51.100.1)"},
    {kMissingKey, "tunnels", "no overlay",
     absl::StrCat(kPort, "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 100}\n"),
     "$FILE:4: tunnels[0].overlay: missing required key (accepted: HOST/LEN with LEN 1-31, e.g. 198.18.250.1/30)"},
    {kDuplicate, "tunnels", "two tunnels named east",
     absl::StrCat(kPort, "tunnels:\n", kVxlan,
                  "  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.3, vni: 101, "
                  "overlay: 198.18.251.1/30}\n"),
     "$FILE:5: tunnels[1].name: 'east' is already used by tunnels[0].name (accepted: a tunnel name not used "
     "elsewhere)"},
    {kConflict, "tunnels", "overlapping overlays",
     absl::StrCat(kPort, "tunnels:\n", kVxlan,
                  "  - {name: west, type: vxlan, local: 192.0.2.1, remote: 192.0.2.3, vni: 101, "
                  "overlay: 198.18.250.2/29}\n"),
     "$FILE:5: tunnels[1].overlay: 198.18.250.0/29 overlaps 198.18.250.0/30 of tunnel 'east' (accepted: an "
     "overlay subnet no other tunnel uses)"},
    {kConflict, "tunnels", "host interface is a port interface",
     absl::StrCat(kPort,
                  "tunnels:\n  - {name: east, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 100, "
                  "overlay: 198.18.250.1/30, interface: veth0}\n"),
     "$FILE:4: tunnels[0].interface: 'veth0' is already used by ports[0].interface (accepted: an interface "
     "name not used elsewhere)"},
    {kConflict, "tunnels", "endpoint routed into the tunnel",
     absl::StrCat(kPort, "routes:\n  - {prefix: 192.0.2.0/24, via: 198.18.250.2}\n", "tunnels:\n", kVxlan),
     "$FILE:6: tunnels[0].remote: 192.0.2.2 lies inside 192.0.2.0/24, which the static route sends into tunnel "
     "'east' (via 198.18.250.2): the tunnel would carry its own packets (accepted: an underlay address that "
     "is reached outside every tunnel)"},
    {kKeyFile, "tunnels", "key file missing", absl::StrCat(kPort, Ipsec("absent.key")),
     "$FILE:5: tunnels[0].ipsec.outbound.key_file: ESP key file $DIR/absent.key: cannot open: No such file "
     "or directory (accepted: an absolute path to a regular file of mode 0600 or 0400 holding the key and "
     "4-byte salt as hex (40 hex digits for aes-128-gcm, 72 for aes-256-gcm))"},
    {kKeyFile, "tunnels", "key too short for the cipher", absl::StrCat(kPort, Ipsec("short.key")),
     "$FILE:5: tunnels[0].ipsec.outbound.key_file: ESP key file $DIR/short.key holds 32 hex digits; aes128gcm16 "
     "needs exactly 20 bytes (40 hex digits: 16-byte key || 4-byte salt, RFC 4106) (accepted: an absolute "
     "path to a regular file of mode 0600 or 0400 holding the key and 4-byte salt as hex (40 hex digits for "
     "aes-128-gcm, 72 for aes-256-gcm))"},

    // ------------------------------------------------------------ nat
    {kUnknownKey, "nat", "typo", absl::StrCat(kPort, "nat:\n  capacty: 4096\n"),
     "$FILE:4: nat.capacty: unknown key, did you mean 'capacity'? (accepted: admission, capacity, "
     "maglev_table_size, timeouts)"},
    {kWrongType, "nat", "timeouts is a number", absl::StrCat(kPort, "nat:\n  timeouts: 30\n"),
     "$FILE:4: nat.timeouts: expected a map, got '30' (accepted: a map with keys tcp_embryonic_s, "
     "tcp_established_s, tcp_transitory_s, udp_s)"},
    {kOutOfRange, "nat", "capacity below 1024", absl::StrCat(kPort, "nat:\n  capacity: 10\n"),
     "$FILE:4: nat.capacity: expected an integer between 1024 and 67108864, got '10'"},
    {kBadValue, "nat", "maglev table size not a prime", absl::StrCat(kPort, "nat:\n  maglev_table_size: 65536\n"),
     "$FILE:4: nat.maglev_table_size: 65536 is not a prime (accepted: a prime number 1031-16777213 (default "
     "65537))"},

    // ------------------------------------------------------------ services
    {kUnknownKey, "services", "typo",
     absl::StrCat(kPort,
                  "services:\n  - {name: web, vip: 203.0.113.10, port: [80], backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:4: services[0].port: unknown key, did you mean 'ports'? (accepted: announce, backends, flow_timeouts, "
     "health, min_up, name, on_backend_down, ports, protocol, snat, vip)\n$FILE:4: services[0].ports: missing "
     "required key (accepted: a list of 1 to 64 ports 1-65535)"},
    {kWrongType, "services", "min_up is text",
     absl::StrCat(kPort,
                  "services:\n  - {name: web, vip: 203.0.113.10, ports: [80], min_up: all, "
                  "backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:4: services[0].min_up: expected an integer between 1 and 1024, got 'all'"},
    {kOutOfRange, "services", "weight 0",
     absl::StrCat(kPort,
                  "services:\n  - {name: web, vip: 203.0.113.10, ports: [80], "
                  "backends: [{address: 192.0.2.21, weight: 0}]}\n"),
     "$FILE:4: services[0].backends[0].weight: expected an integer between 1 and 1000, got '0'"},
    {kUnknownValue, "services", "protocol sctp",
     absl::StrCat(kPort,
                  "services:\n  - {name: web, vip: 203.0.113.10, protocol: sctp, ports: [80], "
                  "backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:4: services[0].protocol: unknown value 'sctp', did you mean 'tcp'? (accepted: tcp, udp)"},
    {kBadAddress, "services", "VIP is a prefix",
     absl::StrCat(kPort,
                  "services:\n  - {name: web, vip: 203.0.113.0/24, ports: [80], backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:4: services[0].vip: '203.0.113.0/24' is not a single IPv4 address (accepted: an IPv4 address or "
     "ADDRESS/32, e.g. 203.0.113.10)"},
    {kMissingKey, "services", "no backends",
     absl::StrCat(kPort, "services:\n  - {name: web, vip: 203.0.113.10, ports: [80]}\n"),
     "$FILE:4: services[0].backends: missing required key (accepted: a list of {address, port, weight} maps)"},
    {kDuplicate, "services", "two services named web",
     absl::StrCat(kPort, "services:\n", kWeb,
                  "  - {name: web, vip: 203.0.113.11, ports: [80], backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:5: services[1].name: 'web' is already used by services[0].name (accepted: a service name not used "
     "elsewhere)"},
    {kDangling, "services", "announce to an unknown peer",
     absl::StrCat(kPort, kBgpHead, "  peers:\n    - {name: ars-1, address: 198.18.1.4, remote_as: 65515}\n",
                  "services:\n  - {name: web, vip: 203.0.113.10, ports: [80], backends: [{address: 192.0.2.21}], "
                  "announce: {peers: [ars-2]}}\n"),
     "$FILE:9: services[0].announce.peers[0]: no bgp peer named 'ars-2', did you mean 'ars-1'? (accepted: "
     "ars-1)"},
    {kConflict, "services", "two services on one VIP and port",
     absl::StrCat(kPort, "services:\n", kWeb,
                  "  - {name: api, vip: 203.0.113.10, ports: [80], backends: [{address: 192.0.2.22}]}\n"),
     "$FILE:5: services[1].ports[0]: '203.0.113.10 tcp port 80' is already used by services[0].ports[0] (accepted: "
     "a VIP, protocol and port not used elsewhere)"},
    {kConflict, "services", "VIP is a tunnel address",
     absl::StrCat(kPort, "tunnels:\n", kVxlan,
                  "services:\n  - {name: web, vip: 198.18.250.1, ports: [80], backends: [{address: 192.0.2.21}]}\n"),
     "$FILE:6: services[0].vip: 198.18.250.1 is an address of this appliance (tunnels[0].overlay) (accepted: "
     "an address used by no port, tunnel or BGP session)"},
};

class ConfigErrorMessageTest : public ::testing::TestWithParam<MessageCase> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/isthmus-config-errors-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    WriteKey("good.key", kGoodKey);
    WriteKey("short.key", kShortKey);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteKey(const std::string& name, const char* text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  }

  std::string Expand(const std::string& text) const {
    return absl::StrReplaceAll(text, {{"$FILE", file_}, {"$DIR", dir_}});
  }

  std::string dir_;
  std::string file_;
};

TEST_P(ConfigErrorMessageTest, NamesFileKeyAndWhatIsAccepted) {
  const MessageCase& c = GetParam();
  file_ = absl::StrCat(dir_, "/isthmusd.yaml");
  if (c.yaml != kNoFile) std::ofstream(file_) << Expand(c.yaml);
  const absl::StatusOr<Config> config = LoadConfigFile(file_);
  ASSERT_FALSE(config.ok()) << "accepted:\n" << c.yaml;
  const absl::StatusCode expected_code =
      c.error_class == kFile ? absl::StatusCode::kNotFound : absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(config.status().code(), expected_code);
  EXPECT_EQ(config.status().message(), Expand(c.message))
      << "ACTUAL[" << c.section << "|" << c.description << "]"
      << absl::StrReplaceAll(config.status().message(), {{file_, "$FILE"}, {dir_, "$DIR"}}) << "[END]";
}

INSTANTIATE_TEST_SUITE_P(EveryClass, ConfigErrorMessageTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return Name(info.param.section + "_" + info.param.description); });

// The table covers every class each section can produce.
TEST(ConfigErrorCoverageTest, EverySectionHasACasePerClass) {
  for (const auto& [section, classes] : Coverage()) {
    for (const std::string& error_class : classes) {
      const bool covered = std::any_of(std::begin(kCases), std::end(kCases), [&](const MessageCase& c) {
        return c.section == section && c.error_class == error_class;
      });
      EXPECT_TRUE(covered) << "no case for " << section << " / " << error_class;
    }
  }
  for (const MessageCase& c : kCases) {
    const auto section = std::find_if(Coverage().begin(), Coverage().end(),
                                      [&](const auto& entry) { return entry.first == c.section; });
    ASSERT_NE(section, Coverage().end()) << c.section;
    EXPECT_NE(std::find(section->second.begin(), section->second.end(), c.error_class), section->second.end())
        << c.section << " / " << c.error_class << " is tested but not listed in Coverage()";
  }
}

// Issue 7 item 6: every reserved ASN refused as our own, at both ends of
// each range and one inside, with the same message naming the list.
TEST(ReservedLocalAsnTest, EveryReservedValueIsRefusedWithTheList) {
  constexpr bgp::Asn kReserved[] = {
      0,     8074,  8075,  12076, 65515, 65517, 65518, 65520, 23456, 64496,
      64500, 64511, 65535, 65536, 65540, 65551, 4294967295u};
  for (const bgp::Asn asn : kReserved) {
    const std::string yaml = absl::StrCat(kPort, "bgp:\n  asn: ", asn, "\n  router_id: 198.18.0.1\n");
    const absl::StatusOr<Config> config = LoadConfigText(yaml, "test.yaml");
    ASSERT_FALSE(config.ok()) << asn;
    EXPECT_EQ(config.status().message(),
              absl::StrCat("test.yaml:4: bgp.asn: ", asn,
                           " is reserved and may not be used as our own ASN (accepted: any ASN except 0, 8074, "
                           "8075, 12076, 65515, 65517-65520 (Azure Route Server), 23456 (AS_TRANS, RFC 6793), "
                           "64496-64511 and 65536-65551 (documentation, RFC 5398), 65535 and 4294967295 "
                           "(RFC 7300))"))
        << asn;
  }
  // Neighbours of each range are ours to use.
  for (const bgp::Asn asn : {8073u, 8076u, 12075u, 12077u, 65514u, 65516u, 65521u, 23455u, 23457u, 64495u, 64512u,
                             65534u, 65552u}) {
    const std::string yaml = absl::StrCat(kPort, "bgp:\n  asn: ", asn, "\n  router_id: 198.18.0.1\n");
    const absl::StatusOr<Config> config = LoadConfigText(yaml, "test.yaml");
    EXPECT_TRUE(config.ok()) << asn << ": " << config.status();
  }
}

}  // namespace
}  // namespace isthmus
