#include "control/netlink/kernel_route_mirror.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {
// Behind the BGP and control threads (nice 0) when CPUs are scarce: while a
// full table streams in on a small VM, the kernel copy waits its turn.
constexpr int kMirrorNice = 19;
// Bursts: at least this many queued changes are held while more keep
// coming (every kSettle), for at most kMaxHold.
constexpr size_t kBurst = 1024;
constexpr auto kSettle = std::chrono::milliseconds(50);
constexpr auto kMaxHold = std::chrono::seconds(2);
}  // namespace

KernelRouteMirror::Change KernelRouteMirror::ChangeOf(const Ipv4Prefix& prefix, uint32_t target) {
  return (uint64_t{prefix.addr.value} << 8 | prefix.len) << kTargetBits | target;
}

Ipv4Prefix KernelRouteMirror::PrefixOf(Change c) {
  return Ipv4Prefix{Ipv4Addr{static_cast<uint32_t>(c >> 32)}, static_cast<uint8_t>(c >> kTargetBits)};
}

KernelRouteMirror::KernelRouteMirror(ErrorFn on_error, WriteFn write)
    : on_error_(std::move(on_error)), write_(std::move(write)) {
  thread_ = std::thread([this] { Run(); });
}

KernelRouteMirror::~KernelRouteMirror() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void KernelRouteMirror::Replace(const Ipv4Prefix& prefix, const Target& target) { Enqueue(prefix, &target); }

void KernelRouteMirror::Remove(const Ipv4Prefix& prefix) { Enqueue(prefix, nullptr); }

void KernelRouteMirror::Enqueue(const Ipv4Prefix& prefix, const Target* target) {
  bool was_empty;
  {
    // One lock for interning the target and queueing the change.
    std::lock_guard<std::mutex> lock(mu_);
    const uint32_t id = target != nullptr ? targets_.Acquire(*target) : kRemove;
    // Ids are dense and there is one per distinct target alive: reaching
    // kRemove would take 16M distinct next-hop sets queued at once.
    assert(target == nullptr || id < kRemove);
    was_empty = queue_.empty();
    queue_.push_back(ChangeOf(prefix, id));
  }
  // The thread sleeps only on an empty queue: one wake-up per batch, not per route.
  if (was_empty) wake_.notify_one();
}

void KernelRouteMirror::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

size_t KernelRouteMirror::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

uint64_t KernelRouteMirror::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

void KernelRouteMirror::Write(const Ipv4Prefix& prefix, const Target* target) {
  const absl::Status s = write_ ? write_(prefix, target) : WriteToKernel(prefix, target);
  if (!s.ok()) on_error_(prefix, s);
}

absl::Status KernelRouteMirror::WriteToKernel(const Ipv4Prefix& prefix, const Target* target) {
  if (!socket_) {
    absl::StatusOr<rtnl::RtnlSocket> opened = OpenRouteSocket();
    if (!opened.ok()) return opened.status();
    socket_.emplace(std::move(*opened));
  }
  absl::Status s;
  if (target == nullptr) {
    s = DeleteKernelRoute(prefix, &*socket_);
    if (absl::IsNotFound(s)) s = absl::OkStatus();   // never got there, or removed by hand
  } else {
    s = ReplaceKernelRoute(prefix, target->nexthops, target->blackhole, &*socket_);
  }
  // A socket error (not a refusal of this route) may have left the socket
  // unusable: start over with a fresh one next time.
  if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) socket_.reset();
  return s;
}

void KernelRouteMirror::Coalesce(std::vector<Change>* batch) {
  size_t kept = 0;
  for (size_t i = 0; i < batch->size(); ++i) {
    const Change c = (*batch)[i];
    if (i + 1 < batch->size() && ((*batch)[i + 1] >> kTargetBits) == (c >> kTargetBits)) {
      if (TargetOf(c) != kRemove) targets_.Release(TargetOf(c));   // superseded before it was written
      continue;
    }
    (*batch)[kept++] = c;
  }
  batch->resize(kept);
}

void KernelRouteMirror::Run() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kMirrorNice) != 0) {
    spdlog::debug("kernel route mirror: cannot lower its priority");
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) break;   // the daemon flushes all of its kernel routes when it stops
    // A burst (a full table arriving) is left to grow until it stops, up
    // to kMaxHold: nice 19 alone does not keep this thread's netlink
    // writes off the CPUs that the BGP and control threads need right then,
    // and one sorted batch is written faster than many small ones.
    const auto hold_until = std::chrono::steady_clock::now() + kMaxHold;
    while (queue_.size() >= kBurst && std::chrono::steady_clock::now() < hold_until) {
      const size_t before = queue_.size();
      if (wake_.wait_for(lock, kSettle, [this] { return stop_; })) break;
      if (queue_.size() == before) break;   // quiet for kSettle: the burst is over
    }
    if (stop_) break;
    std::vector<Change> batch;
    batch.swap(queue_);
    busy_ = true;
    lock.unlock();
    // Sorting a million changes takes a while: not under the lock the
    // control thread takes per change (releasing superseded targets needs
    // it, so the sorted batch is coalesced inside). In address order: the
    // kernel's FIB trie fills faster that way. Stable: the changes of one
    // prefix stay in arrival order, the newest last.
    std::stable_sort(batch.begin(), batch.end(),
                     [](Change a, Change b) { return (a >> kTargetBits) < (b >> kTargetBits); });
    lock.lock();
    Coalesce(&batch);
    // Copies of the targets this batch uses: targets_ is shared with the
    // producer, which may intern new ones meanwhile.
    absl::flat_hash_map<uint32_t, Target> used;
    for (const Change c : batch) {
      if (TargetOf(c) != kRemove && !used.contains(TargetOf(c))) used.emplace(TargetOf(c), targets_.Get(TargetOf(c)));
    }
    lock.unlock();
    for (const Change c : batch) Write(PrefixOf(c), TargetOf(c) == kRemove ? nullptr : &used.at(TargetOf(c)));
    lock.lock();
    for (const Change c : batch) {
      if (TargetOf(c) != kRemove) targets_.Release(TargetOf(c));
    }
    written_ += batch.size();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

}  // namespace isthmus
