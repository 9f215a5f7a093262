#include "control/routing/route_table.h"

#include <algorithm>
#include <cassert>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace isthmus {

std::string_view ToString(RouteSource s) {
  switch (s) {
    case RouteSource::kLocal: return "local";
    case RouteSource::kConnected: return "connected";
    case RouteSource::kStatic: return "static";
    case RouteSource::kBgp: return "bgp";
  }
  return "unknown";
}

absl::Status RouteTable::SetAddresses(const std::vector<PortAddress>& addresses) {
  addresses_ = addresses;
  std::set<Ipv4Prefix> touched;
  for (auto it = rib_.begin(); it != rib_.end();) {
    if (it->first.source == RouteSource::kLocal || it->first.source == RouteSource::kConnected) {
      touched.insert(it->first.prefix);
      it = rib_.erase(it);
    } else {
      ++it;
    }
  }
  for (const PortAddress& pa : addresses) {
    RouteEntry local{Ipv4Prefix{pa.address.host, 32}, RouteSource::kLocal, false, {}, pa.port};
    rib_[{local.prefix, RouteSource::kLocal}] = local;
    touched.insert(local.prefix);
    if (pa.address.subnet.len < 32) {
      RouteEntry connected{pa.address.subnet, RouteSource::kConnected, false, {}, pa.port};
      rib_[{connected.prefix, RouteSource::kConnected}] = connected;
      touched.insert(connected.prefix);
    }
  }
  // Routes resolve through connected subnets: re-check all of them (and
  // the prefixes whose local/connected routes just went away).
  ClearBgpResolutions();
  absl::Status status = ReconcileAll();
  for (const Ipv4Prefix& p : touched) status.Update(Reconcile(p));
  return status;
}

absl::Status RouteTable::SetStatic(const std::vector<RouteEntry>& routes, std::vector<std::string>* changes) {
  std::map<Key, RouteEntry> next;
  for (const RouteEntry& r : routes) next[{r.prefix, RouteSource::kStatic}] = r;
  std::set<Ipv4Prefix> touched;
  for (auto it = rib_.begin(); it != rib_.end();) {
    if (it->first.source != RouteSource::kStatic) {
      ++it;
      continue;
    }
    auto found = next.find(it->first);
    if (found == next.end()) {
      if (changes) changes->push_back(absl::StrCat("static route ", ToString(it->first.prefix), " removed"));
      touched.insert(it->first.prefix);
      inactive_.erase(it->first);
      it = rib_.erase(it);
      continue;
    }
    if (!(found->second == it->second)) {
      if (changes) changes->push_back(absl::StrCat("static route ", ToString(it->first.prefix), " changed"));
      it->second = found->second;
      touched.insert(it->first.prefix);
    }
    next.erase(found);
    ++it;
  }
  for (auto& [key, entry] : next) {
    if (changes) changes->push_back(absl::StrCat("static route ", ToString(key.prefix), " added"));
    touched.insert(key.prefix);
    rib_.emplace(key, std::move(entry));
  }
  if (touched.empty()) return absl::OkStatus();
  absl::Status status;
  for (const Ipv4Prefix& p : touched) status.Update(Reconcile(p));
  // BGP next hops may resolve through static routes: re-check them all.
  ClearBgpResolutions();
  status.Update(ReconcileAll());
  return status;
}

RouteTable::Resolved RouteTable::Resolve(const RouteEntry& e) {
  std::vector<Nexthop> out;
  if (e.blackhole) {
    out.push_back(Nexthop{0, 0, 0, NexthopKind::kBlackhole});
    return out;
  }
  switch (e.source) {
    case RouteSource::kLocal:
      out.push_back(Nexthop{0, 0, *e.port, NexthopKind::kLocal});
      return out;
    case RouteSource::kConnected:
      if (auto t = tunnel_ports_.find(*e.port); t != tunnel_ports_.end()) {
        out.push_back(Nexthop{0, 0, *e.port, NexthopKind::kTunnel, t->second});
        return out;
      }
      out.push_back(Nexthop{0, 0, *e.port, NexthopKind::kConnected});
      return out;
    case RouteSource::kStatic:
    case RouteSource::kBgp:
      break;
  }
  for (const Ipv4Addr& gw : e.gateways) {
    auto hops = ResolveGateway(gw, e.port, e.source == RouteSource::kBgp);
    if (!hops.ok()) return hops.status();
    for (const Nexthop& nh : *hops) {
      if (out.size() < kMaxEcmp && std::find(out.begin(), out.end(), nh) == out.end()) out.push_back(nh);
    }
  }
  return out;
}

