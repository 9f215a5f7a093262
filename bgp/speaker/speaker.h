#pragma once
// The BGP speaker: one thread running one EventLoop that owns every session,
// the RIBs and the policy engine. This class is the thread-safe facade the
// daemon talks to; every public method hands its work to the BGP thread
// (EventLoop::Post) and, where it returns something, waits for the answer.
// The logic itself lives in SpeakerCore (speaker_core.h), which only ever
// runs on that thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bgp/config/bgp_config.h"
#include "bgp/speaker/speaker_types.h"
#include "nlohmann/json.hpp"

namespace isthmus::bgp {

class EventLoop;
class SpeakerCore;

class Speaker {
 public:
  // Validates the policies and the peers (names unique, policies known).
  // Nothing runs until Start().
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Speaker>> Create(const BgpConfig& config,
                                                                       FibSink fib_sink);
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  // Binds the listener and starts the sessions and the BGP thread.
  [[nodiscard]] absl::Status Start();
  // Withdraw-first shutdown: Cease/Administrative Shutdown (RFC 4486) to every
  // established peer, wait (bounded) for the queued bytes to leave, close,
  // stop the thread. Idempotent.
  void Stop();
  // First step of a graceful shutdown (RFC 8326 spirit), before Stop(): every
  // route we advertise is withdrawn from every peer, or with
  // `bgp.shutdown_mode: graceful_shutdown` re-advertised with the
  // GRACEFUL_SHUTDOWN community 65535:0 (and LOCAL_PREF 0 to iBGP peers).
  // Sessions stay Established and what peers send still reaches the FIB, so
  // the data plane keeps forwarding while the peers move away; follow with
  // WaitOutputAcknowledged(). Irreversible: only Stop() comes after it.
  void DrainForShutdown();

  // Adds, removes and changes peers and policies. Peers whose PeerConfig is
  // unchanged keep their session; policy changes are re-evaluated from
  // Adj-RIB-In (import) and re-diffed against Adj-RIB-Out (export).
  [[nodiscard]] absl::Status Reconfigure(const BgpConfig& config);

  // Service VIP origination (the health checker's interface). Announcing the
  // same prefix again replaces the announcement.
  void Announce(const Announcement& announcement);
  void Withdraw(const Ipv4Prefix& prefix);
  // Nothing is originated while the data plane is not ready.
  void SetDataplaneReady(bool ready);
  // Waits (at most `timeout`) until every Established peer has acknowledged
  // everything sent so far, e.g. the withdraw of a drained service. False on
  // timeout.
  bool WaitOutputAcknowledged(absl::Duration timeout);

  // RFC 4724 4.1: call before Start() when this speaker replaces an earlier
  // one (daemon restart). The first OPEN to each peer then carries the
  // Restart State bit, and the Forwarding State bit when the data plane kept
  // forwarding on the old routes, so that helpers keep our routes until our
  // End-of-RIB instead of flushing them as soon as we reconnect.
  void SetRestarting(bool forwarding_preserved);
  // Asks `peer` to re-send its routes (ROUTE-REFRESH, RFC 2918). Fails when
  // the peer is unknown, not Established or did not negotiate route refresh.
  [[nodiscard]] absl::Status RequestRouteRefresh(const std::string& peer);

  // Views for `isthmusctl show bgp ...` (schemas in speaker_views.cc).
  nlohmann::json Summary();
  nlohmann::json Neighbors(const std::string& peer);   // "" = all
  nlohmann::json Routes(const std::string& prefix);    // "" = all
  SpeakerMetrics Metrics();

 private:
  Speaker() = default;
  // Runs `fn` on the BGP thread and waits for it (inline when the thread is
  // not running, or when called from the BGP thread itself).
  void RunOnLoop(const std::function<void()>& fn);

  BgpConfig config_;   // what Start() applies; updated by Reconfigure
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<SpeakerCore> core_;
  std::thread thread_;
  std::thread::id loop_thread_id_;
  bool started_ = false;
  std::atomic<bool> running_ = false;
};

}  // namespace isthmus::bgp
