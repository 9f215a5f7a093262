#include "bgp/rib/loc_rib.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "bgp/rib/attribute_interner.h"

namespace isthmus::bgp {

namespace {

// A candidate with the values the decision process compares, looked up once.
struct Ranked {
  uint16_t index = 0;   // candidates per prefix are bounded by the peer count
  PeerId id = kLocalPeer;
  const PeerInfo* peer = nullptr;
  bool local = false;
  uint32_t local_pref = LocRib::kDefaultLocalPref;
  size_t as_path_length = 0;
  Origin origin = Origin::kIncomplete;
  uint32_t med = 0;
  Asn neighbour_as = 0;
  bool ebgp = false;
  bool stale = false;
  bool med_beaten = false;

  // RFC 4271 9.1.2.2 f/g: lowest router id, then lowest peer address; the
  // PeerId only makes the order total.
  auto TieBreak() const {
    return std::make_tuple(peer->router_id.value, peer->address.value, id);
  }
};

using Pool = absl::InlinedVector<Ranked*, 8>;

// Keeps only the candidates with the lowest key (one elimination step of RFC
// 4271 9.1.2.2: each step runs on the survivors of the previous one).
template <typename KeyFn>
void KeepLowest(Pool& pool, KeyFn key) {
  auto lowest = key(*pool.front());
  for (const Ranked* r : pool) lowest = std::min(lowest, key(*r));
  pool.erase(std::remove_if(pool.begin(), pool.end(),
                            [&](const Ranked* r) { return key(*r) != lowest; }),
             pool.end());
}

// RFC 4271 9.1.2.2 c: a route is removed if another route from the same
// neighbour AS has a lower MED. Not a total order (MEDs of different
// neighbour ASes are never compared), hence elimination rather than sorting.
void EliminateByMed(Pool& pool) {
  for (Ranked* r : pool) {
    r->med_beaten = std::any_of(pool.begin(), pool.end(), [&](const Ranked* other) {
      return other->neighbour_as == r->neighbour_as && other->med < r->med;
    });
  }
  pool.erase(std::remove_if(pool.begin(), pool.end(), [](const Ranked* r) { return r->med_beaten; }),
             pool.end());
}

}  // namespace

size_t LocRib::Entry::multipath_count() const {
  size_t count = 0;
  while (count < candidates.size() && candidates[count].multipath) ++count;
  return count;
}

void LocRib::SetPeer(const PeerInfo& peer) { peers_[peer.id] = peer; }

const PeerInfo& LocRib::InfoOf(PeerId peer) const {
  // Local origination and peers never described: ids only, zero addresses.
  static const PeerInfo kUnknown{};
  auto it = peers_.find(peer);
  return it == peers_.end() ? kUnknown : it->second;
}

void LocRib::Decide(Entry& entry) const {
  auto& candidates = entry.candidates;
  if (candidates.size() == 1) candidates.front().multipath = true;
  if (candidates.size() <= 1) return;
  absl::InlinedVector<Ranked, 8> ranked(candidates.size());
  Pool pool;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const PathAttributes& a = *c.attrs;
    Ranked& r = ranked[i];
    r.index = static_cast<uint16_t>(i);
    r.id = c.peer;
    r.peer = &InfoOf(c.peer);
    r.local = c.peer == kLocalPeer;
    r.local_pref = a.local_pref.value_or(kDefaultLocalPref);
    r.as_path_length = a.as_path.Length();
    r.origin = a.origin;
    r.med = a.med.value_or(0);   // RFC 4271 9.1.2.2 c: missing MED is the lowest
    r.neighbour_as = a.as_path.FirstAsn();
    r.ebgp = !r.local && r.peer->ebgp();
    r.stale = c.stale;
    pool.push_back(&r);
  }
  // Our own routes win outright (RFC 4271 9.1.2.2 leaves locally originated
  // routes to local policy; we never let a learned route displace them).
  KeepLowest(pool, [](const Ranked& r) { return r.local ? 0 : 1; });
  KeepLowest(pool, [](const Ranked& r) { return std::numeric_limits<uint32_t>::max() - r.local_pref; });
  KeepLowest(pool, [](const Ranked& r) { return r.as_path_length; });                   // 9.1.2.2 a
  KeepLowest(pool, [](const Ranked& r) { return static_cast<uint8_t>(r.origin); });     // 9.1.2.2 b
  EliminateByMed(pool);                                                                // 9.1.2.2 c
  KeepLowest(pool, [](const Ranked& r) { return r.ebgp ? 0 : 1; });                     // 9.1.2.2 d
  // RFC 4724 keeps stale routes usable; among otherwise equal paths a fresh one wins.
  KeepLowest(pool, [](const Ranked& r) { return r.stale ? 1 : 0; });
  // What is left is equal up to the router id: the multipath candidates.
  std::sort(pool.begin(), pool.end(),
            [](const Ranked* x, const Ranked* y) { return x->TieBreak() < y->TieBreak(); });
  const Ranked& best = *pool.front();
  const size_t max_paths = std::max<size_t>(options_.max_paths, 1);
  absl::InlinedVector<uint16_t, 8> order;
  for (const Ranked* r : pool) {
    if (order.size() == max_paths) break;
    // Without relax, eBGP multipath needs the same neighbour AS.
    if (best.ebgp && !options_.multipath_relax && r->neighbour_as != best.neighbour_as) continue;
    order.push_back(r->index);
  }
  const size_t multipath_count = order.size();
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (std::find(order.begin(), order.end(), i) == order.end()) {
      order.push_back(static_cast<uint16_t>(i));
    }
  }
  absl::InlinedVector<Candidate, 1> sorted;
  sorted.reserve(candidates.size());
  for (uint16_t i : order) {
    sorted.push_back(std::move(candidates[i]));
    sorted.back().multipath = sorted.size() <= multipath_count;
  }
  candidates = std::move(sorted);
}

