#include "control/metrics/metrics_exporter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <exception>
#include <utility>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/worker/counters.h"
#include "isthmus_version.h"

namespace isthmus {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr size_t kHttpThreads = 2;  // a slow scrape must not stall the next one
constexpr uint32_t kMaxPort = 65535;
constexpr size_t kMaxPortDigits = 5;
constexpr char kAcceptedListenForms[] =
    "accepted: IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:9470 or [::1]:9470";

MetricFamily Family(absl::string_view name, absl::string_view help, MetricType type) {
  MetricFamily family;
  family.name = std::string(name);
  family.help = std::string(help);
  family.type = type;
  return family;
}

void AddSample(MetricFamily& family, Labels labels, double value) {
  ClientMetric sample;
  sample.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    sample.counter.value = value;
  } else {
    sample.gauge.value = value;
  }
  family.metric.push_back(std::move(sample));
}

double AsDouble(uint64_t v) { return static_cast<double>(v); }

// drop_reason.h uses std::string_view; Debian's abseil has its own type.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

struct PortCounterSpec {
  absl::string_view name;
  absl::string_view help;
  uint64_t PortCounters::*field;
};

constexpr PortCounterSpec kPortCounters[] = {
    {"isthmus_port_rx_packets_total", "Packets received on the port.", &PortCounters::rx_packets},
    {"isthmus_port_rx_bytes_total", "Bytes received on the port.", &PortCounters::rx_bytes},
    {"isthmus_port_tx_packets_total", "Packets sent on the port.", &PortCounters::tx_packets},
    {"isthmus_port_tx_bytes_total", "Bytes sent on the port.", &PortCounters::tx_bytes},
    {"isthmus_port_rx_missed_total",
     "Packets the port's receive queues had no room for (the workers fell behind).",
     &PortCounters::rx_missed},
    {"isthmus_port_rx_ring_full_total",
     "Packets the kernel dropped because the port's AF_XDP receive ring was full (the workers fell behind).",
     &PortCounters::rx_ring_full},
    {"isthmus_port_rx_errors_total", "Erroneous packets received, as reported by the driver.",
     &PortCounters::rx_errors},
    {"isthmus_port_tx_errors_total", "Packets the driver failed to send.",
     &PortCounters::tx_errors},
};

Labels PortLabels(const PortCounters& port) {
  return {{"port", port.name}, {"driver", port.driver}, {"interface", port.interface}};
}

void AppendPortFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  for (const PortCounterSpec& spec : kPortCounters) {
    MetricFamily family = Family(spec.name, spec.help, MetricType::Counter);
    for (const PortCounters& port : s.ports) {
      AddSample(family, PortLabels(port), AsDouble(port.*spec.field));
    }
    out.push_back(std::move(family));
  }
  MetricFamily up = Family("isthmus_port_up", "1 if the port's link is up, 0 if down.",
                           MetricType::Gauge);
  for (const PortCounters& port : s.ports) AddSample(up, PortLabels(port), port.link_up ? 1 : 0);
  out.push_back(std::move(up));
}

// The per-reason help from drop_reason.h goes into the family's HELP line,
// the only place the exposition format has for documentation.
template <size_t N>
std::string ReasonHelp(absl::string_view intro, const std::array<ReasonInfo, N>& reasons) {
  std::string help(intro);
  for (size_t i = 0; i < N; ++i) {
    absl::StrAppend(&help, i == 0 ? " " : "; ", AbslView(reasons[i].name), ": ",
                    AbslView(reasons[i].help));
  }
  absl::StrAppend(&help, ".");
  return help;
}

template <size_t N>
MetricFamily ReasonFamily(absl::string_view name, absl::string_view intro,
                          const std::array<ReasonInfo, N>& reasons,
                          const std::array<uint64_t, N>& counts) {
  MetricFamily family = Family(name, ReasonHelp(intro, reasons), MetricType::Counter);
  for (size_t i = 0; i < N; ++i) {
    AddSample(family, {{"reason", std::string(AbslView(reasons[i].name))}}, AsDouble(counts[i]));
  }
  return family;
}

void AppendWorkerFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily polls = Family(
      "isthmus_worker_polls_total",
      "Receive poll rounds of a worker; result=busy found packets, result=idle found none.",
      MetricType::Counter);
  MetricFamily rx = Family("isthmus_worker_rx_packets_total",
                           "Packets a worker received from all its queues.", MetricType::Counter);
  MetricFamily tx = Family("isthmus_worker_tx_packets_total",
                           "Packets a worker handed to the ports for sending.",
                           MetricType::Counter);
  MetricFamily stalls = Family(
      "isthmus_worker_stalls_total",
      absl::StrCat("Poll rounds of a worker that took longer than ", kWorkerStallSeconds,
                   " s beyond the idle sleep they asked for (descheduled, or a stage too slow)."),
      MetricType::Counter);
  MetricFamily gap = Family("isthmus_worker_longest_loop_gap_seconds",
                            "The longest poll round of a worker since start, idle sleep not counted.",
                            MetricType::Gauge);
  for (const WorkerCounters& w : s.workers) {
    const std::string id = absl::StrCat(w.id);
    AddSample(polls, {{"worker", id}, {"result", "busy"}}, AsDouble(w.busy_polls));
    AddSample(polls, {{"worker", id}, {"result", "idle"}}, AsDouble(w.idle_polls));
    AddSample(rx, {{"worker", id}}, AsDouble(w.rx_packets));
    AddSample(tx, {{"worker", id}}, AsDouble(w.tx_packets));
    AddSample(stalls, {{"worker", id}}, AsDouble(w.stalls));
    AddSample(gap, {{"worker", id}}, w.longest_loop_gap_seconds);
  }
  out.push_back(std::move(polls));
  out.push_back(std::move(rx));
  out.push_back(std::move(tx));
  out.push_back(std::move(stalls));
  out.push_back(std::move(gap));
}

// DPDK mempools: objects in use (a leak shows as a level that does not come
// back down once traffic stops) and their size.
void AppendMempoolFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily in_use = Family("isthmus_mempool_in_use",
                               "Objects of a DPDK mempool in use (neither in the pool nor in a per-core cache).",
                               MetricType::Gauge);
  MetricFamily size = Family("isthmus_mempool_size", "Objects a DPDK mempool holds in all.", MetricType::Gauge);
  for (const MempoolSnapshot& p : s.mempools) {
    AddSample(in_use, {{"pool", p.name}}, AsDouble(p.in_use));
    AddSample(size, {{"pool", p.name}}, AsDouble(p.size));
  }
  out.push_back(std::move(in_use));
  out.push_back(std::move(size));
}

void AppendXdpFamily(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily xdp = Family(
      "isthmus_xdp_decisions_total",
      "Packets the XDP steering program passed to the kernel or redirected to the data plane.",
      MetricType::Counter);
  for (const XdpCounters& port : s.xdp) {
    AddSample(xdp, {{"port", port.port}, {"decision", "kernel"}}, AsDouble(port.to_kernel));
    AddSample(xdp, {{"port", port.port}, {"decision", "dataplane"}}, AsDouble(port.to_dataplane));
  }
  out.push_back(std::move(xdp));
}

// ESP SAs of ipsec tunnels: sequence numbers, traffic and lifetime state,
// labelled by SPI (keys are never exported).
void AppendEspSaFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily seq = Family("isthmus_tunnel_esp_sa_sequence",
                            "ESP sequence number: last sent (outbound) or top of the replay window (inbound).",
                            MetricType::Gauge);
  MetricFamily packets = Family("isthmus_tunnel_esp_sa_packets_total",
                                "Packets each ESP SA protected (outbound) or verified (inbound).",
                                MetricType::Counter);
  MetricFamily expired = Family("isthmus_tunnel_esp_sa_lifetime_state",
                                "ESP SA lifetime: 0 within limits, 1 soft limit reached (rekey due), 2 hard limit "
                                "reached (SA stopped).",
                                MetricType::Gauge);
  bool any = false;
  for (const TunnelSnapshot& t : s.tunnels) {
    for (const EspSaSnapshot& sa : t.esp_sas) {
      any = true;
      const std::string spi = absl::StrFormat("0x%08x", sa.spi);
      const Labels labels = {
          {"tunnel", t.name}, {"direction", sa.direction}, {"spi", spi}};
      AddSample(seq, labels, AsDouble(sa.highest_seq));
      AddSample(packets, labels, AsDouble(sa.packets));
      AddSample(expired, labels, sa.hard_expired ? 2 : sa.soft_expired ? 1 : 0);
    }
  }
  if (!any) return;
  for (MetricFamily* f : {&seq, &packets, &expired}) out.push_back(std::move(*f));
}

