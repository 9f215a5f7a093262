#include "bgp/rib/loc_rib.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <tuple>
#include <utility>

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

LocRib::LocRib(LocRibOptions options, AttributeInterner* interner)
    : options_(options),
      owned_interner_(interner == nullptr ? std::make_unique<AttributeInterner>() : nullptr),
      interner_(interner == nullptr ? owned_interner_.get() : interner) {
  PeerSlot local;
  local.info = PeerInfo{};   // kLocalPeer, zero addresses
  peers_.push_back(local);
}

LocRib::~LocRib() {
  if (interner_ == nullptr) return;   // moved from
  // Give the shared interner its references back so it can purge.
  ForEachPath([this](PrefixKey, const Path& p) { UnrefPath(p); });
}

// ---------------------------------------------------------------------------
// Peers.

LocRib::PeerIndex LocRib::IndexOf(PeerId peer) {
  if (peer == kLocalPeer) return kLocalIndex;
  if (auto it = peer_index_.find(peer); it != peer_index_.end()) return it->second;
  PeerIndex index;
  if (!free_indexes_.empty()) {
    index = free_indexes_.back();
    free_indexes_.pop_back();
  } else {
    // Indexes are recycled (ForgetPeer), so only peers that exist at once
    // take one: at most bgp::kMaxPeers configured plus those retiring.
    assert(peers_.size() < std::numeric_limits<PeerIndex>::max());
    index = static_cast<PeerIndex>(peers_.size());
    peers_.emplace_back();
  }
  PeerSlot& slot = peers_[index];
  slot = PeerSlot{};
  slot.info.id = peer;   // zero addresses until SetPeer
  peer_index_.emplace(peer, index);
  return index;
}

std::optional<LocRib::PeerIndex> LocRib::FindIndex(PeerId peer) const {
  if (peer == kLocalPeer) return kLocalIndex;
  auto it = peer_index_.find(peer);
  if (it == peer_index_.end()) return std::nullopt;
  return it->second;
}

void LocRib::SetPeer(const PeerInfo& peer) { peers_[IndexOf(peer.id)].info = peer; }

void LocRib::ForgetPeer(PeerId peer) {
  if (peer == kLocalPeer) return;
  auto it = peer_index_.find(peer);
  if (it == peer_index_.end()) return;
  const PeerCounts& c = peers_[it->second].counts;
  if (c.received != 0 || c.accepted != 0) return;   // still holds paths: keep its index
  free_indexes_.push_back(it->second);
  peer_index_.erase(it);
}

LocRib::PeerCounts LocRib::Counts(PeerId peer) const {
  const std::optional<PeerIndex> index = FindIndex(peer);
  return index ? peers_[*index].counts : PeerCounts{};
}

// ---------------------------------------------------------------------------
// Slots and paths.

LocRib::PathList LocRib::Load(const Slot& slot) const {
  if (slot.flags & kMany) return many_[slot.in];
  if (slot.flags == 0) return {};   // just created
  return PathList{InlinePath(slot)};
}

void LocRib::Store(Table::iterator it, const PathList& paths) {
  const Slot& slot = *it;
  const bool was_many = (slot.flags & kMany) != 0;
  if (paths.size() <= 1 && was_many) many_.Remove(slot.in);
  if (paths.empty()) {
    table_.erase(it);
    return;
  }
  if (paths.size() == 1) {
    const Path& p = paths.front();
    slot.flags = p.flags;
    slot.peer = p.peer;
    slot.in = p.in;
    slot.loc = p.loc;
    return;
  }
  if (was_many) {
    many_[slot.in] = paths;
    return;
  }
  slot.flags = kMany;
  slot.in = many_.Add(paths);
  slot.peer = kLocalIndex;
  slot.loc = kNoAttributes;
}

LocRib::Path* LocRib::FindPath(PathList& paths, PeerIndex peer) {
  for (Path& p : paths) {
    if (p.peer == peer) return &p;
  }
  return nullptr;
}

