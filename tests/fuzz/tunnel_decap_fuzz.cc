// libFuzzer target for the tunnel decapsulation parsers: arbitrary bytes as
// an outer IPv4 packet. The first byte picks the configuration: bit 0 adds
// a custom VXLAN dst_port, bit 1 enables ESP (protocol 50 and UDP 4500, as
// when an ipsec tunnel exists). ParseTunnelPacket is the one entry point for
// every tunnel kind (VXLAN, ESP, UDP-encapsulated ESP); ParseEspOuter, which
// the ESP SAs also call, is fuzzed directly too, and so is CheckVxlanInEsp,
// which reads what an inbound SA decrypted for a VXLAN-in-ESP tunnel.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "dataplane/tunnel/decap_parser.h"
#include "dataplane/tunnel/vxlan_in_esp.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

// ParseEspOuter alone: on kOk every length it reports lies inside the
// packet and the encrypted part is non-empty and 4-byte aligned.
void CheckEspOuter(const uint8_t* ip, uint32_t len) {
  isthmus::EspOuterView v;
  if (isthmus::ParseEspOuter(ip, len, &v) != isthmus::EspVerdict::kOk) return;
  if (v.total_len > len || v.esp_offset > v.total_len) Fail("ESP lengths beyond the packet");
  const uint32_t fixed = isthmus::kEspHeaderLen + isthmus::kEspGcmIvLen + isthmus::kEspGcmIcvLen;
  if (v.total_len - v.esp_offset < fixed + isthmus::kEspAlign) Fail("ESP shorter than its fixed parts");
  if (v.EncryptedLen() % isthmus::kEspAlign != 0) Fail("ESP ciphertext not 4-byte aligned");
  volatile uint8_t last = ip[v.total_len - 1];  // ASan checks the read
  (void)last;
}

// The same bytes as the decrypted inner packet of a VXLAN-in-ESP tunnel
// whose endpoints and VNI are read from them, so matching packets are as
// likely as mismatched ones: an accepted frame lies inside the packet.
void CheckVxlanInEspInner(const uint8_t* ip, uint32_t len) {
  if (len < isthmus::kIpv4MinHeaderLen) return;
  isthmus::TunnelEntry t;
  t.kind = isthmus::TunnelKind::kIpsec;
  t.remote = isthmus::LoadBe32(ip + 12);
  t.local = isthmus::LoadBe32(ip + 16);
  t.vni = 1 + ip[1] % isthmus::kVxlanMaxVni;
  t.dst_port = isthmus::kVxlanDefaultPort;
  const isthmus::VxlanInEspView v = isthmus::CheckVxlanInEsp(ip, len, t);
  if (!v.ok) return;
  if (v.inner_offset > len || v.inner_len > len - v.inner_offset) Fail("VXLAN-in-ESP inner frame beyond the packet");
  if (v.inner_len < isthmus::kEtherHeaderLen) Fail("VXLAN-in-ESP inner frame shorter than Ethernet");
  volatile uint8_t last = ip[v.inner_offset + v.inner_len - 1];  // ASan checks the read
  (void)last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 65535) return 0;
  isthmus::DecapPorts ports;
  ports.vxlan[ports.vxlan_count++] = isthmus::kVxlanDefaultPort;
  if (data[0] & 1) ports.vxlan[ports.vxlan_count++] = 8472;
  ports.esp = (data[0] & 2) != 0;
  const uint8_t* ip = data + 1;
  const auto len = static_cast<uint32_t>(size - 1);
  CheckEspOuter(ip, len);
  CheckVxlanInEspInner(ip, len);
  const isthmus::DecapParse p = isthmus::ParseTunnelPacket(ip, len, ports);
  if (p.proto == isthmus::TunnelProto::kNone) return 0;
  if (p.proto == isthmus::TunnelProto::kEsp && !ports.esp) Fail("ESP claimed while no ipsec tunnel exists");
  if (!p.ok) return 0;
  if (p.proto == isthmus::TunnelProto::kEsp) {
    // The SA reads SPI and sequence number at inner_offset.
    if (p.inner_offset + isthmus::kEspHeaderLen > len) Fail("ESP header beyond the packet");
    return 0;
  }
  // What the worker strips and hands on must lie inside the packet and hold
  // at least an inner Ethernet header.
  if (p.inner_offset > len || p.inner_len > len - p.inner_offset) Fail("inner frame beyond the packet");
  if (p.inner_len < isthmus::kEtherHeaderLen) Fail("inner frame shorter than Ethernet");
  if (p.vni > isthmus::kVxlanMaxVni) Fail("VNI wider than 24 bits");
  volatile uint8_t last = ip[p.inner_offset + p.inner_len - 1];  // ASan checks the read
  (void)last;
  return 0;
}