RouteTable::Resolved RouteTable::ResolveGateway(Ipv4Addr gw, std::optional<uint16_t> port, bool recursive) {
  for (const PortAddress& pa : addresses_) {
    if (port && pa.port != *port) continue;
    if (pa.address.subnet.len < 32 && pa.address.subnet.Contains(gw)) {
      if (auto t = tunnel_ports_.find(pa.port); t != tunnel_ports_.end()) {
        return std::vector<Nexthop>{Nexthop{gw.value, 0, pa.port, NexthopKind::kTunnel, t->second}};
      }
      auto slot = neighbors_->Intern(pa.port, gw.value);
      if (!slot.ok()) return slot.status();
      return std::vector<Nexthop>{Nexthop{gw.value, *slot, pa.port, NexthopKind::kForward}};
    }
  }
  if (recursive) {
    // Longest static route covering the gateway; its own gateways must be
    // on connected subnets (no deeper recursion).
    const RouteEntry* cover = nullptr;
    for (const auto& [key, entry] : rib_) {
      if (key.source != RouteSource::kStatic || entry.blackhole || !key.prefix.Contains(gw)) continue;
      if (cover == nullptr || key.prefix.len > cover->prefix.len) cover = &entry;
    }
    if (cover != nullptr) {
      std::vector<Nexthop> out;
      for (const Ipv4Addr& hop : cover->gateways) {
        auto direct = ResolveGateway(hop, cover->port, false);
        if (!direct.ok()) continue;
        for (const Nexthop& nh : *direct) out.push_back(nh);
      }
      if (!out.empty()) return out;
    }
  }
  return absl::FailedPreconditionError(absl::StrCat("gateway ", ToString(gw), " is not on a connected subnet of ",
                                                    port ? "the route's port" : "any port",
                                                    recursive ? " nor covered by a static route" : ""));
}

RouteTable::BgpList& RouteTable::ResolveBgp(uint32_t gateway_list) {
  auto [it, inserted] = bgp_resolved_.try_emplace(gateway_list);
  if (!inserted) return it->second;
  RouteEntry e;
  e.source = RouteSource::kBgp;
  const GatewayList& gateways = gateway_lists_.Get(gateway_list);
  e.gateways.assign(gateways.begin(), gateways.end());
  it->second.resolved = Resolve(e);
  return it->second;
}

uint32_t RouteTable::AcquireNexthopSet(const std::vector<Nexthop>& nexthops) {
  bool new_set = false;
  const uint32_t set = nexthop_sets_.Acquire(nexthops, &new_set);
  // Gateways are resolved when a next-hop set starts being used, not for
  // every route through it (a full table would queue a million requests).
  for (const Nexthop& nh : nexthops) {
    if (new_set && nh.kind == NexthopKind::kForward && resolve_) resolve_(nh.port, nh.gateway);
  }
  return set;
}

absl::Status RouteTable::HoldBgpGroup(BgpList& list) {
  if (list.group != kNoGroup) return absl::OkStatus();
  absl::StatusOr<uint32_t> group = fib_->HoldGroup(*list.resolved);
  if (!group.ok()) return group.status();
  list.group = *group;
  list.nexthop_set = AcquireNexthopSet(*list.resolved);
  return absl::OkStatus();
}

void RouteTable::ReleaseBgpList(BgpList& list) {
  // Installed routes keep the group (through the FIB) and the set
  // (through bgp_groups_): only the list's own hold goes.
  if (list.group != kNoGroup) fib_->ReleaseGroup(list.group);
  if (list.nexthop_set != kNoSet) nexthop_sets_.Release(list.nexthop_set);
  list.group = kNoGroup;
  list.nexthop_set = kNoSet;
}

void RouteTable::ClearBgpResolutions() {
  for (auto& [id, list] : bgp_resolved_) ReleaseBgpList(list);
  bgp_resolved_.clear();
}