void LocRib::Account(const Path& p, int sign) {
  PeerCounts& c = peers_[p.peer].counts;
  auto add = [sign](size_t& counter, bool applies) {
    if (applies) counter = static_cast<size_t>(static_cast<ptrdiff_t>(counter) + sign);
  };
  add(c.received, (p.flags & kInAdj) != 0);
  add(c.stale, (p.flags & kInAdj) != 0 && (p.flags & kInStale) != 0);
  add(c.accepted, (p.flags & kAccepted) != 0);
  add(loc_paths_, (p.flags & kAccepted) != 0);
}

void LocRib::RefPath(const Path& p) {
  if (p.flags & kInAdj) interner_->Ref(p.in);
  if (p.flags & kAccepted) interner_->Ref(p.loc);
}

void LocRib::UnrefPath(const Path& p) {
  if (p.flags & kInAdj) interner_->Unref(p.in);
  if (p.flags & kAccepted) interner_->Unref(p.loc);
}

void LocRib::ForEachPathInPlace(absl::FunctionRef<void(PrefixKey, Path&)> visit) {
  for (const Slot& slot : table_) {
    if (slot.flags & kMany) {
      for (Path& p : many_[slot.in]) visit(slot.key(), p);
      continue;
    }
    Path p = InlinePath(slot);
    visit(slot.key(), p);
    slot.flags = p.flags;   // flags only: see the declaration
  }
}

void LocRib::ForEachPath(absl::FunctionRef<void(PrefixKey, const Path&)> visit) const {
  for (const Slot& slot : table_) {
    if (slot.flags & kMany) {
      for (const Path& p : many_[slot.in]) visit(slot.key(), p);
    } else {
      visit(slot.key(), InlinePath(slot));
    }
  }
}

std::optional<LocRib::PathList> LocRib::Find(const Ipv4Prefix& prefix) const {
  auto it = table_.find(ToPrefixKey(prefix));
  if (it == table_.end()) return std::nullopt;
  return Load(*it);
}

// ---------------------------------------------------------------------------
// Decision process (RFC 4271 9.1).

