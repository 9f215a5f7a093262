// Anycast services on the control side (issue 5): the prober's health
// events become the service snapshot the workers read (Maglev over the
// healthy backends) and the VIP announcements the BGP speaker sends; the
// flow table is aged here, a bounded slice per tick; drains and SIGTERM
// withdraw first and wait until the peers have the UPDATE.
//
// A service is up while at least min_up of its backends are; degraded
// while up with fewer than announce.degraded_below (announced with the
// configured prepend, MED or community); drained after `isthmusctl service
// drain` (withdrawn, no new flows, established flows continue). A VIP shared
// by several services (other ports) is announced while any of them is up.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/daemon/daemon.h"
#include "control/log_format.h"
#include "dataplane/nat/nat_clock.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {

// Flows shown by `show flows` (the table may hold millions).
constexpr size_t kShowFlowsLimit = 1000;
// Ageing looks at this share of the records per control tick (100 ms), so a
// full pass takes at most kAgeingPassTicks ticks, and never fewer than
// kAgeingMinRecords per tick.
constexpr uint32_t kAgeingPassTicks = 50;
constexpr uint32_t kAgeingMinRecords = 4096;
// How long a drain or shutdown waits for the peers to acknowledge the withdraw.
constexpr absl::Duration kWithdrawAckTimeout = absl::Seconds(2);

std::string Dotted(uint32_t host_order) { return ToString(Ipv4Addr{host_order}); }

uint16_t ProbePort(const ServiceConfig& s, const ServiceBackendConfig& b) {
  if (s.health.port != 0) return s.health.port;
  if (b.port != 0) return b.port;
  return s.ports.front();
}

NatTimeouts ToNatTimeouts(const FlowTimeouts& t) {
  NatTimeouts out;
  out.tcp_established = t.tcp_established_s;
  out.tcp_transitory = t.tcp_transitory_s;
  out.udp = t.udp_s;
  out.tcp_embryonic = t.tcp_embryonic_s;
  return out;
}

// nat.admission's shares of the table as flow counts (at least one, so a
// small table still admits a handshake).
FlowAdmissionLimits ToAdmissionLimits(const NatAdmissionConfig& a, uint32_t capacity) {
  auto share = [capacity](uint32_t percent) {
    return std::max<uint32_t>(1, static_cast<uint32_t>(uint64_t{capacity} * percent / 100));
  };
  return {share(a.embryonic_max_percent), share(a.service_embryonic_max_percent), a.syn_rate_per_worker};
}

std::string_view ProtocolName(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    default:
      return "other";
  }
}

std::string_view TcpStateName(uint8_t proto, TcpState s) {
  if (proto != IPPROTO_TCP) return "-";
  static constexpr std::string_view kNames[] = {"new",      "syn_sent",  "syn_received", "established",
                                                "fin_orig", "fin_reply", "closing",      "reset"};
  const auto i = static_cast<size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string Endpoint(uint32_t addr, uint16_t port) { return absl::StrCat(Dotted(addr), ":", port); }

// The prober's status of each target by its key (service name, backend
// slot): the views need not know the order the targets were given in.
using ProbeStatusByKey = absl::flat_hash_map<health::ProbeKey, health::TargetStatus>;
ProbeStatusByKey StatusByKey(const health::Prober* prober) {
  ProbeStatusByKey out;
  if (prober == nullptr) return out;
  for (health::TargetStatus& t : prober->Snapshot()) out.emplace(t.target.key, std::move(t));
  return out;
}

const health::TargetStatus* FindStatus(const ProbeStatusByKey& status, const std::string& service, size_t slot) {
  auto it = status.find(health::ProbeKey{service, static_cast<uint32_t>(slot)});
  return it == status.end() ? nullptr : &it->second;
}

}  // namespace

std::string_view ToString(ServiceRunState s) {
  switch (s) {
    case ServiceRunState::kDown:
      return "down";
    case ServiceRunState::kUp:
      return "up";
    case ServiceRunState::kDegraded:
      return "degraded";
    case ServiceRunState::kDrained:
      return "drained";
  }
  return "?";
}

