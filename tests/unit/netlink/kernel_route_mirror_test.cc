// KernelRouteMirror's queue with a recording writer in place of the
// kernel: coalescing to the newest change per prefix, address order,
// counters, and errors reported per prefix. (Writing to a real kernel is
// covered by kernel_route_test.cc and tests/integration/test_punt_path.sh.)

#include "control/netlink/kernel_route_mirror.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/netlink/message_builder.h"

namespace isthmus {
namespace {

using ::isthmus::testing::MakeIpv4;
using ::testing::ElementsAre;
using ::testing::Pair;

using Target = KernelRouteMirror::Target;

const Ipv4Prefix kPriming = {MakeIpv4(192, 0, 2, 0), 24};
const Ipv4Prefix kLow = {MakeIpv4(198, 51, 100, 0), 24};
const Ipv4Prefix kLowLonger = {MakeIpv4(198, 51, 100, 0), 25};   // same address, another length
const Ipv4Prefix kHigh = {MakeIpv4(203, 0, 113, 0), 24};
const Ipv4Prefix kDefault = {MakeIpv4(0, 0, 0, 0), 0};
const Ipv4Prefix kHost = {MakeIpv4(255, 255, 255, 255), 32};

// netlink_test does not link the config library's ToString.
std::string Str(const Ipv4Prefix& p) {
  const uint32_t a = p.addr.value;
  return absl::StrFormat("%d.%d.%d.%d/%d", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, p.len);
}

Target Via(int ifindex, uint8_t last_octet) { return Target{{{ifindex, MakeIpv4(198, 18, 0, last_octet)}}, false}; }

// What the mirror thread wrote: (prefix, target or nullopt for a removal).
// The first write blocks until Release(), so that everything a test queues
// meanwhile lands in one batch.
class RecordingWriter {
 public:
  absl::Status Write(const Ipv4Prefix& prefix, const Target* target) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return released_; });
    writes_.emplace_back(Str(prefix), target ? std::optional<Target>(*target) : std::nullopt);
    return refuse_ == prefix ? absl::InvalidArgumentError("refused") : absl::OkStatus();
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  void Refuse(const Ipv4Prefix& prefix) { refuse_ = prefix; }
  std::vector<std::pair<std::string, std::optional<Target>>> writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::optional<Ipv4Prefix> refuse_;
  std::vector<std::pair<std::string, std::optional<Target>>> writes_;
};

TEST(KernelRouteMirror, KeepsTheNewestChangePerPrefixInAddressOrder) {
  RecordingWriter writer;
  std::vector<std::string> errors;
  KernelRouteMirror mirror([&](const Ipv4Prefix& p, const absl::Status&) { errors.push_back(Str(p)); },
                           [&](const Ipv4Prefix& p, const Target* t) { return writer.Write(p, t); });
  mirror.Replace(kPriming, Via(1, 9));
  // Wait for the mirror thread to take the priming change (it then blocks
  // in the writer), so that the rest is one batch.
  while (mirror.queued() != 0) std::this_thread::yield();

  mirror.Replace(kHigh, Via(1, 2));
  mirror.Replace(kLow, Via(1, 2));
  mirror.Replace(kHigh, Via(2, 3));   // supersedes the first
  mirror.Remove(kLow);                // a removal supersedes a replace
  mirror.Replace(kLowLonger, Via(1, 2));
  mirror.Replace(kHost, Target{{}, true});
  mirror.Remove(kDefault);            // never added: still written (the kernel may hold one)
  mirror.Remove(kHost);
  mirror.Replace(kHost, Via(3, 4));   // and back
  EXPECT_EQ(mirror.queued(), 9u);     // before coalescing

  writer.Release();
  mirror.Flush();
  EXPECT_EQ(mirror.queued(), 0u);
  EXPECT_THAT(writer.writes(), ElementsAre(Pair("192.0.2.0/24", Via(1, 9)), Pair("0.0.0.0/0", std::nullopt),
                                           Pair("198.51.100.0/24", std::nullopt), Pair("198.51.100.0/25", Via(1, 2)),
                                           Pair("203.0.113.0/24", Via(2, 3)), Pair("255.255.255.255/32", Via(3, 4))));
  EXPECT_EQ(mirror.written(), 6u);
  EXPECT_TRUE(errors.empty());

  // Targets superseded or written were released: the same target again is
  // a fresh change, written once more.
  mirror.Replace(kHigh, Via(2, 3));
  mirror.Flush();
  EXPECT_EQ(mirror.written(), 7u);
  EXPECT_THAT(writer.writes().back(), Pair("203.0.113.0/24", Via(2, 3)));
}

TEST(KernelRouteMirror, ReportsEachRefusedPrefixAndGoesOn) {
  RecordingWriter writer;
  writer.Refuse(kLow);
  writer.Release();
  std::mutex mu;
  std::vector<std::string> errors;
  KernelRouteMirror mirror(
      [&](const Ipv4Prefix& p, const absl::Status& s) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back(absl::StrCat(Str(p), ": ", s.message()));
      },
      [&](const Ipv4Prefix& p, const Target* t) { return writer.Write(p, t); });
  mirror.Replace(kLow, Via(1, 2));
  mirror.Replace(kHigh, Via(1, 2));
  mirror.Flush();
  EXPECT_EQ(mirror.written(), 2u);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(errors, ElementsAre("198.51.100.0/24: refused"));
}

}  // namespace
}  // namespace isthmus
