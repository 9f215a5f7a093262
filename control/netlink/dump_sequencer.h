#pragma once
// Orders the table dumps that resynchronise the mirror. A netlink socket
// runs one dump at a time (a second request fails with EBUSY), so the
// neighbour dump must end (NLMSG_DONE) before the address dump may start.
// Pure bookkeeping: the caller sends the requests.

#include <cstdint>
#include <deque>
#include <optional>

namespace isthmus::rtnl {

enum class DumpKind { kNeighbors, kAddresses };

class DumpSequencer {
 public:
  // Asks for a full resync (neighbours, then addresses). Returns the dump to
  // send now, or nullopt when one is running: the resync then starts after
  // it, replacing whatever was still queued.
  std::optional<DumpKind> Request();
  // Records the sequence number the dump returned by Request/Finished was
  // sent with.
  void Started(uint32_t seq);
  // Whether `seq` belongs to the running dump.
  bool IsRunning(uint32_t seq) const;
  bool busy() const { return running_.has_value() || !pending_.empty(); }
  // The running dump `seq` ended (NLMSG_DONE or an error). Returns the next
  // dump to send, if any. Unknown sequence numbers change nothing.
  std::optional<DumpKind> Finished(uint32_t seq);
  // Forgets everything, e.g. after a send failed.
  void Reset();

 private:
  std::optional<DumpKind> StartNext();

  struct Running {
    DumpKind kind;
    std::optional<uint32_t> seq;  // unset between Request() and Started()
  };
  std::optional<Running> running_;
  std::deque<DumpKind> pending_;
};

}  // namespace isthmus::rtnl