void LocRib::Decide(PathList& paths) const {
  // Candidates first, in decision order; Adj-RIB-In-only paths after them.
  const auto first_other = std::stable_partition(
      paths.begin(), paths.end(), [](const Path& p) { return (p.flags & kAccepted) != 0; });
  const size_t count = static_cast<size_t>(first_other - paths.begin());
  for (Path& p : paths) p.flags &= static_cast<uint8_t>(~kMultipath);
  if (count == 1) paths.front().flags |= kMultipath;
  if (count <= 1) return;
  absl::InlinedVector<Ranked, 8> ranked(count);
  Pool pool;
  for (size_t i = 0; i < count; ++i) {
    const Path& c = paths[i];
    const PathAttributes& a = *interner_->Get(c.loc);
    Ranked& r = ranked[i];
    r.index = static_cast<uint16_t>(i);
    r.peer = &peers_[c.peer].info;
    r.id = r.peer->id;
    r.local = c.peer == kLocalIndex;
    r.local_pref = a.local_pref.value_or(kDefaultLocalPref);
    r.as_path_length = a.as_path.Length();
    r.origin = a.origin;
    r.med = a.med.value_or(0);   // RFC 4271 9.1.2.2 c: missing MED is the lowest
    r.neighbour_as = a.as_path.FirstAsn();
    r.ebgp = !r.local && r.peer->ebgp();
    r.stale = (c.flags & kLocStale) != 0;
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
  for (size_t i = 0; i < count; ++i) {
    if (std::find(order.begin(), order.end(), i) == order.end()) order.push_back(static_cast<uint16_t>(i));
  }
  PathList sorted;
  sorted.reserve(paths.size());
  for (uint16_t i : order) {
    sorted.push_back(paths[i]);
    if (sorted.size() <= multipath_count) sorted.back().flags |= kMultipath;
  }
  for (size_t i = count; i < paths.size(); ++i) sorted.push_back(paths[i]);
  paths = std::move(sorted);
}

LocRib::Selection LocRib::Snapshot(const PathList& paths) const {
  Selection s;
  if (paths.empty() || !(paths.front().flags & kAccepted)) return s;
  const Path& best = paths.front();
  s.present = true;
  s.peer = best.peer;
  s.kind_flags = best.flags & kKindMask;
  s.attrs = best.loc;
  for (const Path& p : paths) {
    if (!(p.flags & kMultipath)) break;
    s.nexthops.push_back(interner_->Get(p.loc)->next_hop.value);
  }
  std::sort(s.nexthops.begin(), s.nexthops.end());
  s.nexthops.erase(std::unique(s.nexthops.begin(), s.nexthops.end()), s.nexthops.end());
  return s;
}

bool LocRib::Differs(const Selection& before, const Selection& after) {
  if (before.present != after.present) return true;
  if (!before.present) return false;
  // Interned: equal attributes have equal ids.
  return before.peer != after.peer || before.kind_flags != after.kind_flags || before.attrs != after.attrs ||
         before.nexthops != after.nexthops;
}

Route LocRib::ToRoute(PrefixKey key, const Path& p) const {
  return Route{FromPrefixKey(key), interner_->Get(p.loc), IdOf(p.peer), p.kind(), (p.flags & kLocStale) != 0};
}

BestChange LocRib::MakeChange(PrefixKey key, const PathList& paths) const {
  BestChange change{FromPrefixKey(key), std::nullopt, {}};
  if (paths.empty() || !(paths.front().flags & kAccepted)) return change;
  change.best = ToRoute(key, paths.front());
  for (const Path& p : paths) {
    if (!(p.flags & kMultipath)) break;
    change.multipath.push_back(MultipathMember{IdOf(p.peer), interner_->Get(p.loc)->next_hop});
  }
  return change;
}

std::vector<Route> LocRib::MultipathRoutes(PrefixKey key, const PathList& paths) const {
  std::vector<Route> routes;
  for (const Path& p : paths) {
    if (!(p.flags & kAccepted) || !(p.flags & kMultipath)) break;
    routes.push_back(ToRoute(key, p));
  }
  return routes;
}

void LocRib::Finish(Table::iterator it, const Selection& before, PathList& paths, std::vector<BestChange>& changes) {
  const PrefixKey key = it->key();
  Decide(paths);
  const Selection after = Snapshot(paths);
  if (Differs(before, after)) {
    changes.push_back(MakeChange(key, paths));
    changes.back().had_peer_best = before.present && before.peer != kLocalIndex;
  }
  if (before.present != after.present) {
    if (after.present) {
      ++loc_prefixes_;
    } else {
      --loc_prefixes_;
    }
  }
  Store(it, paths);
}

// ---------------------------------------------------------------------------
// Loc-RIB edits.

std::vector<BestChange> LocRib::Update(const Route& r) {
  std::vector<BestChange> changes;
  if (r.attrs == nullptr) return changes;   // not a route; callers withdraw instead
  Update(r.prefix, r.peer, interner_->InternId(r.attrs), r.kind, changes, r.stale);
  return changes;
}

void LocRib::Update(const Ipv4Prefix& prefix, PeerId peer, AttrId attrs, RouteKind kind,
                    std::vector<BestChange>& changes, bool stale) {
  const PeerIndex index = IndexOf(peer);
  const PrefixKey key = ToPrefixKey(prefix);
  auto it = table_.lazy_emplace(key, [&](const Table::constructor& ctor) {
    ctor(Slot{prefix.addr.value, prefix.len, 0, kLocalIndex, kNoAttributes, kNoAttributes});
  });
  PathList paths = Load(*it);
  const Selection before = Snapshot(paths);
  Path* p = FindPath(paths, index);
  if (p == nullptr) {
    paths.push_back(Path{kNoAttributes, kNoAttributes, index, 0});
    p = &paths.back();
  }
  const Path old = *p;
  p->loc = attrs;
  p->flags = static_cast<uint8_t>((p->flags & ~(kKindMask | kLocStale)) | kAccepted | KindBits(kind) |
                                  (stale ? kLocStale : 0));
  interner_->Ref(attrs);
  if (old.flags & kAccepted) interner_->Unref(old.loc);
  Account(old, -1);
  Account(*p, +1);
  Finish(it, before, paths, changes);
}

std::vector<BestChange> LocRib::Withdraw(const Ipv4Prefix& prefix, PeerId peer) {
  std::vector<BestChange> changes;
  Withdraw(prefix, peer, changes);
  return changes;
}

void LocRib::Withdraw(const Ipv4Prefix& prefix, PeerId peer, std::vector<BestChange>& changes) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return;
  auto it = table_.find(ToPrefixKey(prefix));
  if (it == table_.end()) return;
  PathList paths = Load(*it);
  Path* p = FindPath(paths, *index);
  if (p == nullptr || !(p->flags & kAccepted)) return;
  const Selection before = Snapshot(paths);
  if (!DropCandidate(*p)) paths.erase(paths.begin() + (p - paths.data()));
  Finish(it, before, paths, changes);
}

