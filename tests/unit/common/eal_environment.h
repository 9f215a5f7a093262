#pragma once
// rte_eal_init works once per process: each DPDK test binary registers this
// environment once (no hugepages, no PCI, a private file prefix).

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace isthmus::testing {

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string prefix = "isthmus-test-" + std::to_string(getpid());
    std::vector<std::string> args = {"test", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
                                     "--no-telemetry", "--lcores=0@(0-1)", "--log-level=*:error",
                                     "--file-prefix=" + prefix, "--vdev=net_null0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0) << "rte_eal_init failed";
  }
  void TearDown() override { rte_eal_cleanup(); }
};

}  // namespace isthmus::testing
