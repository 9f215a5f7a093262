#pragma once
// Rise/fall hysteresis of one backend (the HAProxy and keepalived model): a
// backend goes up after `rise` consecutive successful probes and down after
// `fall` consecutive failures; one odd result in between only resets the
// opposite count. It starts down, so nothing is announced for a backend that
// has not proven itself yet. Pure logic, no clock and no I/O.

#include <cstdint>
#include <limits>
#include <optional>

#include "control/health/probe_types.h"

namespace isthmus::health {

class RiseFall {
 public:
  // rise and fall are at least 1 (ValidateProbeTarget checks it).
  RiseFall(uint32_t rise, uint32_t fall) : rise_(rise), fall_(fall) {}

  // Counts one probe result; returns the new state when it changed.
  std::optional<HealthState> Record(bool success) {
    if (success) {
      failures_ = 0;
      successes_ = SaturatingIncrement(successes_);
      if (state_ == HealthState::kDown && successes_ >= rise_) return state_ = HealthState::kUp;
    } else {
      successes_ = 0;
      failures_ = SaturatingIncrement(failures_);
      if (state_ == HealthState::kUp && failures_ >= fall_) return state_ = HealthState::kDown;
    }
    return std::nullopt;
  }

  HealthState state() const { return state_; }
  uint32_t consecutive_successes() const { return successes_; }
  uint32_t consecutive_failures() const { return failures_; }

 private:
  static uint32_t SaturatingIncrement(uint32_t n) {
    return n == std::numeric_limits<uint32_t>::max() ? n : n + 1;
  }

  uint32_t rise_;
  uint32_t fall_;
  HealthState state_ = HealthState::kDown;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
};

}  // namespace isthmus::health
