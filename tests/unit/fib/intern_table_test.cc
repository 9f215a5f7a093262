#include "control/intern_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace isthmus {
namespace {

using Value = std::vector<int>;

TEST(InternTable, EqualValuesShareAnIdUntilTheLastRelease) {
  InternTable<Value> table;
  bool created = false;
  const uint32_t a = table.Acquire({1, 2}, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(table.Acquire({1, 2}, &created), a);   // the one acquired last
  EXPECT_FALSE(created);
  const uint32_t b = table.Acquire({3}, &created);
  EXPECT_TRUE(created);
  EXPECT_NE(a, b);
  EXPECT_EQ(table.Acquire({1, 2}, &created), a);   // not the last one: looked up
  EXPECT_FALSE(created);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_FALSE(table.Release(a));
  EXPECT_FALSE(table.Release(a));
  EXPECT_TRUE(table.Release(a));                  // three acquisitions, three releases
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Get(b), (Value{3}));
}

// The id acquired last is released and handed out again for another value:
// acquiring the first value again must not return the recycled id.
TEST(InternTable, ARecycledLastIdIsNotMistakenForTheOldValue) {
  InternTable<Value> table;
  const uint32_t a = table.Acquire({7});
  ASSERT_TRUE(table.Release(a));
  bool created = false;
  const uint32_t b = table.Acquire({8}, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(b, a);   // the freed id comes back
  const uint32_t c = table.Acquire({7}, &created);
  EXPECT_TRUE(created);
  EXPECT_NE(c, b);
  EXPECT_EQ(table.Get(b), (Value{8}));
  EXPECT_EQ(table.Get(c), (Value{7}));
}

}  // namespace
}  // namespace isthmus
