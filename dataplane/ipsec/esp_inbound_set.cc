#include "dataplane/ipsec/esp_inbound_set.h"

#include <rte_mbuf.h>

#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

constexpr uint16_t kRunMax = 64;

}  // namespace

absl::Status EspInboundSet::Add(std::unique_ptr<EspSa> sa) {
  if (sa == nullptr || sa->direction() != EspSa::Direction::kInbound) {
    return absl::InvalidArgumentError("only inbound SAs belong in an inbound SA set");
  }
  const uint32_t spi = sa->spi();
  auto [it, inserted] = by_spi_.try_emplace(spi, std::move(sa));
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrFormat("inbound SPI 0x%08x is already in use: a new SA needs a new SPI", spi));
  }
  return absl::OkStatus();
}

std::unique_ptr<EspSa> EspInboundSet::Remove(uint32_t spi) {
  auto it = by_spi_.find(spi);
  if (it == by_spi_.end()) return nullptr;
  std::unique_ptr<EspSa> sa = std::move(it->second);
  by_spi_.erase(it);
  return sa;
}

EspSa* EspInboundSet::Find(uint32_t spi) const {
  auto it = by_spi_.find(spi);
  return it == by_spi_.end() ? nullptr : it->second.get();
}

uint16_t EspInboundSet::ProcessRun(EspSa* sa, rte_mbuf** run, const uint16_t* index, uint16_t n,
                                   EspVerdict* verdicts, uint64_t now_tsc) {
  EspVerdict run_verdicts[kRunMax];
  const uint16_t ok = sa->Process(run, n, run_verdicts, now_tsc);
  for (uint16_t j = 0; j < n; ++j) verdicts[index[j]] = run_verdicts[j];
  return ok;
}

uint16_t EspInboundSet::Process(rte_mbuf** pkts, uint16_t n, EspVerdict* verdicts, uint64_t now_tsc) {
  rte_mbuf* run[kRunMax];
  uint16_t index[kRunMax];
  uint16_t run_len = 0;
  EspSa* run_sa = nullptr;
  uint16_t ok = 0;
  for (uint16_t i = 0; i < n; ++i) {
    EspOuterView view;
    EspVerdict v = ParseEspOuter(rte_pktmbuf_mtod(pkts[i], const uint8_t*), pkts[i]->data_len, &view);
    EspSa* sa = v == EspVerdict::kOk ? Find(view.spi) : nullptr;
    if (v == EspVerdict::kOk && sa == nullptr) v = EspVerdict::kWrongSpi;
    if (v != EspVerdict::kOk) {
      verdicts[i] = v;
      continue;
    }
    if ((sa != run_sa && run_len != 0) || run_len == kRunMax) {
      ok += ProcessRun(run_sa, run, index, run_len, verdicts, now_tsc);
      run_len = 0;
    }
    run_sa = sa;
    run[run_len] = pkts[i];
    index[run_len++] = i;
  }
  if (run_len != 0) ok += ProcessRun(run_sa, run, index, run_len, verdicts, now_tsc);
  return ok;
}

}  // namespace isthmus