std::vector<BestChange> LocRib::EditAll(absl::FunctionRef<bool(const Path&)> touches,
                                        absl::FunctionRef<void(PathList&)> edit) {
  // In prefix order, so that the changes come out in a stable order.
  std::vector<PrefixKey> keys;
  ForEachPath([&](PrefixKey key, const Path& p) {
    if (touches(p)) keys.push_back(key);
  });
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<BestChange> changes;
  for (PrefixKey key : keys) {
    auto it = table_.find(key);
    PathList paths = Load(*it);
    const Selection before = Snapshot(paths);
    edit(paths);
    Finish(it, before, paths, changes);
  }
  return changes;
}

bool LocRib::DropCandidate(Path& p) {
  Account(p, -1);
  interner_->Unref(p.loc);
  p.loc = kNoAttributes;
  p.flags &= static_cast<uint8_t>(~(kAccepted | kLocStale | kMultipath | kKindMask));
  Account(p, +1);
  return (p.flags & kInAdj) != 0;
}

std::vector<BestChange> LocRib::RemoveCandidates(PeerId peer, bool only_stale) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return {};
  const PeerIndex i = *index;
  auto matches = [i, only_stale](const Path& p) {
    return p.peer == i && (p.flags & kAccepted) && (!only_stale || (p.flags & kLocStale));
  };
  return EditAll(matches, [&](PathList& paths) {
    for (auto p = paths.begin(); p != paths.end();) p = matches(*p) && !DropCandidate(*p) ? paths.erase(p) : p + 1;
  });
}

std::vector<BestChange> LocRib::WithdrawPeer(PeerId peer) { return RemoveCandidates(peer, /*only_stale=*/false); }

std::vector<BestChange> LocRib::SweepStale(PeerId peer) { return RemoveCandidates(peer, /*only_stale=*/true); }

std::vector<BestChange> LocRib::MarkPeerStale(PeerId peer) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return {};
  const PeerIndex i = *index;
  auto fresh_of_peer = [i](const Path& p) {
    return p.peer == i && (p.flags & kAccepted) && !(p.flags & kLocStale);
  };
  return EditAll(fresh_of_peer, [&](PathList& paths) {
    for (Path& p : paths) {
      if (fresh_of_peer(p)) p.flags |= kLocStale;
    }
  });
}

std::vector<BestChange> LocRib::SetOptions(const LocRibOptions& options) {
  options_ = options;
  return EditAll([](const Path& p) { return (p.flags & kAccepted) != 0; }, [](PathList&) {});
}

// ---------------------------------------------------------------------------
// Loc-RIB views.

std::optional<Route> LocRib::Best(const Ipv4Prefix& prefix) const {
  std::optional<PathList> paths = Find(prefix);
  if (!paths || !(paths->front().flags & kAccepted)) return std::nullopt;
  return ToRoute(ToPrefixKey(prefix), paths->front());
}

std::vector<Route> LocRib::Multipath(const Ipv4Prefix& prefix) const {
  std::optional<PathList> paths = Find(prefix);
  if (!paths) return {};
  return MultipathRoutes(ToPrefixKey(prefix), *paths);
}

std::vector<RibPath> LocRib::Paths(const Ipv4Prefix& prefix) const {
  std::vector<RibPath> out;
  std::optional<PathList> paths = Find(prefix);
  if (!paths) return out;
  const PrefixKey key = ToPrefixKey(prefix);
  for (size_t i = 0; i < paths->size(); ++i) {
    const Path& p = (*paths)[i];
    if (!(p.flags & kAccepted)) break;
    out.push_back(RibPath{ToRoute(key, p), i == 0, (p.flags & kMultipath) != 0});
  }
  return out;
}

