#pragma once
// The speaker's logic. Everything here runs on the BGP thread (the one that
// runs the EventLoop); the thread-safe facade is Speaker (speaker.h).
//
// Data flow (RFC 4271 3.2, 9):
//   UPDATE -> Adj-RIB-In (as received, pre-policy) -> import policy ->
//   Loc-RIB (decision process) -> BestChange -> FIB (peer routes only)
//                                             -> per export group: export
//                                                policy -> Adj-RIB-Out ->
//                                                UPDATEs (sent at once)
// Keeping Adj-RIB-In pre-policy lets a policy change be re-evaluated locally,
// without a route refresh or a session reset.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bgp/config/bgp_config.h"
#include "bgp/policy/policy_engine.h"
#include "bgp/rib/adj_rib_in.h"
#include "bgp/rib/adj_rib_out.h"
#include "bgp/rib/attribute_interner.h"
#include "bgp/rib/loc_rib.h"
#include "bgp/session/event_loop.h"
#include "bgp/session/listener.h"
#include "bgp/session/session.h"
#include "bgp/speaker/speaker_types.h"
#include "nlohmann/json.hpp"

namespace isthmus::bgp {

class SpeakerCore;

// One configured neighbour: its session, its RIBs and its counters.
struct Peer : public SessionObserver {
  Peer(SpeakerCore* core, PeerId id, const PeerConfig& config, LocRib* rib)
      : core(core), id(id), config(config), rib_in(rib, id) {}

  void OnEstablished(const NegotiatedSession& negotiated) override;
  void OnUpdate(const UpdateMessage& update, ErrorAction action) override;
  void OnRouteRefresh(const RouteRefreshMessage& refresh) override;
  void OnDown(const std::string& reason, bool graceful_restart_applies) override;

  bool established() const { return session && session->state() == SessionState::kEstablished; }
  // Members of one group get identical advertisements; a peer without a group
  // is a group of one.
  std::string ExportGroup() const { return config.group.empty() ? "peer:" + config.name : "group:" + config.group; }
  // ExportGroup() == other.ExportGroup(), without building the strings (per route).
  bool SameExportGroup(const Peer& other) const {
    return config.group.empty() ? other.config.group.empty() && config.name == other.config.name
                                : config.group == other.config.group;
  }

  SpeakerCore* core;
  PeerId id;
  PeerConfig config;
  std::unique_ptr<Session> session;
  AdjRibIn rib_in;
  std::unique_ptr<AdjRibOut> rib_out;
  uint64_t prefixes_received_total = 0;        // NLRI seen since start
  uint64_t rejected_total = 0;                 // import policy rejections
  std::string last_reject_reason;
  uint64_t max_prefix_dropped = 0;             // NLRI refused over max-prefix
  bool max_prefix_warned = false;
  bool max_prefix_tripped = false;
  uint16_t peer_restart_time_s = 0;            // its RFC 4724 Restart Time
  bool stale_pending = false;                  // graceful restart: stale routes kept
  EventLoop::TimerId stale_timer = 0;
  EventLoop::TimerId restart_timer = 0;        // max-prefix restart
  bool end_of_rib_received = false;
  std::string last_down_reason;                // FRR's "Last reset", with the NOTIFICATION text
  absl::Time last_down_time = absl::InfinitePast();
};

// The Loc-RIB changes caused by one event; the last change per prefix wins.
// Appended as they come (a full table brings a million) and put in prefix
// order once, when read.
class ChangeSet {
 public:
  void Add(std::vector<BestChange> changes);
  // Where the Loc-RIB appends directly.
  std::vector<BestChange>& sink() {
    normalized_ = false;
    return changes_;
  }
  bool empty() const { return changes_.empty(); }
  size_t size() const { return by_prefix().size(); }
  // One change per prefix, in prefix order.
  const std::vector<BestChange>& by_prefix() const;

