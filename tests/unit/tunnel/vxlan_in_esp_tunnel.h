#pragma once
// Both ends of one ipsec tunnel carrying VXLAN (VNI kTestVni), shared by the
// byte-level and the SA-level VXLAN-in-ESP tests.

#include <utility>

#include "dataplane/tunnel/tunnel.h"
#include "dataplane/tunnel/vxlan.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus::testing {

inline constexpr uint32_t kTestVni = 5001;

// Our end: 192.0.2.1 -> 192.0.2.2.
inline TunnelEntry OurVxlanInEspEnd() {
  TunnelEntry t;
  t.id = 2;
  t.kind = TunnelKind::kIpsec;
  t.local = Ip("192.0.2.1");
  t.remote = Ip("192.0.2.2");
  t.vni = kTestVni;
  t.dst_port = kVxlanDefaultPort;
  t.inner_mac = DerivedInnerMac(t.local);
  t.remote_inner_mac = DerivedInnerMac(t.remote);
  return t;
}

// The peer's end of the same tunnel.
inline TunnelEntry PeerVxlanInEspEnd() {
  TunnelEntry t = OurVxlanInEspEnd();
  std::swap(t.local, t.remote);
  std::swap(t.inner_mac, t.remote_inner_mac);
  return t;
}

}  // namespace isthmus::testing
