// The speaker's views for `isthmusctl show bgp summary|neighbors|routes` and
// the metric snapshot. Schemas (every address and prefix as text):
//
// Summary():
//   {"asn": 65001, "router_id": "192.0.2.1", "dataplane_ready": true,
//    "draining": false (true once a shutdown drain began), "loc_rib_prefixes": 12,
//    "peers": [{"name", "address", "remote_as", "description", "role"
//               ("peer"|"route_server"), "group", "state" ("Idle".."Established"),
//               "uptime_seconds", "prefixes_received", "prefixes_accepted",
//               "prefixes_advertised", "last_error"}]}
// Neighbors(peer):
//   {"neighbors": [ <summary entry> + {
//      "local_address", "router_id", "established_since" (RFC 3339 | null),
//      "established_transitions", "last_down_reason" (with the NOTIFICATION
//      text, e.g. "received NOTIFICATION Cease/Hard Reset (Cease/Peer
//      De-configured)"), "last_down_time" (RFC 3339 | null),
//      "timers": {"hold_time_configured", "keepalive_configured",
//                 "connect_retry", "hold_time", "keepalive"},
//      "capabilities": {"four_octet_as", "route_refresh",
//                       "enhanced_route_refresh", "graceful_restart_notification",
//                       "graceful_restart": null | {"restart_time",
//                       "restart_state", "forwarding_preserved"}},
//      "messages": {"received": {"open", "update", "notification", "keepalive",
//                                "route_refresh"}, "sent": {...}},
//      "notifications": {"sent": [{"code", "subcode", "count", "text"}],
//                        "received": [...]},
//      "policy": {"import": [names], "export": [names], "rejected_total",
//                 "last_reject_reason"},
//      "max_prefix": {"limit", "action", "exceeded", "dropped"},
//      "max_advertised", "prefixes_held_back", "prefixes_received_total",
//      "graceful_restart": {"stale", "stale_routes", "end_of_rib_received"}}]}
//   Unknown peer: {"error": "no such peer: NAME", "neighbors": []}.
// Routes(prefix):
//   {"routes": [{"prefix", "paths": [{"peer" ("local" when ours),
//     "peer_address", "kind" ("bgp"|"static"|"service_vip"), "as_path",
//     "next_hop", "origin" ("igp"|"egp"|"incomplete"), "local_pref"|null,
//     "med"|null, "communities": ["65000:1"], "large_communities": ["1:2:3"],
//     "best", "multipath", "stale"}]}]}
//   `prefix` "" = all; "a.b.c.d/len" = that prefix; "a.b.c.d" = every prefix
//   containing the address, longest first. Bad input: {"error", "routes": []}.

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bgp/speaker/speaker_core.h"

