// -m sctp --chunk-types: all, any and only over the chunks of a packet, with
// flags, chunks cut short or of length 0 dropped, and the text iptables
// 1.8.9 lists and saves for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::Bytes;
using test::listed;
using test::saved;

std::unique_ptr<Match> chunks(const std::string& value, bool negated = false,
                              const std::string& more = "") {
  const std::string key = negated ? "!chunk_types" : "chunk_types";
  return build(R"({"protocol": "sctp", )" + more + "\"" + key + "\": \"" + value + "\"}", key);
}

struct Chunk {
  std::uint8_t type;
  std::uint8_t flags = 0;
  std::uint16_t length = 4;  // padded to 4 bytes in the packet
};

Bytes packet(std::initializer_list<Chunk> list) {
  Bytes b = test::sctp_header(1, 80);
  for (const Chunk& c : list) {
    Bytes chunk((c.length + 3U) & ~3U, 0);
    if (chunk.empty()) chunk.resize(4);
    chunk[0] = c.type;
    chunk[1] = c.flags;
    test::put16(chunk, 2, c.length);
    b.insert(b.end(), chunk.begin(), chunk.end());
  }
  return test::ipv4(ipproto::kSctp, b);
}

using Outcome = test::MatchOutcome;

TEST(SctpChunks, AllAnyOnly) {
  const auto all = chunks("all DATA,INIT");
  EXPECT_TRUE(test::run_match(*all, packet({{1}, {3}, {0, 0, 5}})).matched);
  EXPECT_FALSE(test::run_match(*all, packet({{1}, {3}})).matched);
  const auto any = chunks("any DATA,INIT");
  EXPECT_TRUE(test::run_match(*any, packet({{3}, {1}})).matched);
  EXPECT_FALSE(test::run_match(*any, packet({{3}, {4}})).matched);
  const auto only = chunks("only INIT,SACK");
  EXPECT_TRUE(test::run_match(*only, packet({{1}, {3}})).matched);
  EXPECT_FALSE(test::run_match(*only, packet({{1}, {0}})).matched);
  EXPECT_FALSE(test::run_match(*chunks("any DATA", true), packet({{0}})).matched);
  EXPECT_TRUE(test::run_match(*chunks("any DATA", true), packet({{1}})).matched);
  EXPECT_FALSE(test::run_match(*chunks("all ALL"), packet({{1}})).matched);
  EXPECT_TRUE(test::run_match(*chunks("only ALL"), packet({{200}})).matched);
}

TEST(SctpChunks, Flags) {
  // DATA:Be: B (0x02) set, E (0x01) clear; the other bits free.
  const auto data = chunks("all DATA:Be");
  EXPECT_TRUE(test::run_match(*data, packet({{0, 0x06}})).matched);
  EXPECT_FALSE(test::run_match(*data, packet({{0, 0x03}})).matched);
  EXPECT_FALSE(test::run_match(*data, packet({{0, 0x00}})).matched);
  // "only": a listed type whose flags fail fails the rule.
  EXPECT_FALSE(test::run_match(*chunks("only ABORT:T"), packet({{6, 0}})).matched);
  EXPECT_TRUE(test::run_match(*chunks("only ABORT:T"), packet({{6, 1}})).matched);
}

TEST(SctpChunks, BrokenChunksAreDropped) {
  EXPECT_EQ(test::run_match(*chunks("any INIT"), packet({{3, 0, 0}})), (Outcome{false, true}));
  EXPECT_EQ(test::run_match(*chunks("any INIT"), packet({})), (Outcome{false, true}));
}

TEST(SctpChunks, Errors) {
  EXPECT_EQ(build_error(R"({"protocol": "sctp", "chunk_types": "some DATA"})", "chunk_types"),
            R"(: in "some DATA": expected "all", "any" or "only" first)");
  EXPECT_EQ(build_error(R"({"protocol": "sctp", "chunk_types": "all DATUM"})", "chunk_types"),
            R"(: in "all DATUM": unknown chunk type "DATUM")");
  EXPECT_EQ(build_error(R"({"protocol": "sctp", "chunk_types": "all INIT:T"})", "chunk_types"),
            R"(: in "all INIT:T": chunk INIT has no flag 'T')");
}

TEST(SctpChunks, ListAndSaveAsIptables) {
  const auto data = chunks("all DATA:Be,INIT");
  EXPECT_EQ(listed(*data), "sctp all 0x0000:Be,0x0001");
  EXPECT_EQ(saved(*data), " -m sctp --chunk-types all DATA:Be,INIT");
  const auto any = chunks("any ABORT:T,SHUTDOWN_COMPLETE:t", true, R"("dport": 80, )");
  EXPECT_EQ(listed(*any), "sctp dpt:80 ! any 0x0006:T,0x000E:t");
  EXPECT_EQ(saved(*any), " -m sctp --dport 80 ! --chunk-types any ABORT:T,SHUTDOWN_COMPLETE:t");
  const auto only = chunks("only INIT,ASCONF,I_DATA,forward_tsn");
  EXPECT_EQ(saved(*only), " -m sctp --chunk-types only INIT,I_DATA,FORWARD_TSN,ASCONF");
  EXPECT_EQ(listed(*only), "sctp only 0x0001,0x0040,0x00C0,0x00C1");
  EXPECT_EQ(saved(*chunks("all ALL")), " -m sctp --chunk-types all ALL");
  EXPECT_EQ(listed(*chunks("any NONE")), "sctp any NONE");
}

}  // namespace
}  // namespace verdictd
