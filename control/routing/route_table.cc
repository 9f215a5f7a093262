#include "control/routing/route_table.h"

#include <algorithm>
#include <set>

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
  status.Update(ReconcileAll());
  return status;
}

absl::StatusOr<std::vector<Nexthop>> RouteTable::Resolve(const RouteEntry& e) {
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

absl::StatusOr<std::vector<Nexthop>> RouteTable::ResolveGateway(Ipv4Addr gw, std::optional<uint16_t> port,
                                                                bool recursive) {
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

absl::Status RouteTable::ApplyBgp(const std::vector<RouteEntry>& changes) {
  absl::Status status;
  for (const RouteEntry& change : changes) {
    const Key key{change.prefix, RouteSource::kBgp};
    if (change.gateways.empty()) {
      rib_.erase(key);
      inactive_.erase(key);
    } else {
      RouteEntry e = change;
      e.source = RouteSource::kBgp;
      rib_[key] = std::move(e);
    }
    status.Update(Reconcile(change.prefix));
  }
  return status;
}

absl::Status RouteTable::ReconcileAll() {
  std::vector<Ipv4Prefix> prefixes;
  for (const auto& [key, entry] : rib_) {
    if (prefixes.empty() || !(prefixes.back() == key.prefix)) prefixes.push_back(key.prefix);
  }
  absl::Status status;
  for (const Ipv4Prefix& p : prefixes) status.Update(Reconcile(p));
  return status;
}

absl::Status RouteTable::Reconcile(const Ipv4Prefix& prefix) {
  // The best source with resolvable next hops wins.
  std::optional<std::vector<Nexthop>> best;
  RouteSource best_source = RouteSource::kStatic;
  for (auto it = rib_.lower_bound({prefix, RouteSource::kLocal}); it != rib_.end() && it->first.prefix == prefix;
       ++it) {
    auto resolved = Resolve(it->second);
    if (!resolved.ok()) {
      inactive_[it->first] = std::string(resolved.status().message());
      continue;
    }
    inactive_.erase(it->first);
    if (!best) {
      best = std::move(*resolved);
      best_source = it->first.source;
    }
  }
  auto installed = installed_.find(prefix);
  if (!best) {
    if (installed == installed_.end()) return absl::OkStatus();
    const RouteSource old_source = installed_source_[prefix];
    installed_.erase(installed);
    installed_source_.erase(prefix);
    absl::Status s = fib_->Delete(prefix.addr.value, prefix.len);
    if (on_change_) on_change_(prefix, old_source, nullptr);
    return s;
  }
  if (installed != installed_.end() && installed->second == *best && installed_source_[prefix] == best_source) {
    return absl::OkStatus();
  }
  if (absl::Status s = fib_->Set(prefix.addr.value, prefix.len, *best); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(ToString(prefix), ": ", s.message()));
  }
  for (const Nexthop& nh : *best) {
    if (nh.kind == NexthopKind::kForward && resolve_) resolve_(nh.port, nh.gateway);
  }
  installed_[prefix] = *best;
  installed_source_[prefix] = best_source;
  if (on_change_) on_change_(prefix, best_source, &installed_[prefix]);
  return absl::OkStatus();
}

std::vector<RouteTable::View> RouteTable::Routes() const {
  std::vector<View> out;
  for (const auto& [key, entry] : rib_) {
    View v;
    v.entry = entry;
    if (auto in = inactive_.find(key); in != inactive_.end()) {
      v.inactive_reason = in->second;
    } else if (auto inst = installed_.find(key.prefix); inst != installed_.end()) {
      // Active only if this source is the one installed: the first resolvable.
      bool first = true;
      for (auto it = rib_.lower_bound({key.prefix, RouteSource::kLocal}); it != rib_.end() && it->first < key; ++it) {
        if (!inactive_.contains(it->first)) first = false;
      }
      v.active = first;
      if (first) v.nexthops = inst->second;
      else v.inactive_reason = "a route from a preferred source exists";
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace isthmus
