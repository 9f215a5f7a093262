// XdpPuntMaps against a loaded isthmus_xdp.bpf.o: map validation, the
// replace semantics of the setters, and discovery of the maps through the
// program attached to a veth in a private network namespace.

#include "dataplane/xdp/xdp_punt_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/xdp/loaded_xdp_object.h"

namespace isthmus::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint32_t kAddrA = 0xc0000201;  // 192.0.2.1
constexpr uint32_t kAddrB = 0xc0000202;  // 192.0.2.2
constexpr uint32_t kAddrC = 0xc6336401;  // 198.51.100.1

// All keys of a hash map, sorted.
template <typename Key>
std::vector<Key> Keys(int fd) {
  std::vector<Key> keys;
  Key key{};
  Key next{};
  const Key* cursor = nullptr;
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    keys.push_back(next);
    key = next;
    cursor = &key;
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<uint32_t> LocalAddressesHostOrder(int fd) {
  std::vector<uint32_t> addrs;
  for (uint32_t key : Keys<uint32_t>(fd)) addrs.push_back(ntohl(key));
  std::sort(addrs.begin(), addrs.end());
  return addrs;
}

class XdpPuntMapsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF objects needs root";
    absl::StatusOr<std::unique_ptr<LoadedXdpObject>> loaded = LoadedXdpObject::Load();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    object_ = std::move(*loaded);
  }

  std::unique_ptr<LoadedXdpObject> object_;
};

TEST_F(XdpPuntMapsTest, SetLocalAddressesReplacesTheSet) {
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
  ASSERT_TRUE(maps.ok()) << maps.status();
  const int fd = object_->MapFd("local_addrs");

  ASSERT_TRUE(maps->SetLocalAddresses({kAddrA, kAddrB, kAddrA}).ok());
  EXPECT_THAT(LocalAddressesHostOrder(fd), ElementsAre(kAddrA, kAddrB));

  ASSERT_TRUE(maps->SetLocalAddresses({kAddrB, kAddrC}).ok());
  EXPECT_THAT(LocalAddressesHostOrder(fd), ElementsAre(kAddrB, kAddrC));

  // Stored in network byte order, as the program compares iph->daddr.
  uint32_t key = htonl(kAddrC);
  uint8_t flags = 0;
  ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &flags), 0);
  EXPECT_EQ(flags, ISTHMUS_XDP_ENTRY_PRESENT);

  ASSERT_TRUE(maps->SetLocalAddresses({}).ok());
  EXPECT_THAT(LocalAddressesHostOrder(fd), IsEmpty());
}

TEST_F(XdpPuntMapsTest, SetPuntPortsReplacesBothSets) {
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
  ASSERT_TRUE(maps.ok()) << maps.status();
  const int tcp_fd = object_->MapFd("punt_tcp_ports");
  const int udp_fd = object_->MapFd("punt_udp_ports");

  ASSERT_TRUE(maps->SetPuntPorts({179, 22}, {3784}).ok());
  EXPECT_THAT(Keys<uint16_t>(tcp_fd), ElementsAre(22, 179));
  EXPECT_THAT(Keys<uint16_t>(udp_fd), ElementsAre(3784));

  ASSERT_TRUE(maps->SetPuntPorts({179}, {}).ok());
  EXPECT_THAT(Keys<uint16_t>(tcp_fd), ElementsAre(179));
  EXPECT_THAT(Keys<uint16_t>(udp_fd), IsEmpty());
}

TEST_F(XdpPuntMapsTest, TooManyPortsIsRejectedAndLeavesTheMapAlone) {
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
  ASSERT_TRUE(maps.ok()) << maps.status();
  ASSERT_TRUE(maps->SetPuntPorts({179}, {}).ok());

  std::vector<uint16_t> too_many;
  for (uint16_t p = 1; p <= ISTHMUS_XDP_MAX_PUNT_PORTS + 1; ++p) too_many.push_back(p);
  absl::Status status = maps->SetPuntPorts(too_many, {});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("punt_tcp_ports"));
  EXPECT_THAT(Keys<uint16_t>(object_->MapFd("punt_tcp_ports")), ElementsAre(179));
}

TEST_F(XdpPuntMapsTest, FromMapFdsRejectsAMapOfTheWrongShape) {
  XdpPuntMaps::MapFds fds = object_->MapFds();
  fds.local_addrs = object_->MapFd("xdp_stats");
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(fds);
  EXPECT_EQ(maps.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(maps.status().message()), HasSubstr("local_addrs"));
}

