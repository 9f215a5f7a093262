#pragma once
// Builds Ethernet/IPv4/{TCP,UDP,ICMP} frames for tests and benchmarks, with
// every checksum computed (no bytes copied from captures). Fluent setters,
// then Build(); a test that wants a broken packet breaks it afterwards.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace isthmus::testing {

using Bytes = std::vector<uint8_t>;

inline uint32_t Ip(const char* dotted) {
  unsigned a, b, c, d;
  std::sscanf(dotted, "%u.%u.%u.%u", &a, &b, &c, &d);
  return a << 24 | b << 16 | c << 8 | d;
}

// RFC 1071 checksum over `len` bytes starting with `initial` partial sum.
inline uint16_t InternetChecksum(const uint8_t* p, size_t len, uint32_t initial = 0) {
  uint32_t sum = initial;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

class PacketBuilder {
 public:
  PacketBuilder& DstMac(std::array<uint8_t, 6> m) { dst_mac_ = m; return *this; }
  PacketBuilder& SrcMac(std::array<uint8_t, 6> m) { src_mac_ = m; return *this; }
  PacketBuilder& EtherType(uint16_t t) { ether_type_ = t; return *this; }
  PacketBuilder& Src(uint32_t a) { src_ = a; return *this; }
  PacketBuilder& Dst(uint32_t a) { dst_ = a; return *this; }
  PacketBuilder& Src(const char* a) { return Src(Ip(a)); }
  PacketBuilder& Dst(const char* a) { return Dst(Ip(a)); }
  PacketBuilder& Ttl(uint8_t t) { ttl_ = t; return *this; }
  PacketBuilder& Tos(uint8_t t) { tos_ = t; return *this; }
  PacketBuilder& Id(uint16_t id) { id_ = id; return *this; }
  PacketBuilder& FragmentField(uint16_t flags_and_offset) { frag_ = flags_and_offset; return *this; }
  PacketBuilder& Options(Bytes opts) { options_ = std::move(opts); return *this; }  // padded to 4 bytes
  PacketBuilder& Udp(uint16_t sport, uint16_t dport) { proto_ = 17; sport_ = sport; dport_ = dport; return *this; }
  PacketBuilder& Tcp(uint16_t sport, uint16_t dport, uint8_t flags = 0x02) {
    proto_ = 6; sport_ = sport; dport_ = dport; tcp_flags_ = flags; return *this;
  }
  PacketBuilder& IcmpEcho(uint16_t id = 1, uint16_t seq = 1) { return Icmp(8, 0, uint32_t{id} << 16 | seq); }
  // Any ICMP message: type, code, the 4 bytes after the checksum (echo:
  // id and sequence; frag-needed: next-hop MTU in the low half), then the
  // payload (an error's quoted packet).
  PacketBuilder& Icmp(uint8_t type, uint8_t code, uint32_t rest) {
    proto_ = 1; icmp_type_ = type; icmp_code_ = code;
    sport_ = static_cast<uint16_t>(rest >> 16); dport_ = static_cast<uint16_t>(rest);
    return *this;
  }
  PacketBuilder& Payload(size_t n) { payload_.assign(n, 0xab); return *this; }
  PacketBuilder& Payload(Bytes b) { payload_ = std::move(b); return *this; }
  // Pads the frame with zeros to at least `n` bytes (Ethernet minimum 60).
  PacketBuilder& PadTo(size_t n) { pad_to_ = n; return *this; }

  Bytes Build() const {
    Bytes l4 = BuildL4();
    Bytes opts = options_;
    while (opts.size() % 4) opts.push_back(0);
    const size_t ihl = 20 + opts.size();
    Bytes f(14 + ihl);
    std::memcpy(f.data(), dst_mac_.data(), 6);
    std::memcpy(f.data() + 6, src_mac_.data(), 6);
    Put16(f.data() + 12, ether_type_);
    uint8_t* ip = f.data() + 14;
    ip[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
    ip[1] = tos_;
    Put16(ip + 2, static_cast<uint16_t>(ihl + l4.size()));
    Put16(ip + 4, id_);
    Put16(ip + 6, frag_);
    ip[8] = ttl_;
    ip[9] = proto_;
    Put32(ip + 12, src_);
    Put32(ip + 16, dst_);
    if (!opts.empty()) std::memcpy(ip + 20, opts.data(), opts.size());   // data() may be null
    Put16(ip + 10, InternetChecksum(ip, ihl));
    f.insert(f.end(), l4.begin(), l4.end());
    if (f.size() < pad_to_) f.resize(pad_to_, 0);
    return f;
  }

  static void Put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
  static void Put32(uint8_t* p, uint32_t v) { Put16(p, static_cast<uint16_t>(v >> 16)); Put16(p + 2, static_cast<uint16_t>(v)); }

 private:
  uint32_t PseudoHeaderSum(size_t l4_len) const {
    return (src_ >> 16) + (src_ & 0xffff) + (dst_ >> 16) + (dst_ & 0xffff) + proto_ + static_cast<uint32_t>(l4_len);
  }
  Bytes BuildL4() const {
    Bytes l4;
    if (proto_ == 17) {
      l4.resize(8);
      Put16(l4.data(), sport_);
      Put16(l4.data() + 2, dport_);
      Put16(l4.data() + 4, static_cast<uint16_t>(8 + payload_.size()));
      l4.insert(l4.end(), payload_.begin(), payload_.end());
      uint16_t c = InternetChecksum(l4.data(), l4.size(), PseudoHeaderSum(l4.size()));
      Put16(l4.data() + 6, c == 0 ? 0xffff : c);
    } else if (proto_ == 6) {
      l4.resize(20);
      Put16(l4.data(), sport_);
      Put16(l4.data() + 2, dport_);
      l4[12] = 5 << 4;
      l4[13] = tcp_flags_;
      Put16(l4.data() + 14, 65535);
      l4.insert(l4.end(), payload_.begin(), payload_.end());
      Put16(l4.data() + 16, InternetChecksum(l4.data(), l4.size(), PseudoHeaderSum(l4.size())));
    } else if (proto_ == 1) {
      l4.resize(8);
      l4[0] = icmp_type_;
      l4[1] = icmp_code_;
      Put16(l4.data() + 4, sport_);
      Put16(l4.data() + 6, dport_);
      l4.insert(l4.end(), payload_.begin(), payload_.end());
      Put16(l4.data() + 2, InternetChecksum(l4.data(), l4.size()));
    } else {
      l4 = payload_;
    }
    return l4;
  }

  std::array<uint8_t, 6> dst_mac_{0x02, 0, 0, 0, 0, 0x01};
  std::array<uint8_t, 6> src_mac_{0x02, 0, 0, 0, 0, 0x02};
  uint16_t ether_type_ = 0x0800;
  uint32_t src_ = Ip("198.18.1.2"), dst_ = Ip("198.51.100.10");
  uint8_t ttl_ = 64, tos_ = 0, proto_ = 17, tcp_flags_ = 0x02, icmp_type_ = 8, icmp_code_ = 0;
  uint16_t id_ = 1, frag_ = 0x4000, sport_ = 1024, dport_ = 80;
  Bytes options_, payload_;
  size_t pad_to_ = 0;
};

}  // namespace isthmus::testing