 private:
  mutable std::vector<BestChange> changes_;
  mutable bool normalized_ = true;
};

class SpeakerCore {
 public:
  SpeakerCore(EventLoop* loop, FibSink fib_sink) : loop_(loop), fib_sink_(std::move(fib_sink)) {}
  ~SpeakerCore();
  SpeakerCore(const SpeakerCore&) = delete;
  SpeakerCore& operator=(const SpeakerCore&) = delete;

  // Validates the whole configuration without applying it.
  [[nodiscard]] static absl::Status Validate(const BgpConfig& config);

  [[nodiscard]] absl::Status Start(const BgpConfig& config);
  // Sends Cease/Administrative Shutdown to every peer; ShutdownComplete()
  // tells when every session has let go of its connection.
  void BeginShutdown();
  bool ShutdownComplete() const;
  // The drain before BeginShutdown (RFC 8326 spirit): from now on every
  // export to every peer is a withdraw, or in graceful-shutdown mode the same
  // route tagged GRACEFUL_SHUTDOWN (65535:0). Applied through Adj-RIB-Out, so
  // each peer gets only the difference; sessions stay up and routes received
  // keep reaching the FIB. Final: only BeginShutdown follows.
  void DrainForShutdown();
  // True when every Established peer has taken all we queued: nothing left
  // in our buffers and nothing unacknowledged in the kernel's.
  bool OutputAcknowledged() const;
  void Close();

  [[nodiscard]] absl::Status Reconfigure(const BgpConfig& config);
  void Announce(const Announcement& announcement);
  void Withdraw(const Ipv4Prefix& prefix);
  void SetDataplaneReady(bool ready);
  void SetRestarting(bool forwarding_preserved);
  [[nodiscard]] absl::Status RequestRouteRefresh(const std::string& peer);

  // Views (speaker_views.cc).
  nlohmann::json Summary() const;
  nlohmann::json Neighbors(const std::string& peer) const;
  nlohmann::json Routes(const std::string& prefix) const;
  SpeakerMetrics Metrics() const;

  // Called by Peer (the session observer).
  void HandleEstablished(Peer& peer);
  void HandleUpdate(Peer& peer, const UpdateMessage& update, ErrorAction action);
  void HandleRouteRefresh(Peer& peer, const RouteRefreshMessage& refresh);
  void HandleDown(Peer& peer, const std::string& reason, bool graceful_restart_applies);

 private:
  // A route we originate (static network or service VIP).
  struct LocalRoute {
    RouteKind kind = RouteKind::kStatic;
    AttributesPtr attrs;
    std::vector<std::string> peers;   // empty: all peers
  };
  // How long a removed peer's session lives on to send its Cease.
  static constexpr absl::Duration kRetireDelay = absl::Seconds(2);

  static LocRibOptions LocRibOptionsFor(const BgpConfig& config);
  static size_t MaxAdvertised(const PeerConfig& config);
  static bool NeedsReset(const PeerConfig& running, const PeerConfig& next);

  // Peers and the listener.
  Peer* FindPeer(const std::string& name);
  const Peer* FindPeer(const std::string& name) const;
  const PeerConfig* FindWanted(const std::string& name) const;
  Peer& AddPeer(const PeerConfig& config);
  PeerInfo PeerInfoFor(const Peer& peer, Ipv4Addr router_id) const;
  void RemovePeer(PeerId id, uint8_t cease_subcode, const std::string& reason);
  void CancelPeerTimers(Peer& peer);
  [[nodiscard]] absl::Status StartListener();
  void SyncListenerMd5Keys();
  void OnIncomingConnection(int fd, Ipv4Addr from);
  void ReconcilePeers(bool policies_changed);
  void UpdatePeerInPlace(Peer& peer, const PeerConfig& next, bool policies_changed, bool& export_changed);

