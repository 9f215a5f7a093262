#pragma once
// Addresses and flows shared by the NAT tests: a client, a VIP, a backend
// and a SNAT address from the documentation ranges.

#include <cstdint>

#include "dataplane/nat/flow_key.h"
#include "dataplane/nat/flow_table.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus::testing {

inline const uint32_t kClient = Ip("198.18.1.2");
inline const uint32_t kVip = Ip("203.0.113.10");
inline const uint32_t kBackend = Ip("198.51.100.20");
inline const uint32_t kSnat = Ip("192.0.2.1");
inline constexpr uint16_t kClientPort = 40000;
inline constexpr uint16_t kVipPort = 80;
inline constexpr uint16_t kBackendPort = 8080;
inline constexpr uint16_t kSnatPort = 1024;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kIcmp = 1;

// DNAT (and with `snat`, SNAT) of client:cport -> VIP:vport to the backend.
// ICMP echo flows use the identifier as the client "port" and 0 for the
// VIP's and backend's.
inline FlowSpec MakeSpec(uint8_t proto, bool snat, uint32_t client = kClient, uint16_t cport = kClientPort) {
  const bool icmp = proto == kIcmp;
  const uint16_t vport = icmp ? 0 : kVipPort;
  const uint16_t bport = icmp ? 0 : kBackendPort;
  FlowSpec s;
  s.original = MakeFlowKey(client, kVip, cport, vport, proto);
  s.reply = snat ? MakeFlowKey(kBackend, kSnat, bport, kSnatPort, proto) : MakeFlowKey(kBackend, client, bport, cport, proto);
  s.snat = snat;
  s.service_id = 3;
  s.backend_id = 7;
  return s;
}

inline void FillFlow(const FlowSpec& s, Flow* f) {
  f->key[0] = s.original;
  f->key[1] = s.reply;
  f->flags = s.snat ? kFlowSnat : 0;
}

}  // namespace isthmus::testing
