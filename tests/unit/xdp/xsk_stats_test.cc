#include "dataplane/port/xsk_stats.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isthmus {
namespace {

using ::testing::ElementsAre;

TEST(XskStats, WatchFindsTheSocketsOpenedSinceAndReadsThem) {
  const int other = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (other < 0) GTEST_SKIP() << "no AF_XDP sockets here: " << std::strerror(errno);
  const XskSocketWatch watch;
  const int fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // not AF_XDP: ignored
  ASSERT_GE(fd, 0);
  ASSERT_GE(udp, 0);
  EXPECT_THAT(watch.Added(), ElementsAre(fd));
  EXPECT_TRUE(AfXdpSocketFds().contains(other));
  EXPECT_FALSE(AfXdpSocketFds().contains(udp));
  const XskCounters zero = ReadXskCounters({fd, other});
  EXPECT_EQ(zero.rx_ring_full, 0u);
  EXPECT_EQ(zero.rx_dropped, 0u);
  ::close(fd);
  ::close(other);
  ::close(udp);
  // Closed descriptors are skipped, not read as garbage.
  EXPECT_EQ(ReadXskCounters({fd, other, udp}).rx_ring_full, 0u);
  EXPECT_TRUE(watch.Added().empty());
}

TEST(XskStats, CountersSum) {
  XskCounters a{.rx_ring_full = 2, .tx_invalid = 1};
  a += XskCounters{.rx_dropped = 4, .rx_ring_full = 5};
  EXPECT_EQ(a.rx_ring_full, 7u);
  EXPECT_EQ(a.rx_dropped, 4u);
  EXPECT_EQ(a.tx_invalid, 1u);
}

}  // namespace
}  // namespace isthmus
