#include "bgp/speaker/speaker.h"

#include <future>
#include <utility>

#include "absl/time/clock.h"
#include "bgp/speaker/speaker_core.h"
#include "control/log_format.h"
#include "spdlog/spdlog.h"

namespace isthmus::bgp {
namespace {

// Stop(): how long the Cease NOTIFICATIONs get to leave before we close.
constexpr absl::Duration kShutdownFlushTimeout = absl::Seconds(2);
constexpr absl::Duration kShutdownPollInterval = absl::Milliseconds(10);
constexpr absl::Duration kAckPollInterval = absl::Milliseconds(2);

}  // namespace

absl::StatusOr<std::unique_ptr<Speaker>> Speaker::Create(const BgpConfig& config, FibSink fib_sink) {
  if (absl::Status s = SpeakerCore::Validate(config); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  std::unique_ptr<Speaker> speaker(new Speaker());
  speaker->config_ = config;
  speaker->loop_ = std::move(*loop);
  speaker->core_ = std::make_unique<SpeakerCore>(speaker->loop_.get(), std::move(fib_sink));
  return speaker;
}

Speaker::~Speaker() {
  Stop();
  core_.reset();   // sessions unregister from the loop before it goes
}

absl::Status Speaker::Start() {
  if (running_ || started_) return absl::FailedPreconditionError("BGP speaker already started");
  // The loop is not running yet: the core is set up from this thread, then
  // the BGP thread takes over.
  if (absl::Status s = core_->Start(config_); !s.ok()) return s;
  started_ = true;
  running_ = true;
  thread_ = std::thread([this] { loop_->Run(); });
  loop_thread_id_ = thread_.get_id();
  return absl::OkStatus();
}

void Speaker::Stop() {
  if (!running_) {
    if (core_) core_->Close();
    return;
  }
  RunOnLoop([this] { core_->BeginShutdown(); });
  const absl::Time deadline = absl::Now() + kShutdownFlushTimeout;
  bool flushed = false;
  while (absl::Now() < deadline) {
    RunOnLoop([&] { flushed = core_->ShutdownComplete(); });
    if (flushed) break;
    absl::SleepFor(kShutdownPollInterval);
  }
  if (!flushed) spdlog::warn("bgp: shutdown: some peers did not take their Cease within 2 s");
  RunOnLoop([this] { core_->Close(); });
  loop_->Stop();
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

void Speaker::DrainForShutdown() {
  RunOnLoop([this] { core_->DrainForShutdown(); });
}

bool Speaker::WaitOutputAcknowledged(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    bool done = false;
    RunOnLoop([&] { done = core_->OutputAcknowledged(); });
    if (done) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kAckPollInterval);
  }
}

void Speaker::RunOnLoop(const std::function<void()>& fn) {
  if (!running_ || std::this_thread::get_id() == loop_thread_id_) {
    fn();
    return;
  }
  std::promise<void> done;
  std::future<void> result = done.get_future();
  loop_->Post([&fn, &done] {
    fn();
    done.set_value();
  });
  result.wait();
}

absl::Status Speaker::Reconfigure(const BgpConfig& config) {
  absl::Status status;
  RunOnLoop([&] {
    status = started_ ? core_->Reconfigure(config) : SpeakerCore::Validate(config);
  });
  if (status.ok()) config_ = config;
  return status;
}

void Speaker::Announce(const Announcement& announcement) {
  RunOnLoop([&] { core_->Announce(announcement); });
}

void Speaker::Withdraw(const Ipv4Prefix& prefix) {
  RunOnLoop([&] { core_->Withdraw(prefix); });
}

void Speaker::SetDataplaneReady(bool ready) {
  RunOnLoop([&] { core_->SetDataplaneReady(ready); });
}

void Speaker::SetRestarting(bool forwarding_preserved) {
  RunOnLoop([&] { core_->SetRestarting(forwarding_preserved); });
}

absl::Status Speaker::RequestRouteRefresh(const std::string& peer) {
  absl::Status status;
  RunOnLoop([&] { status = core_->RequestRouteRefresh(peer); });
  return status;
}

nlohmann::json Speaker::Summary() {
  nlohmann::json out;
  RunOnLoop([&] { out = core_->Summary(); });
  return out;
}

nlohmann::json Speaker::Neighbors(const std::string& peer) {
  nlohmann::json out;
  RunOnLoop([&] { out = core_->Neighbors(peer); });
  return out;
}

nlohmann::json Speaker::Routes(const std::string& prefix) {
  nlohmann::json out;
  RunOnLoop([&] { out = core_->Routes(prefix); });
  return out;
}

SpeakerMetrics Speaker::Metrics() {
  SpeakerMetrics out;
  RunOnLoop([&] { out = core_->Metrics(); });
  return out;
}

}  // namespace isthmus::bgp
