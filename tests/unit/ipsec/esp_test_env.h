#pragma once
// Shared fixtures for the ESP tests: the process-wide EspContext and an
// mbuf pool (created after EAL), mbuf <-> bytes helpers, and a runner for
// the independent Python implementation (esp_reference.py).

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dataplane/ipsec/esp_context.h"
#include "tests/unit/common/packet_builder.h"

namespace isthmus::testing {

class EspTestEnvironment : public ::testing::Environment {
 public:
  static EspTestEnvironment* Instance() {
    static auto* env = new EspTestEnvironment;  // owned by gtest once registered
    return env;
  }
  void SetUp() override {
    auto ctx = EspContext::Create(/*socket_id=*/0);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    context_ = std::move(*ctx);
    pool_ = rte_pktmbuf_pool_create("esp_test_pool", kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    rte_mempool_free(pool_);
    context_.reset();
  }
  EspContext& context() { return *context_; }
  rte_mempool* pool() { return pool_; }

 private:
  static constexpr unsigned kPoolSize = 2047;
  std::unique_ptr<EspContext> context_;
  rte_mempool* pool_ = nullptr;
};

inline rte_mbuf* MakeMbuf(const Bytes& data) {
  rte_mbuf* m = rte_pktmbuf_alloc(EspTestEnvironment::Instance()->pool());
  if (m == nullptr) return nullptr;
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(data.size()));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, data.data(), data.size());
  return m;
}

inline Bytes ToBytes(const rte_mbuf* m) {
  Bytes out(rte_pktmbuf_pkt_len(m));
  const void* p = rte_pktmbuf_read(m, 0, out.size(), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

inline std::string Hex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

inline Bytes FromHex(std::string_view s) {
  Bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(nibble(s[i]) << 4 | nibble(s[i + 1])));
  return out;
}

// An inner IPv4 packet (no Ethernet header) built with all checksums.
inline Bytes InnerPacket(size_t payload, uint16_t sport = 1024) {
  Bytes frame = PacketBuilder().Src("198.18.1.2").Dst("198.51.100.10").Udp(sport, 53).Payload(payload).Build();
  return Bytes(frame.begin() + 14, frame.end());
}

// Runs esp_reference.py with `args`, feeding `input` on stdin; returns its
// stdout lines (empty vector and a test failure if it exits non-zero).
inline std::vector<std::string> RunReference(const std::string& args, const std::string& input) {
  char in_path[] = "/tmp/isthmus-esp-in-XXXXXX";
  const int fd = mkstemp(in_path);
  EXPECT_GE(fd, 0);
  if (fd < 0) return {};
  const ssize_t written = write(fd, input.data(), input.size());
  close(fd);
  EXPECT_EQ(written, static_cast<ssize_t>(input.size()));
  const std::string cmd = absl::StrCat(ISTHMUS_PYTHON3, " ", ISTHMUS_ESP_REFERENCE, " ", args, " < ", in_path);
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  if (pipe != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    const int rc = pclose(pipe);
    EXPECT_EQ(rc, 0) << cmd;
  }
  unlink(in_path);
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) lines.emplace_back(line);
  return lines;
}

}  // namespace isthmus::testing