LocRib::Selection LocRib::Snapshot(const Entry& entry) const {
  Selection s;
  if (entry.candidates.empty()) return s;
  s.best = entry.candidates.front();
  for (size_t i = 0; i < entry.multipath_count(); ++i) {
    s.nexthops.push_back(entry.candidates[i].attrs->next_hop.value);
  }
  std::sort(s.nexthops.begin(), s.nexthops.end());
  s.nexthops.erase(std::unique(s.nexthops.begin(), s.nexthops.end()), s.nexthops.end());
  return s;
}

bool LocRib::Differs(const Selection& before, const Selection& after) {
  if (before.best.has_value() != after.best.has_value()) return true;
  if (!before.best) return false;
  const Candidate& x = *before.best;
  const Candidate& y = *after.best;
  return x.peer != y.peer || x.kind != y.kind || !SameAttributes(x.attrs, y.attrs) ||
         before.nexthops != after.nexthops;
}

Route LocRib::ToRoute(PrefixKey key, const Candidate& c) const {
  return Route{FromPrefixKey(key), c.attrs, c.peer, c.kind, c.stale};
}

BestChange LocRib::MakeChange(PrefixKey key, const Entry& entry) const {
  BestChange change{FromPrefixKey(key), std::nullopt, {}};
  if (entry.candidates.empty()) return change;
  change.best = ToRoute(key, entry.candidates.front());
  const size_t multipath_count = entry.multipath_count();
  change.multipath.reserve(multipath_count);
  for (size_t i = 0; i < multipath_count; ++i) {
    change.multipath.push_back(ToRoute(key, entry.candidates[i]));
  }
  return change;
}

void LocRib::Finish(EntryMap::iterator it, const Selection& before, std::vector<BestChange>& changes) {
  Decide(it->second);
  if (Differs(before, Snapshot(it->second))) {
    changes.push_back(MakeChange(it->first, it->second));
    changes.back().had_peer_best = IsPeerBest(before);
  }
  if (it->second.candidates.empty()) entries_.erase(it);
}

