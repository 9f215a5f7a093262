#pragma once
// A test fixture that runs each test inside its own network namespace, so
// links, addresses and neighbours created by one test never touch the host
// or another test. setns() moves only the calling thread: everything the
// test opens (sockets, monitors) must be created in the test's thread,
// after SetUp.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace isthmus::testing {

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The namespace this thread runs in during the test.
  const std::string& netns() const { return namespaces_.front(); }
  // Creates another namespace (e.g. for a veth peer); deleted in TearDown.
  std::string AddNamespace();

  // Runs `ip -n <ns> <args>`; returns its exit status (0 = success).
  static int Ip(const std::string& ns, const std::string& args);
  int Ip(const std::string& args) const { return Ip(netns(), args); }
  // Runs `ip -n <ns> <args>` and returns what it printed ("" on failure).
  static std::string IpOutput(const std::string& ns, const std::string& args);
  // Runs `ip netns exec <ns> sysctl -qw <setting>`.
  static int Sysctl(const std::string& ns, const std::string& setting);

  // Waits until `ifname` in `ns` has carrier (LOWER_UP), so the first ARP
  // request is not lost while the link comes up.
  static bool WaitForCarrier(const std::string& ns, const std::string& ifname,
                             absl::Duration timeout);

 private:
  std::string CreateNamespace();

  std::vector<std::string> namespaces_;
  int original_netns_fd_ = -1;
};

}  // namespace isthmus::testing
