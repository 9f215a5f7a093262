// Anti-replay window (RFC 4303 §3.4.3) and ESN reconstruction (Appendix A2),
// without DPDK.

#include "dataplane/ipsec/replay_window.h"

#include <gtest/gtest.h>

namespace isthmus {
namespace {

using Check = ReplayWindow::Check;
constexpr uint64_t k2To32 = uint64_t{1} << 32;

TEST(ReplayWindowTest, SizeValidation) {
  for (uint32_t ok : {32u, 64u, 1024u, 65536u}) EXPECT_TRUE(ReplayWindow::ValidateSize(ok).ok()) << ok;
  for (uint32_t bad : {0u, 16u, 100u, 1000u, 131072u}) {
    absl::Status st = ReplayWindow::ValidateSize(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("power of two from 32 to 65536"), std::string::npos) << st;
  }
}

TEST(ReplayWindowTest, NewDuplicateAndTooOld) {
  ReplayWindow w(64, 0);
  EXPECT_EQ(w.Test(0), Check::kTooOld);  // numbering starts at 1
  EXPECT_EQ(w.Test(1), Check::kNew);
  w.Accept(1);
  EXPECT_EQ(w.Test(1), Check::kReplayed);
  w.Accept(100);
  EXPECT_EQ(w.top(), 100u);
  EXPECT_EQ(w.Test(37), Check::kNew);     // 100 - 37 = 63: inside
  EXPECT_EQ(w.Test(36), Check::kTooOld);  // 100 - 36 = 64: outside
  EXPECT_EQ(w.Test(100), Check::kReplayed);
  w.Accept(37);
  EXPECT_EQ(w.Test(37), Check::kReplayed);
  EXPECT_EQ(w.Test(38), Check::kNew);
}

TEST(ReplayWindowTest, SlidingClearsOldBits) {
  ReplayWindow w(32, 0);
  for (uint64_t s = 1; s <= 32; ++s) w.Accept(s);
  // Advance by less than the window: numbers skipped are unseen, the rest stay seen.
  w.Accept(40);
  for (uint64_t s = 33; s < 40; ++s) EXPECT_EQ(w.Test(s), Check::kNew) << s;
  for (uint64_t s = 9; s <= 32; ++s) EXPECT_EQ(w.Test(s), Check::kReplayed) << s;
  EXPECT_EQ(w.Test(8), Check::kTooOld);
  // Jump far ahead: everything older is outside, the gap is unseen.
  w.Accept(1000);
  EXPECT_EQ(w.Test(969), Check::kNew);
  EXPECT_EQ(w.Test(968), Check::kTooOld);
}

TEST(ReplayWindowTest, Without32BitEsnNumbersAreTheWireBits) {
  ReplayWindow w(64, 0);
  EXPECT_EQ(w.Reconstruct(0xffffffffu), 0xffffffffu);
}

TEST(ReplayWindowTest, EsnCaseAWrapsIntoNextEpoch) {
  // RFC 4303 A2.2 case A: window inside one epoch; a low number below the
  // window's bottom means the counter wrapped.
  ReplayWindow w(64, 128);
  w.Accept(k2To32 - 2);
  EXPECT_EQ(w.Reconstruct(0xfffffffdu), k2To32 - 3);
  EXPECT_EQ(w.Reconstruct(1), k2To32 + 1);
  w.Accept(k2To32 + 1);
  EXPECT_EQ(w.Test(k2To32 - 2), Check::kReplayed);
  EXPECT_EQ(w.Test(k2To32 - 1), Check::kNew);
  EXPECT_EQ(w.Test(k2To32), Check::kNew);
}

TEST(ReplayWindowTest, EsnCaseBTakesPreviousEpoch) {
  // Case B: top just past the wrap; high low numbers are from the old epoch.
  ReplayWindow w(64, 128);
  w.Accept(k2To32 + 5);
  EXPECT_EQ(w.Reconstruct(0xfffffff0u), k2To32 - 16);
  EXPECT_EQ(w.Reconstruct(3), k2To32 + 3);
  EXPECT_EQ(w.Reconstruct(500), k2To32 + 500);
  // Below the span the guess is the current epoch (a far-future number).
  EXPECT_EQ(w.Reconstruct(0x80000000u), k2To32 + 0x80000000u);
}

TEST(ReplayWindowTest, EsnFirstEpochNeverGoesNegative) {
  ReplayWindow w(64, 128);
  w.Accept(5);
  EXPECT_EQ(w.Reconstruct(0xfffffff0u), 0xfffffff0u);
}

}  // namespace
}  // namespace isthmus