namespace isthmus::bgp {
namespace {

using nlohmann::json;

constexpr const char* kMessageNames[kMessageTypeSlots] = {"", "open", "update", "notification", "keepalive",
                                                          "route_refresh"};
constexpr uint32_t kCommunityHalfBits = 16;
constexpr uint32_t kCommunityLowMask = 0xffff;

std::string RoleName(PeerRole role) { return role == PeerRole::kRouteServer ? "route_server" : "peer"; }

std::string KindName(RouteKind kind) {
  switch (kind) {
    case RouteKind::kBgp: return "bgp";
    case RouteKind::kStatic: return "static";
    case RouteKind::kServiceVip: return "service_vip";
  }
  return "bgp";
}

std::string OriginName(Origin origin) {
  switch (origin) {
    case Origin::kIgp: return "igp";
    case Origin::kEgp: return "egp";
    case Origin::kIncomplete: return "incomplete";
  }
  return "incomplete";
}

std::string MaxPrefixActionName(MaxPrefixAction action) {
  switch (action) {
    case MaxPrefixAction::kWarn: return "warn";
    case MaxPrefixAction::kStopAccepting: return "stop_accepting";
    case MaxPrefixAction::kRestart: return "restart";
  }
  return "restart";
}

json Nullable(const std::optional<uint32_t>& v) { return v.has_value() ? json(*v) : json(nullptr); }

json MessageCounts(const std::array<uint64_t, kMessageTypeSlots>& counts) {
  json out = json::object();
  for (size_t type = 1; type < kMessageTypeSlots; ++type) out[kMessageNames[type]] = counts[type];
  return out;
}

json NotificationList(const std::map<std::pair<uint8_t, uint8_t>, uint64_t>& counts) {
  json out = json::array();
  for (const auto& [key, count] : counts) {
    NotificationMessage n;
    n.code = key.first;
    n.subcode = key.second;
    out.push_back({{"code", key.first}, {"subcode", key.second}, {"count", count}, {"text", Describe(n)}});
  }
  return out;
}

json PathJson(const RibPath& path, const std::string& peer_name, const std::string& peer_address) {
  const PathAttributes& a = *path.route.attrs;
  json communities = json::array();
  for (uint32_t c : a.communities) {
    communities.push_back(absl::StrCat(c >> kCommunityHalfBits, ":", c & kCommunityLowMask));
  }
  json large = json::array();
  for (const LargeCommunity& c : a.large_communities) {
    large.push_back(absl::StrCat(c.global, ":", c.local1, ":", c.local2));
  }
  return {{"peer", peer_name},
          {"peer_address", peer_address},
          {"kind", KindName(path.route.kind)},
          {"as_path", a.as_path.ToString()},
          {"next_hop", ToString(a.next_hop)},
          {"origin", OriginName(a.origin)},
          {"local_pref", Nullable(a.local_pref)},
          {"med", Nullable(a.med)},
          {"communities", communities},
          {"large_communities", large},
          {"best", path.best},
          {"multipath", path.multipath},
          {"stale", path.route.stale}};
}

}  // namespace

double SpeakerCore::UptimeSeconds(const Peer& peer) const {
  if (!peer.established() || peer.session->established_since() == absl::InfinitePast()) return 0;
  return absl::ToDoubleSeconds(loop_->Now() - peer.session->established_since());
}

json SpeakerCore::PeerSummary(const Peer& peer) const {
  return {{"name", peer.config.name},
          {"address", ToString(peer.config.address)},
          {"remote_as", peer.config.remote_as},
          {"description", peer.config.description},
          {"role", RoleName(peer.config.role)},
          {"group", peer.config.group},
          {"state", std::string(ToString(peer.session->state()))},
          {"uptime_seconds", static_cast<int64_t>(UptimeSeconds(peer))},
          {"prefixes_received", peer.rib_in.size()},
          {"prefixes_accepted", peer.rib_in.accepted_count()},
          {"prefixes_advertised", peer.rib_out->advertised_count()},
          {"last_error", peer.session->last_error()}};
}

json SpeakerCore::PeerDetail(const Peer& peer) const {
  json j = PeerSummary(peer);
  const NegotiatedSession* n = peer.session->negotiated();
  const bool up = peer.established() && n != nullptr;
  j["local_address"] = up ? json(ToString(n->local_address)) : json(nullptr);
  j["router_id"] = up ? json(ToString(n->peer_router_id)) : json(nullptr);
  j["established_since"] =
      up ? json(absl::FormatTime(absl::RFC3339_sec, peer.session->established_since(), absl::UTCTimeZone()))
         : json(nullptr);
  const SessionCounters& counters = peer.session->counters();
  j["established_transitions"] = counters.established_transitions;
  j["last_down_reason"] = peer.last_down_reason;
  j["last_down_time"] = peer.last_down_time == absl::InfinitePast()
                            ? json(nullptr)
                            : json(absl::FormatTime(absl::RFC3339_sec, peer.last_down_time, absl::UTCTimeZone()));
  j["timers"] = {{"hold_time_configured", peer.config.hold_time_s},
                 {"keepalive_configured", peer.config.keepalive_s},
                 {"connect_retry", peer.config.connect_retry_s},
                 {"hold_time", up ? json(n->hold_time) : json(nullptr)},
                 {"keepalive", up ? json(n->keepalive_time) : json(nullptr)}};
  json caps = json::object();
  if (up) {
    caps = {{"four_octet_as", n->four_octet_as},
            {"route_refresh", n->route_refresh},
            {"enhanced_route_refresh", n->enhanced_route_refresh},
            {"graceful_restart_notification", n->graceful_restart_notification},
            {"graceful_restart", nullptr}};
    if (n->peer_graceful_restart.has_value()) {
      const GracefulRestartCap& gr = *n->peer_graceful_restart;
      caps["graceful_restart"] = {{"restart_time", gr.restart_time},
                                  {"restart_state", gr.restart_state},
                                  {"forwarding_preserved", gr.forwarding_preserved}};
    }
  }
  j["capabilities"] = caps;
  j["messages"] = {{"received", MessageCounts(counters.messages_in)}, {"sent", MessageCounts(counters.messages_out)}};
  j["notifications"] = {{"sent", NotificationList(counters.notifications_sent)},
                        {"received", NotificationList(counters.notifications_received)}};
  j["policy"] = {{"import", peer.config.import_policies},
                 {"export", peer.config.export_policies},
                 {"rejected_total", peer.rejected_total},
                 {"last_reject_reason", peer.last_reject_reason}};
  j["max_prefix"] = {{"limit", peer.config.max_prefix.limit},
                     {"action", MaxPrefixActionName(peer.config.max_prefix.action)},
                     {"exceeded", peer.max_prefix_tripped},
                     {"dropped", peer.max_prefix_dropped}};
  const size_t cap = peer.rib_out->max_advertised();
  j["max_advertised"] = cap == AdjRibOut::kUnlimited ? json(nullptr) : json(cap);
  j["prefixes_held_back"] = peer.rib_out->held_back();
  j["prefixes_received_total"] = peer.prefixes_received_total;
  j["graceful_restart"] = {{"stale", peer.stale_pending},
                           {"stale_routes", peer.rib_in.stale_count()},
                           {"end_of_rib_received", peer.end_of_rib_received}};
  return j;
}

json SpeakerCore::Summary() const {
  json peers = json::array();
  for (const auto& [id, peer] : peers_) peers.push_back(PeerSummary(*peer));
  return {{"asn", config_.asn},
          {"router_id", ToString(config_.router_id)},
          {"dataplane_ready", dataplane_ready_},
          {"draining", draining_},
          {"loc_rib_prefixes", loc_rib_ ? loc_rib_->size() : 0},
          {"peers", peers}};
}

json SpeakerCore::Neighbors(const std::string& name) const {
  json list = json::array();
  for (const auto& [id, peer] : peers_) {
    if (name.empty() || peer->config.name == name) list.push_back(PeerDetail(*peer));
  }
  json out = {{"neighbors", list}};
  if (!name.empty() && list.empty()) out["error"] = absl::StrCat("no such peer: ", name);
  return out;
}

json SpeakerCore::PrefixJson(const Ipv4Prefix& prefix) const {
  json paths = json::array();
  for (const RibPath& path : loc_rib_->Paths(prefix)) {
    std::string name = "local";
    std::string address;
    auto it = peers_.find(path.route.peer);
    if (it != peers_.end()) {
      name = it->second->config.name;
      address = ToString(it->second->config.address);
    }
    paths.push_back(PathJson(path, name, address));
  }
  return {{"prefix", ToString(prefix)}, {"paths", paths}};
}

json SpeakerCore::Routes(const std::string& query) const {
  json routes = json::array();
  if (!loc_rib_) return {{"routes", routes}};
  if (query.empty()) {
    loc_rib_->ForEachBest([&](const Ipv4Prefix& p, const std::vector<Route>&) { routes.push_back(PrefixJson(p)); });
    return {{"routes", routes}};
  }
  if (std::optional<Ipv4Prefix> prefix = ParsePrefix(query); prefix.has_value()) {
    if (loc_rib_->Best(*prefix).has_value()) routes.push_back(PrefixJson(*prefix));
    return {{"routes", routes}};
  }
  std::optional<Ipv4Addr> address = ParseIpv4(query);
  if (!address.has_value()) {
    return {{"routes", routes}, {"error", absl::StrCat("not a prefix or address: '", query, "' (accepted: a.b.c.d/len or a.b.c.d)")}};
  }
  std::vector<Ipv4Prefix> covering;
  loc_rib_->ForEachBest([&](const Ipv4Prefix& p, const std::vector<Route>&) {
    if (p.Contains(*address)) covering.push_back(p);
  });
  std::sort(covering.begin(), covering.end(), [](const Ipv4Prefix& a, const Ipv4Prefix& b) { return a.len > b.len; });
  for (const Ipv4Prefix& p : covering) routes.push_back(PrefixJson(p));
  return {{"routes", routes}};
}

SpeakerMetrics SpeakerCore::Metrics() const {
  SpeakerMetrics m;
  m.dataplane_ready = dataplane_ready_;
  m.loc_rib_prefixes = loc_rib_ ? loc_rib_->size() : 0;
  for (const auto& [id, peer] : peers_) {
    PeerMetrics pm;
    pm.name = peer->config.name;
    pm.address = ToString(peer->config.address);
    pm.state = static_cast<uint32_t>(peer->session->state());
    pm.uptime_seconds = UptimeSeconds(*peer);
    pm.prefixes_received = peer->rib_in.size();
    pm.prefixes_accepted = peer->rib_in.accepted_count();
    pm.prefixes_advertised = peer->rib_out->advertised_count();
    pm.prefixes_rejected_total = peer->rejected_total;
    pm.prefixes_not_advertised = peer->rib_out->held_back();
    const SessionCounters& c = peer->session->counters();
    static_assert(kPeerMetricsMessageSlots == kMessageTypeSlots);
    pm.messages_in = c.messages_in;
    pm.messages_out = c.messages_out;
    pm.notifications_sent = c.notifications_sent;
    pm.notifications_received = c.notifications_received;
    m.peers.push_back(std::move(pm));
  }
  for (const auto& [prefix, announcement] : announcements_) {
    for (const auto& [id, peer] : peers_) {
      m.vips.push_back({prefix, peer->config.name, peer->rib_out->Advertised(prefix) != nullptr});
    }
  }
  return m;
}

}  // namespace isthmus::bgp
