// libFuzzer target for the NAT stage's packet code (dataplane/nat/
// nat_rewrite.h): ParseNatPacket (flow key extraction, ICMP errors with
// their quoted inner headers), TranslatePacket (DNAT/SNAT and reverse,
// RFC 5508 ICMP error translation) and the undo the stage applies before
// punting a translated packet (RewriteFlowPacket back to the original key,
// as UndoTranslation does). TranslateBurst calls exactly these on packets
// that passed CheckFrame, which this target checks first too.
//
// Input: one configuration byte, a 12-byte key (src, dst, sport, dport) for
// the flow's other direction, then the IPv4 packet (no Ethernet header).
//   bit 0  repair the IPv4 header and L4 checksums first
//   bit 1  the packet belongs to the flow's reply direction (else original)
//
// Invariants: checksums that were right stay right (outer header, TCP/UDP
// with pseudo-header, ICMP; an ICMP error's quoted header), verified by a
// full RFC 1071 computation; the translated packet parses again to the
// tuple it was given (TranslatedKey); undoing a flow translation restores
// every byte but the checksum fields; nothing is read or written beyond the
// IPv4 total length (ASan: exact-size copies).

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/nat/flow_table.h"
#include "dataplane/nat/nat_rewrite.h"
#include "dataplane/packet/ipv4_check.h"
#include "tests/fuzz/fuzz_checksums.h"

