#include "control/netlink/dump_sequencer.h"

#include "gtest/gtest.h"

namespace isthmus::rtnl {
namespace {

TEST(DumpSequencer, RunsNeighboursThenAddressesThenGoesIdle) {
  DumpSequencer dumps;
  EXPECT_EQ(dumps.Request(), DumpKind::kNeighbors);
  dumps.Started(10);
  EXPECT_TRUE(dumps.IsRunning(10));
  EXPECT_EQ(dumps.Finished(10), DumpKind::kAddresses);
  dumps.Started(11);
  EXPECT_FALSE(dumps.IsRunning(10));
  EXPECT_EQ(dumps.Finished(11), std::nullopt);
  EXPECT_FALSE(dumps.busy());
}

TEST(DumpSequencer, RequestWhileRunningWaitsForTheRunningDump) {
  DumpSequencer dumps;
  ASSERT_EQ(dumps.Request(), DumpKind::kNeighbors);
  dumps.Started(1);
  // Only one dump per socket: nothing may be sent now.
  EXPECT_EQ(dumps.Request(), std::nullopt);
  // The neighbour dump may already have passed entries whose events were
  // lost, so the replay starts over with neighbours.
  EXPECT_EQ(dumps.Finished(1), DumpKind::kNeighbors);
  dumps.Started(2);
  EXPECT_EQ(dumps.Finished(2), DumpKind::kAddresses);
  dumps.Started(3);
  EXPECT_EQ(dumps.Finished(3), std::nullopt);
  EXPECT_FALSE(dumps.busy());
}

TEST(DumpSequencer, RequestDuringAddressDumpQueuesAFullReplay) {
  DumpSequencer dumps;
  ASSERT_EQ(dumps.Request(), DumpKind::kNeighbors);
  dumps.Started(1);
  ASSERT_EQ(dumps.Finished(1), DumpKind::kAddresses);
  dumps.Started(2);
  EXPECT_EQ(dumps.Request(), std::nullopt);
  EXPECT_EQ(dumps.Finished(2), DumpKind::kNeighbors);
  dumps.Started(3);
  EXPECT_EQ(dumps.Finished(3), DumpKind::kAddresses);
}

TEST(DumpSequencer, IgnoresForeignSequenceNumbers) {
  DumpSequencer dumps;
  EXPECT_EQ(dumps.Finished(5), std::nullopt);  // idle
  ASSERT_EQ(dumps.Request(), DumpKind::kNeighbors);
  dumps.Started(6);
  EXPECT_EQ(dumps.Finished(99), std::nullopt);
  EXPECT_TRUE(dumps.IsRunning(6));
  EXPECT_TRUE(dumps.busy());
}

TEST(DumpSequencer, ResetForgetsRunningAndQueuedDumps) {
  DumpSequencer dumps;
  ASSERT_EQ(dumps.Request(), DumpKind::kNeighbors);
  dumps.Started(1);
  dumps.Reset();
  EXPECT_FALSE(dumps.busy());
  EXPECT_FALSE(dumps.IsRunning(1));
  EXPECT_EQ(dumps.Request(), DumpKind::kNeighbors);
}

}  // namespace
}  // namespace isthmus::rtnl
