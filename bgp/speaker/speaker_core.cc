#include "bgp/speaker/speaker_core.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bgp/policy/export_rules.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"

namespace isthmus::bgp {
namespace {

// Route Server peers get an outbound cap by default: Azure Route Server
// drops a session above 4,000 routes and counts routes it already holds
// plus the incoming UPDATE (azure-route-server.md), so half of it.
constexpr uint32_t kRouteServerDefaultMaxAdvertised = 2000;
constexpr uint32_t kPercent = 100;
// The LOCAL_PREF that RFC 8326 receivers give a GRACEFUL_SHUTDOWN path.
constexpr uint32_t kGracefulShutdownLocalPref = 0;

// RFC 4271 6.3: a NEXT_HOP that is our own address on this session is
// semantically incorrect; its routes are ignored and the session stays up.
// The codec cannot see this (it does not know the local address).
bool NextHopIsOurs(const Peer& peer, const UpdateMessage& update) {
  const NegotiatedSession* negotiated = peer.session ? peer.session->negotiated() : nullptr;
  return negotiated != nullptr && update.attrs.has_value() && !update.nlri.empty() &&
         update.attrs->next_hop == negotiated->local_address;
}

}  // namespace

// ---------------------------------------------------------------------------
// Peer: the session observer just forwards to the core.

void Peer::OnEstablished(const NegotiatedSession& negotiated) {
  peer_restart_time_s = negotiated.peer_graceful_restart ? negotiated.peer_graceful_restart->restart_time : 0;
  core->HandleEstablished(*this);
}
void Peer::OnUpdate(const UpdateMessage& update, ErrorAction action) { core->HandleUpdate(*this, update, action); }
void Peer::OnRouteRefresh(const RouteRefreshMessage& refresh) { core->HandleRouteRefresh(*this, refresh); }
void Peer::OnDown(const std::string& reason, bool graceful_restart_applies) {
  core->HandleDown(*this, reason, graceful_restart_applies);
}

// ---------------------------------------------------------------------------
// ChangeSet: Loc-RIB changes of one event, the last one per prefix wins.

void ChangeSet::Add(std::vector<BestChange> changes) {
  std::vector<BestChange>& to = sink();
  if (to.empty()) {
    to = std::move(changes);
    return;
  }
  for (BestChange& c : changes) to.push_back(std::move(c));
}

const std::vector<BestChange>& ChangeSet::by_prefix() const {
  if (normalized_) return changes_;
  normalized_ = true;
  // Sorted by (prefix, arrival): the changes of one prefix stay in the
  // order they happened. Keys are sorted, not the changes: each moves once.
  std::vector<std::pair<PrefixKey, uint32_t>> order(changes_.size());
  for (size_t i = 0; i < changes_.size(); ++i) order[i] = {ToPrefixKey(changes_[i].prefix), static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end());
  std::vector<BestChange> normalized;
  normalized.reserve(order.size());
  for (size_t i = 0; i < order.size();) {
    size_t last = i;
    while (last + 1 < order.size() && order[last + 1].first == order[i].first) ++last;
    // The last outcome wins, but what the FIB held is what it held before
    // the first one.
    const bool had_peer_best = changes_[order[i].second].had_peer_best;
    normalized.push_back(std::move(changes_[order[last].second]));
    normalized.back().had_peer_best = had_peer_best;
    i = last + 1;
  }
  changes_ = std::move(normalized);
  return changes_;
}

// ---------------------------------------------------------------------------
// Lifecycle.

SpeakerCore::~SpeakerCore() { Close(); }

absl::Status SpeakerCore::Validate(const BgpConfig& config) {
  absl::StatusOr<PolicyEngine> engine = PolicyEngine::Build(config.policies);
  if (!engine.ok()) return engine.status();
  std::set<std::string> names;
  std::set<Ipv4Addr> addresses;
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& p = config.peers[i];
    const std::string where = absl::StrCat("bgp.peers[", i, "]");
    if (p.name.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".name: must not be empty"));
    if (!names.insert(p.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".name: duplicate peer name '", p.name, "'"));
    }
    if (!addresses.insert(p.address).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".address: ", ToString(p.address), " is already used by another peer"));
    }
    for (const auto* list : {&p.import_policies, &p.export_policies}) {
      if (absl::Status s = engine->CheckNames(*list); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status SpeakerCore::Start(const BgpConfig& config) {
  if (absl::Status s = Validate(config); !s.ok()) return s;
  config_ = config;
  policy_ = *PolicyEngine::Build(config.policies);
  loc_rib_ = std::make_unique<LocRib>(LocRibOptionsFor(config), &interner_);
  if (absl::Status s = StartListener(); !s.ok()) return s;
  for (const PeerConfig& pc : config_.peers) AddPeer(pc).session->Start();
  SyncOrigination();
  return absl::OkStatus();
}

LocRibOptions SpeakerCore::LocRibOptionsFor(const BgpConfig& config) {
  LocRibOptions options;
  options.max_paths = config.multipath ? std::max<uint32_t>(config.max_paths, 1) : 1;
  return options;
}

void SpeakerCore::DrainForShutdown() {
  if (draining_ || shutting_down_) return;
  draining_ = true;
  // Every prefix we advertise is in Loc-RIB (a prefix that left it was
  // withdrawn then): re-exporting Loc-RIB reaches all of Adj-RIB-Out.
  if (loc_rib_) ReexportAll();
}

void SpeakerCore::BeginShutdown() {
  shutting_down_ = true;
  for (auto& [id, peer] : peers_) {
    peer->session->Stop(kCeaseAdminShutdown, "isthmusd shutting down");
  }
}

bool SpeakerCore::ShutdownComplete() const {
  for (const auto& [id, peer] : peers_) {
    if (peer->session->HasPendingOutput() || peer->session->state() != SessionState::kIdle) return false;
  }
  return true;
}

bool SpeakerCore::OutputAcknowledged() const {
  for (const auto& [id, peer] : peers_) {
    if (!peer->established()) continue;
    if (peer->session->queued_bytes() != 0 || peer->session->unacked_bytes() != 0) return false;
  }
  return true;
}

void SpeakerCore::Close() {
  listener_.reset();
  for (auto& [id, peer] : peers_) CancelPeerTimers(*peer);
  peers_.clear();
  retired_.clear();
}

void SpeakerCore::CancelPeerTimers(Peer& peer) {
  if (peer.stale_timer != 0) loop_->CancelTimer(peer.stale_timer);
  if (peer.restart_timer != 0) loop_->CancelTimer(peer.restart_timer);
  peer.stale_timer = 0;
  peer.restart_timer = 0;
}

// ---------------------------------------------------------------------------
// Peers and the listener.

Peer* SpeakerCore::FindPeer(const std::string& name) {
  for (auto& [id, peer] : peers_) {
    if (peer->config.name == name) return peer.get();
  }
  return nullptr;
}

const Peer* SpeakerCore::FindPeer(const std::string& name) const {
  return const_cast<SpeakerCore*>(this)->FindPeer(name);
}

size_t SpeakerCore::MaxAdvertised(const PeerConfig& config) {
  if (config.max_advertised != 0) return config.max_advertised;
  return config.role == PeerRole::kRouteServer ? kRouteServerDefaultMaxAdvertised : AdjRibOut::kUnlimited;
}

Peer& SpeakerCore::AddPeer(const PeerConfig& config) {
  const PeerId id = next_peer_id_++;
  auto peer = std::make_unique<Peer>(this, id, config, loc_rib_.get());
  peer->session = std::make_unique<Session>(config, config_.asn, config_.router_id,
                                            config_.graceful_restart_time_s, loop_, peer.get());
  peer->session->SetGracefulRestartFlags(restarting_, forwarding_preserved_);
  peer->rib_out = std::make_unique<AdjRibOut>(MaxAdvertised(config));
  loc_rib_->SetPeer(PeerInfoFor(*peer, Ipv4Addr{}));
  Peer& ref = *peer;
  peers_.emplace(id, std::move(peer));
  return ref;
}

PeerInfo SpeakerCore::PeerInfoFor(const Peer& peer, Ipv4Addr router_id) const {
  PeerInfo info;
  info.id = peer.id;
  info.peer_as = peer.config.remote_as;
  info.local_as = config_.asn;
  info.address = peer.config.address;
  info.router_id = router_id;
  return info;
}

void SpeakerCore::RemovePeer(PeerId id, uint8_t cease_subcode, const std::string& reason) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::unique_ptr<Peer> peer = std::move(it->second);
  peers_.erase(it);
  spdlog::info("bgp: peer {} removed: {}", peer->config.name, reason);
  CancelPeerTimers(*peer);
  peer->session->Stop(cease_subcode, reason);
  ClearPeerRoutes(*peer);
  // The session object stays alive until its NOTIFICATION has left.
  const Peer* retired = peer.get();
  retired_.push_back(std::move(peer));
  loop_->AddTimer(kRetireDelay, [this, retired, id] {
    std::erase_if(retired_, [retired](const std::unique_ptr<Peer>& p) { return p.get() == retired; });
    if (loc_rib_) loc_rib_->ForgetPeer(id);
  });
}

absl::Status SpeakerCore::StartListener() {
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      Listener::Create(loop_, config_.listen_address, config_.listen_port,
                       [this](int fd, Ipv4Addr from) { OnIncomingConnection(fd, from); });
  if (!listener.ok()) return listener.status();
  listener_ = std::move(*listener);
  SyncListenerMd5Keys();
  return absl::OkStatus();
}

// RFC 2385: the listening socket carries one key per peer that has a
// password, so that peer's SYNs are verified before accept().
void SpeakerCore::SyncListenerMd5Keys() {
  if (listener_ == nullptr) return;
  std::vector<std::pair<Ipv4Addr, TcpMd5Password>> keys;
  for (const PeerConfig& pc : config_.peers) {
    if (pc.tcp_md5.configured()) keys.emplace_back(pc.address, pc.tcp_md5);
  }
  if (absl::Status s = listener_->SetMd5Keys(keys); !s.ok()) {
    spdlog::error(
        "bgp: listener TCP-MD5 keys: {}: that peer's incoming connections are refused (its outgoing ones, if not "
        "passive, still carry the key); the kernel must support TCP-MD5 (CONFIG_TCP_MD5SIG)",
        s.message());
  }
}

void SpeakerCore::OnIncomingConnection(int fd, Ipv4Addr from) {
  for (auto& [id, peer] : peers_) {
    if (peer->config.address == from && !shutting_down_) {
      peer->session->AcceptIncoming(fd);
      return;
    }
  }
  spdlog::info("bgp: connection from {} refused: not a configured peer", ToString(from));
  close(fd);
}

// ---------------------------------------------------------------------------
// Session events.

void SpeakerCore::HandleEstablished(Peer& peer) {
  const NegotiatedSession* negotiated = peer.session->negotiated();
  loc_rib_->SetPeer(PeerInfoFor(peer, negotiated ? negotiated->peer_router_id : Ipv4Addr{}));
  spdlog::info("bgp: peer {} established", peer.config.name);
  peer.end_of_rib_received = false;
  // RFC 4724 3: the Restart State bit announces this restart only; a later
  // reconnection of this session is not a restart of the speaker.
  peer.session->SetGracefulRestartFlags(false, forwarding_preserved_);
  // RFC 4724 4.2: stale routes survive the restart only if the new OPEN
  // still says forwarding state was preserved for IPv4 unicast.
  const bool preserved = negotiated != nullptr && negotiated->peer_graceful_restart.has_value() &&
                         negotiated->peer_graceful_restart->forwarding_preserved;
  if (peer.stale_pending && !preserved) {
    ChangeSet changes;
    SweepStale(peer, changes);
    ProcessChanges(changes);
  }
  peer.rib_out->Clear();
  ExportFullTable(peer);
  // RFC 4724 2: End-of-RIB after the initial table.
  SendEndOfRib(peer);
}

void SpeakerCore::HandleUpdate(Peer& peer, const UpdateMessage& update, ErrorAction action) {
  ChangeSet changes;
  changes.sink().reserve(update.nlri.size() + update.withdrawn.size());
  // RFC 7606 2: treat-as-withdraw (and AFI/SAFI disable, which for the only
  // family we carry means the same) removes every prefix of the message.
  bool withdraw_all = action >= ErrorAction::kTreatAsWithdraw;
  if (!withdraw_all && NextHopIsOurs(peer, update)) {
    spdlog::warn("bgp peer {}: NEXT_HOP {} is our own address: {} prefixes ignored (RFC 4271 6.3)",
                 peer.config.name, ToString(update.attrs->next_hop), update.nlri.size());
    withdraw_all = true;
  }
  for (const Ipv4Prefix& p : update.withdrawn) WithdrawPrefix(peer, p, changes);
  if (withdraw_all) {
    for (const Ipv4Prefix& p : update.nlri) WithdrawPrefix(peer, p, changes);
  } else if (update.attrs.has_value() && !update.nlri.empty()) {
    // Held for the whole UPDATE: the id stays valid while its routes go in.
    const AttributesPtr attrs = interner_.Intern(*update.attrs);
    const AttrId id = interner_.InternId(attrs);
    const PolicyContext ctx = ImportContext(peer);   // once per UPDATE, not per prefix
    const std::vector<Ipv4Prefix>& nlri = update.nlri;
    // The policy's verdict is the same for every prefix unless it matches
    // on prefixes: then it runs once for the UPDATE.
    std::optional<Verdict> shared;
    if (!policy_->UsesPrefix(peer.config.import_policies)) {
      shared = MakeVerdict(policy_->Apply(peer.config.import_policies, nlri.front(), attrs, ctx), id);
    }
    // A full table's prefixes miss the cache: look a few ahead.
    constexpr size_t kPrefetchAhead = 16;
    for (size_t i = 0; i < std::min(kPrefetchAhead, nlri.size()); ++i) loc_rib_->Prefetch(nlri[i]);
    for (size_t i = 0; i < nlri.size(); ++i) {
      if (i + kPrefetchAhead < nlri.size()) loc_rib_->Prefetch(nlri[i + kPrefetchAhead]);
      ImportPrefix(peer, nlri[i], id, ctx, shared ? &*shared : nullptr, changes);
    }
  }
  if (update.IsEndOfRib()) {
    peer.end_of_rib_received = true;
    // RFC 4724 4.2: End-of-RIB from a restarting peer ends the stale period.
    if (peer.stale_pending) SweepStale(peer, changes);
  }
  ProcessChanges(changes);
}

void SpeakerCore::HandleRouteRefresh(Peer& peer, const RouteRefreshMessage& refresh) {
  switch (refresh.subtype) {
    case kRouteRefreshRequest:
      ResendAdjRibOut(peer);
      break;
    case kRouteRefreshBegin:
      // RFC 7313 4: the peer re-sends its table; what it does not re-send
      // by EoRR is gone.
      peer.rib_in.MarkStale();
      break;
    case kRouteRefreshEnd: {
      ChangeSet changes;
      SweepRefreshStale(peer, changes);
      ProcessChanges(changes);
      break;
    }
    default:
      break;
  }
}

void SpeakerCore::HandleDown(Peer& peer, const std::string& reason, bool graceful_restart_applies) {
  spdlog::info("bgp: peer {} down: {}{}", peer.config.name, reason,
               graceful_restart_applies ? " (graceful restart: routes kept as stale)" : "");
  peer.last_down_reason = reason;
  peer.last_down_time = loop_->Now();
  peer.rib_out->Clear();
  peer.end_of_rib_received = false;
  ChangeSet changes;
  if (graceful_restart_applies && !shutting_down_ && peer.rib_in.size() > 0) {
    // RFC 4724 4.2: keep forwarding on the peer's routes, marked stale,
    // until it comes back and sends End-of-RIB, or its restart time passes.
    peer.rib_in.MarkStale();
    changes.Add(loc_rib_->MarkPeerStale(peer.id));
    peer.stale_pending = true;
    if (peer.stale_timer != 0) loop_->CancelTimer(peer.stale_timer);
    const PeerId id = peer.id;
    peer.stale_timer = loop_->AddTimer(absl::Seconds(peer.peer_restart_time_s), [this, id] {
      auto it = peers_.find(id);
      if (it == peers_.end()) return;
      it->second->stale_timer = 0;
      ChangeSet expired;
      SweepStale(*it->second, expired);
      ProcessChanges(expired);
    });
  } else {
    peer.rib_in.Clear();
    peer.stale_pending = false;
    changes.Add(loc_rib_->WithdrawPeer(peer.id));
  }
  ProcessChanges(changes);
}

// ---------------------------------------------------------------------------
// Import.

PolicyContext SpeakerCore::ImportContext(const Peer& peer) const {
  PolicyContext ctx;
  ctx.direction = PolicyContext::Direction::kImport;
  ctx.peer = &peer.config;
  ctx.local_as = config_.asn;
  const NegotiatedSession* negotiated = peer.session->negotiated();
  if (negotiated != nullptr) ctx.local_address = negotiated->local_address;
  ctx.kind = RouteKind::kBgp;
  ctx.source_peer_name = peer.config.name;
  ctx.source_peer_role = peer.config.role;
  return ctx;
}

SpeakerCore::Verdict SpeakerCore::MakeVerdict(PolicyEngine::Result result, AttrId received) {
  Verdict v{std::move(result), kNoAttributes};
  // Untouched by policy: the received attributes themselves.
  if (v.result.accepted) {
    v.accepted = v.result.attrs == interner_.Get(received) ? received : interner_.InternId(v.result.attrs);
  }
  return v;
}

void SpeakerCore::ImportPrefix(Peer& peer, const Ipv4Prefix& prefix, AttrId attrs, const PolicyContext& ctx,
                               const Verdict* verdict, ChangeSet& changes) {
  ++peer.prefixes_received_total;
  // Only a configured limit needs to know whether the prefix is new.
  if (peer.config.max_prefix.limit != 0 && !peer.rib_in.Contains(prefix) && !AdmitNewPrefix(peer)) return;
  if (verdict != nullptr && verdict->result.accepted) {
    // Adj-RIB-In and Loc-RIB in one step (a no-op for the same route again).
    loc_rib_->InUpdateAccepted(prefix, peer.id, attrs, verdict->accepted, RouteKind::kBgp, changes.sink());
    return;
  }
  if (peer.rib_in.Update(prefix, attrs) == LocRib::InResult::kSame) return;   // same route again
  EvaluateImport(peer, prefix, attrs, ctx, changes, verdict);
}

void SpeakerCore::EvaluateImport(Peer& peer, const Ipv4Prefix& prefix, AttrId attrs, const PolicyContext& ctx,
                                 ChangeSet& changes, const Verdict* verdict) {
  std::optional<Verdict> own;
  if (verdict == nullptr) {
    verdict = &own.emplace(
        MakeVerdict(policy_->Apply(peer.config.import_policies, prefix, interner_.Get(attrs), ctx), attrs));
  }
  const PolicyEngine::Result& result = verdict->result;
  if (result.accepted) {
    loc_rib_->Update(prefix, peer.id, verdict->accepted, RouteKind::kBgp, changes.sink());
    return;
  }
  ++peer.rejected_total;
  if (peer.last_reject_reason != result.reason) {
    spdlog::info("bgp: peer {}: {} {}", peer.config.name, ToString(prefix), result.reason);
  }
  peer.last_reject_reason = result.reason;
  loc_rib_->Withdraw(prefix, peer.id, changes.sink());   // if it was a candidate
}

void SpeakerCore::WithdrawPrefix(Peer& peer, const Ipv4Prefix& prefix, ChangeSet& changes) {
  bool was_accepted = false;
  if (!peer.rib_in.Withdraw(prefix, &was_accepted)) return;
  if (was_accepted) loc_rib_->Withdraw(prefix, peer.id, changes.sink());
}

// Inbound max-prefix (issue 3 item 1). Counts what the peer sent us
// (Adj-RIB-In), whatever policy later makes of it. Returns false when the new
// prefix must not be taken.
bool SpeakerCore::AdmitNewPrefix(Peer& peer) {
  const MaxPrefix& mp = peer.config.max_prefix;
  if (mp.limit == 0) return true;
  const uint64_t count = peer.rib_in.size() + 1;
  if (!peer.max_prefix_warned && count * kPercent >= uint64_t{mp.limit} * mp.warn_percent) {
    peer.max_prefix_warned = true;
    spdlog::warn("bgp: peer {} sent {} prefixes, {}% of its limit {}", peer.config.name, count, mp.warn_percent,
                 mp.limit);
  }
  if (count <= mp.limit) return true;
  const bool first = !peer.max_prefix_tripped;
  peer.max_prefix_tripped = true;
  switch (mp.action) {
    case MaxPrefixAction::kWarn:
      if (first) spdlog::warn("bgp: peer {} exceeds max-prefix {} (warn only)", peer.config.name, mp.limit);
      return true;
    case MaxPrefixAction::kStopAccepting:
      if (first) spdlog::warn("bgp: peer {} exceeds max-prefix {}: further prefixes dropped", peer.config.name, mp.limit);
      ++peer.max_prefix_dropped;
      return false;
    case MaxPrefixAction::kRestart:
      if (first) ScheduleMaxPrefixRestart(peer);
      ++peer.max_prefix_dropped;
      return false;
  }
  return false;
}

// RFC 4486: Cease/Maximum Number of Prefixes Reached, then a new start after
// restart_after_s. The stop is posted so that the UPDATE being processed
// finishes first (the session's down callback clears this peer's routes).
void SpeakerCore::ScheduleMaxPrefixRestart(Peer& peer) {
  const PeerId id = peer.id;
  spdlog::warn("bgp: peer {} exceeds max-prefix {}: session reset, restart in {} s", peer.config.name,
               peer.config.max_prefix.limit, peer.config.max_prefix.restart_after_s);
  loop_->Post([this, id] {
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    Peer& p = *it->second;
    p.session->Stop(kCeaseMaxPrefixes, "Maximum Number of Prefixes Reached");
    p.restart_timer = loop_->AddTimer(absl::Seconds(p.config.max_prefix.restart_after_s), [this, id] {
      auto again = peers_.find(id);
      if (again == peers_.end() || shutting_down_) return;
      again->second->restart_timer = 0;
      again->second->max_prefix_tripped = false;
      again->second->max_prefix_warned = false;
      again->second->session->Start();
    });
  });
}

void SpeakerCore::ReevaluateImport(Peer& peer, ChangeSet& changes) {
  std::vector<std::pair<Ipv4Prefix, AttributesPtr>> routes;
  routes.reserve(peer.rib_in.size());
  peer.rib_in.ForEach([&](const Ipv4Prefix& p, const AdjRibIn::Entry& e) { routes.emplace_back(p, e.attrs); });
  const PolicyContext ctx = ImportContext(peer);
  for (const auto& [prefix, attrs] : routes) EvaluateImport(peer, prefix, interner_.InternId(attrs), ctx, changes);
}

void SpeakerCore::SweepStale(Peer& peer, ChangeSet& changes) {
  if (peer.stale_timer != 0) loop_->CancelTimer(peer.stale_timer);
  peer.stale_timer = 0;
  peer.stale_pending = false;
  (void)peer.rib_in.SweepStale();
  changes.Add(loc_rib_->SweepStale(peer.id));
}

void SpeakerCore::SweepRefreshStale(Peer& peer, ChangeSet& changes) {
  std::vector<Ipv4Prefix> accepted;
  (void)peer.rib_in.SweepStale(&accepted);
  for (const Ipv4Prefix& p : accepted) changes.Add(loc_rib_->Withdraw(p, peer.id));
}

void SpeakerCore::ClearPeerRoutes(Peer& peer) {
  peer.rib_in.Clear();
  peer.stale_pending = false;
  ChangeSet changes;
  changes.Add(loc_rib_->WithdrawPeer(peer.id));
  ProcessChanges(changes);
}

// ---------------------------------------------------------------------------
// Local origination: static networks and service VIPs. Nothing is
// originated while the data plane is not ready (issue 3 item 5): we would
// attract traffic we cannot forward.

AttributesPtr SpeakerCore::LocalAttributes(uint32_t prepend, std::optional<uint32_t> med,
                                           std::vector<uint32_t> communities) {
  PathAttributes attrs;
  attrs.origin = Origin::kIgp;
  if (prepend > 0) {
    // Our own ASN N extra times; the eBGP export adds the usual one.
    attrs.as_path.segments.push_back(
        AsPathSegment{AsPathSegment::Type::kSequence, std::vector<Asn>(std::min(prepend, kMaxPrepend), config_.asn)});
  }
  attrs.med = med;
  std::sort(communities.begin(), communities.end());
  communities.erase(std::unique(communities.begin(), communities.end()), communities.end());
  attrs.communities = std::move(communities);
  return interner_.Intern(std::move(attrs));
}

std::map<Ipv4Prefix, SpeakerCore::LocalRoute> SpeakerCore::DesiredOrigination() {
  std::map<Ipv4Prefix, LocalRoute> desired;
  if (!dataplane_ready_ || shutting_down_) return desired;
  for (const Network& n : config_.networks) {
    desired[n.prefix] = LocalRoute{RouteKind::kStatic, LocalAttributes(0, std::nullopt, {}), {}};
  }
  // A VIP announcement wins over a static network for the same prefix.
  for (const auto& [prefix, a] : announcements_) {
    desired[prefix] = LocalRoute{RouteKind::kServiceVip, LocalAttributes(a.prepend, a.med, a.communities), a.peers};
  }
  return desired;
}

void SpeakerCore::SyncOrigination() {
  if (!loc_rib_) return;   // not started: Start() originates
  std::map<Ipv4Prefix, LocalRoute> desired = DesiredOrigination();
  ChangeSet changes;
  std::vector<Ipv4Prefix> peers_changed;   // same attributes, other target peers
  for (auto it = originated_.begin(); it != originated_.end();) {
    if (!desired.contains(it->first)) {
      changes.Add(loc_rib_->Withdraw(it->first, kLocalPeer));
      it = originated_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [prefix, route] : desired) {
    auto old = originated_.find(prefix);
    if (old != originated_.end() && old->second.kind == route.kind && old->second.attrs == route.attrs) {
      if (old->second.peers != route.peers) peers_changed.push_back(prefix);
      old->second.peers = route.peers;
      continue;
    }
    Route r;
    r.prefix = prefix;
    r.attrs = route.attrs;
    r.peer = kLocalPeer;
    r.kind = route.kind;
    originated_[prefix] = route;
    changes.Add(loc_rib_->Update(r));
  }
  ProcessChanges(changes);
  // The Loc-RIB saw no change for these, but who may receive them did.
  if (!peers_changed.empty()) ExportPrefixes(peers_changed);
}

void SpeakerCore::Announce(const Announcement& announcement) {
  announcements_[announcement.prefix] = announcement;
  SyncOrigination();
}

void SpeakerCore::Withdraw(const Ipv4Prefix& prefix) {
  announcements_.erase(prefix);
  SyncOrigination();
}

void SpeakerCore::SetDataplaneReady(bool ready) {
  dataplane_ready_ = ready;
  SyncOrigination();
}

void SpeakerCore::SetRestarting(bool forwarding_preserved) {
  restarting_ = true;
  forwarding_preserved_ = forwarding_preserved;
  for (auto& [id, peer] : peers_) {
    if (!peer->established()) peer->session->SetGracefulRestartFlags(true, forwarding_preserved);
  }
}

absl::Status SpeakerCore::RequestRouteRefresh(const std::string& name) {
  Peer* peer = FindPeer(name);
  if (peer == nullptr) return absl::NotFoundError(absl::StrCat("no such peer: ", name));
  if (!peer->established()) {
    return absl::FailedPreconditionError(absl::StrCat("peer ", name, " is not Established"));
  }
  // Session refuses when the peer did not advertise the capability
  // (RFC 2918 3: the request MUST NOT be sent then).
  if (!peer->session->SendRouteRefresh(kRouteRefreshRequest)) {
    return absl::FailedPreconditionError(absl::StrCat("peer ", name, " did not negotiate route refresh"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Loc-RIB changes: FIB, then export.

void SpeakerCore::ProcessChanges(const ChangeSet& changes) {
  if (changes.empty()) return;
  PushToFib(changes);
  // Each change holds the prefix's best path as the event left it.
  ExportChanges(changes.by_prefix());
}

// Multipath next hops of peer-learned routes. A locally originated best
// path takes the prefix out of the FIB: we are its destination.
void SpeakerCore::PushToFib(const ChangeSet& changes) {
  std::vector<FibRoute> batch;
  for (const BestChange& change : changes.by_prefix()) {
    FibRoute fib;
    fib.prefix = change.prefix;
    if (change.best.has_value() && change.best->peer != kLocalPeer) {
      for (const MultipathMember& m : change.multipath) {
        if (m.peer != kLocalPeer) fib.nexthops.push_back(m.next_hop);
      }
      std::sort(fib.nexthops.begin(), fib.nexthops.end());
      fib.nexthops.erase(std::unique(fib.nexthops.begin(), fib.nexthops.end()), fib.nexthops.end());
    }
    // Never programmed (the best path was ours or absent): nothing to remove.
    if (fib.nexthops.empty() && !change.had_peer_best) continue;
    batch.push_back(std::move(fib));
  }
  if (!batch.empty() && fib_sink_) fib_sink_(std::move(batch));
}

CodecContext SpeakerCore::CodecFor(const Peer& peer) const {
  CodecContext ctx;
  const NegotiatedSession* negotiated = peer.session->negotiated();
  ctx.four_octet_as = negotiated != nullptr && negotiated->four_octet_as;
  ctx.ebgp = peer.config.remote_as != config_.asn;
  return ctx;
}

std::map<std::string, std::vector<Peer*>> SpeakerCore::EstablishedGroups() {
  std::map<std::string, std::vector<Peer*>> groups;
  for (auto& [id, peer] : peers_) {
    if (peer->established()) groups[peer->ExportGroup()].push_back(peer.get());
  }
  return groups;
}

bool SpeakerCore::LocalRouteAllowed(const Ipv4Prefix& prefix, const Peer& target) const {
  auto it = originated_.find(prefix);
  if (it == originated_.end() || it->second.peers.empty()) return true;
  // Named peers; a group counts as named when any member is, so that group
  // members keep receiving identical advertisements.
  for (const std::string& name : it->second.peers) {
    const Peer* named = FindPeer(name);
    if (named != nullptr && named->SameExportGroup(target)) return true;
  }
  return false;
}

AttributesPtr SpeakerCore::ExportAttributes(const Peer& target, const Route& route) {
  if (draining_ && config_.shutdown_mode == ShutdownMode::kWithdraw) return nullptr;
  PolicyContext ctx;
  ctx.direction = PolicyContext::Direction::kExport;
  ctx.peer = &target.config;
  ctx.local_as = config_.asn;
  const NegotiatedSession* negotiated = target.session->negotiated();
  if (negotiated != nullptr) ctx.local_address = negotiated->local_address;
  ctx.kind = route.kind;
  if (route.peer == kLocalPeer) {
    if (!LocalRouteAllowed(route.prefix, target)) return nullptr;
  } else {
    auto source = peers_.find(route.peer);
    if (source == peers_.end()) return nullptr;
    const Peer& from = *source->second;
    // Never back to where it came from; for a group, to none of its
    // members, so that every member receives the same table.
    if (from.SameExportGroup(target)) return nullptr;
    // RFC 4271 9.2: routes learned over iBGP are not passed to iBGP peers
    // (we are no route reflector).
    if (from.config.remote_as == config_.asn && target.config.remote_as == config_.asn) return nullptr;
    ctx.source_peer_name = from.config.name;
    ctx.source_peer_role = from.config.role;
  }
  const PolicyEngine::Result result = policy_->Apply(target.config.export_policies, route.prefix, route.attrs, ctx);
  if (!result.accepted || result.attrs == nullptr) return nullptr;
  AttributesPtr exported = interner_.Intern(result.attrs);
  return draining_ ? GracefulShutdownAttributes(target, exported) : exported;
}

// RFC 8326 3: GRACEFUL_SHUTDOWN on every path, so that receivers lower its
// LOCAL_PREF and move to another path while this one still forwards. An
// iBGP peer uses the LOCAL_PREF we send as it is, so we lower it ourselves,
// as the receivers would (FRR's "bgp graceful-shutdown" does the same).
AttributesPtr SpeakerCore::GracefulShutdownAttributes(const Peer& target, const AttributesPtr& attrs) {
  PathAttributes tagged = *attrs;
  std::vector<uint32_t>& communities = tagged.communities;   // sorted, unique
  auto at = std::lower_bound(communities.begin(), communities.end(), kCommunityGracefulShutdown);
  if (at == communities.end() || *at != kCommunityGracefulShutdown) communities.insert(at, kCommunityGracefulShutdown);
  if (target.config.remote_as == config_.asn) tagged.local_pref = kGracefulShutdownLocalPref;
  return interner_.Intern(std::move(tagged));
}

void SpeakerCore::ExportPrefixes(const std::vector<Ipv4Prefix>& prefixes) {
  std::vector<BestChange> current;
  current.reserve(prefixes.size());
  for (const Ipv4Prefix& p : prefixes) current.push_back(BestChange{p, loc_rib_->Best(p), {}});
  ExportChanges(current);
}

void SpeakerCore::ExportChanges(const std::vector<BestChange>& changes) {
  for (auto& [group, members] : EstablishedGroups()) {
    // Computed once per group (first member by id represents it).
    std::vector<std::pair<Ipv4Prefix, AttributesPtr>> desired;
    desired.reserve(changes.size());
    for (const BestChange& c : changes) {
      desired.emplace_back(c.prefix, c.best.has_value() ? ExportAttributes(*members.front(), *c.best) : nullptr);
    }
    for (Peer* member : members) {
      for (const auto& [p, attrs] : desired) member->rib_out->Set(p, attrs);
      SendChanges(*member, member->rib_out->TakePending());
    }
  }
}

void SpeakerCore::ExportFullTable(Peer& peer) {
  std::vector<Ipv4Prefix> prefixes;
  prefixes.reserve(loc_rib_->size());
  loc_rib_->ForEachBest([&](const Ipv4Prefix& p, const std::vector<Route>&) { prefixes.push_back(p); });
  // The group's other members already hold the same table: compute with the
  // group's representative so this peer gets exactly what they have.
  std::vector<Peer*> members = EstablishedGroups()[peer.ExportGroup()];
  const Peer& representative = members.empty() ? peer : *members.front();
  for (const Ipv4Prefix& p : prefixes) {
    std::optional<Route> best = loc_rib_->Best(p);
    peer.rib_out->Set(p, best.has_value() ? ExportAttributes(representative, *best) : nullptr);
  }
  SendChanges(peer, peer.rib_out->TakePending());
}

void SpeakerCore::ReexportAll() {
  std::vector<Ipv4Prefix> prefixes;
  prefixes.reserve(loc_rib_->size());
  loc_rib_->ForEachBest([&](const Ipv4Prefix& p, const std::vector<Route>&) { prefixes.push_back(p); });
  // Prefixes a peer holds that are no longer in Loc-RIB were already
  // withdrawn when they left it; what changes here is only policy.
  ExportPrefixes(prefixes);
}

// Withdrawals first, then one batch of UPDATEs per attribute set, all queued
// at once: nothing waits for an advertisement timer (issue 3 item 13).
void SpeakerCore::SendChanges(Peer& peer, const OutboundUpdate& changes) {
  const CodecContext ctx = CodecFor(peer);
  if (!changes.withdrawn.empty()) {
    for (const auto& message : EncodeUpdates(changes.withdrawn, nullptr, {}, ctx)) peer.session->Send(message);
  }
  for (const OutboundUpdate::Group& group : changes.announced) {
    for (const auto& message : EncodeUpdates({}, group.attrs.get(), group.prefixes, ctx)) {
      peer.session->Send(message);
    }
  }
}

// RFC 4724 2: an UPDATE with no withdrawn routes, no attributes and no NLRI.
void SpeakerCore::SendEndOfRib(Peer& peer) {
  peer.session->Send(Encode(Message{UpdateMessage{}}, CodecFor(peer)));
}

// ROUTE-REFRESH (RFC 2918): the whole Adj-RIB-Out again, framed by BoRR and
// EoRR when enhanced route refresh was negotiated (RFC 7313 4).
void SpeakerCore::ResendAdjRibOut(Peer& peer) {
  const NegotiatedSession* negotiated = peer.session->negotiated();
  const bool enhanced = negotiated != nullptr && negotiated->enhanced_route_refresh;
  if (enhanced) peer.session->SendRouteRefresh(kRouteRefreshBegin);
  SendChanges(peer, peer.rib_out->Refresh());
  if (enhanced) peer.session->SendRouteRefresh(kRouteRefreshEnd);
}

// ---------------------------------------------------------------------------
// Reconfigure.

absl::Status SpeakerCore::Reconfigure(const BgpConfig& next) {
  if (absl::Status s = Validate(next); !s.ok()) return s;
  if (next.asn != config_.asn || next.router_id != config_.router_id) {
    return absl::FailedPreconditionError("bgp.asn and bgp.router_id cannot change without a restart");
  }
  const BgpConfig previous = config_;
  config_ = next;
  policy_ = *PolicyEngine::Build(next.policies);
  const bool policies_changed = previous.policies != next.policies;
  if (previous.multipath != next.multipath || previous.max_paths != next.max_paths) {
    ChangeSet changes;
    changes.Add(loc_rib_->SetOptions(LocRibOptionsFor(next)));
    ProcessChanges(changes);
  }
  if (next.listen_port != previous.listen_port || next.listen_address != previous.listen_address) {
    listener_.reset();
    if (absl::Status s = StartListener(); !s.ok()) spdlog::error("bgp: listener: {}", s.message());
  }
  // Keys first: a peer reset by a new password reconnects with the new one.
  SyncListenerMd5Keys();
  ReconcilePeers(policies_changed);
  SyncOrigination();
  // A drain in progress follows a new shutdown mode at once.
  if (draining_ && previous.shutdown_mode != next.shutdown_mode) ReexportAll();
  return absl::OkStatus();
}

// A new address or AS is another neighbour (new PeerId, clean RIBs); the
// session decides which of its own settings need a new connection. The
// rest (policies, caps, group, description) is applied in place.
bool SpeakerCore::NeedsReset(const PeerConfig& running, const PeerConfig& next) {
  return running.address != next.address || running.remote_as != next.remote_as ||
         Session::NeedsReset(running, next);
}

void SpeakerCore::ReconcilePeers(bool policies_changed) {
  // Removed or reset peers.
  std::vector<PeerId> removed;
  for (auto& [id, peer] : peers_) {
    const PeerConfig* wanted = FindWanted(peer->config.name);
    if (wanted == nullptr || NeedsReset(peer->config, *wanted)) removed.push_back(id);
  }
  for (PeerId id : removed) {
    const bool deconfigured = FindWanted(peers_[id]->config.name) == nullptr;
    RemovePeer(id, deconfigured ? kCeasePeerDeconfigured : kCeaseOtherConfigChange,
               deconfigured ? "Peer De-configured" : "Other Configuration Change");
  }
  // Changed in place, then new ones.
  bool export_changed = policies_changed;
  for (const PeerConfig& pc : config_.peers) {
    Peer* peer = FindPeer(pc.name);
    if (peer == nullptr) {
      AddPeer(pc).session->Start();
      continue;
    }
    if (peer->config == pc && !policies_changed) continue;
    UpdatePeerInPlace(*peer, pc, policies_changed, export_changed);
  }
  if (export_changed) ReexportAll();
}

const PeerConfig* SpeakerCore::FindWanted(const std::string& name) const {
  for (const PeerConfig& pc : config_.peers) {
    if (pc.name == name) return &pc;
  }
  return nullptr;
}

void SpeakerCore::UpdatePeerInPlace(Peer& peer, const PeerConfig& next, bool policies_changed, bool& export_changed) {
  const bool import_changed = policies_changed || peer.config.import_policies != next.import_policies;
  if (peer.config.export_policies != next.export_policies || peer.config.group != next.group ||
      peer.config.role != next.role) {
    export_changed = true;
  }
  if (MaxAdvertised(peer.config) != MaxAdvertised(next)) {
    peer.rib_out->SetMaxAdvertised(MaxAdvertised(next));
    export_changed = true;
  }
  if (peer.config.max_prefix != next.max_prefix) {
    peer.max_prefix_warned = false;
    peer.max_prefix_tripped = false;
  }
  peer.config = next;
  peer.session->Reconfigure(next);
  if (import_changed) {
    ChangeSet changes;
    ReevaluateImport(peer, changes);
    ProcessChanges(changes);
  }
}

}  // namespace isthmus::bgp
