#pragma once
// Keeps the kernel's copy of our routes (protocol isthmus, see
// interface_control.h) in step with the FIB, off the control thread.
//
// The kernel is the slow path: it answers what workers punt (ICMP time
// exceeded, fragmentation needed) and originates the appliance's own
// traffic, so it needs our routes, but nothing forwards through them. A full
// BGP table is a million netlink requests: done inline, they would hold the
// FIB back by seconds. Changes are queued here, coalesced per prefix (only
// the newest state of a prefix is sent), and written by one thread with one
// reused socket, at a lower CPU priority than the threads that program the
// FIB.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "control/intern_table.h"
#include "control/netlink/interface_control.h"

namespace isthmus {

class KernelRouteMirror {
 public:
  // What the kernel should hold for a prefix; nullopt removes our route.
  struct Target {
    std::vector<KernelNexthop> nexthops;
    bool blackhole = false;
    friend bool operator==(const Target&, const Target&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Target& t) {
      return H::combine(std::move(h), t.nexthops, t.blackhole);
    }
    void clear() {
      nexthops.clear();
      blackhole = false;
    }
  };
  // Called on the mirror thread for each request the kernel refused.
  using ErrorFn = std::function<void(const Ipv4Prefix&, const absl::Status&)>;

  explicit KernelRouteMirror(ErrorFn on_error);
  // Stops after the request being written; what is still queued is dropped
  // (the daemon removes all of its kernel routes when it stops).
  ~KernelRouteMirror();
  KernelRouteMirror(const KernelRouteMirror&) = delete;
  KernelRouteMirror& operator=(const KernelRouteMirror&) = delete;

  void Replace(const Ipv4Prefix& prefix, const Target& target);
  void Remove(const Ipv4Prefix& prefix);
  // Blocks until everything queued so far is in the kernel (tests, shutdown).
  void Flush();
  size_t queued() const;
  uint64_t written() const;

 private:
  using PrefixKey = uint64_t;
  // A queued change: an id in targets_, or kRemove. A full table shares a
  // handful of targets, so the queue costs a few bytes per prefix.
  static constexpr uint32_t kRemove = UINT32_MAX;
  void Enqueue(const Ipv4Prefix& prefix, const Target* target);   // null: remove
  void Run();
  void Write(const Ipv4Prefix& prefix, const Target* target);

  ErrorFn on_error_;
  mutable std::mutex mu_;
  std::condition_variable wake_, idle_;
  absl::flat_hash_map<PrefixKey, uint32_t> queue_;
  InternTable<Target> targets_;   // what queue_ refers to
  bool busy_ = false;
  bool stop_ = false;
  uint64_t written_ = 0;
  std::optional<rtnl::RtnlSocket> socket_;   // mirror thread only
  std::thread thread_;
};

}  // namespace isthmus
