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
//
// The queue is an append-only log of one 64-bit word per change (prefix and
// interned target), not a map keyed by prefix: appending costs no hashing
// on the control thread and 8 bytes per queued change (a million queued
// routes: 8 MiB, not the 34 MiB of a hash map's slots). The mirror thread
// takes the whole log at once and keeps the newest change of each prefix.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

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
  // Writes one change (target null: remove) on the mirror thread. The
  // default writes to the kernel's main table over rtnetlink; a benchmark
  // or a test without CAP_NET_ADMIN passes its own.
  using WriteFn = std::function<absl::Status(const Ipv4Prefix&, const Target*)>;

  explicit KernelRouteMirror(ErrorFn on_error, WriteFn write = {});
  // Stops after the request being written; what is still queued is dropped
  // (the daemon removes all of its kernel routes when it stops).
  ~KernelRouteMirror();
  KernelRouteMirror(const KernelRouteMirror&) = delete;
  KernelRouteMirror& operator=(const KernelRouteMirror&) = delete;

  void Replace(const Ipv4Prefix& prefix, const Target& target);
  void Remove(const Ipv4Prefix& prefix);
  // Blocks until everything queued so far is in the kernel (tests, shutdown).
  void Flush();
  // Changes queued and not yet taken by the mirror thread, before
  // coalescing (a prefix changed twice counts twice).
  size_t queued() const;
  // Requests written (after coalescing: one per prefix per batch).
  uint64_t written() const;

 private:
  // A queued change in one word: prefix (32 bits) | length (8 bits) |
  // target (24 bits: an id in targets_, or kRemove). A full table shares a
  // handful of targets, so their ids stay far below kRemove.
  using Change = uint64_t;
  static constexpr int kTargetBits = 24;
  static constexpr uint32_t kRemove = (1u << kTargetBits) - 1;
  static Change ChangeOf(const Ipv4Prefix& prefix, uint32_t target);
  static Ipv4Prefix PrefixOf(Change c);
  static uint32_t TargetOf(Change c) { return static_cast<uint32_t>(c) & kRemove; }
  void Enqueue(const Ipv4Prefix& prefix, const Target* target);   // null: remove
  // Keeps the newest change of each prefix of a batch stably sorted by
  // prefix; the superseded changes' target references go back to targets_
  // (under mu_).
  void Coalesce(std::vector<Change>* batch);
  void Run();
  void Write(const Ipv4Prefix& prefix, const Target* target);
  absl::Status WriteToKernel(const Ipv4Prefix& prefix, const Target* target);

  ErrorFn on_error_;
  WriteFn write_;
  mutable std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::vector<Change> queue_;     // in arrival order
  InternTable<Target> targets_;   // what queue_ refers to: one reference per change
  bool busy_ = false;
  bool stop_ = false;
  uint64_t written_ = 0;
  std::optional<rtnl::RtnlSocket> socket_;   // mirror thread only
  std::thread thread_;
};

}  // namespace isthmus