// Tunnels: packets and bytes each way, whether each can carry traffic, and
// the drops charged to each, by reason (only reasons that occurred).
void AppendTunnelFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  if (s.tunnels.empty()) return;
  MetricFamily packets = Family("isthmus_tunnel_packets_total",
                                "Packets encapsulated into (encap) or decapsulated from (decap) each tunnel.",
                                MetricType::Counter);
  MetricFamily bytes = Family("isthmus_tunnel_bytes_total",
                              "Inner IPv4 bytes encapsulated (encap) or decapsulated (decap) per tunnel.",
                              MetricType::Counter);
  MetricFamily errors = Family("isthmus_tunnel_errors_total", "Packets of each tunnel that were dropped.",
                               MetricType::Counter);
  MetricFamily drops = Family("isthmus_tunnel_drops_total",
                              "Packets of each tunnel that were dropped, by reason (see "
                              "isthmus_dataplane_drops_total for the reasons' meaning).",
                              MetricType::Counter);
  MetricFamily up = Family("isthmus_tunnel_up",
                           "1 if the tunnel is installed and its remote has an underlay route outside every tunnel.",
                           MetricType::Gauge);
  for (const TunnelSnapshot& t : s.tunnels) {
    AddSample(packets, {{"tunnel", t.name}, {"type", t.type}, {"direction", "encap"}}, AsDouble(t.encap_packets));
    AddSample(packets, {{"tunnel", t.name}, {"type", t.type}, {"direction", "decap"}}, AsDouble(t.decap_packets));
    AddSample(bytes, {{"tunnel", t.name}, {"type", t.type}, {"direction", "encap"}}, AsDouble(t.encap_bytes));
    AddSample(bytes, {{"tunnel", t.name}, {"type", t.type}, {"direction", "decap"}}, AsDouble(t.decap_bytes));
    uint64_t total = 0;
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      total += t.drops[r];
      if (t.drops[r] != 0) {
        AddSample(drops, {{"tunnel", t.name}, {"reason", std::string(kDropReasonInfo[r].name)}}, AsDouble(t.drops[r]));
      }
    }
    AddSample(errors, {{"tunnel", t.name}, {"type", t.type}}, AsDouble(total));
    AddSample(up, {{"tunnel", t.name}, {"type", t.type}}, t.up ? 1 : 0);
  }
  for (MetricFamily* f : {&packets, &bytes, &errors, &drops, &up}) out.push_back(std::move(*f));
  AppendEspSaFamilies(s, out);
}