ServiceRunState ServiceRuntime::State() const {
  if (drained) return ServiceRunState::kDrained;
  const auto up = static_cast<uint32_t>(std::count(backend_up.begin(), backend_up.end(), true));
  if (up < config.min_up) return ServiceRunState::kDown;
  if (config.announce.degraded.kind != DegradedAnnounce::Kind::kNone && up < config.announce.degraded_below) {
    return ServiceRunState::kDegraded;
  }
  return ServiceRunState::kUp;
}

ServiceRuntime ServiceRuntime::For(const ServiceConfig& config) {
  ServiceRuntime r;
  r.config = config;
  r.backend_up.assign(config.backends.size(), false);
  r.backend_removed.assign(config.backends.size(), false);
  return r;
}

ServiceConfig ServiceRuntime::Live() const {
  ServiceConfig live = config;
  live.backends.clear();
  for (size_t b = 0; b < config.backends.size(); ++b) {
    if (!backend_removed[b]) live.backends.push_back(config.backends[b]);
  }
  return live;
}

void ServiceRuntime::Retire() {
  removed = true;
  config.ports.clear();   // never matched again (ServiceSnapshot)
  backend_up.assign(backend_up.size(), false);
  backend_removed.assign(backend_removed.size(), true);
}

std::vector<size_t> ServiceRuntime::Merge(const ServiceConfig& next) {
  std::vector<size_t> retired;
  std::vector<ServiceBackendConfig> slots = config.backends;
  std::vector<bool> matched(next.backends.size(), false);
  for (size_t b = 0; b < slots.size(); ++b) {
    if (backend_removed[b]) continue;
    auto same = [&](const ServiceBackendConfig& n) {
      return n.address == slots[b].address && n.port == slots[b].port;
    };
    auto it = std::find_if(next.backends.begin(), next.backends.end(), same);
    if (it == next.backends.end()) {
      backend_removed[b] = true;
      backend_up[b] = false;
      retired.push_back(b);
      continue;
    }
    slots[b] = *it;   // the weight may have changed
    matched[static_cast<size_t>(it - next.backends.begin())] = true;
  }
  for (size_t n = 0; n < next.backends.size(); ++n) {
    if (matched[n]) continue;
    slots.push_back(next.backends[n]);
    backend_up.push_back(false);
    backend_removed.push_back(false);
  }
  config = next;
  config.backends = std::move(slots);
  return retired;
}

uint32_t ServiceRuntime::BackendsUp() const {
  return static_cast<uint32_t>(std::count(backend_up.begin(), backend_up.end(), true));
}

absl::Status Daemon::CreateServiceTables() {
  services_ = std::make_unique<ServiceTable>(rcu_);
  if (config_.services.empty()) return absl::OkStatus();
  SnatPortAllocatorConfig snat;
  snat.workers = config_.dataplane.workers;
  for (const ServiceConfig& s : config_.services) {
    for (const Ipv4Addr& a : s.snat_pool) {
      if (std::find(snat.addresses.begin(), snat.addresses.end(), a.value) == snat.addresses.end()) {
        snat.addresses.push_back(a.value);
      }
    }
  }
  if (!snat.addresses.empty()) {
    auto allocator = SnatPortAllocator::Create(snat);
    if (!allocator.ok()) return allocator.status();
    snat_ = std::move(*allocator);
  }
  auto flows = FlowTable::Create({.capacity = config_.nat.capacity, .workers = config_.dataplane.workers}, rcu_,
                                 snat_.get());
  if (!flows.ok()) {
    return absl::Status(flows.status().code(),
                        absl::StrCat("nat.capacity ", config_.nat.capacity, ": ", flows.status().message()));
  }
  flows_ = std::move(*flows);
  spdlog::info("nat: flow table for {} flows ({} MiB), {} SNAT address(es)", config_.nat.capacity,
               flows_->MemoryBytes() >> 20, snat.addresses.size());
  return absl::OkStatus();
}

