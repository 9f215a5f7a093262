#include "tests/unit/bgp_speaker/speaker_fixture.h"

#include <sched.h>

#include <cstdlib>
#include <string>

namespace isthmus::bgp {

void PrivateNetnsEnvironment::SetUp() {
  if (unshare(CLONE_NEWNET) != 0) return;   // not root: the tests skip
  const std::string script = "ip link set lo up && for i in $(seq 1 " + std::to_string(kLoopbackAddresses) +
                             "); do ip addr add 198.18.0.$i/32 dev lo || exit 1; done";
  ready_ = std::system(script.c_str()) == 0;
}

namespace {

// Registered before main() runs the tests, so every speaker thread (and
// every helper process) starts inside the namespace.
[[maybe_unused]] ::testing::Environment* const kNetns =
    ::testing::AddGlobalTestEnvironment(new PrivateNetnsEnvironment());

}  // namespace
}  // namespace isthmus::bgp
