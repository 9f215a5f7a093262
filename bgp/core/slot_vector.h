#pragma once
// A vector whose removed elements' indexes are handed out again: stable
// small integer ids (4 bytes where a pointer would take 8 or 16) for
// objects that come and go, such as interned attributes or the path lists
// of prefixes with several paths.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace isthmus::bgp {

template <typename T>
class SlotVector {
 public:
  // Stores `value` in a free slot (or a new one) and returns its index.
  uint32_t Add(T value) {
    if (free_.empty()) {
      slots_.push_back(std::move(value));
      return static_cast<uint32_t>(slots_.size() - 1);
    }
    const uint32_t index = free_.back();
    free_.pop_back();
    slots_[index] = std::move(value);
    return index;
  }
  // Resets the slot (releasing what it held) and makes the index reusable.
  void Remove(uint32_t index) {
    // Destroyed and rebuilt empty rather than assigned from a temporary:
    // the storage is given back (a cleared vector would keep it).
    std::destroy_at(&slots_[index]);
    std::construct_at(&slots_[index]);
    free_.push_back(index);
  }
  T& operator[](uint32_t index) { return slots_[index]; }
  const T& operator[](uint32_t index) const { return slots_[index]; }
  // Slots ever used, free ones included.
  size_t capacity() const { return slots_.size(); }

 private:
  std::vector<T> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace isthmus::bgp
