// isthmusd's side of the BGP speaker: starting it once the data plane is
// ready, feeding its best paths into the route table (and so the FIB and the
// kernel mirror), reconfiguring it on reload, draining it on SIGTERM, and its
// admin views.

#include <sys/eventfd.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "control/daemon/daemon.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {
// Best paths applied per control-thread round: the admin API, netlink and
// the watchdog wait while a slice is applied (some 30 ms for this many).
constexpr size_t kBgpRoutesPerSlice = 1 << 16;
// How long the shutdown drain waits for the peers' acknowledgement.
constexpr absl::Duration kShutdownAckTimeout = absl::Seconds(2);
}  // namespace

absl::Status Daemon::StartBgp() {
  if (!config_.bgp.enabled) return absl::OkStatus();
  bgp_event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (bgp_event_fd_ < 0) return absl::InternalError("eventfd for BGP routes failed");
  auto speaker = bgp::Speaker::Create(config_.bgp, [this](std::vector<bgp::FibRoute> routes) {
    // BGP thread: hand over and wake the control thread, once per batch it
    // has not collected yet (it always takes everything pending): a full
    // table arrives in thousands of UPDATEs, and a syscall and wake-up each
    // would cost the BGP thread a third of its time.
    bool wake;
    {
      absl::MutexLock lock(&bgp_mu_);
      wake = bgp_pending_.empty();
      for (bgp::FibRoute& r : routes) bgp_pending_.push_back(std::move(r));
    }
    if (wake) {
      const uint64_t one = 1;
      (void)!write(bgp_event_fd_, &one, sizeof(one));
    }
  });
  if (!speaker.ok()) return speaker.status();
  bgp_ = std::move(*speaker);
  if (absl::Status s = bgp_->Start(); !s.ok()) return s;
  // Workers forward by now: originate.
  bgp_->SetDataplaneReady(true);
  spdlog::info("bgp: AS {} router-id {}, {} peer(s)", config_.bgp.asn, ToString(config_.bgp.router_id),
               config_.bgp.peers.size());
  return absl::OkStatus();
}

// The VIPs are among the routes drained: the health checker keeps running,
// but nothing it announces now leaves the speaker (or only tagged).
std::chrono::milliseconds Daemon::DrainBgpForShutdown() {
  if (bgp_ == nullptr) return std::chrono::milliseconds(0);
  bgp_->DrainForShutdown();
  spdlog::info("bgp: shutdown: {} every route to every peer",
               config_.bgp.shutdown_mode == bgp::ShutdownMode::kWithdraw
                   ? "withdrawing"
                   : "re-advertising with GRACEFUL_SHUTDOWN (65535:0)");
  if (!bgp_->WaitOutputAcknowledged(kShutdownAckTimeout)) {
    spdlog::warn("bgp: shutdown: the peers did not acknowledge the UPDATEs within 2 s");
  }
  const std::chrono::milliseconds drain(config_.bgp.shutdown_drain_ms);
  if (drain.count() > 0) {
    spdlog::info("bgp: shutdown: forwarding for {} ms more while the peers move away", drain.count());
  }
  return drain;
}

void Daemon::StopBgp() {
  if (bgp_ == nullptr) return;
  // Withdraw first: peers hear Cease before the data plane stops.
  bgp_->Stop();
  bgp_.reset();
  if (bgp_event_fd_ >= 0) close(bgp_event_fd_);
  bgp_event_fd_ = -1;
}

void Daemon::DrainBgpRoutes() {
  uint64_t count;
  if (bgp_event_fd_ >= 0) (void)!read(bgp_event_fd_, &count, sizeof(count));
  // Taken whole under the lock (the BGP thread waits only for a swap) and
  // converted outside; the taken vector's memory goes right after,
  // instead of staying reserved in bgp_pending_ at the size of the largest
  // burst (a full table's worth when the control thread falls behind).
  std::vector<bgp::FibRoute> pending;
  {
    absl::MutexLock lock(&bgp_mu_);
    pending.swap(bgp_pending_);
  }
  // Grown geometrically (an exact reserve per batch would copy the backlog each time).
  if (const size_t need = bgp_backlog_.size() + pending.size(); need > bgp_backlog_.capacity()) {
    bgp_backlog_.reserve(std::max(need, 2 * bgp_backlog_.capacity()));
  }
  for (bgp::FibRoute& r : pending) bgp_backlog_.push_back(BgpRoute{r.prefix, std::move(r.nexthops)});
  std::vector<bgp::FibRoute>().swap(pending);   // now, not after the slice below
  if (bgp_backlog_next_ == bgp_backlog_.size()) return;
  const size_t n = std::min(bgp_backlog_.size() - bgp_backlog_next_, kBgpRoutesPerSlice);
  const absl::Span<const BgpRoute> slice(bgp_backlog_.data() + bgp_backlog_next_, n);
  bgp_backlog_next_ += n;
  if (absl::Status s = routes_->ApplyBgp(slice); !s.ok()) spdlog::warn("bgp routes: {}", s.message());
  fib_routes_.store(fib_->routes(), std::memory_order_relaxed);
  if (bgp_backlog_next_ < bgp_backlog_.size()) {
    if (bgp_event_fd_ >= 0) {
      const uint64_t one = 1;   // come back after the other events
      (void)!write(bgp_event_fd_, &one, sizeof(one));
    }
    return;
  }
  // Caught up: a full table's backlog is large; give its memory back.
  const bool was_large = bgp_backlog_.size() >= kBgpRoutesPerSlice / 4;
  std::vector<BgpRoute>().swap(bgp_backlog_);
  bgp_backlog_next_ = 0;
  if (was_large) malloc_trim(0);
}

absl::StatusOr<nlohmann::json> Daemon::ShowBgp(const std::vector<std::string>& args) {
  static constexpr const char* kAccepted = "bgp summary, bgp neighbors [PEER], bgp routes [PREFIX]";
  if (bgp_ == nullptr) return absl::FailedPreconditionError("BGP is not configured (no bgp: section)");
  const std::string what = args.size() > 1 ? args[1] : "";
  const std::string arg = args.size() > 2 ? args[2] : "";
  if (what == "summary" && args.size() == 2) return bgp_->Summary();
  if (what == "neighbors") return bgp_->Neighbors(arg);
  if (what == "routes") return bgp_->Routes(arg);
  return absl::InvalidArgumentError(absl::StrCat("unknown show target '", absl::StrJoin(args, " "),
                                                 "' (accepted: ", kAccepted, ")"));
}

}  // namespace isthmus
