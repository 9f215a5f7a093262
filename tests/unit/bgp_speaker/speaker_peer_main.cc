// A BGP speaker in a process of its own, for tests that need a peer to die
// the way a crashed daemon does: SIGKILL closes its TCP connection without a
// NOTIFICATION, which no in-process Speaker can do (its destructor stops
// with a Cease). Inherits the test's network namespace.
//
// Usage: bgp_speaker_peer ASN ADDRESS PORT PEER_NAME PEER_ADDRESS PEER_AS
//                          PEER_PORT GR_TIME_S RESTARTING(0|1) [PREFIX...]
// RESTARTING=1: RFC 4724 Restart State and Forwarding State bits in the OPEN.
// Originates every PREFIX, accepts everything, runs until killed.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/speaker/speaker.h"
#include "spdlog/spdlog.h"

namespace isthmus::bgp {
namespace {

enum Arg { kAsn = 1, kAddress, kPort, kPeerName, kPeerAddress, kPeerAs, kPeerPort, kGrTime, kRestarting, kFirstPrefix };
// The same timers as the in-process test peers (speaker_fixture.h).
constexpr uint16_t kHoldTimeS = 9;
constexpr uint16_t kKeepaliveS = 3;
constexpr uint16_t kConnectRetryS = 1;

std::optional<BgpConfig> ParseArgs(int argc, char** argv) {
  if (argc < kFirstPrefix) return std::nullopt;
  const std::optional<Ipv4Addr> address = ParseIpv4(argv[kAddress]);
  const std::optional<Ipv4Addr> peer_address = ParseIpv4(argv[kPeerAddress]);
  if (!address.has_value() || !peer_address.has_value()) return std::nullopt;
  BgpConfig config;
  config.enabled = true;
  config.asn = static_cast<Asn>(std::strtoul(argv[kAsn], nullptr, 10));
  config.router_id = *address;
  config.listen_address = *address;
  config.listen_port = static_cast<uint16_t>(std::strtoul(argv[kPort], nullptr, 10));
  config.graceful_restart_time_s = static_cast<uint16_t>(std::strtoul(argv[kGrTime], nullptr, 10));
  Policy all;
  all.name = "all";
  all.default_result = TermResult::kAccept;
  config.policies = {all};
  PeerConfig peer;
  peer.name = argv[kPeerName];
  peer.address = *peer_address;
  peer.remote_as = static_cast<Asn>(std::strtoul(argv[kPeerAs], nullptr, 10));
  peer.source = *address;
  peer.port = static_cast<uint16_t>(std::strtoul(argv[kPeerPort], nullptr, 10));
  peer.hold_time_s = kHoldTimeS;
  peer.keepalive_s = kKeepaliveS;
  peer.connect_retry_s = kConnectRetryS;
  peer.import_policies = {"all"};
  peer.export_policies = {"all"};
  config.peers.push_back(peer);
  for (int i = kFirstPrefix; i < argc; ++i) {
    const std::optional<Ipv4Prefix> prefix = ParsePrefix(argv[i]);
    if (!prefix.has_value()) return std::nullopt;
    config.networks.push_back({*prefix});
  }
  return config;
}

int Run(int argc, char** argv) {
  const std::optional<BgpConfig> config = ParseArgs(argc, argv);
  if (!config.has_value()) {
    std::fprintf(stderr, "usage: %s ASN ADDRESS PORT PEER_NAME PEER_ADDRESS PEER_AS PEER_PORT GR_TIME_S "
                 "RESTARTING [PREFIX...]\n", argv[0]);
    return EXIT_FAILURE;
  }
  absl::StatusOr<std::unique_ptr<Speaker>> speaker = Speaker::Create(*config, [](std::vector<FibRoute>) {});
  if (!speaker.ok()) {
    std::fprintf(stderr, "bgp_speaker_peer: %s\n", speaker.status().ToString().c_str());
    return EXIT_FAILURE;
  }
  if (std::string(argv[kRestarting]) == "1") (*speaker)->SetRestarting(/*forwarding_preserved=*/true);
  (*speaker)->SetDataplaneReady(true);
  if (absl::Status s = (*speaker)->Start(); !s.ok()) {
    std::fprintf(stderr, "bgp_speaker_peer: %s\n", s.ToString().c_str());
    return EXIT_FAILURE;
  }
  for (;;) pause();   // until the test kills us
}

}  // namespace
}  // namespace isthmus::bgp

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  return isthmus::bgp::Run(argc, argv);
}