TEST_F(XdpPuntMapsTest, MapsOutliveTheCallersFds) {
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromMapFds(object_->MapFds());
  ASSERT_TRUE(maps.ok()) << maps.status();
  const int stats_fd = object_->MapFd("xdp_stats");
  object_.reset();  // closes the object's fds; ours are duplicates
  ASSERT_TRUE(maps->SetLocalAddresses({kAddrA}).ok());
  absl::StatusOr<XdpStats> stats = maps->ReadStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(*stats, XdpStats{});
  EXPECT_EQ(fcntl(stats_fd, F_GETFD), -1);  // really closed by the object

  XdpPuntMaps moved = std::move(*maps);
  EXPECT_TRUE(moved.ReadStats().ok());
}

// A veth pair in a namespace of its own; the test thread works inside it
// (XDP attach and query go through rtnetlink of the current namespace).
class XdpOnVethTest : public XdpPuntMapsTest {
 protected:
  void SetUp() override {
    XdpPuntMapsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::random_device random;
    netns_ = absl::StrCat("isxdp", getpid(), "_", random() % 100000);
    ASSERT_EQ(Shell("ip netns add " + netns_), 0);
    netns_created_ = true;
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns_, " link add ", kVeth,
                                 " type veth peer name ", kPeerVeth)), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns_, " link set ", kVeth, " up")), 0);
    ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns_, " link set ", kPeerVeth, " up")), 0);

    original_netns_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(original_netns_, 0);
    int target = open(("/var/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(target, 0);
    int rc = setns(target, CLONE_NEWNET);
    close(target);
    ASSERT_EQ(rc, 0);
    inside_ = true;
    ifindex_ = static_cast<int>(if_nametoindex(kVeth));
    ASSERT_GT(ifindex_, 0);
  }

  void TearDown() override {
    if (attached_) bpf_xdp_detach(ifindex_, XDP_FLAGS_DRV_MODE, nullptr);
    if (inside_) {
      EXPECT_EQ(setns(original_netns_, CLONE_NEWNET), 0);
    }
    if (original_netns_ >= 0) close(original_netns_);
    if (netns_created_) {
      EXPECT_EQ(Shell("ip netns del " + netns_), 0);
    }
  }

  static int Shell(const std::string& command) { return std::system(command.c_str()); }

  void Attach(int prog_fd) {
    ASSERT_EQ(bpf_xdp_attach(ifindex_, prog_fd, XDP_FLAGS_DRV_MODE, nullptr), 0);
    attached_ = true;
  }

  static constexpr char kVeth[] = "xv0";
  static constexpr char kPeerVeth[] = "xv1";
  std::string netns_;
  bool netns_created_ = false;
  int original_netns_ = -1;
  bool inside_ = false;
  bool attached_ = false;
  int ifindex_ = 0;
};

TEST_F(XdpOnVethTest, NoProgramIsNotFound) {
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromInterface(ifindex_);
  EXPECT_EQ(maps.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(maps.status().message()),
              HasSubstr(absl::StrCat("no XDP program on ifindex ", ifindex_)));
}

TEST_F(XdpOnVethTest, FindsTheMapsOfTheAttachedProgram) {
  Attach(object_->ProgramFd());
  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromInterface(ifindex_);
  ASSERT_TRUE(maps.ok()) << maps.status();

  ASSERT_TRUE(maps->SetLocalAddresses({kAddrA, kAddrB}).ok());
  ASSERT_TRUE(maps->SetPuntPorts({179, 22}, {3784}).ok());
  EXPECT_THAT(LocalAddressesHostOrder(object_->MapFd("local_addrs")),
              ElementsAre(kAddrA, kAddrB));
  EXPECT_THAT(Keys<uint16_t>(object_->MapFd("punt_tcp_ports")), ElementsAre(22, 179));
  EXPECT_THAT(Keys<uint16_t>(object_->MapFd("punt_udp_ports")), ElementsAre(3784));

  ASSERT_TRUE(maps->SetLocalAddresses({kAddrC}).ok());
  EXPECT_THAT(LocalAddressesHostOrder(object_->MapFd("local_addrs")), ElementsAre(kAddrC));
  EXPECT_TRUE(maps->ReadStats().ok());
}

TEST_F(XdpOnVethTest, ForeignProgramIsNamedInTheError) {
  // "r0 = XDP_PASS; exit": a valid XDP program without any maps.
  const bpf_insn pass_all[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0,
       .off = 0, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  int prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_pass", "GPL", pass_all,
                              std::size(pass_all), nullptr);
  ASSERT_GE(prog_fd, 0) << "bpf_prog_load: " << prog_fd;
  Attach(prog_fd);
  close(prog_fd);  // the attachment keeps the program alive

  absl::StatusOr<XdpPuntMaps> maps = XdpPuntMaps::FromInterface(ifindex_);
  EXPECT_EQ(maps.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(maps.status().message()),
              HasSubstr("program 'foreign_pass' on ifindex"));
  EXPECT_THAT(std::string(maps.status().message()),
              HasSubstr("has no map 'local_addrs' (is it isthmus_xdp.bpf.o?)"));
}

}  // namespace
}  // namespace isthmus::test
