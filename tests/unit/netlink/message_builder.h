#pragma once
// Builds kernel-shaped rtnetlink messages byte by byte for decoder tests,
// independent of the production request encoder.

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "control/config/config.h"

namespace isthmus::testing {

inline Ipv4Addr MakeIpv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Ipv4Addr{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
}

class MessageBuilder {
 public:
  explicit MessageBuilder(uint16_t type, uint16_t flags = 0)
      : nlh_(mnl_nlmsg_put_header(buffer_.data())) {
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = flags;
  }
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;

  template <typename Header>
  Header* AddHeader() {
    return static_cast<Header*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(Header)));
  }
  void Put(uint16_t type, const void* data, size_t len) { mnl_attr_put(nlh_, type, len, data); }
  void Put(uint16_t type, const std::vector<uint8_t>& bytes) {
    Put(type, bytes.data(), bytes.size());
  }
  void PutIpv4(uint16_t type, Ipv4Addr a) { mnl_attr_put_u32(nlh_, type, htonl(a.value)); }
  void PutString(uint16_t type, const std::string& s) { mnl_attr_put_strz(nlh_, type, s.c_str()); }
  void PutU32(uint16_t type, uint32_t v) { mnl_attr_put_u32(nlh_, type, v); }

  nlmsghdr* raw() { return nlh_; }
  const nlmsghdr& message() const { return *nlh_; }

 private:
  alignas(NLMSG_ALIGNTO) std::array<char, 4096> buffer_{};
  nlmsghdr* nlh_;
};

}  // namespace isthmus::testing
