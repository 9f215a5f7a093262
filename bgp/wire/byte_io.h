#pragma once
// Bounds-checked big-endian reading and writing for the BGP codec. Every read
// reports failure instead of running past the end: a parser never trusts a
// length field it has not checked against what is left.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace isthmus::bgp {

class ByteReader {
 public:
  ByteReader() = default;
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }
  bool empty() const { return remaining() == 0; }
  const uint8_t* current() const { return data_ + pos_; }

  [[nodiscard]] bool ReadU8(uint8_t* out) {
    if (remaining() < 1) return false;
    *out = data_[pos_++];
    return true;
  }
  [[nodiscard]] bool ReadU16(uint16_t* out) {
    if (remaining() < 2) return false;
    *out = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  [[nodiscard]] bool ReadU32(uint32_t* out) {
    if (remaining() < 4) return false;
    *out = static_cast<uint32_t>(data_[pos_]) << 24 | static_cast<uint32_t>(data_[pos_ + 1]) << 16 |
           static_cast<uint32_t>(data_[pos_ + 2]) << 8 | data_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  // Splits off the next `n` bytes as their own reader.
  [[nodiscard]] bool ReadSub(size_t n, ByteReader* out) {
    if (remaining() < n) return false;
    *out = ByteReader(data_ + pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool ReadBytes(size_t n, std::vector<uint8_t>* out) {
    if (remaining() < n) return false;
    out->assign(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return true;
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>* out) : out_(out) {}

  size_t size() const { return out_->size(); }
  void PutU8(uint8_t v) { out_->push_back(v); }
  void PutU16(uint16_t v) {
    out_->push_back(static_cast<uint8_t>(v >> 8));
    out_->push_back(static_cast<uint8_t>(v));
  }
  void PutU32(uint32_t v) {
    PutU16(static_cast<uint16_t>(v >> 16));
    PutU16(static_cast<uint16_t>(v));
  }
  void PutBytes(const std::vector<uint8_t>& bytes) {
    out_->insert(out_->end(), bytes.begin(), bytes.end());
  }
  void PutBytes(const uint8_t* data, size_t n) { out_->insert(out_->end(), data, data + n); }
  // Fills in a 2-octet length written earlier as a placeholder.
  void PatchU16(size_t offset, uint16_t v) {
    (*out_)[offset] = static_cast<uint8_t>(v >> 8);
    (*out_)[offset + 1] = static_cast<uint8_t>(v);
  }

 private:
  std::vector<uint8_t>* out_;
};

}  // namespace isthmus::bgp
