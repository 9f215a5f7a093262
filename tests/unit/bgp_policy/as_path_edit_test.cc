#include "bgp/policy/as_path_edit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/bgp_policy/policy_test_support.h"

namespace isthmus::bgp {
namespace {

using testing::Seq;
using Type = AsPathSegment::Type;

AsPath Path(std::vector<AsPathSegment> segments) { return AsPath{std::move(segments)}; }

struct ExcludeCase {
  std::string description;
  AsPath input;
  Asn asn;
  size_t removed;
  std::string expected;   // AsPath::ToString()
  size_t segments;
};

class ExcludeAsnTest : public ::testing::TestWithParam<ExcludeCase> {};

TEST_P(ExcludeAsnTest, RemovesEveryOccurrence) {
  const ExcludeCase& c = GetParam();
  AsPath path = c.input;
  EXPECT_EQ(ExcludeAsn(path, c.asn), c.removed);
  EXPECT_EQ(path.ToString(), c.expected);
  EXPECT_EQ(path.segments.size(), c.segments);
  EXPECT_FALSE(path.Contains(c.asn));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExcludeAsnTest,
    ::testing::Values(
        ExcludeCase{"absent", Seq({65002, 65003}), 65515, 0, "65002 65003", 1},
        ExcludeCase{"only asn leaves empty path", Seq({65515}), 65515, 1, "", 0},
        ExcludeCase{"tail", Seq({65002, 65515}), 65515, 1, "65002", 1},
        ExcludeCase{"every occurrence incl. prepends", Seq({65515, 65002, 65515, 65515}), 65515, 3, "65002", 1},
        ExcludeCase{"inside a set", Path({{Type::kSequence, {65002}}, {Type::kSet, {65515, 65003}}}), 65515, 1,
                    "65002 {65003}", 2},
        ExcludeCase{"emptied set dropped, sequences joined",
                    Path({{Type::kSequence, {65002}}, {Type::kSet, {65515}}, {Type::kSequence, {65004}}}), 65515, 1,
                    "65002 65004", 1},
        ExcludeCase{"empty path", AsPath{}, 65515, 0, "", 0}),
    [](const auto& info) {
      std::string name = info.param.description;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(ReplaceAsnTest, ReplacesEveryOccurrence) {
  AsPath path = Path({{Type::kSequence, {65002, 65515, 65002}}, {Type::kSet, {65002, 7}}});
  EXPECT_EQ(ReplaceAsn(path, 65002, 65001), 3u);
  EXPECT_EQ(path.ToString(), "65001 65515 65001 {65001,7}");
  EXPECT_EQ(ReplaceAsn(path, 4242, 65001), 0u);
}

struct PrependCase {
  std::string description;
  AsPath input;
  uint32_t count;
  size_t length;     // AsPath::Length() after
  size_t segments;
  size_t first_segment_size;
};

class PrependAsnTest : public ::testing::TestWithParam<PrependCase> {};

TEST_P(PrependAsnTest, PrependsCountTimes) {
  const PrependCase& c = GetParam();
  AsPath path = c.input;
  const size_t before = path.Length();
  PrependAsn(path, 65001, c.count);
  EXPECT_EQ(path.Length(), c.length);
  EXPECT_EQ(path.Length() - before, c.count);
  ASSERT_EQ(path.segments.size(), c.segments);
  EXPECT_EQ(path.segments.front().type, Type::kSequence);
  EXPECT_EQ(path.segments.front().asns.size(), c.first_segment_size);
  EXPECT_EQ(path.FirstAsn(), 65001u);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PrependAsnTest,
    ::testing::Values(PrependCase{"empty_path_once", AsPath{}, 1, 1, 1, 1},
                      PrependCase{"existing_sequence_three", Seq({65002}), 3, 4, 1, 4},
                      PrependCase{"before_a_set_opens_sequence", Path({{Type::kSet, {1, 2}}}), 2, 3, 2, 2},
                      PrependCase{"full_sequence_opens_new_one", Seq(std::vector<Asn>(255, 7)), 2, 257, 2, 2},
                      PrependCase{"fills_then_overflows", Seq(std::vector<Asn>(250, 7)), 10, 260, 2, 5}));

TEST(RemoveConfedSegmentsTest, KeepsOnlyAsSequencesAndSets) {
  AsPath path = Path({{Type::kConfedSequence, {64512}}, {Type::kSequence, {65002}}, {Type::kConfedSet, {64513}},
                      {Type::kSet, {1}}});
  RemoveConfedSegments(path);
  EXPECT_EQ(path.ToString(), "65002 {1}");
}

}  // namespace
}  // namespace isthmus::bgp
