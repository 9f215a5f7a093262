// PeekFrame, EncodeUpdates packing, RFC 6793 AS4_PATH merging, and replay of
// the fuzzer's regression inputs.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "bgp/wire/codec_internal.h"
#include "bgp/wire/message.h"
#include "tests/unit/bgp_wire/wire_builder.h"

namespace isthmus::bgp {
namespace {

using namespace isthmus::bgp::testing;  // NOLINT: builder vocabulary
using Seg = AsPathSegment;
using SegType = AsPathSegment::Type;

struct FrameCase {
  const char* name;
  Bytes bytes;
  size_t want_length;
  std::optional<std::pair<uint8_t, uint8_t>> want_error;
};

class PeekFrameTest : public ::testing::TestWithParam<FrameCase> {};

TEST_P(PeekFrameTest, Frames) {
  const FrameCase& c = GetParam();
  const Frame f = PeekFrame(c.bytes.data(), c.bytes.size());
  EXPECT_EQ(f.length, c.want_length);
  ASSERT_EQ(f.error.has_value(), c.want_error.has_value());
  if (f.error) {
    EXPECT_EQ(f.error->code, c.want_error->first);
    EXPECT_EQ(f.error->subcode, c.want_error->second);
  }
}

Bytes Truncated(Bytes b, size_t n) {
  b.resize(n);
  return b;
}
Bytes TwoMessages() { return Cat({Msg(4, {}), Msg(4, {})}); }
Bytes BadMarker() {
  Bytes b = Msg(4, {});
  b[0] = 0xfe;
  return b;
}

INSTANTIATE_TEST_SUITE_P(Cases, PeekFrameTest, ::testing::Values(
    FrameCase{"Empty", {}, 0, std::nullopt},
    FrameCase{"PartialHeader", Truncated(Msg(4, {}), 18), 0, std::nullopt},
    FrameCase{"Keepalive", Msg(4, {}), 19, std::nullopt},
    FrameCase{"FirstOfTwo", TwoMessages(), 19, std::nullopt},
    FrameCase{"PartialBody", Truncated(Msg(3, {6, 2, 0, 0, 0}), 22), 0, std::nullopt},
    FrameCase{"Notification", Msg(3, {6, 2, 0, 0, 0}), 24, std::nullopt},
    FrameCase{"BadMarker", BadMarker(), 0, std::make_pair(1, 1)},
    FrameCase{"Length18", Msg(4, {}, 18), 0, std::make_pair(1, 2)},
    FrameCase{"Length4097", Msg(2, {}, 4097), 0, std::make_pair(1, 2)},
    FrameCase{"BadTypeZero", Msg(0, {}), 0, std::make_pair(1, 3)},
    FrameCase{"KeepaliveLength20", Msg(4, {0}), 0, std::make_pair(1, 2)},
    FrameCase{"OpenTooShortEvenIfIncomplete", Truncated(Msg(1, Bytes(5, 0)), 19), 0,
              std::make_pair(1, 2)}),
    [](const auto& info) { return std::string(info.param.name); });

std::vector<Ipv4Prefix> ManyPrefixes(size_t n, uint8_t len) {
  std::vector<Ipv4Prefix> out;
  const uint32_t base = 0x0a000000;  // test-only route space, never sent anywhere
  for (size_t i = 0; i < n; ++i) {
    out.push_back(Ipv4Prefix{Ipv4Addr{base + static_cast<uint32_t>(i << (32 - len))}, len});
  }
  return out;
}

PathAttributes SomeAttributes() {
  PathAttributes a;
  a.origin = Origin::kIgp;
  a.as_path.segments = {Seg{SegType::kSequence, {65001, 65002}}};
  a.next_hop = *ParseIpv4("198.51.100.1");
  a.communities = {1, 2, 3};
  return a;
}

struct SplitCase {
  const char* name;
  size_t withdrawn, announced;
  uint8_t len;
};
class EncodeUpdatesTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(EncodeUpdatesTest, FitsAndDecodesBackToTheSameSets) {
  const SplitCase& c = GetParam();
  const CodecContext ctx{true, true};
  const auto withdrawn = ManyPrefixes(c.withdrawn, c.len);
  auto announced = ManyPrefixes(c.withdrawn + c.announced, c.len);
  announced.erase(announced.begin(), announced.begin() + c.withdrawn);
  const PathAttributes attrs = SomeAttributes();
  auto messages = TryEncodeUpdates(withdrawn, &attrs, announced, ctx);
  ASSERT_TRUE(messages.ok()) << messages.status();
  std::set<Ipv4Prefix> got_withdrawn, got_announced;
  size_t total_bytes = 0;
  for (const auto& m : *messages) {
    ASSERT_LE(m.size(), kMaxMessageSize);
    total_bytes += m.size();
    const DecodeResult r = Decode(m.data(), m.size(), ctx);
    ASSERT_EQ(r.action, ErrorAction::kNone);
    const auto& u = std::get<UpdateMessage>(*r.message);
    // Withdraw-only UPDATEs carry no attributes; announcing ones carry ours.
    if (u.nlri.empty()) {
      EXPECT_FALSE(u.attrs.has_value());
    } else {
      EXPECT_EQ(*u.attrs, attrs);
    }
    got_withdrawn.insert(u.withdrawn.begin(), u.withdrawn.end());
    got_announced.insert(u.nlri.begin(), u.nlri.end());
  }
  EXPECT_EQ(got_withdrawn, std::set<Ipv4Prefix>(withdrawn.begin(), withdrawn.end()));
  EXPECT_EQ(got_announced, std::set<Ipv4Prefix>(announced.begin(), announced.end()));
  // As few messages as the bytes allow (each holds at least 4096 - 4 - 19 - attrs).
  const size_t lower_bound = (total_bytes + kMaxMessageSize - 1) / kMaxMessageSize;
  EXPECT_LE(messages->size(), lower_bound + 1);
}

INSTANTIATE_TEST_SUITE_P(Cases, EncodeUpdatesTest, ::testing::Values(
    SplitCase{"Nothing", 0, 0, 24},
    SplitCase{"OneAnnouncement", 0, 1, 24},
    SplitCase{"FiveThousandAnnouncements", 0, 5000, 24},
    SplitCase{"FiveThousandWithdrawals", 5000, 0, 32},
    SplitCase{"Mixed", 3000, 3000, 22}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(EncodeUpdates, FiveThousandPrefixesNeedSeveralMessages) {
  const PathAttributes attrs = SomeAttributes();
  const auto messages = EncodeUpdates({}, &attrs, ManyPrefixes(5000, 24), CodecContext{});
  EXPECT_GE(messages.size(), 5u);  // 5000 x 4 bytes cannot fit in 4 messages
}

TEST(EncodeUpdates, AttributesTooBigAreAnError) {
  PathAttributes attrs = SomeAttributes();
  for (uint32_t i = 0; i < 1100; ++i) attrs.communities.push_back(i + 100);
  const auto prefixes = ManyPrefixes(3, 24);
  EXPECT_FALSE(TryEncodeUpdates({}, &attrs, prefixes, CodecContext{}).ok());
  EXPECT_FALSE(TryEncodeUpdates({}, nullptr, prefixes, CodecContext{}).ok());
  // The plain form still sends the withdrawals.
  EXPECT_EQ(EncodeUpdates(prefixes, &attrs, prefixes, CodecContext{}).size(), 1u);
}

TEST(EncodeUpdates, EndOfRibIsAnEmptyUpdate) {
  const auto bytes = Encode(UpdateMessage{}, CodecContext{});
  EXPECT_EQ(bytes.size(), kMinUpdateSize);
  const DecodeResult r = Decode(bytes.data(), bytes.size(), CodecContext{});
  EXPECT_TRUE(std::get<UpdateMessage>(*r.message).IsEndOfRib());
  // The MP form: an MP_UNREACH_NLRI with no prefixes (RFC 4724 2).
  const Bytes mp = Update({}, Attr(kOptionalNonTransitive, kAttrMpUnreachNlri, {0, 1, 1}), {});
  const DecodeResult r2 = Decode(mp.data(), mp.size(), CodecContext{});
  EXPECT_TRUE(std::get<UpdateMessage>(*r2.message).IsEndOfRib());
}

struct MergeCase {
  const char* name;
  AsPath as_path, as4_path, want;
};
class As4MergeTest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(As4MergeTest, Merges) {
  EXPECT_EQ(wire_internal::MergeAs4Path(GetParam().as_path, GetParam().as4_path).ToString(),
            GetParam().want.ToString());
}

AsPath Seq(std::vector<Asn> asns) { return AsPath{{Seg{SegType::kSequence, std::move(asns)}}}; }
AsPath Path(std::vector<Seg> segs) { return AsPath{std::move(segs)}; }

INSTANTIATE_TEST_SUITE_P(Cases, As4MergeTest, ::testing::Values(
    MergeCase{"SameLength", Seq({23456, 65002}), Seq({4200000001u, 65002}),
              Seq({4200000001u, 65002})},
    MergeCase{"OldSpeakerPrepended", Seq({65009, 65008, 23456, 65002}),
              Seq({4200000001u, 65002}), Seq({65009, 65008, 4200000001u, 65002})},
    MergeCase{"As4Longer", Seq({23456}), Seq({4200000001u, 65002}), Seq({23456})},
    MergeCase{"SetCountsOne",
              Path({Seg{SegType::kSequence, {65009}}, Seg{SegType::kSet, {23456, 65003}}}),
              Path({Seg{SegType::kSet, {4200000001u, 65003}}}),
              Path({Seg{SegType::kSequence, {65009}}, Seg{SegType::kSet, {4200000001u, 65003}}})},
    MergeCase{"ConfedKept",
              Path({Seg{SegType::kConfedSequence, {64512}}, Seg{SegType::kSequence, {65009, 23456}}}),
              Seq({4200000001u}),
              Path({Seg{SegType::kConfedSequence, {64512}}, Seg{SegType::kSequence, {65009, 4200000001u}}})}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(As4Merge, AggregatorNotAsTransIgnoresAs4Attributes) {
  const CodecContext two{false, true};
  const Bytes as4 = Attr(kOptionalTransitive, kAttrAs4Path, Cat({{2, 1}, U32(4200000001u)}));
  const Bytes agg = Attr(kOptionalTransitive, kAttrAggregator, Cat({U16(65009), U32(1)}));
  const Bytes as4agg = Attr(kOptionalTransitive, kAttrAs4Aggregator, Cat({U32(4200000002u), U32(2)}));
  const Bytes b = Update({}, Cat({as4, OriginIgp(), AsPath2({23456}), NextHop(0xc6336401), agg, as4agg}),
                         Prefix(203, 0, 113, 0, 24));
  const DecodeResult r = Decode(b.data(), b.size(), two);
  ASSERT_TRUE(r.message.has_value());
  const auto& attrs = *std::get<UpdateMessage>(*r.message).attrs;
  EXPECT_EQ(attrs.as_path, Seq({23456}));
  EXPECT_EQ(attrs.aggregator->asn, 65009u);
  EXPECT_EQ(r.action, ErrorAction::kAttributeDiscard);
}

TEST(As4Merge, As4PathBeforeAsPathIsMergedAnyway) {
  // RFC 4271 5: receivers handle attributes in any order.
  const Bytes as4 = Attr(kOptionalTransitive, kAttrAs4Path, Cat({{2, 1}, U32(4200000001u)}));
  const Bytes b = Update({}, Cat({as4, OriginIgp(), AsPath2({65009, 23456}), NextHop(0xc6336401)}),
                         Prefix(203, 0, 113, 0, 24));
  const DecodeResult r = Decode(b.data(), b.size(), CodecContext{false, true});
  ASSERT_EQ(r.action, ErrorAction::kNone);
  EXPECT_EQ(std::get<UpdateMessage>(*r.message).attrs->as_path, Seq({65009, 4200000001u}));
}

// Every input the fuzzer ever crashed or hung on decodes without incident.
TEST(FuzzRegressions, ReplayWithoutCrash) {
  const std::filesystem::path dir = std::filesystem::path(ISTHMUS_SOURCE_ROOT) /
                                    "tests/fuzz/regressions/bgp_message";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const CodecContext ctx : {CodecContext{true, false}, CodecContext{false, true}}) {
      const Frame f = PeekFrame(data.data(), data.size());
      const DecodeResult r = Decode(data.data(), data.size(), ctx);
      if (f.error) {
    EXPECT_EQ(r.action, ErrorAction::kSessionReset) << entry.path();
  }
      if (r.message) {
        const Bytes again = Encode(*r.message, ctx);
        if (again.size() <= kMaxMessageSize) {
          EXPECT_NE(Decode(again.data(), again.size(), ctx).action, ErrorAction::kSessionReset)
              << entry.path();
        }
      }
    }
    ++replayed;
  }
  RecordProperty("replayed", static_cast<int>(replayed));
}

}  // namespace
}  // namespace isthmus::bgp
