#pragma once
// The routing information bases of the speaker (RFC 4271 3.2), in one table:
// for every prefix, every path we hold for it, each with
//   - the attributes as the peer sent them (Adj-RIB-In, before import
//     policy; kept so that a policy change is re-applied without a session
//     reset or a route refresh, issue 3 item 11), and
//   - if import policy accepted it, the attributes after policy: it is then
//     a candidate of the Loc-RIB, where the RFC 4271 9.1 decision process
//     chooses the best path and the multipath (ECMP) set.
// Locally originated routes are Loc-RIB candidates with no Adj-RIB-In part.
//
// One table rather than one per peer plus one Loc-RIB: a full table from
// one peer costs one 16-byte slot per prefix (attributes by 4-byte interned
// id, the peer by a 2-byte index), and one hash probe per received prefix
// serves both RIBs (issue 3 item 12). AdjRibIn (adj_rib_in.h) is the
// per-peer view of the Adj-RIB-In part.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "bgp/core/slot_vector.h"
#include "bgp/core/types.h"
#include "bgp/rib/attribute_interner.h"
#include "bgp/rib/prefix_key.h"

namespace isthmus::bgp {

// A member of a prefix's multipath (ECMP) set.
struct MultipathMember {
  PeerId peer = kLocalPeer;
  Ipv4Addr next_hop;
};

// Reported only when the best route or the multipath next-hop set changed.
// A full table makes a million of these: the set is peers and next hops
// only (LocRib::Multipath has the routes).
struct BestChange {
  Ipv4Prefix prefix;
  std::optional<Route> best;                          // nullopt: no route left
  absl::InlinedVector<MultipathMember, 2> multipath;  // includes best; empty when best is nullopt
  // The best path before the change was learned from a peer (so the FIB
  // had the prefix): a consumer of changes needs no set of its own.
  bool had_peer_best = false;
};

struct LocRibOptions {
  size_t max_paths = 1;          // 1: no multipath
  // Allow eBGP multipath across different neighbour ASes (same AS-path length).
  bool multipath_relax = false;
};

// One path as `show bgp routes` lists it.
struct RibPath {
  Route route;
  bool best = false;
  bool multipath = false;   // true for the best too when it is in the set
};

class LocRib {
 public:
  static constexpr uint32_t kDefaultLocalPref = 100;   // RFC 4271 5.1.5: our default

  // `interner` holds the attributes the table refers to by id; without one
  // the table has its own. It must outlive the table.
  explicit LocRib(LocRibOptions options = {}, AttributeInterner* interner = nullptr);
  ~LocRib();
  LocRib(LocRib&&) noexcept = default;
  LocRib& operator=(LocRib&&) noexcept = default;

  AttributeInterner& interner() { return *interner_; }

  // What the decision process needs about a peer; call before its routes.
  void SetPeer(const PeerInfo& peer);
  // The peer is gone and holds no path any more: its index may be reused.
  void ForgetPeer(PeerId peer);
  // Changing the options re-runs the decision everywhere (O(prefixes)).
  std::vector<BestChange> SetOptions(const LocRibOptions& options);

  // ---- Loc-RIB: candidates after import policy ----
  // Adds or replaces r.peer's candidate for r.prefix.
  [[nodiscard]] std::vector<BestChange> Update(const Route& r);
  // Same with interned attributes; changes are appended to `changes`.
  // `stale`: kept through a graceful restart (RFC 4724 4.2).
  void Update(const Ipv4Prefix& prefix, PeerId peer, AttrId attrs, RouteKind kind,
              std::vector<BestChange>& changes, bool stale = false);
  [[nodiscard]] std::vector<BestChange> Withdraw(const Ipv4Prefix& prefix, PeerId peer);
  void Withdraw(const Ipv4Prefix& prefix, PeerId peer, std::vector<BestChange>& changes);
  // Session loss without graceful restart: drops every candidate of the peer.
  [[nodiscard]] std::vector<BestChange> WithdrawPeer(PeerId peer);
  // Graceful restart (RFC 4724 4.2): the peer's candidates stay, marked stale.
  [[nodiscard]] std::vector<BestChange> MarkPeerStale(PeerId peer);
  // End-of-RIB or restart timer expiry: drops the peer's still-stale candidates.
  [[nodiscard]] std::vector<BestChange> SweepStale(PeerId peer);

  std::optional<Route> Best(const Ipv4Prefix& prefix) const;
  std::vector<Route> Multipath(const Ipv4Prefix& prefix) const;
  // All candidates, best first, then the rest of the multipath set.
  std::vector<RibPath> Paths(const Ipv4Prefix& prefix) const;
  // Every prefix with a candidate, in prefix order: best and multipath set.
  void ForEachBest(
      absl::FunctionRef<void(const Ipv4Prefix&, const std::vector<Route>& multipath)> visit) const;