// BGP: per-peer session state, prefixes, messages and notifications, and
// whether each announced service VIP is advertised to each peer.
void AppendBgpFamilies(const bgp::SpeakerMetrics& m, std::vector<MetricFamily>& out) {
  static constexpr const char* kMessageTypes[] = {"", "open", "update", "notification", "keepalive", "route_refresh"};
  MetricFamily state = Family("isthmus_bgp_peer_state",
                              "BGP FSM state of a peer: 0 Idle, 1 Connect, 2 Active, 3 OpenSent, "
                              "4 OpenConfirm, 5 Established (RFC 4271 8).",
                              MetricType::Gauge);
  MetricFamily up = Family("isthmus_bgp_peer_established", "1 while the session with the peer is Established.",
                           MetricType::Gauge);
  MetricFamily uptime = Family("isthmus_bgp_peer_uptime_seconds",
                               "Seconds the session has been Established (0 when it is not).", MetricType::Gauge);
  MetricFamily prefixes = Family("isthmus_bgp_prefixes",
                                 "Prefixes per peer now: received (Adj-RIB-In), accepted (passed import "
                                 "policy), advertised (Adj-RIB-Out), held_back (over the outbound cap).",
                                 MetricType::Gauge);
  MetricFamily rejected = Family("isthmus_bgp_prefixes_rejected_total",
                                 "Prefixes the import policy rejected (including RFC 8212 refusals).",
                                 MetricType::Counter);
  MetricFamily messages = Family("isthmus_bgp_messages_total", "BGP messages by peer, direction and type.",
                                 MetricType::Counter);
  MetricFamily notifications = Family("isthmus_bgp_notifications_total",
                                      "NOTIFICATION messages by peer, direction, error code and subcode.",
                                      MetricType::Counter);
  for (const bgp::PeerMetrics& p : m.peers) {
    const Labels peer = {{"peer", p.name}, {"address", p.address}};
    AddSample(state, peer, p.state);
    AddSample(up, peer, p.state == 5 ? 1 : 0);
    AddSample(uptime, peer, p.uptime_seconds);
    AddSample(prefixes, {{"peer", p.name}, {"stage", "received"}}, AsDouble(p.prefixes_received));
    AddSample(prefixes, {{"peer", p.name}, {"stage", "accepted"}}, AsDouble(p.prefixes_accepted));
    AddSample(prefixes, {{"peer", p.name}, {"stage", "advertised"}}, AsDouble(p.prefixes_advertised));
    AddSample(prefixes, {{"peer", p.name}, {"stage", "held_back"}}, AsDouble(p.prefixes_not_advertised));
    AddSample(rejected, {{"peer", p.name}}, AsDouble(p.prefixes_rejected_total));
    for (size_t type = 1; type < std::size(kMessageTypes); ++type) {
      AddSample(messages, {{"peer", p.name}, {"direction", "in"}, {"type", kMessageTypes[type]}},
                AsDouble(p.messages_in[type]));
      AddSample(messages, {{"peer", p.name}, {"direction", "out"}, {"type", kMessageTypes[type]}},
                AsDouble(p.messages_out[type]));
    }
    for (const auto& [direction, counts] :
         {std::pair{"sent", &p.notifications_sent}, std::pair{"received", &p.notifications_received}}) {
      for (const auto& [code, count] : *counts) {
        AddSample(notifications,
                  {{"peer", p.name}, {"direction", direction}, {"code", absl::StrCat(code.first)},
                   {"subcode", absl::StrCat(code.second)}},
                  AsDouble(count));
      }
    }
  }
  MetricFamily vips = Family("isthmus_bgp_vip_advertised",
                             "1 while a service VIP is in the peer's Adj-RIB-Out (announced to it).",
                             MetricType::Gauge);
  for (const bgp::VipAdvertisedMetric& v : m.vips) {
    AddSample(vips, {{"vip", ToString(v.prefix)}, {"peer", v.peer}}, v.advertised ? 1 : 0);
  }
  for (MetricFamily* f : {&state, &up, &uptime, &prefixes, &rejected, &messages, &notifications, &vips}) {
    out.push_back(std::move(*f));
  }
  out.push_back(Family("isthmus_bgp_loc_rib_prefixes", "Prefixes in the Loc-RIB.", MetricType::Gauge));
  AddSample(out.back(), {}, AsDouble(m.loc_rib_prefixes));
}

MetricFamily SingleValue(absl::string_view name, absl::string_view help, MetricType type,
                         double value, Labels labels = {}) {
  MetricFamily family = Family(name, help, type);
  AddSample(family, std::move(labels), value);
  return family;
}

