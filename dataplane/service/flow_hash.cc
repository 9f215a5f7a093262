#include "dataplane/service/flow_hash.h"

namespace isthmus {

uint32_t Crc32cU64Portable(uint32_t crc, uint64_t data) {
  constexpr uint32_t kReflectedPolynomial = 0x82F63B78;
  constexpr int kBits = 64;
  // crc32q has no pre/post inversion: it is the plain reflected CRC
  // register update, one bit at a time.
  for (int i = 0; i < kBits; ++i) {
    const uint32_t bit = (crc ^ static_cast<uint32_t>(data)) & 1u;
    crc = (crc >> 1) ^ (bit ? kReflectedPolynomial : 0);
    data >>= 1;
  }
  return crc;
}

}  // namespace isthmus
