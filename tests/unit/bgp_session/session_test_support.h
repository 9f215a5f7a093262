#pragma once
// Shared pieces of the session tests: a fixture that runs the test thread
// in its own network namespace, an observer that records callbacks, a
// helper to run the loop until a condition holds, and a scripted peer that
// speaks raw BGP over a socket (to go silent, collide on purpose, ...).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bgp/session/event_loop.h"
#include "bgp/session/session.h"
#include "bgp/wire/message.h"
#include "gtest/gtest.h"

namespace isthmus::bgp::testing {

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Another namespace, deleted in TearDown.
  std::string AddNamespace();
  const std::string& netns() const { return namespaces_.front(); }
  static int Shell(const std::string& command);

 private:
  std::vector<std::string> namespaces_;
  int original_netns_fd_ = -1;
};

struct RecordingObserver : SessionObserver {
  void OnEstablished(const NegotiatedSession& s) override { established.push_back(s); }
  void OnUpdate(const UpdateMessage& u, ErrorAction a) override {
    updates.push_back(u);
    actions.push_back(a);
  }
  void OnRouteRefresh(const RouteRefreshMessage& r) override { refreshes.push_back(r); }
  void OnDown(const std::string& reason, bool gr) override { downs.push_back({reason, gr}); }

  struct Down {
    std::string reason;
    bool graceful_restart;
  };
  std::vector<NegotiatedSession> established;
  std::vector<UpdateMessage> updates;
  std::vector<ErrorAction> actions;
  std::vector<RouteRefreshMessage> refreshes;
  std::vector<Down> downs;
};

// Runs `loop` until `done()` (checked every 10 ms) or `timeout`; true if done.
bool RunUntil(EventLoop& loop, const std::function<bool()>& done, absl::Duration timeout);
// Runs `loop` for `duration`.
void RunFor(EventLoop& loop, absl::Duration duration);

// One raw BGP connection driven by the test.
class ScriptedPeer {
 public:
  ScriptedPeer(EventLoop* loop, int fd);
  ~ScriptedPeer();
  // Connects (blocking, loopback) to addr:port from `source`.
  static std::unique_ptr<ScriptedPeer> Connect(EventLoop* loop, Ipv4Addr source, Ipv4Addr addr,
                                               uint16_t port);
  void Send(const Message& m);
  const std::vector<Message>& received() const { return received_; }
  template <typename T>
  int Count() const {
    int n = 0;
    for (const Message& m : received_) n += std::holds_alternative<T>(m) ? 1 : 0;
    return n;
  }
  bool closed() const { return closed_; }

 private:
  void OnReadable();
  EventLoop* loop_;
  int fd_;
  bool closed_ = false;
  std::vector<uint8_t> buffer_;
  std::vector<Message> received_;
};

OpenMessage MakeOpen(Asn as, const char* router_id, uint16_t hold, bool graceful_restart);

}  // namespace isthmus::bgp::testing