absl::Status RouteTable::ApplyBgp(absl::Span<const BgpRoute> changes) {
  absl::Status status;
  for (size_t i = 0; i < changes.size(); ++i) {
    // A full table is a million random prefixes: each change's first
    // touches of bgp_, the FIB's rules and its tbl24 are cache misses.
    // Start them a few changes ahead so they overlap.
    if (i + kPrefetchDistance < changes.size()) {
      const Ipv4Prefix& ahead = changes[i + kPrefetchDistance].prefix;
      bgp_.prefetch(BgpWord(KeyOf(ahead), 0));
      fib_->Prefetch(ahead.addr.value, ahead.len);
    }
    const BgpRoute& change = changes[i];
    const PrefixKey key = KeyOf(change.prefix);
    bool had_bgp = true;
    uint32_t list = kNoList;
    if (change.gateways.empty()) {
      auto it = bgp_.find(BgpWord(key, 0));
      if (it == bgp_.end()) continue;   // never had one (e.g. a locally originated best path)
      const uint32_t old = ListOf(*it);
      bgp_.erase(it);
      ReleaseGatewayList(old);
    } else {
      list = gateway_lists_.Acquire(change.gateways);
      // Ids are dense, one per distinct list alive: a full table has a few.
      assert(list <= kListMask);
      auto [it, inserted] = bgp_.insert(BgpWord(key, list));
      had_bgp = !inserted;
      if (!inserted) {
        // Set elements are immutable: the new list is a new element.
        const uint32_t old = ListOf(*it);
        bgp_.erase(it);
        bgp_.insert(BgpWord(key, list));
        ReleaseGatewayList(old);
      }
    }
    status.Update(Reconcile(change.prefix, had_bgp, list));
  }
  return status;
}

void RouteTable::ReleaseGatewayList(uint32_t id) {
  // A freed id comes back for another list: its resolution must not.
  if (!gateway_lists_.Release(id)) return;
  if (auto it = bgp_resolved_.find(id); it != bgp_resolved_.end()) {
    ReleaseBgpList(it->second);
    bgp_resolved_.erase(it);
  }
}

absl::Status RouteTable::ReconcileAll() {
  std::vector<PrefixKey> keys;
  keys.reserve(rib_.size() + bgp_.size() + installed_.size());
  for (const auto& [key, entry] : rib_) keys.push_back(KeyOf(key.prefix));
  for (const uint64_t word : bgp_) keys.push_back(BgpKeyOf(word));
  // Also what is installed without a route any more (cannot happen, but
  // the FIB must never keep a route nobody owns).
  for (const auto& [key, installed] : installed_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  absl::Status status;
  for (PrefixKey key : keys) status.Update(Reconcile(PrefixOf(key)));
  return status;
}

std::optional<RouteTable::Installed> RouteTable::InstalledOf(const Ipv4Prefix& prefix,
                                                             bool bgp_may_be_installed) const {
  if (auto it = installed_.find(KeyOf(prefix)); it != installed_.end()) return it->second;
  if (!bgp_may_be_installed) return std::nullopt;
  // Only this table writes the FIB: a prefix there that no other source
  // installed is a BGP route.
  const int64_t group = fib_->GroupOf(prefix.addr.value, prefix.len);
  if (group < 0) return std::nullopt;
  auto it = bgp_groups_.find(static_cast<uint32_t>(group));
  return Installed{it != bgp_groups_.end() ? it->second.nexthop_set : kNoSet, RouteSource::kBgp,
                   static_cast<uint32_t>(group)};
}

void RouteTable::BgpGroupInstalled(uint32_t group, uint32_t nexthop_set) {
  auto [it, inserted] = bgp_groups_.try_emplace(group, BgpGroup{nexthop_set, 0});
  // Two lists whose sets differ only in order share one FIB group (it
  // sorts its members); the routes report the set the group started with.
  if (inserted) nexthop_sets_.Ref(nexthop_set);
  ++it->second.routes;
}

void RouteTable::BgpGroupRemoved(uint32_t group) {
  auto it = bgp_groups_.find(group);
  if (it == bgp_groups_.end() || --it->second.routes != 0) return;
  nexthop_sets_.Release(it->second.nexthop_set);
  bgp_groups_.erase(it);
}

absl::Status RouteTable::Reconcile(const Ipv4Prefix& prefix, bool bgp_may_be_installed, uint32_t bgp_list_id) {
  // The best source with resolvable next hops wins.
  const std::vector<Nexthop>* best = nullptr;
  std::optional<std::vector<Nexthop>> owned;
  RouteSource best_source = RouteSource::kStatic;
  for (auto it = rib_.lower_bound({prefix, RouteSource::kLocal}); it != rib_.end() && it->first.prefix == prefix;
       ++it) {
    auto resolved = Resolve(it->second);
    if (!resolved.ok()) {
      inactive_[it->first] = std::string(resolved.status().message());
      continue;
    }
    inactive_.erase(it->first);
    if (best == nullptr) {
      owned = std::move(*resolved);
      best = &*owned;
      best_source = it->first.source;
    }
  }
  const PrefixKey key = KeyOf(prefix);
  BgpList* bgp_list = nullptr;
  if (best == nullptr && bgp_list_id == kUnknownList) {
    auto bgp = bgp_.find(BgpWord(key, 0));
    bgp_list_id = bgp != bgp_.end() ? ListOf(*bgp) : kNoList;
  }
  if (best == nullptr && bgp_list_id != kNoList) {
    BgpList& list = ResolveBgp(bgp_list_id);
    if (list.resolved.ok()) {
      bgp_list = &list;
      best = &*list.resolved;
      best_source = RouteSource::kBgp;
    }
  }
  const std::optional<Installed> installed = InstalledOf(prefix, bgp_may_be_installed);
  const bool bgp_installed = installed && installed->source == RouteSource::kBgp;
  // Undoes the bookkeeping of what was installed (the FIB is done by the caller).
  auto forget_installed = [&] {
    if (!installed) return;
    if (installed->source == RouteSource::kBgp) {
      BgpGroupRemoved(installed->group);
    } else {
      nexthop_sets_.Release(installed->nexthop_set);
      installed_.erase(key);
    }
  };
  if (best == nullptr) {
    if (!installed) return absl::OkStatus();
    forget_installed();
    absl::Status s = fib_->Delete(prefix.addr.value, prefix.len);
    if (on_change_) on_change_(prefix, installed->source, nullptr);
    return s;
  }
  if (bgp_list != nullptr) {
    if (absl::Status s = HoldBgpGroup(*bgp_list); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(ToString(prefix), ": ", s.message()));
    }
    if (bgp_installed && installed->group == bgp_list->group) {
      return absl::OkStatus();
    }
    if (absl::Status s = fib_->SetGroup(prefix.addr.value, prefix.len, bgp_list->group); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(ToString(prefix), ": ", s.message()));
    }
    forget_installed();
    BgpGroupInstalled(bgp_list->group, bgp_list->nexthop_set);
    if (on_change_) on_change_(prefix, best_source, &nexthop_sets_.Get(bgp_groups_.at(bgp_list->group).nexthop_set));
    return absl::OkStatus();
  }
  if (installed && installed->source == best_source && nexthop_sets_.Get(installed->nexthop_set) == *best) {
    return absl::OkStatus();
  }
  if (absl::Status s = fib_->Set(prefix.addr.value, prefix.len, *best); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(ToString(prefix), ": ", s.message()));
  }
  // Acquired before the old set is released: the same set must not be freed in between.
  const uint32_t set = AcquireNexthopSet(*best);
  forget_installed();
  installed_[key] = Installed{set, best_source};
  if (on_change_) on_change_(prefix, best_source, &nexthop_sets_.Get(set));
  return absl::OkStatus();
}

