#include "control/health/rise_fall.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace isthmus::health {
namespace {

// A run of probe results ('+' success, '-' failure) and the state after each.
struct RiseFallCase {
  std::string description;
  uint32_t rise;
  uint32_t fall;
  std::string results;
  std::string states;   // 'u' up, 'd' down, one per result
  std::string changes;  // '^' went up, 'v' went down, '.' no change
};

class RiseFallTest : public ::testing::TestWithParam<RiseFallCase> {};

TEST_P(RiseFallTest, FollowsTheResults) {
  const RiseFallCase& c = GetParam();
  ASSERT_EQ(c.results.size(), c.states.size());
  ASSERT_EQ(c.results.size(), c.changes.size());
  RiseFall health(c.rise, c.fall);
  EXPECT_EQ(health.state(), HealthState::kDown) << "every backend starts down";
  for (size_t i = 0; i < c.results.size(); ++i) {
    const std::optional<HealthState> changed = health.Record(c.results[i] == '+');
    const char change = !changed.has_value() ? '.' : *changed == HealthState::kUp ? '^' : 'v';
    EXPECT_EQ(change, c.changes[i]) << "after result " << i;
    EXPECT_EQ(health.state() == HealthState::kUp ? 'u' : 'd', c.states[i]) << "after result " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RiseFallTest,
    ::testing::Values(
        RiseFallCase{"rise_one_goes_up_at_once", 1, 1, "+", "u", "^"},
        RiseFallCase{"failures_while_down_change_nothing", 2, 3, "----", "dddd", "...."},
        RiseFallCase{"up_after_rise_in_a_row", 2, 3, "-++", "ddu", "..^"},
        RiseFallCase{"a_failure_restarts_the_rise", 3, 3, "++-+++", "dddddu", ".....^"},
        RiseFallCase{"down_after_fall_in_a_row", 1, 3, "+---", "uuud", "^..v"},
        RiseFallCase{"a_success_restarts_the_fall", 1, 3, "+--+---", "uuuuuud", "^.....v"},
        RiseFallCase{"flapping_below_both_thresholds_holds", 2, 2, "++-+-+-", "duuuuuu", ".^....."},
        RiseFallCase{"down_then_up_again", 2, 2, "++--++", "duuddu", ".^.v.^"}),
    [](const ::testing::TestParamInfo<RiseFallCase>& info) { return info.param.description; });

TEST(RiseFall, CountsConsecutiveResults) {
  RiseFall health(2, 3);
  health.Record(true);
  health.Record(true);
  health.Record(true);
  EXPECT_EQ(health.consecutive_successes(), 3u);
  EXPECT_EQ(health.consecutive_failures(), 0u);
  health.Record(false);
  EXPECT_EQ(health.consecutive_successes(), 0u);
  EXPECT_EQ(health.consecutive_failures(), 1u);
}

}  // namespace
}  // namespace isthmus::health
