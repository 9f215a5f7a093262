#include "control/netlink/kernel_route_mirror.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace isthmus {
namespace {
// Behind the BGP and control threads (nice 0) when CPUs are scarce: while a
// full table streams in on a small VM, the kernel copy waits its turn.
constexpr int kMirrorNice = 19;

uint64_t KeyOf(const Ipv4Prefix& p) { return uint64_t{p.addr.value} << 8 | p.len; }
Ipv4Prefix PrefixOf(uint64_t k) {
  return Ipv4Prefix{Ipv4Addr{static_cast<uint32_t>(k >> 8)}, static_cast<uint8_t>(k & 0xff)};
}
}  // namespace

KernelRouteMirror::KernelRouteMirror(ErrorFn on_error) : on_error_(std::move(on_error)) {
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
    // One lock for interning the target and queueing the prefix.
    std::lock_guard<std::mutex> lock(mu_);
    const uint32_t id = target != nullptr ? targets_.Acquire(*target) : kRemove;
    was_empty = queue_.empty();
    auto [it, inserted] = queue_.try_emplace(KeyOf(prefix), id);
    if (!inserted) {
      if (it->second != kRemove) targets_.Release(it->second);   // superseded before it was written
      it->second = id;
    }
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
  if (!socket_) {
    absl::StatusOr<rtnl::RtnlSocket> opened = OpenRouteSocket();
    if (!opened.ok()) {
      on_error_(prefix, opened.status());
      return;
    }
    socket_.emplace(std::move(*opened));
  }
  absl::Status s;
  if (target == nullptr) {
    s = DeleteKernelRoute(prefix, &*socket_);
    if (absl::IsNotFound(s)) s = absl::OkStatus();   // never got there, or removed by hand
  } else {
    s = ReplaceKernelRoute(prefix, target->nexthops, target->blackhole, &*socket_);
  }
  if (!s.ok()) {
    // A socket error (not a refusal of this route) may have left the
    // socket unusable: start over with a fresh one next time.
    if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) socket_.reset();
    on_error_(prefix, s);
  }
}

void KernelRouteMirror::Run() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kMirrorNice) != 0) {
    spdlog::debug("kernel route mirror: cannot lower its priority");
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) break;   // the daemon flushes all of its kernel routes when it stops
    absl::flat_hash_map<PrefixKey, uint32_t> batch;
    batch.swap(queue_);
    // Copies of the targets this batch uses: targets_ is shared with the
    // producer, which may intern new ones meanwhile.
    absl::flat_hash_map<uint32_t, Target> used;
    for (const auto& [key, id] : batch) {
      if (id != kRemove && !used.contains(id)) used.emplace(id, targets_.Get(id));
    }
    busy_ = true;
    lock.unlock();
    // In address order: the kernel's FIB trie fills faster that way.
    std::vector<std::pair<PrefixKey, uint32_t>> ordered(batch.begin(), batch.end());
    absl::flat_hash_map<PrefixKey, uint32_t>().swap(batch);
    std::sort(ordered.begin(), ordered.end());
    for (const auto& [key, id] : ordered) Write(PrefixOf(key), id == kRemove ? nullptr : &used.at(id));
    lock.lock();
    for (const auto& [key, id] : ordered) {
      if (id != kRemove) targets_.Release(id);
    }
    written_ += ordered.size();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

}  // namespace isthmus
