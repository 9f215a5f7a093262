#pragma once
// Loc-RIB (RFC 4271 3.2, 9.1): every candidate route per prefix, from all
// peers (after import policy) and from local origination, with the best path
// and the multipath (ECMP) set chosen by the decision process.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "bgp/core/types.h"
#include "bgp/rib/prefix_key.h"

namespace isthmus::bgp {

// Reported only when the best route or the multipath next-hop set changed.
struct BestChange {
  Ipv4Prefix prefix;
  std::optional<Route> best;     // nullopt: no route left
  std::vector<Route> multipath;  // includes best; empty when best is nullopt
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

  explicit LocRib(LocRibOptions options = {}) : options_(options) {}

  // What the decision process needs about a peer; call before its routes.
  void SetPeer(const PeerInfo& peer);
  // Changing the options re-runs the decision everywhere (O(prefixes)).
  std::vector<BestChange> SetOptions(const LocRibOptions& options);

  // Adds or replaces r.peer's route for r.prefix.
  [[nodiscard]] std::vector<BestChange> Update(const Route& r);
  [[nodiscard]] std::vector<BestChange> Withdraw(const Ipv4Prefix& prefix, PeerId peer);
  // Session loss without graceful restart: drops every route of the peer.
  [[nodiscard]] std::vector<BestChange> WithdrawPeer(PeerId peer);
  // Graceful restart (RFC 4724 4.2): the peer's routes stay, marked stale.
  [[nodiscard]] std::vector<BestChange> MarkPeerStale(PeerId peer);
  // End-of-RIB or restart timer expiry: drops the peer's still-stale routes.
  [[nodiscard]] std::vector<BestChange> SweepStale(PeerId peer);

  std::optional<Route> Best(const Ipv4Prefix& prefix) const;
  std::vector<Route> Multipath(const Ipv4Prefix& prefix) const;
  // All candidates, best first, then the rest of the multipath set.
  std::vector<RibPath> Paths(const Ipv4Prefix& prefix) const;
  // Every prefix with a route, in prefix order: best and multipath set.
  void ForEachBest(
      absl::FunctionRef<void(const Ipv4Prefix&, const std::vector<Route>& multipath)> visit) const;

  size_t size() const { return entries_.size(); }   // prefixes
  size_t path_count() const { return path_count_; }
  size_t CountPeerPaths(PeerId peer) const;

 private:
  struct Candidate {
    AttributesPtr attrs;
    PeerId peer = kLocalPeer;
    RouteKind kind = RouteKind::kBgp;
    bool stale = false;
    bool multipath = false;   // in the ECMP set; fits in padding, keeps Entry at 32 bytes
  };
  // Candidates are kept ordered: [0] the best, then the rest of the multipath
  // set, then the others. One inline slot: most prefixes have a single path,
  // and it keeps a 1M-prefix table small.
  struct Entry {
    absl::InlinedVector<Candidate, 1> candidates;
    size_t multipath_count() const;
  };
  // What a BestChange compares: best route and the multipath next hops.
  struct Selection {
    std::optional<Candidate> best;
    absl::InlinedVector<uint32_t, 4> nexthops;   // sorted
  };

  Selection Snapshot(const Entry& entry) const;
  void Decide(Entry& entry) const;
  const PeerInfo& InfoOf(PeerId peer) const;
  Route ToRoute(PrefixKey key, const Candidate& c) const;
  BestChange MakeChange(PrefixKey key, const Entry& entry) const;
  static bool IsPeerBest(const Selection& s) { return s.best.has_value() && s.best->peer != kLocalPeer; }
  static bool Differs(const Selection& before, const Selection& after);
  // Applies `edit` to every entry that `touches` selects, re-deciding it
  // and reporting changes.
  std::vector<BestChange> EditAll(absl::FunctionRef<bool(const Entry&)> touches,
                                  absl::FunctionRef<void(Entry&)> edit);
  std::vector<BestChange> RemovePeerPath(PeerId peer, bool only_stale);
  // A hash map: a full table's worth of random inserts costs one cache
  // miss each instead of a walk down a tree; ordered views sort keys.
  using EntryMap = absl::flat_hash_map<PrefixKey, Entry>;
  // Re-decides one entry after an edit and appends the change, if any;
  // erases it when empty.
  void Finish(EntryMap::iterator it, const Selection& before, std::vector<BestChange>& changes);
  std::vector<PrefixKey> SortedKeys() const;

  LocRibOptions options_;
  absl::flat_hash_map<PeerId, PeerInfo> peers_;
  EntryMap entries_;
  size_t path_count_ = 0;
};

}  // namespace isthmus::bgp