std::vector<PrefixKey> LocRib::SortedLocKeys() const {
  std::vector<PrefixKey> keys;
  keys.reserve(loc_prefixes_);
  for (const Slot& slot : table_) {
    // A candidate, if any, is first.
    const bool candidate = (slot.flags & kMany) ? (many_[slot.in].front().flags & kAccepted) != 0
                                                : (slot.flags & kAccepted) != 0;
    if (candidate) keys.push_back(slot.key());
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void LocRib::ForEachBest(
    absl::FunctionRef<void(const Ipv4Prefix&, const std::vector<Route>&)> visit) const {
  for (PrefixKey key : SortedLocKeys()) visit(FromPrefixKey(key), MultipathRoutes(key, Load(*table_.find(key))));
}

// ---------------------------------------------------------------------------
// Adj-RIB-In.

LocRib::InResult LocRib::SetIn(Path& p, AttrId attrs) {
  const bool had = (p.flags & kInAdj) != 0;
  if (had && p.in == attrs && !(p.flags & kInStale)) return InResult::kSame;
  Account(p, -1);
  interner_->Ref(attrs);
  if (had) interner_->Unref(p.in);
  p.in = attrs;
  p.flags = static_cast<uint8_t>((p.flags & ~kInStale) | kInAdj);
  Account(p, +1);
  return had ? InResult::kChanged : InResult::kNew;
}

bool LocRib::DropIn(Path& p) {
  Account(p, -1);
  interner_->Unref(p.in);
  p.in = kNoAttributes;
  p.flags &= static_cast<uint8_t>(~(kInAdj | kInStale));
  Account(p, +1);
  return (p.flags & kAccepted) != 0;
}

std::pair<LocRib::Table::iterator, bool> LocRib::Emplace(const Ipv4Prefix& prefix, const Path& path) {
  // A prefix seen for the first time (a full table's million) is written
  // whole: nothing is read back from a slot just created, whose cache line
  // is still on its way.
  bool created = false;
  auto it = table_.lazy_emplace(ToPrefixKey(prefix), [&](const Table::constructor& ctor) {
    created = true;
    Account(path, +1);
    RefPath(path);
    ctor(Slot{prefix.addr.value, prefix.len, path.flags, path.peer, path.in, path.loc});
  });
  return {it, created};
}

LocRib::InResult LocRib::InUpdate(const Ipv4Prefix& prefix, PeerId peer, AttrId attrs) {
  const PeerIndex index = IndexOf(peer);
  auto [it, created] = Emplace(prefix, Path{attrs, kNoAttributes, index, kInAdj});
  if (created) return InResult::kNew;
  const Slot& slot = *it;
  // The common case, one path of this peer in the slot, is edited in place.
  if (!(slot.flags & kMany) && slot.peer == index) {
    Path p = InlinePath(slot);
    const InResult result = SetIn(p, attrs);
    slot.in = p.in;
    slot.flags = p.flags;
    return result;
  }
  PathList paths = Load(slot);
  Path* p = FindPath(paths, index);
  if (p == nullptr) {
    paths.push_back(Path{kNoAttributes, kNoAttributes, index, 0});
    p = &paths.back();
  }
  const InResult result = SetIn(*p, attrs);
  if (result != InResult::kSame) Store(it, paths);
  return result;
}

LocRib::InResult LocRib::InUpdateAccepted(const Ipv4Prefix& prefix, PeerId peer, AttrId in_attrs, AttrId loc_attrs,
                                          RouteKind kind, std::vector<BestChange>& changes) {
  const PeerIndex index = IndexOf(peer);
  // A new prefix (the whole of a first full table) is its own best path.
  // Its change is made first, on the guess that it is new: copying the
  // attributes' shared_ptr is an atomic increment, which on x86 waits
  // for every earlier store, and the slot's store below misses the cache.
  BestChange& change = changes.emplace_back();
  change.prefix = prefix;
  change.best = Route{prefix, interner_->Get(loc_attrs), peer, kind, false};
  change.multipath.push_back(MultipathMember{peer, change.best->attrs->next_hop});
  // Adj-RIB-In and Loc-RIB parts are written in one go.
  const bool created =
      Emplace(prefix, Path{in_attrs, loc_attrs, index,
                           static_cast<uint8_t>(kInAdj | kAccepted | kMultipath | KindBits(kind))})
          .second;
  if (created) {
    ++loc_prefixes_;
    return InResult::kNew;
  }
  changes.pop_back();
  const InResult result = InUpdate(prefix, peer, in_attrs);
  if (result != InResult::kSame) Update(prefix, peer, loc_attrs, kind, changes);
  return result;
}

bool LocRib::InWithdraw(const Ipv4Prefix& prefix, PeerId peer, bool* was_accepted) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return false;
  auto it = table_.find(ToPrefixKey(prefix));
  if (it == table_.end()) return false;
  PathList paths = Load(*it);
  Path* p = FindPath(paths, *index);
  if (p == nullptr || !(p->flags & kInAdj)) return false;
  if (was_accepted != nullptr) *was_accepted = (p->flags & kAccepted) != 0;
  // A candidate stays until the Loc-RIB withdraws it; the decision is unchanged.
  if (!DropIn(*p)) paths.erase(paths.begin() + (p - paths.data()));
  Store(it, paths);
  return true;
}

std::optional<LocRib::InRoute> LocRib::InFind(const Ipv4Prefix& prefix, PeerId peer) const {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return std::nullopt;
  std::optional<PathList> paths = Find(prefix);
  if (!paths) return std::nullopt;
  for (const Path& p : *paths) {
    if (p.peer == *index && (p.flags & kInAdj)) {
      return InRoute{interner_->Get(p.in), (p.flags & kInStale) != 0, (p.flags & kAccepted) != 0};
    }
  }
  return std::nullopt;
}

bool LocRib::InContains(const Ipv4Prefix& prefix, PeerId peer) const { return InFind(prefix, peer).has_value(); }

size_t LocRib::InMarkStale(PeerId peer) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return 0;
  ForEachPathInPlace([&](PrefixKey, Path& p) {
    if (p.peer != *index || !(p.flags & kInAdj) || (p.flags & kInStale)) return;
    Account(p, -1);
    p.flags |= kInStale;
    Account(p, +1);
  });
  return peers_[*index].counts.stale;
}

