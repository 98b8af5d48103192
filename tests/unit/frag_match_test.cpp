// -m frag: the IPv6 fragment header found behind other extension headers,
// its identification, reserved bits, first/more/last, --fraglen tested by
// nothing (as the kernel), and the text ip6tables 1.8.9 lists and saves.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::Bytes;
using test::listed;
using test::saved;

std::unique_ptr<Match> frag(const std::string& match_object) {
  const Json object = Json::parse(match_object);
  return build(match_object, object.begin().key());
}

using Outcome = test::MatchOutcome;

// A fragment behind a hop-by-hop header.
Bytes fragment(std::uint16_t offset, bool more, std::uint32_t id, std::uint8_t reserved = 0) {
  Bytes header = test::fragment_header(17, offset, more, id);
  header[1] = reserved;
  return test::ipv6(0, test::concat({test::options_header(44), header, test::udp_header(1, 2)}));
}

TEST(Frag, IdentificationAndPosition) {
  const auto ids = frag(R"({"fragid": "5:10"})");
  EXPECT_EQ(test::run_match(*ids, fragment(0, true, 5)), (Outcome{true, false}));
  EXPECT_EQ(test::run_match(*ids, fragment(100, false, 11)), (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*frag(R"({"!fragid": 5})"), fragment(100, false, 6)),
            (Outcome{true, false}));
  EXPECT_TRUE(test::run_match(*frag(R"({"fragfirst": true})"), fragment(0, true, 1)).matched);
  EXPECT_FALSE(test::run_match(*frag(R"({"fragfirst": true})"), fragment(1, true, 1)).matched);
  EXPECT_TRUE(test::run_match(*frag(R"({"fragmore": true})"), fragment(1, true, 1)).matched);
  EXPECT_FALSE(test::run_match(*frag(R"({"fragmore": true})"), fragment(1, false, 1)).matched);
  EXPECT_TRUE(test::run_match(*frag(R"({"fraglast": true})"), fragment(1, false, 1)).matched);
  EXPECT_FALSE(test::run_match(*frag(R"({"fragres": true})"), fragment(0, true, 1, 1)).matched);
  EXPECT_TRUE(test::run_match(*frag(R"({"fragres": true})"), fragment(0, true, 1)).matched);
  // --fraglen: the kernel's frag_mt6 ignores it.
  EXPECT_TRUE(test::run_match(*frag(R"({"!fraglen": 8})"), fragment(0, true, 1)).matched);
}

TEST(Frag, NoHeaderOrCutShort) {
  const auto any = frag(R"({"!fragid": 5})");
  EXPECT_EQ(test::run_match(*any, test::ipv6(17, test::udp_header(1, 2))), (Outcome{false, false}));
  Bytes cut = fragment(0, true, 6);
  cut.resize(40 + 8 + 4);
  test::put16(cut, 4, 12);
  EXPECT_EQ(test::run_match(*any, cut), (Outcome{false, true}));
}

TEST(Frag, ListAndSaveAsIp6tables) {
  const auto all = frag(R"({"fragid": "5:10", "fraglen": 8, "fragres": true, "fragfirst": true})");
  EXPECT_EQ(listed(*all), "frag ids:5:10 length:8 reserved first");
  EXPECT_EQ(saved(*all), " -m frag --fragid 5:10 --fraglen 8 --fragres --fragfirst");
  const auto negated = frag(R"({"!fragid": 5, "!fraglen": 8, "fragmore": true})");
  EXPECT_EQ(listed(*negated), "frag id:!5 length:!8 more");
  EXPECT_EQ(saved(*negated), " -m frag ! --fragid 5 ! --fraglen 8 --fragmore");
  EXPECT_EQ(listed(*frag(R"({"fraglast": true})")), "frag  last");
  EXPECT_EQ(saved(*frag(R"({"fragid": "0:4294967295"})")), " -m frag");
  EXPECT_EQ(frag(R"({"fraglast": true})")->family(), Family::kIPv6);
}

}  // namespace
}  // namespace verdictd