  size_t size() const { return loc_prefixes_; }   // prefixes with a candidate
  size_t path_count() const { return loc_paths_; }
  size_t CountPeerPaths(PeerId peer) const { return Counts(peer).accepted; }

  // ---- Adj-RIB-In: what each peer sent, before policy ----
  enum class InResult : uint8_t { kNew, kChanged, kSame };
  // Stores or replaces the peer's route; kSame when it was there with the
  // same attributes and not stale (nothing to re-evaluate).
  InResult InUpdate(const Ipv4Prefix& prefix, PeerId peer, AttrId attrs);
  // InUpdate, then (unless kSame) Update with the attributes import
  // policy accepted: one step for the common case of a received route.
  InResult InUpdateAccepted(const Ipv4Prefix& prefix, PeerId peer, AttrId in_attrs, AttrId loc_attrs, RouteKind kind,
                            std::vector<BestChange>& changes);
  // Removes the peer's route; false when there was none. `was_accepted`
  // (optional) receives whether it is a Loc-RIB candidate (the caller
  // withdraws it there).
  bool InWithdraw(const Ipv4Prefix& prefix, PeerId peer, bool* was_accepted = nullptr);
  struct InRoute {
    AttributesPtr attrs;
    bool stale = false;      // graceful restart or enhanced route refresh
    bool accepted = false;   // a Loc-RIB candidate
  };
  std::optional<InRoute> InFind(const Ipv4Prefix& prefix, PeerId peer) const;
  bool InContains(const Ipv4Prefix& prefix, PeerId peer) const;
  // Every route of the peer becomes stale; returns the count.
  size_t InMarkStale(PeerId peer);
  // Removes the peer's stale routes and returns their prefixes, sorted;
  // `accepted_removed` (optional) receives those that are Loc-RIB candidates.
  std::vector<Ipv4Prefix> InSweepStale(PeerId peer, std::vector<Ipv4Prefix>* accepted_removed = nullptr);
  void InClear(PeerId peer);
  // The peer's routes in prefix order.
  void InForEach(PeerId peer, absl::FunctionRef<void(const Ipv4Prefix&, const InRoute&)> visit) const;

  struct PeerCounts {
    size_t received = 0;   // in its Adj-RIB-In
    size_t stale = 0;      // of those, stale
    size_t accepted = 0;   // Loc-RIB candidates
  };
  PeerCounts Counts(PeerId peer) const;

  // Hints that `prefix` is about to be looked up (a full table's inserts
  // miss the cache; prefetching a few ahead overlaps the misses).
  void Prefetch(const Ipv4Prefix& prefix) const { table_.prefetch(ToPrefixKey(prefix)); }

 private:
  using PeerIndex = uint16_t;
  static constexpr PeerIndex kLocalIndex = 0;
  // Path flags.
  static constexpr uint8_t kInAdj = 1 << 0;      // has an Adj-RIB-In part (`in`)
  static constexpr uint8_t kAccepted = 1 << 1;   // a Loc-RIB candidate (`loc`)
  static constexpr uint8_t kInStale = 1 << 2;    // Adj-RIB-In part stale
  static constexpr uint8_t kLocStale = 1 << 3;   // candidate kept through a graceful restart
  static constexpr uint8_t kMultipath = 1 << 4;  // in the ECMP set (the best included)
  static constexpr int kKindShift = 5;           // RouteKind, 2 bits
  static constexpr uint8_t kKindMask = 3 << kKindShift;
  static constexpr uint8_t kMany = 1 << 7;       // slot only: the paths are in many_[in]