std::vector<RouteTable::View> RouteTable::Routes() const {
  std::vector<View> out;
  out.reserve(rib_.size() + bgp_.size());
  for (const auto& [key, entry] : rib_) {
    View v;
    v.entry = entry;
    out.push_back(std::move(v));
  }
  for (const uint64_t word : bgp_) {
    View v;
    v.entry.prefix = PrefixOf(BgpKeyOf(word));
    v.entry.source = RouteSource::kBgp;
    const GatewayList& gateways = gateway_lists_.Get(ListOf(word));
    v.entry.gateways.assign(gateways.begin(), gateways.end());
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const View& a, const View& b) {
    return std::tie(a.entry.prefix, a.entry.source) < std::tie(b.entry.prefix, b.entry.source);
  });
  for (View& v : out) {
    const Key key{v.entry.prefix, v.entry.source};
    if (auto in = inactive_.find(key); in != inactive_.end()) {
      v.inactive_reason = in->second;
      continue;
    }
    if (v.entry.source == RouteSource::kBgp) {
      auto cached = bgp_resolved_.find(ListOf(*bgp_.find(BgpWord(KeyOf(v.entry.prefix), 0))));
      if (cached != bgp_resolved_.end() && !cached->second.resolved.ok()) {
        v.inactive_reason = std::string(cached->second.resolved.status().message());
        continue;
      }
    }
    // Active only if this source is the one installed: the first resolvable.
    const std::optional<Installed> installed = InstalledOf(v.entry.prefix);
    if (!installed) continue;
    v.active = installed->source == v.entry.source;
    if (v.active) {
      if (installed->nexthop_set != kNoSet) v.nexthops = nexthop_sets_.Get(installed->nexthop_set);
    } else {
      v.inactive_reason = "a route from a preferred source exists";
    }
  }
  return out;
}

}  // namespace isthmus
