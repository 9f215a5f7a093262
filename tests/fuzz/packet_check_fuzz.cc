// libFuzzer target for the receive checks of the IPv4 stage: CheckFrame
// (dataplane/packet/ipv4_check.h), which ForwardFrames runs on every frame a
// data port delivers, then what the stage does to a forwarded packet's bytes:
// DecrementTtl, and ClampTcpMss (dataplane/tunnel/mss_clamp.h) as a tunnel
// with mss_clamp applies it, also to frames the kernel sent on a tunnel's
// host interface (FromTunnelHost checks only the total length).
//
// Input: one configuration byte, then the Ethernet frame.
//   bit 0  repair the IPv4 header and L4 checksums first (reach past them)
//   bit 1  the port's MAC is the frame's destination (else 02:00:00:00:00:01)
//   bits 2-7  MSS clamp value (536 + 16 * n)
//
// Invariants beyond "no crash, no sanitizer report": a forwarded frame has a
// 20-byte header with a right checksum, a total length inside the frame, a
// unicast, non-martian destination reached through our own MAC; DecrementTtl
// keeps the header checksum right; ClampTcpMss keeps a right TCP checksum
// right, changes only the MSS value and the checksum, and never raises the
// MSS. Each step reads a copy of exactly the IPv4 total length, so ASan
// flags any read beyond the datagram.

#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/packet/ipv4_check.h"
#include "dataplane/tunnel/mss_clamp.h"
#include "tests/fuzz/fuzz_checksums.h"