// Anycast services: state, backend health and probes; the NAT flow table.
// NAT drops are isthmus_dataplane_drops_total{reason="nat_*"}.
void AppendServiceFamilies(const DataplaneSnapshot& s, std::vector<MetricFamily>& out) {
  static constexpr const char* kStates[] = {"up", "degraded", "down", "drained"};
  if (!s.services.empty()) {
    MetricFamily up = Family("isthmus_service_up",
                             "1 while the service has at least min_up healthy backends and is not drained "
                             "(its VIP is announced).",
                             MetricType::Gauge);
    MetricFamily state = Family("isthmus_service_state",
                                "1 for the service's current state (up, degraded, down, drained), 0 for the others.",
                                MetricType::Gauge);
    MetricFamily backend_up = Family("isthmus_service_backend_up", "1 while the backend passes its health probes.",
                                     MetricType::Gauge);
    MetricFamily latency = Family("isthmus_service_probe_latency_seconds",
                                  "Duration of the backend's last finished health probe.", MetricType::Gauge);
    MetricFamily probes = Family("isthmus_service_probes_total", "Health probes sent to the backend.",
                                 MetricType::Counter);
    MetricFamily failed = Family("isthmus_service_probes_failed_total", "Health probes of the backend that failed.",
                                 MetricType::Counter);
    for (const ServiceSnapshotMetrics& svc : s.services) {
      AddSample(up, {{"service", svc.name}}, svc.up ? 1 : 0);
      for (const char* st : kStates) AddSample(state, {{"service", svc.name}, {"state", st}}, svc.state == st ? 1 : 0);
      for (const BackendSnapshotMetrics& b : svc.backends) {
        const Labels labels = {{"service", svc.name}, {"backend", b.backend}};
        AddSample(backend_up, labels, b.up ? 1 : 0);
        if (b.probe_latency_seconds >= 0) AddSample(latency, labels, b.probe_latency_seconds);
        AddSample(probes, labels, AsDouble(b.probes_total));
        AddSample(failed, labels, AsDouble(b.probes_failed_total));
      }
    }
    for (MetricFamily* f : {&up, &state, &backend_up, &latency, &probes, &failed}) out.push_back(std::move(*f));
  }
  if (!s.nat.present) return;
  out.push_back(SingleValue("isthmus_nat_flows_active", "NAT flows in the flow table now.", MetricType::Gauge,
                            AsDouble(s.nat.active)));
  out.push_back(SingleValue("isthmus_nat_flows_capacity", "Flows the table was sized for (nat.capacity).",
                            MetricType::Gauge, AsDouble(s.nat.capacity)));
  out.push_back(SingleValue("isthmus_nat_flows_created_total", "NAT flows created.", MetricType::Counter,
                            AsDouble(s.nat.created)));
  out.push_back(SingleValue("isthmus_nat_flows_expired_total", "NAT flows removed (idle timeout or backend gone).",
                            MetricType::Counter, AsDouble(s.nat.expired)));
  out.push_back(SingleValue("isthmus_nat_snat_ports_in_use", "SNAT source ports allocated now, all addresses.",
                            MetricType::Gauge, AsDouble(s.nat.snat_ports_in_use)));
}

absl::Status ListenError(const std::string& listen, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("metrics listen address \"", listen, "\" ",
                                                 problem, " (", kAcceptedListenForms, ")"));
}

bool ValidPort(absl::string_view text) {
  uint32_t port = 0;
  return !text.empty() && text.size() <= kMaxPortDigits &&
         std::all_of(text.begin(), text.end(), absl::ascii_isdigit) &&
         absl::SimpleAtoi(text, &port) && port <= kMaxPort;
}

}  // namespace

class SnapshotCollector : public prometheus::Collectable {
 public:
  explicit SnapshotCollector(SnapshotFn fn) : fn_(std::move(fn)) {}
  std::vector<MetricFamily> Collect() const override {
    return BuildMetricFamilies(fn_(), ISTHMUS_VERSION);
  }

 private:
  SnapshotFn fn_;
};

