#include "tests/unit/netlink/netns_fixture.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace isthmus::testing {
namespace {

constexpr absl::Duration kCarrierPollInterval = absl::Milliseconds(20);

int RunShell(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// pid plus a random tag: unique across concurrent runs and across tests.
std::string UniqueNamespaceName() {
  static std::atomic<int> counter{0};
  static const uint32_t tag = std::random_device{}() & 0xffff;
  return absl::StrFormat("isth-nl-%d-%04x-%d", getpid(), tag, counter++);
}

}  // namespace

void NetnsTest::SetUp() {
  ASSERT_EQ(geteuid(), 0u) << "netlink tests need root (network namespaces)";
  original_netns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(original_netns_fd_, 0) << std::strerror(errno);
  const std::string name = CreateNamespace();
  ASSERT_FALSE(name.empty());
  const std::string path = "/run/netns/" + name;
  const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(target, 0) << path << ": " << std::strerror(errno);
  const int rc = setns(target, CLONE_NEWNET);
  const int setns_errno = errno;
  close(target);
  ASSERT_EQ(rc, 0) << "setns " << name << ": " << std::strerror(setns_errno);
}

void NetnsTest::TearDown() {
  if (original_netns_fd_ >= 0) {
    EXPECT_EQ(setns(original_netns_fd_, CLONE_NEWNET), 0) << std::strerror(errno);
    close(original_netns_fd_);
    original_netns_fd_ = -1;
  }
  for (const std::string& name : namespaces_) {
    EXPECT_EQ(RunShell("ip netns del " + name), 0) << "leaked network namespace " << name;
  }
  namespaces_.clear();
}

std::string NetnsTest::CreateNamespace() {
  const std::string name = UniqueNamespaceName();
  if (RunShell("ip netns add " + name) != 0) {
    ADD_FAILURE() << "ip netns add " << name << " failed";
    return "";
  }
  namespaces_.push_back(name);
  return name;
}

std::string NetnsTest::AddNamespace() { return CreateNamespace(); }

int NetnsTest::Ip(const std::string& ns, const std::string& args) {
  return RunShell("ip -n " + ns + " " + args);
}

std::string NetnsTest::IpOutput(const std::string& ns, const std::string& args) {
  constexpr size_t kChunk = 512;
  FILE* pipe = popen(("ip -n " + ns + " " + args).c_str(), "r");
  if (pipe == nullptr) return "";
  std::string output;
  std::array<char, kChunk> chunk;
  size_t got = 0;
  while ((got = fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), got);
  return pclose(pipe) == 0 ? output : "";
}

int NetnsTest::Sysctl(const std::string& ns, const std::string& setting) {
  return RunShell("ip netns exec " + ns + " sysctl -qw " + setting);
}

bool NetnsTest::WaitForCarrier(const std::string& ns, const std::string& ifname,
                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string probe = "ip -n " + ns + " link show dev " + ifname + " | grep -q LOWER_UP";
  while (RunShell(probe) != 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kCarrierPollInterval);
  }
  return true;
}

}  // namespace isthmus::testing
