#include "perf/ring_loop.h"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/packet/ipv4_check.h"

namespace isthmus::perf {
namespace {

constexpr uint32_t kIdleRingSize = 64;
constexpr uint32_t kPoolCache = 256;
constexpr uint16_t kDescriptors = 1024;   // ignored by net_ring; ethdev wants a number
constexpr uint32_t kIpTtlOffset = 8;
constexpr uint32_t kIpChecksumOffset = 10;

absl::StatusOr<rte_ring*> CreateRing(const char* name, uint32_t size) {
  // One thread enqueues and dequeues: the single-producer/consumer paths.
  rte_ring* ring = rte_ring_create(name, rte_align32pow2(size + 1), static_cast<int>(rte_socket_id()),
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (ring == nullptr) return absl::ResourceExhaustedError(absl::StrCat("ring ", name, ": ", rte_strerror(rte_errno)));
  return ring;
}

absl::Status StartPort(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, kDescriptors, rte_eth_dev_socket_id(port), nullptr, pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, kDescriptors, rte_eth_dev_socket_id(port), nullptr);
  if (rc == 0) rc = rte_eth_dev_start(port);
  if (rc != 0) return absl::InternalError(absl::StrCat("starting ring port ", port, ": ", rte_strerror(-rc)));
  return absl::OkStatus();
}

absl::StatusOr<uint16_t> CreatePort(const char* name, rte_ring* rx, rte_ring* tx, rte_mempool* pool) {
  rte_ring* const rx_rings[] = {rx};
  rte_ring* const tx_rings[] = {tx};
  const int port = rte_eth_from_rings(name, rx_rings, 1, tx_rings, 1, rte_socket_id());
  if (port < 0) return absl::InternalError(absl::StrCat("rte_eth_from_rings ", name, ": ", rte_strerror(rte_errno)));
  if (absl::Status s = StartPort(static_cast<uint16_t>(port), pool); !s.ok()) return s;
  return static_cast<uint16_t>(port);
}

uint32_t FreeAll(rte_ring* ring) {
  uint32_t total = 0;
  void* objs[64];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst(ring, objs, 64, nullptr)) > 0) {
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
    total += n;
  }
  return total;
}

void SetTtl(rte_mbuf* m, uint8_t ttl) {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, kEtherHeaderLen);
  ip[kIpTtlOffset] = ttl;
  ip[kIpChecksumOffset] = 0;
  ip[kIpChecksumOffset + 1] = 0;
  // With the field zeroed, the complemented sum is the checksum (RFC 1071).
  const uint16_t checksum = Ipv4HeaderChecksumResidue(ip, (ip[0] & 0x0fu) * 4u);
  ip[kIpChecksumOffset] = static_cast<uint8_t>(checksum >> 8);
  ip[kIpChecksumOffset + 1] = static_cast<uint8_t>(checksum);
}

}  // namespace

absl::StatusOr<RingLoop> CreateRingLoop(uint32_t wire_size, uint32_t pool_size) {
  RingLoop loop;
  auto wire = CreateRing("fb_wire", wire_size);
  if (!wire.ok()) return wire.status();
  auto idle = CreateRing("fb_idle", kIdleRingSize);
  if (!idle.ok()) return idle.status();
  loop.wire = *wire;
  loop.idle = *idle;
  loop.pool = rte_pktmbuf_pool_create("fb_pool", pool_size, kPoolCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      static_cast<int>(rte_socket_id()));
  if (loop.pool == nullptr) return absl::ResourceExhaustedError(absl::StrCat("mbuf pool: ", rte_strerror(rte_errno)));

  auto ingress = CreatePort("fb_in", loop.wire, loop.idle, loop.pool);
  if (!ingress.ok()) return ingress.status();
  loop.ingress = *ingress;
  const char* const egress_names[kEgressPorts] = {"fb_out0", "fb_out1"};
  for (uint32_t i = 0; i < kEgressPorts; ++i) {
    auto egress = CreatePort(egress_names[i], loop.idle, loop.wire, loop.pool);
    if (!egress.ok()) return egress.status();
    loop.egress[i] = *egress;
  }
  loop.port_count = static_cast<uint16_t>(1 + std::max<uint16_t>(loop.ingress, *std::max_element(
                                                                                  loop.egress.begin(), loop.egress.end())));
  return loop;
}

absl::Status FillWire(const RingLoop& loop, const std::vector<std::vector<uint8_t>>& frames) {
  for (const std::vector<uint8_t>& frame : frames) {
    rte_mbuf* m = rte_pktmbuf_alloc(loop.pool);
    if (m == nullptr) return absl::ResourceExhaustedError("mbuf pool exhausted while filling the wire");
    char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    if (data == nullptr) {
      rte_pktmbuf_free(m);
      return absl::InvalidArgumentError(absl::StrCat("frame of ", frame.size(), " bytes does not fit an mbuf"));
    }
    std::memcpy(data, frame.data(), frame.size());
    if (rte_ring_sp_enqueue(loop.wire, m) != 0) {
      rte_pktmbuf_free(m);
      return absl::ResourceExhaustedError("wire ring full: more frames than the ring was sized for");
    }
  }
  return absl::OkStatus();
}

uint32_t DrainWire(const RingLoop& loop, uint32_t* stray) {
  *stray = FreeAll(loop.idle);
  return FreeAll(loop.wire);
}

uint32_t RefreshTtl(const RingLoop& loop, uint8_t ttl) {
  // Walk the ring in place by taking and re-adding one burst at a time,
  // exactly as many frames as it held, so FIFO order is preserved.
  const uint32_t count = rte_ring_count(loop.wire);
  uint32_t done = 0;
  void* objs[64];
  while (done < count) {
    const unsigned n = rte_ring_sc_dequeue_burst(loop.wire, objs, std::min<uint32_t>(64, count - done), nullptr);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) SetTtl(static_cast<rte_mbuf*>(objs[i]), ttl);
    rte_ring_sp_enqueue_bulk(loop.wire, objs, n, nullptr);
    done += n;
  }
  return done;
}

}  // namespace isthmus::perf
