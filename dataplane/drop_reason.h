#pragma once
// Every packet the data plane does not forward leaves through one of these
// exits: a drop (counted as isthmus_dataplane_drops_total{reason}) or a punt
// to the kernel (isthmus_dataplane_punts_total{reason}). Names are the label
// values; help text is exported in docs and `isthmusctl show drops`.

#include <array>
#include <cstdint>
#include <string_view>

namespace isthmus {

#define ISTHMUS_DROP_REASONS(X)                                                       \
  X(kRunt, "runt", "frame shorter than Ethernet + minimal IPv4 header")              \
  X(kNotIpv4, "not_ipv4", "ethertype is not IPv4 and not ARP (IPv6, VLAN, other)")   \
  X(kNotForUs, "l2_not_for_us", "destination MAC is neither the port's nor broadcast/multicast") \
  X(kL2BroadcastUnicastIp, "l2_broadcast_unicast_ip",                                \
    "unicast IPv4 in a link-layer broadcast frame (RFC 1812 5.3.4)")                  \
  X(kBadVersion, "bad_version", "IP version field is not 4")                         \
  X(kBadIhl, "bad_ihl", "IHL below 5 words (RFC 1812 5.2.2)")                        \
  X(kBadTotalLength, "bad_total_length",                                             \
    "IPv4 total length below the header length or beyond the frame (RFC 1812 5.2.2)") \
  X(kBadChecksum, "bad_checksum", "IPv4 header checksum mismatch (RFC 1812 5.2.2)")  \
  X(kMartianSource, "martian_source",                                                \
    "source in 0/8, 127/8, 224/4, 240/4 or broadcast (RFC 1812 5.3.7)")               \
  X(kMartianDestination, "martian_destination",                                      \
    "destination in 0/8 or 127/8 (RFC 1812 5.3.7)")                                  \
  X(kNoRoute, "no_route", "no FIB entry covers the destination")                     \
  X(kBlackhole, "blackhole", "the route is a configured blackhole")                  \
  X(kNeighborMissing, "neighbor_missing",                                            \
    "next hop MAC not yet known (resolution requested from the kernel)")             \
  X(kNeighborRequestFull, "neighbor_request_full",                                   \
    "next hop MAC unknown and the resolution queue was full")                        \
  X(kMtuExceeded, "mtu_exceeded", "packet larger than the egress MTU with DF set")   \
  X(kTxFull, "tx_full", "egress queue full, packet not sent")                        \
  X(kPuntUnavailable, "punt_unavailable", "no exception interface to hand the packet to") \
  X(kPuntLimitedLocal, "punt_limited_local",                                       \
    "over the punt rate of class local (dataplane.punt_class_rate_pps)")             \
  X(kPuntLimitedTtlExpired, "punt_limited_ttl_expired",                             \
    "over the punt rate of class ttl_expired (dataplane.punt_class_rate_pps)")       \
  X(kPuntLimitedIpOptions, "punt_limited_ip_options",                               \
    "over the punt rate of class ip_options (dataplane.punt_class_rate_pps)")        \
  X(kPuntLimitedMulticastBroadcast, "punt_limited_multicast_broadcast",             \
    "over the punt rate of class multicast_broadcast (dataplane.punt_class_rate_pps)") \
  X(kPuntLimitedArp, "punt_limited_arp",                                            \
    "over the punt rate of class arp (dataplane.punt_class_rate_pps)")               \
  X(kPuntLimitedFragNeeded, "punt_limited_frag_needed",                             \
    "over the punt rate of class frag_needed (dataplane.punt_class_rate_pps)")       \
  X(kPuntLimitedControl, "punt_limited_control",                                    \
    "over the punt rate of class control: traffic from a BGP peer (dataplane.punt_class_rate_pps)") \
  X(kPuntLimitedIcmp, "punt_limited_icmp",                                          \
    "over the punt rate of class icmp (dataplane.punt_class_rate_pps)")              \
  X(kPuntLimitedNonIpv4, "punt_limited_non_ipv4",                                   \
    "over the punt rate of class non_ipv4, XDP only (dataplane.punt_class_rate_pps)") \
  X(kFromKernelUnroutable, "from_kernel_unroutable",                                 \
    "packet from the exception interface that has no port to leave by")              \
  X(kKernelHasCopy, "kernel_has_copy",                                              \
    "af_packet: the kernel received its own copy of this local or ARP frame")        \
  X(kVxlanMalformed, "vxlan_malformed",                                             \
    "VXLAN packet too short, UDP length inconsistent or I flag clear (RFC 7348 5)")  \
  X(kVxlanUnknownVni, "vxlan_unknown_vni",                                           \
    "VXLAN to our endpoint with a VNI no tunnel there uses")                         \
  X(kTunnelWrongSource, "tunnel_wrong_source",                                       \
    "tunnel packet whose outer source is not the tunnel's remote endpoint")          \
  X(kTunnelOuterFragment, "tunnel_outer_fragment",                                   \
    "fragmented outer tunnel packet (tunnels do not reassemble)")                    \
  X(kTunnelInnerNotIpv4, "tunnel_inner_not_ipv4",                                    \
    "decapsulated frame is not IPv4 (tunnels are point-to-point IPv4 links)")        \
  X(kTunnelNested, "tunnel_nested",                                                  \
    "decapsulated packet is tunnel traffic to us again (no nested decapsulation)")   \
  X(kTunnelRecursion, "tunnel_recursion",                                            \
    "the underlay route to a tunnel's remote points into a tunnel")                  \
  X(kTunnelNoUnderlayRoute, "tunnel_no_underlay_route",                              \
    "no usable underlay route to the tunnel's remote (missing, local or blackhole)") \
  X(kTunnelDown, "tunnel_down", "the route names a tunnel that is not installed")    \
  X(kTunnelHostNotIpv4, "tunnel_host_not_ipv4",                                      \
    "the kernel sent a non-IPv4 frame on a tunnel's host interface")                 \
  X(kTunnelNoHeadroom, "tunnel_no_headroom",                                         \
    "no room in the buffer for the outer headers")                                   \
  X(kEspReplayed, "esp_replayed",                                                    \
    "ESP sequence number already received inside the anti-replay window (RFC 4303 3.4.3)") \
  X(kEspOutsideWindow, "esp_outside_window",                                        \
    "ESP sequence number older than the anti-replay window (RFC 4303 3.4.3)")        \
  X(kEspAuthFailed, "esp_auth_failed",                                              \
    "ESP ICV did not verify: tampered packet or wrong key (RFC 4303 3.4.4)")         \
  X(kEspWrongSpi, "esp_wrong_spi", "ESP SPI matches no inbound SA of a tunnel at that address (RFC 4303 3.4.2)") \
  X(kEspWrongSource, "esp_wrong_source", "ESP outer source is not the tunnel's remote endpoint") \
  X(kEspWrongDestination, "esp_wrong_destination",                                  \
    "ESP outer destination is not the SA's local endpoint")                          \
  X(kEspMalformed, "esp_malformed",                                                 \
    "ESP packet truncated, inconsistent lengths, bad padding or next header not IPv4") \
  X(kEspExpired, "esp_sa_expired", "ESP SA hard lifetime reached (RFC 4301 4.4.2.1): rekey needed") \
  X(kEspSeqExhausted, "esp_seq_exhausted",                                          \
    "outbound ESP sequence numbers used up (RFC 4303 3.3.3): rekey needed")           \
  X(kEspSeqUnreserved, "esp_seq_unreserved",                                        \
    "outbound ESP sequence number not yet durably reserved: the ESP state file could not be written") \
  X(kEspNoRoom, "esp_no_room", "buffer lacks headroom or tailroom for the ESP encapsulation") \
  X(kEspCryptoError, "esp_crypto_error", "the crypto device failed the ESP operation") \
  X(kEspInnerNotVxlan, "esp_inner_not_vxlan",                                      \
    "decrypted packet of a VXLAN-in-ESP tunnel is not UDP to its VXLAN port at our endpoint") \
  X(kEspVxlanWrongVni, "esp_vxlan_wrong_vni",                                      \
    "VXLAN inside ESP carries a VNI other than the tunnel's")                        \
  X(kEspHandoffFull, "esp_handoff_full",                                            \
    "the ring to the worker that owns the tunnel's SAs was full")                    \
  X(kNatTableFull, "nat_table_full",                                                \
    "new flow to a service VIP but every flow entry is in use (raise the configured capacity)") \
  X(kNatIndexFull, "nat_index_full",                                                \
    "new flow whose hash neighbourhood in the flow index is full (keys clustered; raise capacity)") \
  X(kNatReplyConflict, "nat_reply_conflict",                                        \
    "new flow whose reply 5-tuple is already another flow's (same client port to one backend via two VIPs)") \
  X(kNatSnatPortsExhausted, "nat_snat_ports_exhausted",                             \
    "no free source port on any SNAT address for the protocol")                      \
  X(kNatFragment, "nat_fragment", "fragment of a service flow (NAT does not reassemble; ports unknown)") \
  X(kNatUnsupported, "nat_unsupported",                                             \
    "packet to a service VIP that NAT cannot translate (not TCP/UDP/ICMP echo, truncated L4 header)") \
  X(kNatNoService, "nat_no_service",                                                \
    "packet to a VIP on a protocol or port no service listens on")                   \
  X(kNatNoBackend, "nat_no_backend", "new flow to a service none of whose backends is healthy") \
  X(kNatBackendDown, "nat_backend_down",                                            \
    "packet of a flow whose backend went down, service policy reset (TCP: a RST goes back to the client)") \
  X(kNatEmbryonicFull, "nat_embryonic_full",                                        \
    "SYN for a new flow while half-open flows are at nat.admission's table or per-service limit (SYN flood?)") \
  X(kNatAdmissionLimited, "nat_admission_limited",                                  \
    "SYN for a new flow beyond the worker's nat.admission.syn_rate_per_worker for this second") \
  X(kBug, "bug", "internal invariant violated (a bug: please report)")

enum class DropReason : uint8_t {
#define ISTHMUS_X(id, name, help) id,
  ISTHMUS_DROP_REASONS(ISTHMUS_X)
#undef ISTHMUS_X
  kCount
};

#define ISTHMUS_PUNT_REASONS(X)                                                       \
  X(kLocal, "local", "addressed to the appliance itself")                            \
  X(kTtlExpired, "ttl_expired", "TTL would reach 0: kernel sends ICMP time exceeded") \
  X(kIpOptions, "ip_options", "IPv4 options: the kernel's slow path forwards them")  \
  X(kMulticastBroadcast, "multicast_broadcast", "multicast or limited broadcast destination") \
  X(kArp, "arp", "ARP (the kernel owns neighbour resolution)")                       \
  X(kFragNeeded, "frag_needed", "larger than the egress MTU: the kernel fragments or sends ICMP") \
  X(kControl, "control", "addressed to the appliance from a configured BGP peer (its own rate budget)") \
  X(kIcmp, "icmp", "ICMP addressed to the appliance, not from a BGP peer")           \
  X(kNonIpv4, "non_ipv4", "non-IPv4 frames the XDP program leaves to the kernel (IPv6, LLDP)")

enum class PuntReason : uint8_t {
#define ISTHMUS_X(id, name, help) id,
  ISTHMUS_PUNT_REASONS(ISTHMUS_X)
#undef ISTHMUS_X
  kCount
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
inline constexpr size_t kPuntReasonCount = static_cast<size_t>(PuntReason::kCount);

struct ReasonInfo {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<ReasonInfo, kDropReasonCount> kDropReasonInfo = {{
#define ISTHMUS_X(id, name, help) {name, help},
    ISTHMUS_DROP_REASONS(ISTHMUS_X)
#undef ISTHMUS_X
}};

inline constexpr std::array<ReasonInfo, kPuntReasonCount> kPuntReasonInfo = {{
#define ISTHMUS_X(id, name, help) {name, help},
    ISTHMUS_PUNT_REASONS(ISTHMUS_X)
#undef ISTHMUS_X
}};

constexpr std::string_view Name(DropReason r) { return kDropReasonInfo[static_cast<size_t>(r)].name; }
constexpr std::string_view Name(PuntReason r) { return kPuntReasonInfo[static_cast<size_t>(r)].name; }

// The punt_limited_* drop reasons follow the punt reasons one for one, so a
// punt class's rate-limit drop is found by offset.
constexpr DropReason PuntLimitedDrop(PuntReason r) {
  return static_cast<DropReason>(static_cast<size_t>(DropReason::kPuntLimitedLocal) + static_cast<size_t>(r));
}

constexpr bool PuntLimitedDropsMatchPuntReasons() {
  constexpr std::string_view kPrefix = "punt_limited_";
  for (size_t i = 0; i < kPuntReasonCount; ++i) {
    const std::string_view drop = Name(PuntLimitedDrop(static_cast<PuntReason>(i)));
    if (drop.substr(0, kPrefix.size()) != kPrefix || drop.substr(kPrefix.size()) != kPuntReasonInfo[i].name) {
      return false;
    }
  }
  return true;
}
static_assert(PuntLimitedDropsMatchPuntReasons(), "punt_limited_* drop reasons must follow ISTHMUS_PUNT_REASONS");

}  // namespace isthmus
