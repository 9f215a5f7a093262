#pragma once
// The clock of the flow table: whole seconds of the TSC, the same on every
// worker and on the control thread that ages flows. Seconds are enough for
// idle timeouts (the shortest is tcp_reset, 10 s) and keep a flow's
// last-seen stamp to one write per second.

#include <rte_cycles.h>

#include <cstdint>

namespace isthmus {

inline uint32_t NatClockSeconds() {
  static const uint64_t hz = rte_get_tsc_hz();
  return static_cast<uint32_t>(rte_get_tsc_cycles() / hz);
}

}  // namespace isthmus
