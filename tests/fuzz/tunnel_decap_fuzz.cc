// libFuzzer target for the tunnel decapsulation parsers: arbitrary bytes as
// an outer IPv4 packet (its first byte picks the VXLAN port set, so both the
// default and a custom dst_port are exercised). ParseTunnelPacket is the one
// entry point for every tunnel kind: ESP and UDP-encapsulated ESP parsers
// added behind it are fuzzed by this target without changes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "dataplane/tunnel/decap_parser.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 65535) return 0;
  isthmus::DecapPorts ports;
  ports.vxlan[ports.vxlan_count++] = isthmus::kVxlanDefaultPort;
  if (data[0] & 1) ports.vxlan[ports.vxlan_count++] = 8472;
  const uint8_t* ip = data + 1;
  const auto len = static_cast<uint32_t>(size - 1);
  const isthmus::DecapParse p = isthmus::ParseTunnelPacket(ip, len, ports);
  if (p.proto == isthmus::TunnelProto::kNone) return 0;
  if (!p.ok) return 0;
  // What the worker strips and hands on must lie inside the packet and hold
  // at least an inner Ethernet header.
  if (p.inner_offset > len || p.inner_len > len - p.inner_offset) Fail("inner frame beyond the packet");
  if (p.inner_len < isthmus::kEtherHeaderLen) Fail("inner frame shorter than Ethernet");
  if (p.vni > isthmus::kVxlanMaxVni) Fail("VNI wider than 24 bits");
  volatile uint8_t last = ip[p.inner_offset + p.inner_len - 1];  // ASan checks the read
  (void)last;
  return 0;
}