std::vector<MetricFamily> BuildMetricFamilies(const DataplaneSnapshot& s,
                                              absl::string_view version) {
  std::vector<MetricFamily> out;
  out.push_back(SingleValue("isthmus_build_info", "Isthmus build; the value is always 1.",
                            MetricType::Gauge, 1, {{"version", std::string(version)}}));
  out.push_back(SingleValue("isthmus_daemon_uptime_seconds", "Seconds since isthmusd started.",
                            MetricType::Gauge, s.uptime_seconds));
  AppendPortFamilies(s, out);
  out.push_back(ReasonFamily("isthmus_dataplane_drops_total",
                             "Packets the data plane dropped, by reason.", kDropReasonInfo,
                             s.drops));
  out.push_back(ReasonFamily("isthmus_dataplane_punts_total",
                             "Packets the data plane handed to the kernel, by reason.",
                             kPuntReasonInfo, s.punts));
  AppendWorkerFamilies(s, out);
  AppendMempoolFamilies(s, out);
  out.push_back(SingleValue("isthmus_fib_routes", "Routes installed in the forwarding table.",
                            MetricType::Gauge, AsDouble(s.fib_routes)));
  out.push_back(SingleValue("isthmus_neighbor_resolved",
                            "Next hops whose link-layer address is currently known.",
                            MetricType::Gauge, AsDouble(s.neighbors_resolved)));
  out.push_back(SingleValue("isthmus_neighbor_resolution_requests_total",
                            "Next-hop resolutions the data plane asked the kernel for.",
                            MetricType::Counter, AsDouble(s.neighbor_requests)));
  AppendXdpFamily(s, out);
  AppendTunnelFamilies(s, out);
  AppendServiceFamilies(s, out);
  if (s.bgp) AppendBgpFamilies(*s.bgp, out);
  return out;
}

std::string RenderMetricsText(const DataplaneSnapshot& snapshot, absl::string_view version) {
  return prometheus::TextSerializer().Serialize(BuildMetricFamilies(snapshot, version));
}

absl::StatusOr<std::string> ValidateMetricsListen(const std::string& listen) {
  std::string host;
  absl::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find("]:");
    if (close == std::string::npos) return ListenError(listen, "has no \"]:PORT\"");
    host = listen.substr(1, close - 1);
    port = absl::string_view(listen).substr(close + 2);
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return ListenError(listen, "has an invalid IPv6 address");
    }
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return ListenError(listen, "has no \":PORT\"");
    host = listen.substr(0, colon);
    port = absl::string_view(listen).substr(colon + 1);
    in_addr addr4{};
    if (inet_pton(AF_INET, host.c_str(), &addr4) != 1) {
      return ListenError(listen, "has an invalid IPv4 address (host names are not accepted)");
    }
  }
  if (!ValidPort(port)) return ListenError(listen, "has an invalid port (0-65535)");
  return listen;
}

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(const std::string& listen,
                                                                        SnapshotFn fn) {
  if (!fn) return absl::InvalidArgumentError("metrics exporter needs a snapshot function");
  absl::StatusOr<std::string> address = ValidateMetricsListen(listen);
  if (!address.ok()) return address.status();

  std::unique_ptr<MetricsExporter> exporter(new MetricsExporter());
  exporter->collector_ = std::make_shared<SnapshotCollector>(std::move(fn));
  // prometheus-cpp reports a failed bind by throwing from the constructor;
  // the exception stops here and becomes a status.
  try {
    exporter->exposer_ = std::make_unique<prometheus::Exposer>(*address, kHttpThreads);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what(),
                                               " (is the port already in use?)"));
  }
  const std::vector<int> ports = exporter->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::InternalError(absl::StrCat("metrics server on ", listen, " bound no port"));
  }
  exporter->port_ = static_cast<uint16_t>(ports.front());
  exporter->exposer_->RegisterCollectable(exporter->collector_);
  spdlog::info("metrics: serving /metrics on {} (port {})", listen, exporter->port_);
  return exporter;
}

MetricsExporter::~MetricsExporter() = default;

std::string MetricsExporter::Render() const {
  return prometheus::TextSerializer().Serialize(collector_->Collect());
}

}  // namespace isthmus
