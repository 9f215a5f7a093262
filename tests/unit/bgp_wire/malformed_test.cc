// Malformed messages and their outcome: RFC 4271 6 NOTIFICATION codes for
// header and OPEN errors, RFC 7606 severities for UPDATE errors.

#include <gtest/gtest.h>

#include "bgp/wire/message.h"
#include "tests/unit/bgp_wire/wire_builder.h"

namespace isthmus::bgp {
namespace {

using namespace isthmus::bgp::testing;  // NOLINT: builder vocabulary

constexpr uint32_t kGoodNextHop = 0xc6336401;  // 198.51.100.1
constexpr uint8_t kNone = 0xff;                // "no NOTIFICATION expected"
constexpr CodecContext kFour{true, true};
constexpr CodecContext kFourIbgp{true, false};
constexpr CodecContext kTwo{false, true};

Bytes Nlri() { return Prefix(203, 0, 113, 0, 24); }
Bytes Mandatory() { return Cat({OriginIgp(), AsPath4({65001}), NextHop(kGoodNextHop)}); }
// A valid UPDATE for 203.0.113.0/24 with `extra` attributes appended.
Bytes UpdateWith(const Bytes& extra) { return Update({}, Cat({Mandatory(), extra}), Nlri()); }
Bytes UpdateAttrs(const Bytes& attrs) { return Update({}, attrs, Nlri()); }

Bytes OpenBody(uint8_t version, uint16_t as, uint16_t hold, uint32_t id, const Bytes& params) {
  return Cat({{version}, U16(as), U16(hold), U32(id), {static_cast<uint8_t>(params.size())},
              params});
}
Bytes Open(uint8_t version, uint16_t as, uint16_t hold, uint32_t id, const Bytes& params = {}) {
  return Msg(1, OpenBody(version, as, hold, id, params));
}
Bytes MpReach(const Bytes& next_hop, const Bytes& nlri, uint16_t afi = kAfiIpv4) {
  return Attr(kOptionalNonTransitive, kAttrMpReachNlri,
              Cat({U16(afi), {kSafiUnicast, static_cast<uint8_t>(next_hop.size())}, next_hop,
                   {0}, nlri}));
}

struct MalformedCase {
  const char* name;
  Bytes bytes;
  CodecContext ctx;
  ErrorAction action;
  uint8_t code = kNone;
  uint8_t subcode = kNone;
  Bytes data = {};
  bool check_data = false;
};

class Malformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(Malformed, GivesTheRfcOutcome) {
  const MalformedCase& c = GetParam();
  const DecodeResult r = Decode(c.bytes.data(), c.bytes.size(), c.ctx);
  ASSERT_EQ(r.action, c.action) << ToString(r.action)
                                << (r.problems.empty() ? "" : ": " + r.problems.front());
  if (c.action != ErrorAction::kNone) {
    EXPECT_FALSE(r.problems.empty());
  }
  if (c.action == ErrorAction::kSessionReset) {
    EXPECT_FALSE(r.message.has_value());
    ASSERT_TRUE(r.notification.has_value());
    EXPECT_EQ(r.notification->code, c.code) << Describe(*r.notification);
    EXPECT_EQ(r.notification->subcode, c.subcode) << Describe(*r.notification);
    if (c.check_data) {
    EXPECT_EQ(r.notification->data, c.data);
  }
    return;
  }
  EXPECT_FALSE(r.notification.has_value());
  ASSERT_TRUE(r.message.has_value());
  const auto* update = std::get_if<UpdateMessage>(&*r.message);
  if (update == nullptr) return;
  const Ipv4Prefix announced{Ipv4Addr{0xcb007100}, 24};
  EXPECT_FALSE(update->IsEndOfRib());
  if (c.action == ErrorAction::kTreatAsWithdraw) {
    EXPECT_TRUE(update->nlri.empty());
    EXPECT_EQ(update->withdrawn, std::vector<Ipv4Prefix>{announced});
  } else {
    EXPECT_EQ(update->nlri, std::vector<Ipv4Prefix>{announced});
    ASSERT_TRUE(update->attrs.has_value());
    EXPECT_EQ(update->attrs->next_hop, Ipv4Addr{kGoodNextHop});
  }
}

const ErrorAction kReset = ErrorAction::kSessionReset;
const ErrorAction kWithdraw = ErrorAction::kTreatAsWithdraw;
const ErrorAction kDiscard = ErrorAction::kAttributeDiscard;
const ErrorAction kOk = ErrorAction::kNone;

Bytes BadMarker() {
  Bytes b = Msg(4, {});
  b[3] = 0;
  return b;
}

INSTANTIATE_TEST_SUITE_P(Header, Malformed, ::testing::Values(
    MalformedCase{"BadMarker", BadMarker(), kFour, kReset, 1, 1, {}, true},
    MalformedCase{"LengthBelow19", Msg(4, {}, 18), kFour, kReset, 1, 2, U16(18), true},
    MalformedCase{"LengthAbove4096", Msg(4, {}, 4097), kFour, kReset, 1, 2, U16(4097), true},
    MalformedCase{"LengthNotWhatWasGiven", Msg(4, {}, 40), kFour, kReset, 1, 2},
    MalformedCase{"BadType", Msg(6, {}), kFour, kReset, 1, 3, {6}, true},
    MalformedCase{"LongKeepalive", Msg(4, {0}), kFour, kReset, 1, 2, U16(20), true},
    MalformedCase{"ShortOpen", Msg(1, {4, 0, 1}), kFour, kReset, 1, 2},
    MalformedCase{"ShortNotification", Msg(3, {6}), kFour, kReset, 1, 2},
    MalformedCase{"ShortUpdate", Msg(2, {0, 0}), kFour, kReset, 1, 2},
    MalformedCase{"LongRouteRefresh", Msg(5, {0, 1, 0, 1, 0}), kFour, kReset, 7, 1}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(Open, Malformed, ::testing::Values(
    MalformedCase{"Version3", Open(3, 65001, 180, 0xc0000201), kFour, kReset, 2, 1, {0, 4}, true},
    MalformedCase{"HoldTime1", Open(4, 65001, 1, 0xc0000201), kFour, kReset, 2, 6},
    MalformedCase{"HoldTime2", Open(4, 65001, 2, 0xc0000201), kFour, kReset, 2, 6},
    MalformedCase{"HoldTime3", Open(4, 65001, 3, 0xc0000201), kFour, kOk},
    MalformedCase{"BgpIdZero", Open(4, 65001, 180, 0), kFour, kReset, 2, 3},
    MalformedCase{"PeerAsZero", Open(4, 0, 180, 0xc0000201), kFour, kReset, 2, 2},
    MalformedCase{"FourOctetAsZero",
                  Open(4, 23456, 180, 0xc0000201, {2, 6, kCapFourOctetAs, 4, 0, 0, 0, 0}),
                  kFour, kReset, 2, 2},
    MalformedCase{"UnsupportedOptionalParameter", Open(4, 65001, 180, 0xc0000201, {1, 1, 0}),
                  kFour, kReset, 2, 4},
    MalformedCase{"CapabilityLength",
                  Open(4, 65001, 180, 0xc0000201, {2, 5, kCapFourOctetAs, 3, 0, 0, 1}),
                  kFour, kReset, 2, 0},
    MalformedCase{"CapabilityOverrunsParameter",
                  Open(4, 65001, 180, 0xc0000201, {2, 2, kCapRouteRefresh, 9}), kFour, kReset, 2,
                  0},
    MalformedCase{"ParameterOverrunsMessage",
                  Msg(1, Cat({{4}, U16(65001), U16(180), U32(0xc0000201), {9, 2, 0}})),
                  kFour, kReset, 2, 0}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(UpdateFraming, Malformed, ::testing::Values(
    MalformedCase{"WithdrawnLengthPastEnd", Msg(2, Cat({U16(50), U16(0)})), kFour, kReset, 3,
                  1},
    MalformedCase{"AttributeLengthPastEnd", Msg(2, Cat({U16(0), U16(90), Mandatory()})), kFour,
                  kReset, 3, 1},
    MalformedCase{"WithdrawnPrefixLength33", Update({33, 1, 2, 3, 4, 5}, {}, {}), kFour, kReset,
                  3, 10},
    MalformedCase{"TruncatedNlri", Update({}, Mandatory(), {24, 203, 0}), kFour, kReset, 3, 10},
    MalformedCase{"NlriPrefixLength40", Update({}, Mandatory(), {40, 1, 1, 1, 1, 1}), kFour,
                  kReset, 3, 10},
    MalformedCase{"AttributeRunsPastTotalLength",
                  UpdateAttrs(Cat({Mandatory(), Bytes{kOptionalTransitive, 28, 200, 1, 2}})),
                  kFour, kWithdraw},
    MalformedCase{"TruncatedAttributeHeader", UpdateAttrs(Cat({Mandatory(), Bytes{0x40, 1}})),
                  kFour, kWithdraw},
    MalformedCase{"NoAttributesWithNlri", Update({}, {}, Nlri()), kFour, kWithdraw},
    MalformedCase{"MissingOrigin", UpdateAttrs(Cat({AsPath4({65001}), NextHop(kGoodNextHop)})),
                  kFour, kWithdraw},
    MalformedCase{"MissingAsPath", UpdateAttrs(Cat({OriginIgp(), NextHop(kGoodNextHop)})), kFour,
                  kWithdraw},
    MalformedCase{"MissingNextHop", UpdateAttrs(Cat({OriginIgp(), AsPath4({65001})})), kFour,
                  kWithdraw}),
    [](const auto& info) { return std::string(info.param.name); });

Bytes WithoutNextHop(const Bytes& extra) {
  return UpdateAttrs(Cat({OriginIgp(), AsPath4({65001}), extra}));
}
Bytes AsPathValue(uint8_t type, uint8_t count, const Bytes& asns) {
  return Attr(kWellKnown, kAttrAsPath, Cat({{type, count}, asns}));
}

INSTANTIATE_TEST_SUITE_P(Attributes, Malformed, ::testing::Values(
    MalformedCase{"OriginValue3", UpdateAttrs(Cat({Attr(kWellKnown, 1, {3}), AsPath4({65001}),
                                                   NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"OriginZeroLength", UpdateAttrs(Cat({Attr(kWellKnown, 1, {}), AsPath4({65001}),
                                                       NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"OriginFlagsOptional",
                  UpdateAttrs(Cat({Attr(kOptionalTransitive, 1, {0}), AsPath4({65001}),
                                   NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"AsPathSegmentOverrun",
                  UpdateAttrs(Cat({OriginIgp(), AsPathValue(2, 3, U32(65001)),
                                   NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"AsPathEmptySegment",
                  UpdateAttrs(Cat({OriginIgp(), AsPathValue(2, 0, {}), NextHop(kGoodNextHop)})),
                  kFour, kWithdraw},
    MalformedCase{"AsPathBadSegmentType",
                  UpdateAttrs(Cat({OriginIgp(), AsPathValue(9, 1, U32(65001)),
                                   NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"AsPathConfedFromEbgp",
                  UpdateAttrs(Cat({OriginIgp(), AsPathValue(3, 1, U32(65001)),
                                   NextHop(kGoodNextHop)})), kFour, kWithdraw},
    MalformedCase{"AsPathOddLengthOnTwoOctet",
                  UpdateAttrs(Cat({OriginIgp(), AsPathValue(2, 1, {0xfd}),
                                   NextHop(kGoodNextHop)})), kTwo, kWithdraw},
    MalformedCase{"NextHopLength5",
                  WithoutNextHop(Attr(kWellKnown, 3, Cat({U32(kGoodNextHop), {0}}))), kFour,
                  kWithdraw},
    MalformedCase{"NextHopZero", WithoutNextHop(NextHop(0)), kFour, kWithdraw},
    MalformedCase{"NextHopMulticast", WithoutNextHop(NextHop(0xe0000001)), kFour, kWithdraw},
    MalformedCase{"NextHopLoopback", WithoutNextHop(NextHop(0x7f000001)), kFour, kWithdraw},
    MalformedCase{"NextHopBroadcast", WithoutNextHop(NextHop(0xffffffff)), kFour, kWithdraw},
    MalformedCase{"MedLength3", UpdateWith(Attr(kOptionalNonTransitive, 4, {0, 0, 1})), kFour,
                  kWithdraw},
    MalformedCase{"MedFlagsTransitive", UpdateWith(Attr(kOptionalTransitive, 4, U32(1))), kFour,
                  kWithdraw},
    MalformedCase{"LocalPrefLength2", UpdateWith(Attr(kWellKnown, 5, {0, 100})), kFourIbgp,
                  kWithdraw},
    MalformedCase{"LocalPrefFromEbgp", UpdateWith(Attr(kWellKnown, 5, U32(100))), kFour,
                  kDiscard},
    MalformedCase{"AtomicAggregateLength1", UpdateWith(Attr(kWellKnown, 6, {1})), kFour,
                  kDiscard},
    MalformedCase{"AggregatorLength7",
                  UpdateWith(Attr(kOptionalTransitive, 7, Cat({U32(65001), {1, 2, 3}}))), kFour,
                  kDiscard},
    MalformedCase{"AggregatorLength8OnTwoOctet",
                  UpdateAttrs(Cat({OriginIgp(), AsPath2({65001}), NextHop(kGoodNextHop),
                                   Attr(kOptionalTransitive, 7, Cat({U32(65001), U32(1)}))})),
                  kTwo, kDiscard},
    MalformedCase{"AggregatorFlagsWellKnown",
                  UpdateWith(Attr(kWellKnown, 7, Cat({U32(65001), U32(1)}))), kFour, kDiscard},
    MalformedCase{"CommunitiesLength5", UpdateWith(Attr(kOptionalTransitive, 8, {0, 0, 0, 1, 2})),
                  kFour, kWithdraw},
    MalformedCase{"CommunitiesZeroLength", UpdateWith(Attr(kOptionalTransitive, 8, {})), kFour,
                  kWithdraw},
    MalformedCase{"CommunitiesPartialFlagStillChecked",
                  UpdateWith(Attr(kOptionalTransitive | kAttrPartial, 8, {0, 1})), kFour,
                  kWithdraw},
    MalformedCase{"LargeCommunityLength13",
                  UpdateWith(Attr(kOptionalTransitive, 32, Bytes(13, 1))), kFour, kWithdraw},
    MalformedCase{"OtcLength3", UpdateWith(Attr(kOptionalTransitive, 35, {0, 0, 1})), kFour,
                  kWithdraw},
    MalformedCase{"OtcLength5", UpdateWith(Attr(kOptionalTransitive, 35, Bytes(5, 1))), kFour,
                  kWithdraw},
    MalformedCase{"DuplicateOriginKeepsFirst", UpdateWith(Attr(kWellKnown, 1, {2})), kFour,
                  kDiscard},
    MalformedCase{"DuplicateMpReach",
                  UpdateWith(Cat({MpReach(U32(kGoodNextHop), {}), MpReach(U32(kGoodNextHop), {})})),
                  kFour, kReset, 3, 1},
    MalformedCase{"MpReachNextHopLength16", UpdateWith(MpReach(Bytes(16, 1), {})), kFour, kReset,
                  3, 9},
    MalformedCase{"MpReachTruncatedNlri",
                  UpdateWith(MpReach(U32(kGoodNextHop), {24, 198, 51})), kFour, kReset, 3, 9},
    MalformedCase{"MpReachWellKnownFlags",
                  UpdateWith(Attr(kWellKnown, 14, Cat({U16(1), {1, 4}, U32(kGoodNextHop), {0}}))),
                  kFour, kReset, 3, 4},
    MalformedCase{"MpUnreachTruncated",
                  UpdateWith(Attr(kOptionalNonTransitive, 15, {0, 1})), kFour, kReset, 3, 9},
    MalformedCase{"MpReachOtherFamilyIgnored",
                  UpdateWith(MpReach(Bytes(16, 0x20), {64, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0}, 2)),
                  kFour, kDiscard},
    MalformedCase{"MpReachNextHopZero", Update({}, Cat({OriginIgp(), AsPath4({65001}),
                                                        MpReach(U32(0), Nlri())}), {}),
                  kFour, kWithdraw},
    MalformedCase{"MpReachNextHopDiffersFromNextHop", UpdateWith(MpReach(U32(0xc6336402), {})),
                  kFour, kWithdraw},
    MalformedCase{"As4PathMalformed",
                  UpdateAttrs(Cat({OriginIgp(), AsPath2({65001}), NextHop(kGoodNextHop),
                                   Attr(kOptionalTransitive, 17, {2, 2, 0, 0, 0, 1})})),
                  kTwo, kDiscard},
    MalformedCase{"As4PathOnFourOctetSession",
                  UpdateWith(Attr(kOptionalTransitive, 17, Cat({{2, 1}, U32(65001)}))), kFour,
                  kDiscard},
    MalformedCase{"As4AggregatorWithoutAggregator",
                  UpdateAttrs(Cat({OriginIgp(), AsPath2({65001}), NextHop(kGoodNextHop),
                                   Attr(kOptionalTransitive, 18, Cat({U32(4200000001u), U32(1)}))})),
                  kTwo, kDiscard},
    MalformedCase{"CorruptEntropyLabelAttr28Partial",
                  UpdateWith(Attr(kOptionalTransitive | kAttrPartial, 28, {0xde, 0xad})), kFour,
                  kOk},
    MalformedCase{"CorruptTunnelEncapsulationAttr23",
                  UpdateWith(Attr(kOptionalTransitive | kAttrPartial, 23, {0, 7, 0, 99, 1})),
                  kFour, kOk},
    MalformedCase{"UnknownOptionalNonTransitiveDropped",
                  UpdateWith(Attr(kOptionalNonTransitive, 200, {1, 2, 3})), kFour, kOk},
    MalformedCase{"UnknownWellKnown", UpdateWith(Attr(kWellKnown, 100, {1})), kFour, kReset, 3, 2,
                  {kWellKnown, 100, 1, 1}, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Malformed, UnknownTransitiveKeptWithPartialBit) {
  const Bytes b = UpdateWith(Attr(kOptionalTransitive, 28, {0xde, 0xad}));
  const DecodeResult r = Decode(b.data(), b.size(), kFour);
  ASSERT_TRUE(r.message.has_value());
  const auto& attrs = *std::get<UpdateMessage>(*r.message).attrs;
  ASSERT_EQ(attrs.unknown.size(), 1u);
  EXPECT_EQ(attrs.unknown[0].flags, kOptionalTransitive | kAttrPartial);
  EXPECT_EQ(attrs.unknown[0].value, (Bytes{0xde, 0xad}));
}

TEST(Malformed, DuplicateKeepsTheFirst) {
  const Bytes b = UpdateWith(Attr(kWellKnown, kAttrOrigin, {2}));
  const DecodeResult r = Decode(b.data(), b.size(), kFour);
  ASSERT_TRUE(r.message.has_value());
  EXPECT_EQ(std::get<UpdateMessage>(*r.message).attrs->origin, Origin::kIgp);
}

TEST(Malformed, WorstActionWinsAndEveryCauseIsListed) {
  const Bytes b = UpdateWith(Cat({Attr(kWellKnown, 6, {1}), Attr(kOptionalTransitive, 35, {1})}));
  const DecodeResult r = Decode(b.data(), b.size(), kFour);
  EXPECT_EQ(r.action, kWithdraw);
  EXPECT_EQ(r.problems.size(), 2u);
}

TEST(Malformed, UndefinedRouteRefreshSubtypeIsReportedNotFatal) {
  const Bytes b = Msg(5, {0, 1, 7, 1});
  const DecodeResult r = Decode(b.data(), b.size(), kFour);
  EXPECT_EQ(r.action, kOk);
  EXPECT_EQ(r.problems.size(), 1u);
}

}  // namespace
}  // namespace isthmus::bgp
