#pragma once
// The harness shared by the speaker tests: Speakers peering with each other
// over loopback in one process, observed through the public views. Every
// wait is bounded.
//
// 127.0.0.0/8 cannot be used: the codec rightly refuses a loopback NEXT_HOP
// (RFC 4271 6.3). So the process moves into a private network namespace of
// its own (unshare, needs root; the kernel deletes it when the process
// exits) and puts 198.18.0.x/32 (RFC 2544 test range) on its loopback
// (speaker_fixture.cc registers that environment once per binary).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bgp/speaker/speaker.h"
#include "gtest/gtest.h"

namespace isthmus::bgp {

inline constexpr auto kWaitTimeout = std::chrono::seconds(20);
inline constexpr auto kPollInterval = std::chrono::milliseconds(20);
// How long "nothing arrives" is watched for.
inline constexpr auto kQuietPeriod = std::chrono::milliseconds(1500);
inline constexpr Asn kRouteServerAs = kAzureRouteServerAsn;

inline constexpr int kLoopbackAddresses = 120;   // 198.18.0.1 .. 198.18.0.120

class PrivateNetnsEnvironment : public ::testing::Environment {
 public:
  static bool ready() { return ready_; }
  void SetUp() override;

 private:
  static inline bool ready_ = false;
};

inline bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  return condition();
}

// True when `condition` holds during the whole `period`.
inline bool HoldsFor(const std::function<bool()>& condition,
                     std::chrono::milliseconds period = kQuietPeriod) {
  const auto until = std::chrono::steady_clock::now() + period;
  while (std::chrono::steady_clock::now() < until) {
    if (!condition()) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return condition();
}

inline Ipv4Addr Addr(const char* text) { return *ParseIpv4(text); }
inline Ipv4Prefix Prefix(const char* text) { return *ParsePrefix(text); }

// A TCP port nobody listens on at `address` right now.
inline uint16_t FreePort(Ipv4Addr address) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address.value);
  sa.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

inline Policy AcceptAll() {
  Policy p;
  p.name = "all";
  p.default_result = TermResult::kAccept;
  return p;
}

// The seeds' "remove 65515" on routes from the other region.
inline Policy StripRouteServerAs() {
  Policy p;
  p.name = "strip-65515";
  PolicyTerm t;
  t.name = "strip";
  t.actions.as_path_exclude = {kRouteServerAs};
  t.result = TermResult::kAccept;
  p.terms.push_back(t);
  return p;
}

// Records what the speaker sends to the FIB: prefix -> next hops, and how
// many withdrawals each prefix got.
class FibRecorder {
 public:
  FibSink Sink() {
    return [this](std::vector<FibRoute> routes) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (FibRoute& r : routes) {
        if (r.nexthops.empty()) {
          table_.erase(r.prefix);
          ++withdrawals_[r.prefix];
        } else {
          table_[r.prefix].assign(r.nexthops.begin(), r.nexthops.end());
        }
      }
    };
  }
  std::optional<std::vector<Ipv4Addr>> Get(const Ipv4Prefix& p) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = table_.find(p);
    if (it == table_.end()) return std::nullopt;
    return it->second;
  }
  int Withdrawals(const Ipv4Prefix& p) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = withdrawals_.find(p);
    return it == withdrawals_.end() ? 0 : it->second;
  }

 private:
  std::mutex mutex_;
  std::map<Ipv4Prefix, std::vector<Ipv4Addr>> table_;
  std::map<Ipv4Prefix, int> withdrawals_;
};

struct Node {
  std::string name;
  BgpConfig config;
  FibRecorder fib;
  std::unique_ptr<Speaker> speaker;
};

class SpeakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PrivateNetnsEnvironment::ready()) GTEST_SKIP() << "needs root for a private network namespace";
  }
  void TearDown() override {
    for (auto& [name, node] : nodes_) {
      if (node->speaker) node->speaker->Stop();
    }
  }

  Node& AddNode(const std::string& name, Asn asn, const char* address) {
    auto node = std::make_unique<Node>();
    node->name = name;
    node->config.enabled = true;
    node->config.asn = asn;
    node->config.router_id = Addr(address);
    node->config.listen_address = Addr(address);
    node->config.listen_port = FreePort(Addr(address));
    node->config.policies = {AcceptAll(), StripRouteServerAs()};
    Node& ref = *node;
    nodes_[name] = std::move(node);
    return ref;
  }

  // `from` gets a peer entry for `to`, with the given policies.
  static PeerConfig& Peer(Node& from, const Node& to, std::vector<std::string> import = {"all"},
                          std::vector<std::string> export_policies = {"all"}) {
    PeerConfig p;
    p.name = to.name;
    p.address = *to.config.listen_address;
    p.remote_as = to.config.asn;
    p.source = *from.config.listen_address;
    p.port = to.config.listen_port;
    p.hold_time_s = 9;
    p.keepalive_s = 3;
    p.connect_retry_s = 1;
    p.import_policies = std::move(import);
    p.export_policies = std::move(export_policies);
    from.config.peers.push_back(p);
    return from.config.peers.back();
  }

  static void Link(Node& a, Node& b) {
    Peer(a, b);
    Peer(b, a);
  }

  static void StartNode(Node& node, bool dataplane_ready = true) {
    absl::StatusOr<std::unique_ptr<Speaker>> speaker = Speaker::Create(node.config, node.fib.Sink());
    ASSERT_TRUE(speaker.ok()) << speaker.status();
    node.speaker = std::move(*speaker);
    node.speaker->SetDataplaneReady(dataplane_ready);
    absl::Status started = node.speaker->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  static nlohmann::json PeerEntry(Node& node, const std::string& peer) {
    nlohmann::json n = node.speaker->Neighbors(peer);
    if (n["neighbors"].empty()) return nlohmann::json();
    return n["neighbors"][0];
  }

  static bool Established(Node& node, const std::string& peer) {
    nlohmann::json e = PeerEntry(node, peer);
    return !e.is_null() && e["state"] == "Established";
  }

  // The paths the node holds for `prefix` (empty array when none).
  static nlohmann::json Paths(Node& node, const char* prefix) {
    nlohmann::json r = node.speaker->Routes(prefix);
    if (r["routes"].empty()) return nlohmann::json::array();
    return r["routes"][0]["paths"];
  }

  static std::optional<nlohmann::json> BestPath(Node& node, const char* prefix) {
    for (const nlohmann::json& p : Paths(node, prefix)) {
      if (p["best"].get<bool>()) return p;
    }
    return std::nullopt;
  }

  static std::optional<std::string> BestAsPath(Node& node, const char* prefix) {
    std::optional<nlohmann::json> best = BestPath(node, prefix);
    if (!best.has_value()) return std::nullopt;
    return (*best)["as_path"].get<std::string>();
  }

  // True when `node` holds no route for `prefix` during the whole period.
  static bool StaysAbsent(Node& node, const char* prefix) {
    return HoldsFor([&] { return !BestPath(node, prefix).has_value(); });
  }

  // A Cease (code 6) came from `peer` and the session went down because of
  // one whose text contains `cause` (the RFC 4486 subcode may arrive inside
  // an RFC 8538 Hard Reset, subcode 9).
  static bool CeaseReceived(Node& node, const std::string& peer, const std::string& cause) {
    nlohmann::json e = PeerEntry(node, peer);
    if (e.is_null()) return false;
    bool cease = false;
    for (const nlohmann::json& n : e["notifications"]["received"]) cease = cease || n["code"] == 6;
    const std::string reason = e["last_down_reason"].get<std::string>();
    return cease && reason.find("received NOTIFICATION") != std::string::npos &&
           reason.find(cause) != std::string::npos;
  }

  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

}  // namespace isthmus::bgp
