// Encode -> decode round trips for every message and attribute, on 2- and
// 4-octet AS sessions, eBGP and iBGP.

#include <gtest/gtest.h>

#include "bgp/wire/message.h"

namespace isthmus::bgp {
namespace {

Ipv4Prefix P(const char* text) { return *ParsePrefix(text); }
Ipv4Addr A(const char* text) { return *ParseIpv4(text); }

PathAttributes FullAttributes() {
  PathAttributes a;
  a.origin = Origin::kEgp;
  a.as_path.segments = {{AsPathSegment::Type::kSequence, {65001, 4200000001u, 65515}},
                        {AsPathSegment::Type::kSet, {65010, 65011}}};
  a.next_hop = A("198.51.100.1");
  a.med = 50;
  a.local_pref = 200;
  a.atomic_aggregate = true;
  a.aggregator = Aggregator{4200000002u, A("192.0.2.9")};
  a.communities = {0x00010002, kCommunityNoExport};
  a.large_communities = {{65001, 1, 2}, {4200000001u, 3, 4}};
  a.otc = 65001;
  a.unknown = {RawAttribute{kOptionalTransitive | kAttrPartial, 99, {1, 2, 3}}};
  return a;
}

struct ContextCase {
  const char* name;
  CodecContext ctx;
};

class RoundTrip : public ::testing::TestWithParam<ContextCase> {};

DecodeResult DecodeBytes(const std::vector<uint8_t>& bytes, const CodecContext& ctx) {
  return Decode(bytes.data(), bytes.size(), ctx);
}

void ExpectRoundTrip(const Message& m, const CodecContext& ctx) {
  const std::vector<uint8_t> bytes = Encode(m, ctx);
  const Frame frame = PeekFrame(bytes.data(), bytes.size());
  EXPECT_EQ(frame.length, bytes.size());
  EXPECT_FALSE(frame.error.has_value());
  const DecodeResult r = DecodeBytes(bytes, ctx);
  ASSERT_EQ(r.action, ErrorAction::kNone) << (r.problems.empty() ? "" : r.problems.front());
  ASSERT_TRUE(r.message.has_value());
  EXPECT_EQ(*r.message, m);
}

TEST_P(RoundTrip, EveryMessageType) {
  const CodecContext ctx = GetParam().ctx;
  OpenMessage open;
  open.my_as = 65001;
  open.hold_time = 180;
  open.bgp_id = A("192.0.2.1");
  open.caps.four_octet_as = 65001;
  open.caps.mp_ipv4_unicast = true;
  open.caps.route_refresh = true;
  open.caps.enhanced_route_refresh = true;
  open.caps.graceful_restart = GracefulRestartCap{true, true, 120, true, true};
  open.caps.unknown = {RawCapability{1, {0, 2, 0, 1}}, RawCapability{73, {3, 'n', 'v', 'a'}}};
  ExpectRoundTrip(open, ctx);
  ExpectRoundTrip(OpenMessage{4, 65001, 0, A("192.0.2.1"), {}}, ctx);
  ExpectRoundTrip(KeepaliveMessage{}, ctx);
  ExpectRoundTrip(NotificationMessage{kErrCease, kCeaseAdminShutdown, {2, 'h', 'i'}}, ctx);
  ExpectRoundTrip(NotificationMessage{kErrHoldTimerExpired, 0, {}}, ctx);
  for (uint8_t subtype : {kRouteRefreshRequest, kRouteRefreshBegin, kRouteRefreshEnd}) {
    ExpectRoundTrip(RouteRefreshMessage{kAfiIpv4, subtype, kSafiUnicast}, ctx);
  }
  ExpectRoundTrip(UpdateMessage{}, ctx);  // End-of-RIB
  ExpectRoundTrip(UpdateMessage{{P("203.0.113.0/24"), P("0.0.0.0/0")}, std::nullopt, {}}, ctx);
}

TEST_P(RoundTrip, EveryAttribute) {
  const CodecContext ctx = GetParam().ctx;
  PathAttributes attrs = FullAttributes();
  if (ctx.ebgp) attrs.local_pref.reset();  // never sent to an external peer
  ExpectRoundTrip(UpdateMessage{{P("198.18.0.0/15")}, attrs,
                                {P("203.0.113.0/24"), P("198.51.100.128/25"), P("192.0.2.1/32")}},
                  ctx);
}

TEST_P(RoundTrip, EachAttributeAlone) {
  const CodecContext ctx = GetParam().ctx;
  const PathAttributes full = FullAttributes();
  std::vector<PathAttributes> cases(8);
  cases[0].origin = Origin::kIgp;
  cases[1].as_path = full.as_path;
  cases[2].med = 0;
  cases[3].atomic_aggregate = true;
  cases[4].aggregator = Aggregator{65001, A("192.0.2.2")};
  cases[5].communities = full.communities;
  cases[6].large_communities = full.large_communities;
  cases[7].otc = 4200000001u;
  for (PathAttributes& a : cases) {
    a.next_hop = A("192.0.2.254");
    ExpectRoundTrip(UpdateMessage{{}, a, {P("203.0.113.0/24")}}, ctx);
  }
}

TEST_P(RoundTrip, LongAsPathUsesExtendedLength) {
  const CodecContext ctx = GetParam().ctx;
  PathAttributes a;
  a.next_hop = A("192.0.2.254");
  a.as_path.segments = {{AsPathSegment::Type::kSequence, std::vector<Asn>(200, 65001)}};
  ExpectRoundTrip(UpdateMessage{{}, a, {P("203.0.113.0/24")}}, ctx);
}

INSTANTIATE_TEST_SUITE_P(
    Contexts, RoundTrip,
    ::testing::Values(ContextCase{"FourOctetEbgp", {true, true}},
                      ContextCase{"FourOctetIbgp", {true, false}},
                      ContextCase{"TwoOctetEbgp", {false, true}},
                      ContextCase{"TwoOctetIbgp", {false, false}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TwoOctetSession, LargeAsnsTravelAsTransPlusAs4Path) {
  const CodecContext ctx{false, true};
  PathAttributes a;
  a.next_hop = A("192.0.2.254");
  a.as_path.segments = {{AsPathSegment::Type::kSequence, {65001, 4200000001u}}};
  a.aggregator = Aggregator{4200000002u, A("192.0.2.9")};
  const auto bytes = Encode(UpdateMessage{{}, a, {P("203.0.113.0/24")}}, ctx);
  // Decoded as a 4-octet session would, the 2-octet form shows AS_TRANS.
  const DecodeResult naive = Decode(bytes.data(), bytes.size(), CodecContext{false, true});
  ASSERT_TRUE(naive.message.has_value());
  const auto& update = std::get<UpdateMessage>(*naive.message);
  EXPECT_EQ(update.attrs->as_path, a.as_path);  // merged back
  EXPECT_EQ(update.attrs->aggregator, a.aggregator);
  // The raw 2-octet AS_PATH carries AS_TRANS.
  const uint8_t as_trans[] = {kAsTrans >> 8, kAsTrans & 0xff};
  EXPECT_NE(std::search(bytes.begin(), bytes.end(), std::begin(as_trans), std::end(as_trans)),
            bytes.end());
}

TEST(Ebgp, LocalPrefIsNotSent) {
  PathAttributes a;
  a.next_hop = A("192.0.2.254");
  a.local_pref = 300;
  const auto bytes = Encode(UpdateMessage{{}, a, {P("203.0.113.0/24")}}, CodecContext{true, true});
  const DecodeResult r = Decode(bytes.data(), bytes.size(), CodecContext{true, false});
  ASSERT_TRUE(r.message.has_value());
  EXPECT_FALSE(std::get<UpdateMessage>(*r.message).attrs->local_pref.has_value());
}

TEST(OpenMessage, AsnOfPrefersFourOctetCapability) {
  OpenMessage open;
  open.my_as = static_cast<uint16_t>(kAsTrans);
  EXPECT_EQ(open.AsnOf(), kAsTrans);
  open.caps.four_octet_as = 4200000001u;
  EXPECT_EQ(open.AsnOf(), 4200000001u);
}

TEST(Describe, NamesCodesAndShutdownCommunication) {
  EXPECT_EQ(Describe(MakeCease(kCeaseAdminShutdown, "maintenance")),
            "Cease/Administrative Shutdown: \"maintenance\"");
  EXPECT_EQ(Describe(NotificationMessage{kErrOpen, kOpenUnacceptableHoldTime, {}}),
            "OPEN Message Error/Unacceptable Hold Time");
  EXPECT_EQ(Describe(NotificationMessage{kErrCease, kCeaseHardReset, {kErrHoldTimerExpired, 0}}),
            "Cease/Hard Reset (Hold Timer Expired/subcode 0)");
  EXPECT_EQ(Describe(NotificationMessage{kErrMessageHeader, kHeaderBadLength, {0x10, 0x01}}),
            "Message Header Error/Bad Message Length (data: 10 01)");
  EXPECT_EQ(Describe(NotificationMessage{42, 7, {}}), "code 42/subcode 7");
  EXPECT_EQ(MakeCease(kCeaseAdminReset, std::string(300, 'x')).data.size(), 256u);
  EXPECT_TRUE(MakeCease(kCeasePeerDeconfigured, "ignored").data.empty());
}

}  // namespace
}  // namespace isthmus::bgp