std::vector<Ipv4Prefix> LocRib::InSweepStale(PeerId peer, std::vector<Ipv4Prefix>* accepted_removed) {
  std::vector<Ipv4Prefix> removed;
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return removed;
  std::vector<PrefixKey> keys;
  ForEachPath([&](PrefixKey key, const Path& p) {
    if (p.peer == *index && (p.flags & kInAdj) && (p.flags & kInStale)) keys.push_back(key);
  });
  std::sort(keys.begin(), keys.end());
  for (PrefixKey key : keys) {
    const Ipv4Prefix prefix = FromPrefixKey(key);
    bool accepted = false;
    InWithdraw(prefix, peer, &accepted);
    removed.push_back(prefix);
    if (accepted && accepted_removed != nullptr) accepted_removed->push_back(prefix);
  }
  return removed;
}

void LocRib::InClear(PeerId peer) {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return;
  std::vector<PrefixKey> keys;
  ForEachPath([&](PrefixKey key, const Path& p) {
    if (p.peer == *index && (p.flags & kInAdj)) keys.push_back(key);
  });
  for (PrefixKey key : keys) InWithdraw(FromPrefixKey(key), peer);
}

void LocRib::InForEach(PeerId peer, absl::FunctionRef<void(const Ipv4Prefix&, const InRoute&)> visit) const {
  const std::optional<PeerIndex> index = FindIndex(peer);
  if (!index) return;
  std::vector<std::pair<PrefixKey, Path>> routes;
  routes.reserve(peers_[*index].counts.received);
  ForEachPath([&](PrefixKey key, const Path& p) {
    if (p.peer == *index && (p.flags & kInAdj)) routes.emplace_back(key, p);
  });
  std::sort(routes.begin(), routes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, p] : routes) {
    visit(FromPrefixKey(key),
          InRoute{interner_->Get(p.in), (p.flags & kInStale) != 0, (p.flags & kAccepted) != 0});
  }
}

}  // namespace isthmus::bgp
