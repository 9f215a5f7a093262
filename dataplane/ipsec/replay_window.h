#pragma once
// Receiver anti-replay window (RFC 4303 §3.4.3) with extended sequence
// number reconstruction (RFC 4303 Appendix A2). Pure logic, no DPDK: the
// ESP adapter asks it before decrypting ("new", "already seen" or "too old")
// and tells it about a packet only after the ICV verified (§3.4.3: the window
// moves only for authenticated packets, so forgeries cannot shift it).
//
// Layout: a ring of `size` bits; bit (seq mod size) stands for seq while
// seq lies in (top - size, top], where top is the highest verified number.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace isthmus {

class ReplayWindow {
 public:
  enum class Check : uint8_t { kNew, kReplayed, kTooOld };

  // `size`: a power of two in [kEspMinReplayWindow, kEspMaxReplayWindow].
  // `esn_span`: how far behind `top` a low-order number is still taken to
  // belong to the current 2^32 epoch (RFC 4303 A2.2 uses the window size;
  // the adapter passes the span rte_ipsec uses so both agree on the guess).
  // 0 disables ESN: sequence numbers are the 32 bits on the wire.
  ReplayWindow(uint32_t size, uint32_t esn_span);

  [[nodiscard]] static absl::Status ValidateSize(uint32_t size);

  // RFC 4303 A2.2: chooses the high-order 32 bits for `low` relative to top.
  uint64_t Reconstruct(uint32_t low) const;
  Check Test(uint64_t seq) const;
  // Records an authenticated sequence number (Test() must have said kNew).
  void Accept(uint64_t seq);

  uint64_t top() const { return top_; }
  uint32_t size() const { return size_; }

 private:
  bool Seen(uint64_t seq) const;

  uint32_t size_;
  uint32_t esn_span_;
  uint64_t top_ = 0;  // 0: nothing received yet (sequence numbers start at 1)
  std::vector<uint64_t> bits_;
};

}  // namespace isthmus
