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
  // Static routes resolve through connected subnets: re-check all of them.
  for (const auto& [key, entry] : rib_) touched.insert(key.prefix);
  absl::Status status;
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
  absl::Status status;
  for (const Ipv4Prefix& p : touched) status.Update(Reconcile(p));
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
      out.push_back(Nexthop{0, 0, *e.port, NexthopKind::kConnected});
      return out;
    case RouteSource::kStatic:
      break;
  }
  for (const Ipv4Addr& gw : e.gateways) {
    std::optional<uint16_t> port;
    for (const PortAddress& pa : addresses_) {
      if (e.port && pa.port != *e.port) continue;
      if (pa.address.subnet.Contains(gw) && pa.address.subnet.len < 32) {
        port = pa.port;
        break;
      }
    }
    if (!port) {
      return absl::FailedPreconditionError(
          absl::StrCat("gateway ", ToString(gw), " is not on a connected subnet of ",
                       e.port ? "the route's port" : "any port"));
    }
    auto slot = neighbors_->Intern(*port, gw.value);
    if (!slot.ok()) return slot.status();
    out.push_back(Nexthop{gw.value, *slot, *port, NexthopKind::kForward});
  }
  return out;
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