namespace {

using isthmus::FlowDirection;
using isthmus::FlowKey;
using isthmus::NatPacket;
using isthmus::NatPacketKind;
using isthmus::fuzz::Fail;

constexpr uint8_t kRepair = 0x01;
constexpr uint8_t kReplyDirection = 0x02;
constexpr size_t kKeyBytes = 12;
const isthmus::MacAddr kPortMac = {0x02, 0, 0, 0, 0, 0x01};

struct Checksums {
  bool header = false;
  bool l4 = false;
  bool inner_header = false;  // kIcmpError: the quoted IPv4 header
};

Checksums Verify(const uint8_t* ip, uint32_t ip_len, const NatPacket& p) {
  Checksums c;
  c.header = isthmus::fuzz::Ipv4HeaderChecksumOk(ip);
  c.l4 = isthmus::fuzz::L4ChecksumOk(ip, ip_len);
  if (p.kind == NatPacketKind::kIcmpError) c.inner_header = isthmus::fuzz::Ipv4HeaderChecksumOk(ip + p.inner_offset);
  return c;
}

void CheckStillRight(const Checksums& before, const Checksums& after, const char* step) {
  if ((before.header && !after.header) || (before.l4 && !after.l4) || (before.inner_header && !after.inner_header)) {
    std::fprintf(stderr, "%s: header %d->%d, l4 %d->%d, quoted header %d->%d\n", step, before.header, after.header,
                 before.l4, after.l4, before.inner_header, after.inner_header);
    Fail("NAT broke a checksum that was right");
  }
}

bool IsPortProto(uint8_t proto) { return proto == isthmus::fuzz::kProtoTcp || proto == isthmus::fuzz::kProtoUdp; }

// The translated packet parses to the tuple it was given. ICMP echo carries
// one identifier: only the side the packet's type uses is compared.
void CheckReparse(const uint8_t* ip, uint32_t ip_len, const NatPacket& p, const FlowKey& out) {
  const NatPacket again = isthmus::ParseNatPacket(ip, ip_len);
  if (again.kind != p.kind) Fail("translated packet parses as another kind");
  if (again.key.src != out.src || again.key.dst != out.dst || again.key.proto != out.proto) {
    Fail("translated packet does not carry the translated addresses");
  }
  if (IsPortProto(out.proto) && (again.key.sport != out.sport || again.key.dport != out.dport)) {
    Fail("translated packet does not carry the translated ports");
  }
}

// Every byte but the checksum fields is back as it was.
void CheckUndone(const std::vector<uint8_t>& original, const std::vector<uint8_t>& undone, const NatPacket& p) {
  const uint32_t l4_checksum = p.l4_offset + isthmus::fuzz::L4ChecksumOffset(original[9], static_cast<uint32_t>(
                                                                                 original.size() - p.l4_offset));
  for (size_t i = 0; i < original.size(); ++i) {
    if (original[i] == undone[i]) continue;
    if (i == isthmus::kIpChecksumOffset || i == isthmus::kIpChecksumOffset + 1 || i == l4_checksum ||
        i == l4_checksum + 1) {
      continue;
    }
    std::fprintf(stderr, "byte %zu: %02x -> %02x\n", i, original[i], undone[i]);
    Fail("undoing the translation did not restore the packet");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + kKeyBytes + isthmus::kIpv4MinHeaderLen || size > 65535) return 0;
  const uint8_t config = data[0];
  const uint8_t* key = data + 1;
  // The stage sees only what CheckFrame forwards: build the frame around it.
  std::vector<uint8_t> frame(isthmus::kEtherHeaderLen);
  std::memcpy(frame.data(), kPortMac.data(), 6);
  isthmus::StoreBe16(frame.data() + 12, isthmus::kEtherTypeIpv4);
  frame.insert(frame.end(), data + 1 + kKeyBytes, data + size);
  uint8_t* ip_in = frame.data() + isthmus::kEtherHeaderLen;
  const auto room = static_cast<uint32_t>(frame.size() - isthmus::kEtherHeaderLen);
  if (config & kRepair) {
    const uint32_t ihl = isthmus::fuzz::HeaderLen(ip_in);
    const uint32_t total = isthmus::LoadBe16(ip_in + 2);
    if (ihl >= isthmus::kIpv4MinHeaderLen && total >= ihl && total <= room) {
      isthmus::fuzz::RepairChecksums(ip_in, total, true);
    }
  }
  const isthmus::FrameVerdict v =
      isthmus::CheckFrame(frame.data(), static_cast<uint32_t>(frame.size()), kPortMac);
  if (v.action != isthmus::Action::kForward) return 0;
  const uint32_t ip_len = v.ip_len;
  std::vector<uint8_t> ip(ip_in, ip_in + ip_len);  // exact size: ASan sees over-reads

  const NatPacket p = isthmus::ParseNatPacket(ip.data(), ip_len);
  if (p.kind == NatPacketKind::kFragment && !v.fragment) Fail("a whole datagram parsed as a fragment");
  if (p.kind != NatPacketKind::kFlow && p.kind != NatPacketKind::kIcmpError) return 0;
  if (p.kind == NatPacketKind::kFlow && p.key.proto != ip[9]) Fail("flow key protocol is not the packet's");
  if (p.kind == NatPacketKind::kIcmpError &&
      (p.inner_l4_offset + isthmus::kIcmpQuotedL4Len > ip_len || p.inner_l4_len != ip_len - p.inner_l4_offset)) {
    Fail("quoted L4 header beyond the packet");
  }

  // A flow the packet belongs to, direction d; the other direction's key
  // comes from the input (same protocol, as every flow has).
  const FlowDirection d = (config & kReplyDirection) ? FlowDirection::kReply : FlowDirection::kOriginal;
  isthmus::Flow flow;
  flow.key[static_cast<size_t>(d)] = p.key;
  flow.key[static_cast<size_t>(isthmus::Opposite(d))] =
      isthmus::MakeFlowKey(isthmus::LoadBe32(key), isthmus::LoadBe32(key + 4), isthmus::LoadBe16(key + 8),
                           isthmus::LoadBe16(key + 10), p.key.proto);
  const FlowKey out = isthmus::TranslatedKey(flow, d);

  const std::vector<uint8_t> original = ip;
  const Checksums before = Verify(ip.data(), ip_len, p);
  isthmus::TranslatePacket(ip.data(), p, flow, d);
  CheckStillRight(before, Verify(ip.data(), ip_len, p), "translate");
  CheckReparse(ip.data(), ip_len, p, out);

  if (p.kind == NatPacketKind::kFlow) {
    // UndoTranslation (nat_stage.h) before a punt: back to the packet's key.
    NatPacket undo;
    undo.kind = NatPacketKind::kFlow;
    undo.l4_offset = p.l4_offset;
    isthmus::RewriteFlowPacket(ip.data(), undo, p.key);
    CheckStillRight(before, Verify(ip.data(), ip_len, p), "undo");
    CheckUndone(original, ip, p);
  }
  return 0;
}
