// One EAL per process (tests/unit/common/eal_environment.h); the ESP
// context and mbuf pool live in EspTestEnvironment (esp_test_env.h).

#include <gtest/gtest.h>

#include "tests/unit/common/eal_environment.h"
#include "tests/unit/ipsec/esp_test_env.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Registered in this order so the ESP context is torn down before EAL.
  ::testing::AddGlobalTestEnvironment(new isthmus::testing::EalEnvironment);
  ::testing::AddGlobalTestEnvironment(isthmus::testing::EspTestEnvironment::Instance());
  return RUN_ALL_TESTS();
}