std::vector<health::ProbeTarget> Daemon::ProbeTargets(const std::vector<ServiceRuntime>& services) {
  std::vector<health::ProbeTarget> targets;
  for (const ServiceRuntime& r : services) {
    if (r.removed) continue;
    const ServiceConfig& s = r.config;
    for (size_t b = 0; b < s.backends.size(); ++b) {
      if (r.backend_removed[b]) continue;
      const ServiceBackendConfig& backend = s.backends[b];
      health::ProbeTarget t;
      t.key = {s.name, static_cast<uint32_t>(b)};   // the backend's slot
      t.settings.address = backend.address;
      t.settings.port = ProbePort(s, backend);
      t.settings.type = s.health.type == HealthCheckType::kHttp ? health::ProbeType::kHttp : health::ProbeType::kTcp;
      t.settings.http_path = s.health.path;
      t.settings.expected_status = static_cast<int>(s.health.expect_status);
      t.settings.interval = absl::Milliseconds(s.health.interval_ms);
      t.settings.timeout = absl::Milliseconds(s.health.timeout_ms);
      t.settings.rise = s.health.rise;
      t.settings.fall = s.health.fall;
      targets.push_back(std::move(t));
    }
  }
  return targets;
}

absl::Status Daemon::StartServices() {
  if (config_.services.empty()) return absl::OkStatus();
  auto prober = health::Prober::Start();
  if (!prober.ok()) return prober.status();
  prober_ = std::move(*prober);
  std::vector<health::ProbeTarget> targets;
  {
    absl::MutexLock lock(&services_mu_);
    for (const ServiceConfig& s : config_.services) service_states_.push_back(ServiceRuntime::For(s));
    targets = ProbeTargets(service_states_);
  }
  if (absl::Status s = prober_->SetTargets(std::move(targets)); !s.ok()) return s;
  if (absl::Status s = PublishServices(); !s.ok()) return s;
  spdlog::info("services: {} configured, backends probed; VIPs announced once min_up backends are healthy",
               config_.services.size());
  return absl::OkStatus();
}

absl::Status Daemon::PublishServices() {
  std::vector<ServiceConfig> configs;
  std::vector<std::vector<bool>> up;
  std::vector<bool> drained;
  {
    absl::MutexLock lock(&services_mu_);
    for (const ServiceRuntime& s : service_states_) {
      configs.push_back(s.config);
      up.push_back(s.backend_up);
      drained.push_back(s.drained);
    }
  }
  auto snapshot = ServiceSnapshot::Build(
      configs, config_.nat.maglev_table_size, [&](size_t s, size_t b) { return up[s][b]; },
      [&](size_t s) { return static_cast<bool>(drained[s]); });
  if (!snapshot.ok()) return snapshot.status();
  services_->Publish(*std::move(snapshot));
  service_timeouts_.clear();
  for (const ServiceConfig& c : configs) service_timeouts_.push_back(ToNatTimeouts(c.flow_timeouts));
  // Live: workers apply new admission limits from their next SYN on.
  if (flows_ != nullptr) flows_->SetAdmissionLimits(ToAdmissionLimits(config_.nat.admission, flows_->capacity()));
  SyncServiceAnnouncements();
  return absl::OkStatus();
}