std::vector<PrefixKey> LocRib::SortedKeys() const {
  std::vector<PrefixKey> keys;
  keys.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<BestChange> LocRib::Update(const Route& r) {
  std::vector<BestChange> changes;
  if (r.attrs == nullptr) return changes;   // not a route; callers withdraw instead
  auto [it, inserted] = entries_.try_emplace(ToPrefixKey(r.prefix));
  auto& candidates = it->second.candidates;
  const Selection before = Snapshot(it->second);
  auto same_peer = std::find_if(candidates.begin(), candidates.end(),
                                [&](const Candidate& c) { return c.peer == r.peer; });
  Candidate fresh{r.attrs, r.peer, r.kind, r.stale};
  if (same_peer == candidates.end()) {
    candidates.push_back(std::move(fresh));
    ++path_count_;
  } else {
    *same_peer = std::move(fresh);
  }
  Finish(it, before, changes);
  return changes;
}

std::vector<BestChange> LocRib::Withdraw(const Ipv4Prefix& prefix, PeerId peer) {
  std::vector<BestChange> changes;
  auto it = entries_.find(ToPrefixKey(prefix));
  if (it == entries_.end()) return changes;
  auto& candidates = it->second.candidates;
  auto found = std::find_if(candidates.begin(), candidates.end(),
                            [&](const Candidate& c) { return c.peer == peer; });
  if (found == candidates.end()) return changes;
  const Selection before = Snapshot(it->second);
  candidates.erase(found);
  --path_count_;
  Finish(it, before, changes);
  return changes;
}

std::vector<BestChange> LocRib::EditAll(absl::FunctionRef<bool(const Entry&)> touches,
                                        absl::FunctionRef<void(Entry&)> edit) {
  // In prefix order, so that the changes come out in a stable order.
  std::vector<PrefixKey> keys;
  for (const auto& [key, entry] : entries_) {
    // Most entries are untouched by a per-peer edit: skip the snapshot there.
    if (touches(entry)) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<BestChange> changes;
  for (PrefixKey key : keys) {
    auto it = entries_.find(key);
    const Selection before = Snapshot(it->second);
    edit(it->second);
    Finish(it, before, changes);
  }
  return changes;
}

std::vector<BestChange> LocRib::RemovePeerPath(PeerId peer, bool only_stale) {
  auto matches = [peer, only_stale](const Candidate& c) {
    return c.peer == peer && (c.stale || !only_stale);
  };
  return EditAll(
      [&](const Entry& entry) {
        return std::any_of(entry.candidates.begin(), entry.candidates.end(), matches);
      },
      [&](Entry& entry) {
        auto& c = entry.candidates;
        c.erase(std::find_if(c.begin(), c.end(), matches));
        --path_count_;
      });
}

std::vector<BestChange> LocRib::WithdrawPeer(PeerId peer) {
  return RemovePeerPath(peer, /*only_stale=*/false);
}

std::vector<BestChange> LocRib::SweepStale(PeerId peer) {
  return RemovePeerPath(peer, /*only_stale=*/true);
}

std::vector<BestChange> LocRib::MarkPeerStale(PeerId peer) {
  auto fresh_of_peer = [peer](const Candidate& c) { return c.peer == peer && !c.stale; };
  return EditAll(
      [&](const Entry& entry) {
        return std::any_of(entry.candidates.begin(), entry.candidates.end(), fresh_of_peer);
      },
      [&](Entry& entry) {
        for (Candidate& c : entry.candidates) {
          if (fresh_of_peer(c)) c.stale = true;
        }
      });
}

std::vector<BestChange> LocRib::SetOptions(const LocRibOptions& options) {
  options_ = options;
  return EditAll([](const Entry&) { return true; }, [](Entry&) {});
}

std::optional<Route> LocRib::Best(const Ipv4Prefix& prefix) const {
  const PrefixKey key = ToPrefixKey(prefix);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return ToRoute(key, it->second.candidates.front());
}

std::vector<Route> LocRib::Multipath(const Ipv4Prefix& prefix) const {
  const PrefixKey key = ToPrefixKey(prefix);
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  return MakeChange(key, it->second).multipath;
}

std::vector<RibPath> LocRib::Paths(const Ipv4Prefix& prefix) const {
  std::vector<RibPath> paths;
  const PrefixKey key = ToPrefixKey(prefix);
  auto it = entries_.find(key);
  if (it == entries_.end()) return paths;
  const Entry& entry = it->second;
  for (size_t i = 0; i < entry.candidates.size(); ++i) {
    paths.push_back(RibPath{ToRoute(key, entry.candidates[i]), i == 0, entry.candidates[i].multipath});
  }
  return paths;
}

void LocRib::ForEachBest(
    absl::FunctionRef<void(const Ipv4Prefix&, const std::vector<Route>&)> visit) const {
  for (PrefixKey key : SortedKeys()) {
    const BestChange change = MakeChange(key, entries_.at(key));
    visit(change.prefix, change.multipath);
  }
}

size_t LocRib::CountPeerPaths(PeerId peer) const {
  size_t count = 0;
  for (const auto& [key, entry] : entries_) {
    for (const Candidate& c : entry.candidates) count += c.peer == peer ? 1 : 0;
  }
  return count;
}

}  // namespace isthmus::bgp