  // Import.
  PolicyContext ImportContext(const Peer& peer) const;
  // An import policy result and the id of the attributes it accepted.
  struct Verdict {
    PolicyEngine::Result result;
    AttrId accepted = kNoAttributes;
  };
  Verdict MakeVerdict(PolicyEngine::Result result, AttrId received);
  // `verdict`: the import policy's result when it is the same for every
  // prefix of the UPDATE (PolicyEngine::UsesPrefix); null: evaluate here.
  void ImportPrefix(Peer& peer, const Ipv4Prefix& prefix, AttrId attrs, const PolicyContext& ctx,
                    const Verdict* verdict, ChangeSet& changes);
  void EvaluateImport(Peer& peer, const Ipv4Prefix& prefix, AttrId attrs, const PolicyContext& ctx,
                      ChangeSet& changes, const Verdict* verdict = nullptr);
  void WithdrawPrefix(Peer& peer, const Ipv4Prefix& prefix, ChangeSet& changes);
  bool AdmitNewPrefix(Peer& peer);
  void ScheduleMaxPrefixRestart(Peer& peer);
  void ReevaluateImport(Peer& peer, ChangeSet& changes);
  void SweepStale(Peer& peer, ChangeSet& changes);
  void SweepRefreshStale(Peer& peer, ChangeSet& changes);
  void ClearPeerRoutes(Peer& peer);

  // Local origination.
  AttributesPtr LocalAttributes(uint32_t prepend, std::optional<uint32_t> med, std::vector<uint32_t> communities);
  std::map<Ipv4Prefix, LocalRoute> DesiredOrigination();
  void SyncOrigination();

  // Loc-RIB changes -> FIB and export.
  void ProcessChanges(const ChangeSet& changes);
  void PushToFib(const ChangeSet& changes);
  std::map<std::string, std::vector<Peer*>> EstablishedGroups();
  bool LocalRouteAllowed(const Ipv4Prefix& prefix, const Peer& target) const;
  // What `route` is advertised with to `target`'s group; null: not at all.
  AttributesPtr ExportAttributes(const Peer& target, const Route& route);
  // `attrs` as sent while draining in graceful-shutdown mode.
  AttributesPtr GracefulShutdownAttributes(const Peer& target, const AttributesPtr& attrs);
  void ExportPrefixes(const std::vector<Ipv4Prefix>& prefixes);
  // Same, with each prefix's current best path at hand.
  void ExportChanges(const std::vector<BestChange>& changes);
  void ExportFullTable(Peer& peer);
  void ReexportAll();
  void SendChanges(Peer& peer, const OutboundUpdate& changes);
  void SendEndOfRib(Peer& peer);
  void ResendAdjRibOut(Peer& peer);
  CodecContext CodecFor(const Peer& peer) const;

  // Views.
  nlohmann::json PeerSummary(const Peer& peer) const;
  nlohmann::json PeerDetail(const Peer& peer) const;
  nlohmann::json PrefixJson(const Ipv4Prefix& prefix) const;
  double UptimeSeconds(const Peer& peer) const;

  EventLoop* loop_;
  FibSink fib_sink_;
  BgpConfig config_;
  std::optional<PolicyEngine> policy_;
  AttributeInterner interner_;
  std::unique_ptr<LocRib> loc_rib_;
  std::unique_ptr<Listener> listener_;
  std::map<PeerId, std::unique_ptr<Peer>> peers_;
  PeerId next_peer_id_ = 0;
  std::map<Ipv4Prefix, Announcement> announcements_;
  std::map<Ipv4Prefix, LocalRoute> originated_;   // what is in Loc-RIB as kLocalPeer
  bool dataplane_ready_ = false;
  // RFC 4724 3 flags of our OPENs: R until a peer's first establishment
  // after a restart, F while forwarding survived it.
  bool restarting_ = false;
  bool forwarding_preserved_ = false;
  bool shutting_down_ = false;
  bool draining_ = false;   // DrainForShutdown was called
  // Removed peers, kept until their Cease has left.
  std::vector<std::unique_ptr<Peer>> retired_;
};

}  // namespace isthmus::bgp
