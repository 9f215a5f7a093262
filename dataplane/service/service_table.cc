#include "dataplane/service/service_table.h"

#include <netinet/in.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <bit>

#include "absl/strings/str_cat.h"

namespace isthmus {
namespace {

constexpr size_t kMinIndexSlots = 8;

uint8_t ProtocolNumber(ServiceProtocol p) { return p == ServiceProtocol::kUdp ? IPPROTO_UDP : IPPROTO_TCP; }

absl::StatusOr<ServiceEntry> BuildEntry(const ServiceConfig& config, uint32_t id, uint32_t maglev_table_size,
                                        ServiceSnapshot::HealthView healthy) {
  // Backend indexes are kept as uint16_t (ServiceEntry::healthy).
  if (config.backends.size() > kMaxMaglevBackends) {
    return absl::InvalidArgumentError(
        absl::StrCat("service ", config.name, ": ", config.backends.size(), " backends, at most ", kMaxMaglevBackends));
  }
  ServiceEntry e;
  e.id = id;
  e.vip = config.vip.value;
  e.protocol = ProtocolNumber(config.protocol);
  e.on_backend_down = config.on_backend_down;
  e.timeouts = config.flow_timeouts;
  std::vector<MaglevBackend> up;
  for (size_t b = 0; b < config.backends.size(); ++b) {
    const ServiceBackendConfig& bc = config.backends[b];
    const bool is_up = healthy(id, b);
    e.backends.push_back({bc.address.value, bc.port, is_up});
    if (!is_up) continue;
    e.healthy.push_back(static_cast<uint16_t>(b));
    up.push_back({bc.address.value, bc.port, bc.weight});
  }
  absl::StatusOr<MaglevTable> maglev = MaglevTable::Build(up, maglev_table_size);
  if (!maglev.ok()) {
    return absl::Status(maglev.status().code(), absl::StrCat("service ", config.name, ": ", maglev.status().message()));
  }
  e.maglev = *std::move(maglev);
  for (const Ipv4Addr& a : config.snat_pool) e.snat_pool.push_back(a.value);
  return e;
}

}  // namespace

FlatKeyIndex::FlatKeyIndex(std::span<const std::pair<uint64_t, uint32_t>> entries) {
  const size_t capacity = std::bit_ceil(std::max(kMinIndexSlots, 2 * entries.size()));
  slots_.resize(capacity);
  mask_ = capacity - 1;
  shift_ = 64 - static_cast<uint32_t>(std::countr_zero(capacity));
  for (const auto& [key, value] : entries) {
    uint64_t i = Home(key);
    while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask_;
    slots_[i] = {key, value};
  }
}

absl::StatusOr<std::unique_ptr<const ServiceSnapshot>> ServiceSnapshot::Build(std::span<const ServiceConfig> services,
                                                                              uint32_t maglev_table_size,
                                                                              HealthView healthy) {
  return Build(services, maglev_table_size, healthy, [](size_t) { return false; });
}

absl::StatusOr<std::unique_ptr<const ServiceSnapshot>> ServiceSnapshot::Build(std::span<const ServiceConfig> services,
                                                                              uint32_t maglev_table_size,
                                                                              HealthView healthy, DrainView draining) {
  std::vector<ServiceEntry> entries;
  std::vector<std::pair<uint64_t, uint32_t>> keys;
  std::vector<std::pair<uint64_t, uint32_t>> vips;
  std::vector<std::pair<uint64_t, uint32_t>> reply_addresses;
  entries.reserve(services.size());
  for (size_t i = 0; i < services.size(); ++i) {
    const ServiceConfig& config = services[i];
    if (config.vip.value == 0) return absl::InvalidArgumentError(absl::StrCat("service ", config.name, ": no VIP"));
    absl::StatusOr<ServiceEntry> entry = BuildEntry(config, static_cast<uint32_t>(i), maglev_table_size, healthy);
    if (!entry.ok()) return entry.status();
    entry->draining = draining(i);
    // A service without ports is a retired slot (the daemon keeps service
    // ids stable across reloads): it keeps its id and is never matched.
    if (config.ports.empty()) {
      entries.push_back(*std::move(entry));
      continue;
    }
    for (uint16_t port : config.ports) keys.push_back({Key(entry->vip, entry->protocol, port), static_cast<uint32_t>(i)});
    vips.push_back({entry->vip, static_cast<uint32_t>(i)});
    for (const ServiceBackend& b : entry->backends) reply_addresses.push_back({b.address, static_cast<uint32_t>(i)});
    for (uint32_t a : entry->snat_pool) reply_addresses.push_back({a, static_cast<uint32_t>(i)});
    entries.push_back(*std::move(entry));
  }
  std::sort(keys.begin(), keys.end());
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i].first == keys[i - 1].first) {
      const ServiceEntry& e = entries[keys[i].second];
      return absl::InvalidArgumentError(absl::StrCat("services ", services[keys[i - 1].second].name, " and ",
                                                     services[e.id].name, " share VIP, protocol and port ",
                                                     keys[i].first & 0xffff));
    }
  }
  // Several services may share a VIP (different ports or protocols): the
  // VIP index needs each address once.
  auto unique_keys = [](std::vector<std::pair<uint64_t, uint32_t>>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
            v.end());
  };
  unique_keys(vips);
  unique_keys(reply_addresses);
  return std::unique_ptr<const ServiceSnapshot>(new ServiceSnapshot(
      std::move(entries), FlatKeyIndex(keys), FlatKeyIndex(vips), FlatKeyIndex(reply_addresses)));
}

std::unique_ptr<const ServiceSnapshot> ServiceSnapshot::Empty() {
  return std::unique_ptr<const ServiceSnapshot>(
      new ServiceSnapshot({}, FlatKeyIndex({}), FlatKeyIndex({}), FlatKeyIndex({})));
}

ServiceTable::ServiceTable(rte_rcu_qsbr* rcu) : rcu_(rcu), current_(ServiceSnapshot::Empty().release()) {}

ServiceTable::~ServiceTable() {
  // Workers have stopped by now: nothing reads the snapshot any more.
  delete current_.exchange(nullptr);
}

void ServiceTable::Publish(std::unique_ptr<const ServiceSnapshot> next) {
  Reclaim();
  const ServiceSnapshot* old = current_.exchange(next.release(), std::memory_order_acq_rel);
  if (rcu_ == nullptr) {  // no readers to wait for (tests)
    delete old;
    return;
  }
  retired_.push_back({std::unique_ptr<const ServiceSnapshot>(old), rte_rcu_qsbr_start(rcu_)});
}

void ServiceTable::Reclaim() {
  while (!retired_.empty() && rte_rcu_qsbr_check(rcu_, retired_.front().token, false) == 1) retired_.pop_front();
}

}  // namespace isthmus
