#pragma once
// Connection state of a translated flow and the idle timeout that follows
// from it. TCP is tracked from the flags only (no sequence-number window,
// like VPP's NAT and unlike Linux conntrack): the state only chooses how
// long an idle flow is kept, it never decides whether a packet passes, so a
// forged RST can at worst shorten one flow's idle timeout.
//
//   kNew --SYN(orig)--> kSynSent --SYN+ACK(reply)--> kSynReceived --ACK(orig)--> kEstablished
//   kNew --any other non-RST segment--> kEstablished   (flow picked up mid-stream,
//                                                       e.g. after an ECMP change)
//   kEstablished --FIN(orig)--> kFinOriginal --FIN(reply)--> kClosing (time-wait)
//   kEstablished --FIN(reply)--> kFinReply  --FIN(orig)-->  kClosing
//   any --RST--> kReset;  kClosing / kReset --SYN(orig)--> kSynSent (port reuse)

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/nat/flow_key.h"
#include "dataplane/tunnel/mss_clamp.h"   // kIpProtoTcp, kTcpFlagSyn

namespace isthmus {

// TCP header flags (RFC 9293 3.1); SYN comes with the MSS clamp.
inline constexpr uint8_t kTcpFlagFin = 0x01;
inline constexpr uint8_t kTcpFlagRst = 0x04;
inline constexpr uint8_t kTcpFlagAck = 0x10;

enum class TcpState : uint8_t {
  kNew,            // created, no TCP segment accounted yet (also every non-TCP flow)
  kSynSent,        // client SYN seen
  kSynReceived,    // backend SYN+ACK seen
  kEstablished,    // handshake completed, or picked up mid-stream
  kFinOriginal,    // FIN from the client side seen
  kFinReply,       // FIN from the backend side seen
  kClosing,        // FIN seen both ways: time-wait
  kReset,          // RST seen either way: closed
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(TcpState::kCount)> kTcpStateNames = {
    "new", "syn_sent", "syn_received", "established", "fin_original", "fin_reply", "closing", "reset"};

inline constexpr std::string_view Name(TcpState s) { return kTcpStateNames[static_cast<size_t>(s)]; }

// A flow opened by a client SYN whose handshake has not completed: SYN
// seen, and perhaps the backend's SYN+ACK, but not the client's ACK of it.
// A SYN flood from spoofed sources leaves only such flows behind (the
// spoofed clients never answer), which is why they have their own short
// timeout and their own limits (FlowTable::AdmitEmbryonic).
constexpr bool IsEmbryonic(TcpState s) { return s == TcpState::kSynSent || s == TcpState::kSynReceived; }

// Idle timeouts in seconds. Defaults follow VPP's NAT (tcp established
// 2 h 4 min, transitory 4 min, udp 5 min) and Linux conntrack's short
// close/reset timers; icmp as asked by the service design (30 s).
// Embryonic flows: 10 s, between DPVS (SYN_SENT 3 s, SYN_RECV 30 s) and
// conntrack (60 s / 120 s). A real handshake takes one round trip, and a
// client whose SYN goes unanswered retransmits it (Linux: after 1, 3, 7,
// 15 s ...), which refreshes the flow or, past the timeout, opens it again
// on the same backend (Maglev); only spoofed SYNs are let go this soon.
struct NatTimeouts {
  uint32_t tcp_established = 7440;
  uint32_t tcp_transitory = 240;  // half-closed states (and kNew)
  uint32_t tcp_embryonic = 10;    // IsEmbryonic states
  uint32_t tcp_closing = 30;      // FIN both ways (time-wait)
  uint32_t tcp_reset = 10;        // after a RST
  uint32_t udp = 300;
  uint32_t icmp = 30;
  uint32_t other = 300;           // any other protocol the caller translates
};

// The state after one segment with `flags` travelling in `dir`.
constexpr TcpState NextTcpState(TcpState s, uint8_t flags, FlowDirection dir) {
  const bool original = dir == FlowDirection::kOriginal;
  if (flags & kTcpFlagRst) return TcpState::kReset;
  const bool syn = (flags & kTcpFlagSyn) != 0;
  const bool ack = (flags & kTcpFlagAck) != 0;
  switch (s) {
    case TcpState::kNew:
      if (syn && !ack) return original ? TcpState::kSynSent : TcpState::kNew;
      return TcpState::kEstablished;
    case TcpState::kSynSent:
      return (syn && ack && !original) ? TcpState::kSynReceived : s;
    case TcpState::kSynReceived:
      if (flags & kTcpFlagFin) return original ? TcpState::kFinOriginal : TcpState::kFinReply;
      return (!syn && ack && original) ? TcpState::kEstablished : s;
    case TcpState::kEstablished:
      if (flags & kTcpFlagFin) return original ? TcpState::kFinOriginal : TcpState::kFinReply;
      return s;
    case TcpState::kFinOriginal:
      return ((flags & kTcpFlagFin) && !original) ? TcpState::kClosing : s;
    case TcpState::kFinReply:
      return ((flags & kTcpFlagFin) && original) ? TcpState::kClosing : s;
    case TcpState::kClosing:
    case TcpState::kReset:
      return (syn && !ack && original) ? TcpState::kSynSent : s;
    case TcpState::kCount:
      break;
  }
  return s;
}

constexpr uint32_t IdleTimeout(const NatTimeouts& t, uint8_t proto, TcpState s) {
  if (proto == kIpProtoUdp) return t.udp;
  if (proto == kIpProtoIcmp) return t.icmp;
  if (proto != kIpProtoTcp) return t.other;
  switch (s) {
    case TcpState::kEstablished:
      return t.tcp_established;
    case TcpState::kClosing:
      return t.tcp_closing;
    case TcpState::kReset:
      return t.tcp_reset;
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      return t.tcp_embryonic;
    default:
      return t.tcp_transitory;
  }
}

}  // namespace isthmus
