#include "bgp/rib/attribute_interner.h"

#include <gtest/gtest.h>

#include "tests/unit/bgp_rib/rib_test_util.h"

namespace isthmus::bgp {
namespace {

using testing::AttrSpec;
using testing::MakeAttrs;
using testing::MakePtr;

TEST(AttributeInterner, EqualValuesShareOneInstance) {
  AttributeInterner interner;
  AttributesPtr a = interner.Intern(MakeAttrs({.path = {65001, 65002}, .med = 5}));
  AttributesPtr b = interner.Intern(MakeAttrs({.path = {65001, 65002}, .med = 5}));
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(interner.size(), 1u);
}

TEST(AttributeInterner, ExistingPointerIsDeduplicated) {
  AttributeInterner interner;
  AttributesPtr first = MakePtr({.path = {65001}});
  EXPECT_EQ(interner.Intern(first).get(), first.get());
  EXPECT_EQ(interner.Intern(MakePtr({.path = {65001}})).get(), first.get());
  EXPECT_EQ(interner.Intern(AttributesPtr{}), nullptr);
}

// Every field takes part in equality and hashing.
TEST(AttributeInterner, AnyDifferingFieldGivesAnotherInstance) {
  PathAttributes base = MakeAttrs({.path = {65001}});
  std::vector<PathAttributes> variants(11, base);
  variants[1].origin = Origin::kEgp;
  variants[2].as_path.segments[0].type = AsPathSegment::Type::kSet;
  variants[3].next_hop = testing::Addr("192.0.2.2");
  variants[4].med = 0;
  variants[5].local_pref = 100;
  variants[6].atomic_aggregate = true;
  variants[7].aggregator = Aggregator{65001, testing::Addr("192.0.2.9")};
  variants[8].communities = {kCommunityNoExport};
  variants[9].large_communities = {LargeCommunity{65001, 1, 2}};
  variants[10].unknown = {RawAttribute{0xc0, 99, {1, 2}}};
  AttributeInterner interner;
  for (const PathAttributes& v : variants) interner.Intern(v);
  EXPECT_EQ(interner.size(), variants.size());
  PathAttributes otc = base;
  otc.otc = 65001;
  interner.Intern(otc);
  EXPECT_EQ(interner.size(), variants.size() + 1);
}

TEST(AttributeInterner, HashAgreesWithEquality) {
  PathAttributesHash hash;
  EXPECT_EQ(hash(MakeAttrs({.path = {1, 2, 3}})), hash(MakeAttrs({.path = {1, 2, 3}})));
  EXPECT_NE(hash(MakeAttrs({.path = {1, 2, 3}})), hash(MakeAttrs({.path = {1, 2}, .set = {3}})));
  EXPECT_TRUE(SameAttributes(MakePtr({.path = {1}}), MakePtr({.path = {1}})));
  EXPECT_FALSE(SameAttributes(MakePtr({.path = {1}}), nullptr));
  EXPECT_TRUE(SameAttributes(nullptr, nullptr));
}

TEST(AttributeInterner, PurgeDropsOnlyUnreferenced) {
  AttributeInterner interner;
  AttributesPtr kept = interner.Intern(MakeAttrs({.path = {1}}));
  interner.Intern(MakeAttrs({.path = {2}}));   // result dropped at once
  EXPECT_EQ(interner.Purge(), 1u);
  EXPECT_EQ(interner.size(), 1u);
  EXPECT_EQ(interner.Intern(MakeAttrs({.path = {1}})).get(), kept.get());
}

TEST(AttributeInterner, TableStaysBoundedWithoutExplicitPurge) {
  AttributeInterner interner;
  constexpr uint32_t kDistinct = 100000;
  for (uint32_t i = 0; i < kDistinct; ++i) interner.Intern(MakeAttrs({.path = {i}}));
  // Nothing is referenced: automatic purges keep the table small.
  EXPECT_LT(interner.size(), 5000u);
}

}  // namespace
}  // namespace isthmus::bgp