namespace {

using isthmus::fuzz::Fail;

constexpr uint8_t kRepair = 0x01;
constexpr uint8_t kMacIsDestination = 0x02;
constexpr uint16_t kMssBase = 536;  // RFC 9293 3.7.1 default send MSS
constexpr uint16_t kMssStep = 16;

void RepairFrame(uint8_t* frame, uint32_t len) {
  if (len < isthmus::kEtherHeaderLen + isthmus::kIpv4MinHeaderLen) return;
  uint8_t* ip = frame + isthmus::kEtherHeaderLen;
  const uint32_t room = len - isthmus::kEtherHeaderLen;
  const uint32_t ihl = isthmus::fuzz::HeaderLen(ip);
  if (ihl < isthmus::kIpv4MinHeaderLen || ihl > room) return;
  const uint32_t total = isthmus::LoadBe16(ip + 2);
  const bool l4 = total >= ihl && total <= room;
  isthmus::fuzz::RepairChecksums(ip, l4 ? total : ihl, l4);
}

// ClampTcpMss on an exact-size copy: the TCP checksum stays right, only the
// MSS option value and the checksum change, and the MSS only goes down.
void CheckMssClamp(const uint8_t* ip_in, uint32_t ip_len, uint16_t mss) {
  std::vector<uint8_t> ip(ip_in, ip_in + ip_len);
  // Only a real header (IHL 5..15 within the packet) gives a TCP checksum
  // that means something: with IHL 0 the "TCP header" overlaps the
  // pseudo-header's addresses.
  const uint32_t header_len = isthmus::fuzz::HeaderLen(ip.data());
  const bool checksum_ok = header_len >= isthmus::kIpv4MinHeaderLen && header_len <= ip_len &&
                           isthmus::fuzz::L4ChecksumOk(ip.data(), ip_len);
  if (!isthmus::ClampTcpMss(ip.data(), ip_len, mss)) {
    if (std::memcmp(ip.data(), ip_in, ip_len) != 0) Fail("ClampTcpMss changed a packet it says it left alone");
    return;
  }
  if (ip[9] != isthmus::kIpProtoTcp) Fail("ClampTcpMss changed a non-TCP packet");
  uint32_t changed = 0;
  uint32_t first = ip_len;
  for (uint32_t i = 0; i < ip_len; ++i) {
    if (ip[i] == ip_in[i]) continue;
    ++changed;
    if (first == ip_len) first = i;
  }
  const uint32_t checksum_at = header_len + isthmus::fuzz::kTcpChecksumAt;
  // At most the two MSS bytes and the two checksum bytes.
  if (changed > 4) Fail("ClampTcpMss changed more than the MSS and the checksum");
  for (uint32_t i = first; i < ip_len; ++i) {
    if (ip[i] == ip_in[i] || i == checksum_at || i == checksum_at + 1) continue;
    // An MSS byte: the value at i or i-1 (of the option's 2-byte value).
    const bool high = i + 1 < ip_len && isthmus::LoadBe16(&ip[i]) == mss;
    const bool low = i > 0 && isthmus::LoadBe16(&ip[i - 1]) == mss;
    if (!high && !low) Fail("ClampTcpMss wrote a byte that is neither MSS nor checksum");
  }
  if (checksum_ok && !isthmus::fuzz::L4ChecksumOk(ip.data(), ip_len)) Fail("ClampTcpMss broke the TCP checksum");
}

void CheckForwarded(const uint8_t* frame, uint32_t len, const isthmus::MacAddr& mac, const isthmus::FrameVerdict& v,
                    uint16_t mss) {
  if (len < isthmus::kEtherHeaderLen + isthmus::kIpv4MinHeaderLen) Fail("forwarded a runt");
  if (isthmus::LoadBe16(frame + 12) != isthmus::kEtherTypeIpv4) Fail("forwarded a non-IPv4 frame");
  if (std::memcmp(frame, mac.data(), 6) != 0) Fail("forwarded a frame not addressed to the port");
  const uint8_t* ip_in = frame + isthmus::kEtherHeaderLen;
  if (ip_in[0] != 0x45) Fail("forwarded a packet that is not IPv4 without options");
  if (v.ip_len < isthmus::kIpv4MinHeaderLen || v.ip_len > len - isthmus::kEtherHeaderLen) {
    Fail("forwarded total length outside the frame");
  }
  if (v.ip_len != isthmus::LoadBe16(ip_in + 2)) Fail("ip_len is not the total length");
  std::vector<uint8_t> ip(ip_in, ip_in + v.ip_len);
  if (!isthmus::fuzz::Ipv4HeaderChecksumOk(ip.data())) Fail("forwarded a bad header checksum");
  const uint32_t dst = isthmus::LoadBe32(&ip[16]);
  if (isthmus::IsMartianSource(isthmus::LoadBe32(&ip[12])) || isthmus::IsMartianDestination(dst) ||
      isthmus::IsMulticastOrBroadcast(dst)) {
    Fail("forwarded a martian, multicast or broadcast address");
  }
  const bool fragment = (isthmus::LoadBe16(&ip[6]) & (isthmus::kIpFlagMoreFragments | isthmus::kIpFragOffsetMask)) != 0;
  if (fragment != v.fragment) Fail("fragment flag wrong");
  // The stage decrements only a TTL above 1 (the kernel answers the rest).
  if (ip[8] > 1) {
    const uint8_t ttl = ip[8];
    isthmus::DecrementTtl(ip.data());
    if (ip[8] != ttl - 1) Fail("DecrementTtl did not decrement");
    if (!isthmus::fuzz::Ipv4HeaderChecksumOk(ip.data())) Fail("DecrementTtl broke the header checksum");
    if (isthmus::Ipv4HeaderChecksumResidue(ip.data(), isthmus::kIpv4MinHeaderLen) != 0) {
      Fail("Ipv4HeaderChecksumResidue disagrees with RFC 1071 after DecrementTtl");
    }
  }
  CheckMssClamp(ip.data(), v.ip_len, mss);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  const uint8_t config = data[0];
  std::vector<uint8_t> frame(data + 1, data + size);
  const auto len = static_cast<uint32_t>(frame.size());
  if (config & kRepair) RepairFrame(frame.data(), len);
  isthmus::MacAddr mac = {0x02, 0, 0, 0, 0, 0x01};
  if ((config & kMacIsDestination) && len >= 6) std::memcpy(mac.data(), frame.data(), 6);
  const auto mss = static_cast<uint16_t>(kMssBase + kMssStep * (config >> 2));

  // The frame in a buffer of exactly its length: ASan sees any over-read.
  const isthmus::FrameVerdict v = isthmus::CheckFrame(frame.data(), len, mac);
  switch (v.action) {
    case isthmus::Action::kForward:
      CheckForwarded(frame.data(), len, mac, v, mss);
      break;
    case isthmus::Action::kDrop:
      if (v.drop == isthmus::DropReason::kBug) Fail("a drop without a reason");
      break;
    case isthmus::Action::kPunt:
      break;
  }
  // FromTunnelHost: an IPv4 frame whose total length fits goes to the
  // tunnel's encapsulation, which clamps the MSS; nothing else is checked.
  if (len >= isthmus::kEtherHeaderLen + isthmus::kIpv4MinHeaderLen &&
      isthmus::LoadBe16(frame.data() + 12) == isthmus::kEtherTypeIpv4) {
    const uint32_t ip_len = isthmus::LoadBe16(frame.data() + isthmus::kEtherHeaderLen + 2);
    if (ip_len >= isthmus::kIpv4MinHeaderLen && ip_len <= len - isthmus::kEtherHeaderLen) {
      CheckMssClamp(frame.data() + isthmus::kEtherHeaderLen, ip_len, mss);
    }
  }
  return 0;
}
