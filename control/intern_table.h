#pragma once
// Interning for values that many routes share (gateway lists, next-hop
// sets, kernel route targets): a table of a million routes holds a few
// distinct ones, so routes keep a 4-byte id instead of a copy.

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace isthmus {

// Reference-counted ids; an id is recycled once its last user is gone.
// T is a container (cleared on release) with an AbslHashValue. Not thread-safe.
template <typename T>
class InternTable {
 public:
  // `created` (optional): set when the value was not interned before.
  uint32_t Acquire(const T& value, bool* created = nullptr) {
    // A full table acquires the same few values over and over, mostly the
    // one it acquired last: compare with that before hashing.
    if (last_ < values_.size() && refs_[last_] != 0 && values_[last_] == value) {
      if (created != nullptr) *created = false;
      ++refs_[last_];
      return last_;
    }
    auto [it, inserted] = ids_.try_emplace(value, 0);
    if (created != nullptr) *created = inserted;
    if (inserted) {
      if (free_.empty()) {
        it->second = static_cast<uint32_t>(values_.size());
        values_.push_back(value);
        refs_.push_back(0);
      } else {
        it->second = free_.back();
        free_.pop_back();
        values_[it->second] = value;
      }
    }
    ++refs_[it->second];
    last_ = it->second;
    return it->second;
  }
  // One more reference to an id already held.
  void Ref(uint32_t id) { ++refs_[id]; }
  // Returns true when that was the last reference: the id is free now and
  // may come back for another value, so anything cached under it is stale.
  bool Release(uint32_t id) {
    if (--refs_[id] != 0) return false;
    ids_.erase(values_[id]);
    values_[id].clear();
    free_.push_back(id);
    return true;
  }
  const T& Get(uint32_t id) const { return values_[id]; }
  size_t size() const { return ids_.size(); }

 private:
  absl::flat_hash_map<T, uint32_t> ids_;
  std::vector<T> values_;
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> free_;
  uint32_t last_ = UINT32_MAX;   // what Acquire returned last
};

}  // namespace isthmus