void Daemon::SyncServiceAnnouncements() {
  // The announcement each VIP should have now: from its first service that
  // is up (a degraded one only when none is fully up).
  std::map<uint32_t, bgp::Announcement> desired;
  {
    absl::MutexLock lock(&services_mu_);
    for (ServiceRuntime& s : service_states_) {
      if (s.removed) continue;
      const ServiceRunState state = s.State();
      if (state != s.last_state) {
        spdlog::info("service {}: {} ({} of {} backends up, min_up {})", s.config.name, ToString(state),
                     s.BackendsUp(), s.config.backends.size(), s.config.min_up);
        s.last_state = state;
      }
      if (state != ServiceRunState::kUp && state != ServiceRunState::kDegraded) continue;
      bgp::Announcement a;
      a.prefix = {s.config.vip, 32};
      a.peers = s.config.announce.peers;
      if (state == ServiceRunState::kDegraded) {
        const DegradedAnnounce& d = s.config.announce.degraded;
        if (d.kind == DegradedAnnounce::Kind::kPrepend) a.prepend = d.value;
        if (d.kind == DegradedAnnounce::Kind::kMed) a.med = d.value;
        if (d.kind == DegradedAnnounce::Kind::kCommunity) a.communities = {d.value};
      }
      auto [it, inserted] = desired.try_emplace(s.config.vip.value, a);
      if (!inserted && state == ServiceRunState::kUp) it->second = a;   // a healthy service wins
    }
  }
  for (auto it = announced_vips_.begin(); it != announced_vips_.end();) {
    if (desired.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("service VIP {}/32: withdrawn", Dotted(it->first));
    if (bgp_ != nullptr) bgp_->Withdraw(it->second.prefix);
    it = announced_vips_.erase(it);
  }
  for (const auto& [vip, a] : desired) {
    auto it = announced_vips_.find(vip);
    if (it != announced_vips_.end() && it->second == a) continue;   // nothing changed: nothing sent
    spdlog::info("service VIP {}/32: announced{}", Dotted(vip),
                 a.prepend || a.med || !a.communities.empty() ? " (degraded attributes)" : "");
    if (bgp_ != nullptr) bgp_->Announce(a);
    announced_vips_[vip] = a;
  }
}

void Daemon::OnHealthEvents() {
  if (prober_ == nullptr) return;
  std::vector<health::HealthEvent> events = prober_->Drain();
  if (events.empty()) return;
  std::vector<std::pair<uint16_t, uint16_t>> reselect;   // (service, backend) whose flows move
  {
    absl::MutexLock lock(&services_mu_);
    for (const health::HealthEvent& e : events) {
      for (size_t i = 0; i < service_states_.size(); ++i) {
        ServiceRuntime& s = service_states_[i];
        if (s.removed || s.config.name != e.key.service || e.key.backend >= s.backend_up.size() ||
            s.backend_removed[e.key.backend]) {
          continue;
        }
        const bool up = e.state == health::HealthState::kUp;
        const ServiceBackendConfig& b = s.config.backends[e.key.backend];
        spdlog::info("service {}: backend {} {} ({})", s.config.name, Endpoint(b.address.value, b.port),
                     up ? "up" : "down", health::Describe(e.reason));
        s.backend_up[e.key.backend] = up;
        // UDP has no connection to reset: its flows always pick anew.
        if (!up && (s.config.on_backend_down == BackendDownPolicy::kReselect ||
                    s.config.protocol == ServiceProtocol::kUdp)) {
          reselect.push_back({static_cast<uint16_t>(i), static_cast<uint16_t>(e.key.backend)});
        }
      }
    }
  }
  if (absl::Status s = PublishServices(); !s.ok()) spdlog::error("services: {}", s.message());
  // After the snapshot without them: new packets of these flows pick anew.
  for (const auto& [service, backend] : reselect) {
    const uint32_t moved = flows_ != nullptr ? flows_->RemoveBackendFlows(service, backend) : 0;
    if (moved != 0) spdlog::info("services: {} flow(s) of a dead backend will pick a new one", moved);
  }
}

void Daemon::AgeFlows() {
  if (flows_ == nullptr) return;
  services_->Reclaim();
  const uint32_t per_tick = std::max(kAgeingMinRecords, flows_->capacity() / kAgeingPassTicks);
  flows_->Age(NatClockSeconds(), per_tick, ToNatTimeouts(config_.nat.timeouts), service_timeouts_);
}

absl::Status Daemon::CheckServicesReloadable(const Config& next) const {
  if (next.services == config_.services) return absl::OkStatus();
  if (!next.services.empty() && flows_ == nullptr) {
    return absl::FailedPreconditionError(
        "services: the first service needs a restart of isthmusd (the flow table is sized at start)");
  }
  for (const ServiceConfig& s : next.services) {
    for (const Ipv4Addr& a : s.snat_pool) {
      bool known = false;
      for (const ServiceConfig& old : config_.services) {
        known = known || std::find(old.snat_pool.begin(), old.snat_pool.end(), a) != old.snat_pool.end();
      }
      if (!known) {
        return absl::FailedPreconditionError(absl::StrCat("services[", s.name, "].snat.pool: ", ToString(a),
                                                          " is new; SNAT addresses are fixed at start (restart)"));
      }
    }
  }
  return absl::OkStatus();
}

// Service and backend ids are slots that flows keep (FlowTable records a
// flow's service and backend by id), so a reload never renumbers them: a
// service or backend keeps its slot while it stays in the config (by name,
// and by address and port), a new one takes a new slot, and a removed one
// leaves a retired slot behind whose flows are removed once the snapshot
// without it is published (their next packets pick anew, as after a
// backend failure with `reselect`). Retired slots are not reused: a restart
// compacts them.
absl::Status Daemon::ReloadServices(const Config& next, std::vector<std::string>* changes) {
  if (next.services == config_.services && next.nat == config_.nat) return absl::OkStatus();
  std::vector<std::pair<uint16_t, uint16_t>> purge;   // (service, backend) slots retired now
  std::vector<health::ProbeTarget> targets;
  std::vector<ServiceRuntime> next_states;
  {
    absl::MutexLock lock(&services_mu_);
    next_states = service_states_;
    for (size_t i = 0; i < next_states.size(); ++i) {
      ServiceRuntime& r = next_states[i];
      if (r.removed) continue;
      auto it = std::find_if(next.services.begin(), next.services.end(),
                             [&](const ServiceConfig& c) { return c.name == r.config.name; });
      if (it == next.services.end()) {
        changes->push_back(absl::StrCat("service ", r.config.name, " removed"));
        for (size_t b = 0; b < r.backend_removed.size(); ++b) {
          if (!r.backend_removed[b]) purge.push_back({static_cast<uint16_t>(i), static_cast<uint16_t>(b)});
        }
        r.Retire();
        continue;
      }
      if (!(r.Live() == *it)) changes->push_back(absl::StrCat("service ", r.config.name, " changed"));
      for (size_t b : r.Merge(*it)) purge.push_back({static_cast<uint16_t>(i), static_cast<uint16_t>(b)});
    }
    for (const ServiceConfig& c : next.services) {
      if (std::any_of(next_states.begin(), next_states.end(),
                      [&](const ServiceRuntime& r) { return !r.removed && r.config.name == c.name; })) {
        continue;
      }
      changes->push_back(absl::StrCat("service ", c.name, " added"));
      next_states.push_back(ServiceRuntime::For(c));
    }
    if (next_states.size() > kMaxServiceSlots) {
      return absl::ResourceExhaustedError("services: too many services retired by reloads; restart isthmusd");
    }
    for (const ServiceRuntime& r : next_states) {
      if (r.config.backends.size() > kMaxBackendSlots) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "services[", r.config.name, "]: too many backends retired by reloads; restart isthmusd"));
      }
    }
    targets = ProbeTargets(next_states);
  }
  if (prober_ != nullptr) {
    if (absl::Status s = prober_->SetTargets(targets); !s.ok()) return s;
  }
  // Health carries over for backends the prober kept (same service, address,
  // port and probe settings).
  const ProbeStatusByKey status = StatusByKey(prober_.get());
  for (ServiceRuntime& r : next_states) {
    if (r.removed) continue;
    for (size_t b = 0; b < r.backend_up.size(); ++b) {
      const health::TargetStatus* p = FindStatus(status, r.config.name, b);
      r.backend_up[b] = !r.backend_removed[b] && p != nullptr && p->state == health::HealthState::kUp;
    }
  }
  {
    absl::MutexLock lock(&services_mu_);
    service_states_ = std::move(next_states);
  }
  if (!(next.nat == config_.nat)) changes->push_back("nat timeouts, admission limits or Maglev table size changed");
  // PublishServices reads config_.nat: the caller assigns config_ after us,
  // so publish with the new NAT settings explicitly.
  const NatConfig old_nat = config_.nat;
  config_.nat = next.nat;
  if (absl::Status published = PublishServices(); !published.ok()) {
    config_.nat = old_nat;
    return published;
  }
  // After the snapshot without them: flows of retired slots go.
  uint32_t removed = 0;
  for (const auto& [service, backend] : purge) removed += flows_ != nullptr ? flows_->RemoveBackendFlows(service, backend) : 0;
  if (removed != 0) spdlog::info("services: {} flow(s) of removed backends or services removed", removed);
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> Daemon::DrainService(const std::string& name, bool drain) {
  std::string vip;
  {
    absl::MutexLock lock(&services_mu_);
    ServiceRuntime* found = nullptr;
    for (ServiceRuntime& s : service_states_) {
      if (!s.removed && s.config.name == name) found = &s;
    }
    if (found == nullptr) {
      std::vector<std::string> names;
      for (const ServiceRuntime& s : service_states_) {
        if (!s.removed) names.push_back(s.config.name);
      }
      return absl::NotFoundError(absl::StrCat("no service named '", name, "' (configured: ",
                                              names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
    }
    found->drained = drain;
    vip = ToString(found->config.vip);
  }
  // Withdraw (or announce again) and stop taking new flows in one snapshot;
  // then wait until every established peer has acknowledged the UPDATE.
  if (absl::Status s = PublishServices(); !s.ok()) return s;
  const bool acknowledged = bgp_ == nullptr || bgp_->WaitOutputAcknowledged(kWithdrawAckTimeout);
  if (!acknowledged) spdlog::warn("service {}: the peers did not acknowledge the UPDATE within 2 s", name);
  spdlog::info("service {}: {} by the admin API", name, drain ? "drained" : "undrained");
  return nlohmann::json{{"service", name},
                        {"vip", vip},
                        {"state", drain ? "drained" : "undrained"},
                        {"acknowledged", acknowledged}};
}

nlohmann::json Daemon::ShowServices() const {
  const ProbeStatusByKey probes = StatusByKey(prober_.get());
  nlohmann::json out = nlohmann::json::array();
  absl::MutexLock lock(&services_mu_);
  for (size_t id = 0; id < service_states_.size(); ++id) {
    const ServiceRuntime& s = service_states_[id];
    if (s.removed) continue;
    nlohmann::json backends = nlohmann::json::array();
    for (size_t b = 0; b < s.config.backends.size(); ++b) {
      if (s.backend_removed[b]) continue;
      const ServiceBackendConfig& bc = s.config.backends[b];
      nlohmann::json j{{"backend", Endpoint(bc.address.value, bc.port)},
                       {"weight", bc.weight},
                       {"health", s.backend_up[b] ? "up" : "down"}};
      if (const health::TargetStatus* p = FindStatus(probes, s.config.name, b)) {
        j["latency_us"] = p->last_latency_us.has_value() ? nlohmann::json(*p->last_latency_us) : nlohmann::json();
        j["last_error"] = p->last_error.ok() ? "" : health::Describe(p->last_error);
        j["probes_sent"] = p->probes_sent;
        j["probes_failed"] = p->probes_failed;
      }
      backends.push_back(std::move(j));
    }
    std::vector<std::string> ports;
    for (uint16_t p : s.config.ports) ports.push_back(absl::StrCat(p));
    out.push_back({{"name", s.config.name},
                   {"vip", ToString(s.config.vip)},
                   {"protocol", std::string(ToString(s.config.protocol))},
                   {"ports", s.config.ports},
                   {"ports_text", absl::StrJoin(ports, ",")},
                   {"state", std::string(ToString(s.State()))},
                   {"backends_up", s.BackendsUp()},
                   {"min_up", s.config.min_up},
                   {"announced", announced_vips_.contains(s.config.vip.value)},
                   {"snat", !s.config.snat_pool.empty()},
                   // Half-open TCP flows (nat.admission): high during a SYN flood.
                   {"embryonic_flows", flows_ != nullptr ? flows_->embryonic(static_cast<uint16_t>(id)) : 0},
                   {"backends", std::move(backends)}});
  }
  return out;
}

nlohmann::json Daemon::ShowFlows() const {
  nlohmann::json flows = nlohmann::json::array();
  FlowTableCounters c;
  FlowAdmissionLimits limits;
  if (flows_ != nullptr) {
    c = flows_->Counters();
    limits = flows_->admission_limits();
    const uint32_t now = NatClockSeconds();
    absl::MutexLock lock(&services_mu_);
    for (const FlowView& f : flows_->List(kShowFlowsLimit)) {
      const std::string service =
          f.service_id < service_states_.size() ? service_states_[f.service_id].config.name : "?";
      flows.push_back({{"service", service},
                       {"protocol", std::string(ProtocolName(f.original.proto))},
                       {"client", Endpoint(f.original.src, f.original.sport)},
                       {"vip", Endpoint(f.original.dst, f.original.dport)},
                       {"backend", Endpoint(f.reply.src, f.reply.sport)},
                       {"snat", f.snat ? Endpoint(f.reply.dst, f.reply.dport) : ""},
                       {"state", std::string(TcpStateName(f.original.proto, f.tcp))},
                       {"idle_seconds", now >= f.last_seen ? now - f.last_seen : 0},
                       {"age_seconds", now >= f.created ? now - f.created : 0}});
    }
  }
  return {{"capacity", flows_ != nullptr ? flows_->capacity() : 0},
          {"active", c.active},
          {"created", c.created},
          {"expired", c.expired},
          {"embryonic", c.embryonic},
          {"admission_limits",
           {{"embryonic_max", limits.embryonic_max},
            {"service_embryonic_max", limits.service_embryonic_max},
            {"syn_rate_per_worker", limits.syn_rate_per_worker}}},
          {"snat_ports_in_use", snat_ != nullptr ? snat_->InUse() : 0},
          {"shown", flows.size()},
          {"flows", std::move(flows)}};
}

void Daemon::SnapshotServices(DataplaneSnapshot* snap) const {
  const ProbeStatusByKey probes = StatusByKey(prober_.get());
  {
    absl::MutexLock lock(&services_mu_);
    for (const ServiceRuntime& s : service_states_) {
      if (s.removed) continue;
      const ServiceRunState state = s.State();
      ServiceSnapshotMetrics m;
      m.name = s.config.name;
      m.state = std::string(ToString(state));
      m.up = state == ServiceRunState::kUp || state == ServiceRunState::kDegraded;
      for (size_t b = 0; b < s.config.backends.size(); ++b) {
        if (s.backend_removed[b]) continue;
        BackendSnapshotMetrics bm;
        bm.backend = Endpoint(s.config.backends[b].address.value, s.config.backends[b].port);
        bm.up = s.backend_up[b];
        if (const health::TargetStatus* p = FindStatus(probes, s.config.name, b)) {
          bm.probe_latency_seconds =
              p->last_latency_us.has_value() ? static_cast<double>(*p->last_latency_us) / 1e6 : -1;
          bm.probes_total = p->probes_sent;
          bm.probes_failed_total = p->probes_failed;
        }
        m.backends.push_back(std::move(bm));
      }
      snap->services.push_back(std::move(m));
    }
  }
  if (flows_ != nullptr) {
    const FlowTableCounters c = flows_->Counters();
    snap->nat.present = true;
    snap->nat.active = c.active;
    snap->nat.created = c.created;
    snap->nat.expired = c.expired;
    snap->nat.capacity = flows_->capacity();
    snap->nat.snat_ports_in_use = snat_ != nullptr ? snat_->InUse() : 0;
  }
}

}  // namespace isthmus