  struct Path {
    AttrId in = kNoAttributes;
    AttrId loc = kNoAttributes;
    PeerIndex peer = kLocalIndex;
    uint8_t flags = 0;
    RouteKind kind() const { return static_cast<RouteKind>((flags & kKindMask) >> kKindShift); }
  };
  // One prefix. A single path lives in the slot; two or more in many_, in
  // decision order: the best, the rest of the multipath set, the other
  // candidates, then paths that are only in an Adj-RIB-In.
  struct Slot {
    uint32_t addr = 0;
    uint8_t len = 0;
    mutable uint8_t flags = 0;
    mutable PeerIndex peer = kLocalIndex;
    mutable AttrId in = kNoAttributes;
    mutable AttrId loc = kNoAttributes;
    PrefixKey key() const { return PrefixKey{addr} << kPrefixKeyLenBits | len; }
  };
  static_assert(sizeof(Slot) == 16);
  struct SlotHash {
    using is_transparent = void;
    size_t operator()(PrefixKey key) const { return absl::Hash<PrefixKey>{}(key); }
    size_t operator()(const Slot& s) const { return (*this)(s.key()); }
  };
  struct SlotEq {
    using is_transparent = void;
    bool operator()(const Slot& a, const Slot& b) const { return a.key() == b.key(); }
    bool operator()(const Slot& a, PrefixKey b) const { return a.key() == b; }
    bool operator()(PrefixKey a, const Slot& b) const { return a == b.key(); }
  };
  using Table = absl::flat_hash_set<Slot, SlotHash, SlotEq>;
  using PathList = absl::InlinedVector<Path, 4>;
  // What a BestChange compares: best candidate and the multipath next hops.
  struct Selection {
    bool present = false;
    PeerIndex peer = kLocalIndex;
    uint8_t kind_flags = 0;
    AttrId attrs = kNoAttributes;
    absl::InlinedVector<uint32_t, 4> nexthops;   // sorted
  };
  struct PeerSlot {
    PeerInfo info;
    PeerCounts counts;
  };

  PeerIndex IndexOf(PeerId peer);                        // creates
  std::optional<PeerIndex> FindIndex(PeerId peer) const;
  PeerId IdOf(PeerIndex index) const { return peers_[index].info.id; }

  static Path InlinePath(const Slot& s) { return Path{s.in, s.loc, s.peer, s.flags}; }
  static uint8_t KindBits(RouteKind kind) {
    return static_cast<uint8_t>(static_cast<uint8_t>(kind) << kKindShift) & kKindMask;
  }
  // The slot of `prefix`, created holding `path` (counted and referenced)
  // when the prefix is new; .second: it was.
  std::pair<Table::iterator, bool> Emplace(const Ipv4Prefix& prefix, const Path& path);
  // Sets a path's Adj-RIB-In part (kSame: it already was, fresh).
  InResult SetIn(Path& p, AttrId attrs);
  // Takes the Adj-RIB-In part off a path; true when a candidate is left.
  bool DropIn(Path& p);
  PathList Load(const Slot& slot) const;
  // Writes `paths` back (erasing the slot when empty).
  void Store(Table::iterator it, const PathList& paths);
  static Path* FindPath(PathList& paths, PeerIndex peer);
  // Adds (+1) or removes (-1) what `p` counts for its peer and the totals.
  void Account(const Path& p, int sign);
  // Reference counts of the attributes a path holds.
  void RefPath(const Path& p);
  void UnrefPath(const Path& p);

  // Takes the Loc-RIB part off a path; true when an Adj-RIB-In part is left.
  bool DropCandidate(Path& p);
  std::vector<BestChange> RemoveCandidates(PeerId peer, bool only_stale);
  void Decide(PathList& paths) const;
  Selection Snapshot(const PathList& paths) const;
  static bool Differs(const Selection& before, const Selection& after);
  Route ToRoute(PrefixKey key, const Path& p) const;
  BestChange MakeChange(PrefixKey key, const PathList& paths) const;
  std::vector<Route> MultipathRoutes(PrefixKey key, const PathList& paths) const;
  // Re-decides an edited prefix, reports the change and stores it.
  void Finish(Table::iterator it, const Selection& before, PathList& paths, std::vector<BestChange>& changes);
  // Applies `edit` to the paths of every prefix `touches` selects (in prefix order).
  std::vector<BestChange> EditAll(absl::FunctionRef<bool(const Path&)> touches,
                                  absl::FunctionRef<void(PathList&)> edit);
  // Visits every path in place (flags only; paths are neither added nor removed).
  void ForEachPathInPlace(absl::FunctionRef<void(PrefixKey, Path&)> visit);
  void ForEachPath(absl::FunctionRef<void(PrefixKey, const Path&)> visit) const;
  std::vector<PrefixKey> SortedLocKeys() const;
  std::optional<PathList> Find(const Ipv4Prefix& prefix) const;

  LocRibOptions options_;
  std::unique_ptr<AttributeInterner> owned_interner_;
  AttributeInterner* interner_;
  std::vector<PeerSlot> peers_;                        // by index; [0] local origination
  absl::flat_hash_map<PeerId, PeerIndex> peer_index_;
  std::vector<PeerIndex> free_indexes_;
  Table table_;
  SlotVector<PathList> many_;                          // prefixes with two or more paths
  size_t loc_prefixes_ = 0;
  size_t loc_paths_ = 0;
};

}  // namespace isthmus::bgp
