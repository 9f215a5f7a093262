#include "control/netlink/dump_sequencer.h"

namespace isthmus::rtnl {

std::optional<DumpKind> DumpSequencer::Request() {
  // Neighbours first: a next hop is only usable once its MAC is known, and
  // the address dump then tells which subnets those neighbours live on.
  pending_ = {DumpKind::kNeighbors, DumpKind::kAddresses};
  if (running_.has_value()) return std::nullopt;
  return StartNext();
}

void DumpSequencer::Started(uint32_t seq) {
  if (running_.has_value()) running_->seq = seq;
}

bool DumpSequencer::IsRunning(uint32_t seq) const {
  return running_.has_value() && running_->seq == seq;
}

std::optional<DumpKind> DumpSequencer::Finished(uint32_t seq) {
  if (!IsRunning(seq)) return std::nullopt;
  running_.reset();
  return StartNext();
}

void DumpSequencer::Reset() {
  running_.reset();
  pending_.clear();
}

std::optional<DumpKind> DumpSequencer::StartNext() {
  if (pending_.empty()) return std::nullopt;
  running_ = Running{pending_.front(), std::nullopt};
  pending_.pop_front();
  return running_->kind;
}

}  // namespace isthmus::rtnl
