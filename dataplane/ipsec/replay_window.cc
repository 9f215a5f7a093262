#include "dataplane/ipsec/replay_window.h"

#include <algorithm>
#include <bit>

#include "absl/strings/str_format.h"
#include "dataplane/ipsec/esp_types.h"

namespace isthmus {
namespace {

constexpr uint32_t kBitsPerWord = 64;

}  // namespace

absl::Status ReplayWindow::ValidateSize(uint32_t size) {
  if (size < kEspMinReplayWindow || size > kEspMaxReplayWindow || !std::has_single_bit(size)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "replay window %u is not accepted: use a power of two from %u to %u (RFC 4303 3.4.3)", size,
        kEspMinReplayWindow, kEspMaxReplayWindow));
  }
  return absl::OkStatus();
}

ReplayWindow::ReplayWindow(uint32_t size, uint32_t esn_span)
    : size_(size), esn_span_(esn_span), bits_((size + kBitsPerWord - 1) / kBitsPerWord, 0) {}

uint64_t ReplayWindow::Reconstruct(uint32_t low) const {
  if (esn_span_ == 0) return low;
  const uint32_t top_low = static_cast<uint32_t>(top_);
  uint32_t top_high = static_cast<uint32_t>(top_ >> 32);
  // Bottom of the span, modulo 2^32 (it wraps in case B).
  const uint32_t bottom = top_low - esn_span_ + 1;
  if (top_low >= esn_span_ - 1) {
    // Case A: the span lies inside one epoch; a number below it has wrapped.
    if (low < bottom) ++top_high;
  } else if (top_high != 0 && low >= bottom) {
    // Case B: the span straddles an epoch boundary; a number in its upper
    // part belongs to the previous epoch.
    --top_high;
  }
  return static_cast<uint64_t>(top_high) << 32 | low;
}

ReplayWindow::Check ReplayWindow::Test(uint64_t seq) const {
  if (seq == 0) return Check::kTooOld;  // never sent: numbering starts at 1
  if (seq > top_) return Check::kNew;
  if (top_ - seq >= size_) return Check::kTooOld;
  return Seen(seq) ? Check::kReplayed : Check::kNew;
}

bool ReplayWindow::Seen(uint64_t seq) const {
  const uint64_t bit = seq & (size_ - 1);
  return (bits_[bit / kBitsPerWord] >> (bit % kBitsPerWord)) & 1;
}

void ReplayWindow::Accept(uint64_t seq) {
  if (seq > top_) {
    // Slide: numbers in (top, seq) were not received; clear their bits.
    const uint64_t advance = seq - top_;
    if (advance >= size_) {
      std::fill(bits_.begin(), bits_.end(), 0);
    } else {
      for (uint64_t s = top_ + 1; s < seq; ++s) {
        const uint64_t bit = s & (size_ - 1);
        bits_[bit / kBitsPerWord] &= ~(uint64_t{1} << (bit % kBitsPerWord));
      }
    }
    top_ = seq;
  }
  const uint64_t bit = seq & (size_ - 1);
  bits_[bit / kBitsPerWord] |= uint64_t{1} << (bit % kBitsPerWord);
}

}  // namespace isthmus
