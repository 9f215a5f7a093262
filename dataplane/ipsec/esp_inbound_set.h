#pragma once
// The inbound SAs of one tunnel (or one worker), found by SPI (RFC 4303
// §3.4.2). Make-before-break rekey keeps the old inbound SA here next to
// the new one until its traffic stops; the control side then removes it.
//
// Not synchronised: the owner publishes a new set to workers (RCU or a
// snapshot swap) or changes it only while no worker reads it. Process()
// has the single-worker rule of EspSa.

#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "dataplane/ipsec/esp_sa.h"

struct rte_mbuf;

namespace isthmus {

class EspInboundSet {
 public:
  // Fails for an outbound SA or an SPI already present.
  [[nodiscard]] absl::Status Add(std::unique_ptr<EspSa> sa);
  // Returns the removed SA (nullptr if absent) so the caller can free it
  // after its grace period.
  std::unique_ptr<EspSa> Remove(uint32_t spi);
  EspSa* Find(uint32_t spi) const;
  size_t size() const { return by_spi_.size(); }

  // Finds each packet's SA by SPI (kWrongSpi when none) and hands runs of
  // packets for the same SA to EspSa::Process in arrival order. Same
  // contract as EspSa::Process: verdicts[i] belongs to pkts[i]. Packets
  // dropped before reaching an SA (kWrongSpi, parse failures) are counted by
  // the caller only.
  uint16_t Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc);

 private:
  uint16_t ProcessRun(EspSa* sa, rte_mbuf** run, const uint16_t* index, uint16_t n, EspVerdict* verdicts,
                      uint64_t now_tsc);

  absl::flat_hash_map<uint32_t, std::unique_ptr<EspSa>> by_spi_;
};

}  // namespace isthmus
