// -m u32: the expression language (masks, shifts, "@" moves, ranges), words
// at and past the packet's end, negation, positioned parse errors, and the
// text iptables 1.8.9 lists and saves for the same rules.
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

std::unique_ptr<Match> u32(const std::string& expression, bool negated = false) {
  const std::string key = negated ? "!u32" : "u32";
  return build(R"({")" + key + R"(": ")" + expression + "\"}", key);
}

bool hits(const Match& match, const Bytes& bytes) {
  EvalState state;
  return match.matches(PacketView::parse(bytes), state);
}

// A UDP datagram from 10.0.0.1 to 10.0.0.2, 1234 -> 53, with "ABCD" as payload.
Bytes datagram() {
  Bytes payload = test::udp_header(1234, 53, 4);
  const Bytes text = {'A', 'B', 'C', 'D'};
  std::copy(text.begin(), text.end(), payload.end() - 4);
  return test::ipv4(ipproto::kUdp, payload);
}

TEST(U32, MasksShiftsAndRanges) {
  EXPECT_TRUE(hits(*u32("0>>28=4"), datagram()));    // IPv4
  EXPECT_TRUE(hits(*u32("6&0xFF=17"), datagram()));  // protocol UDP
  EXPECT_TRUE(hits(*u32("6 & 0xff = 1:3, 17"), datagram()));
  EXPECT_FALSE(hits(*u32("6&0xFF=6"), datagram()));
  EXPECT_TRUE(hits(*u32("12=0x0a000001"), datagram()));  // the source address
  EXPECT_TRUE(hits(*u32("0<<4>>28=5"), datagram()));     // the header length
  // Every test must pass.
  EXPECT_FALSE(hits(*u32("0>>28=4&&6&0xFF=6"), datagram()));
  EXPECT_TRUE(hits(*u32("0>>28=4 && 6&0xFF=17"), datagram()));
}

TEST(U32, AtMovesToTheTransportHeader) {
  // The header length in bytes, then the UDP destination port there, then
  // the payload 8 bytes further.
  EXPECT_TRUE(hits(*u32("0>>22&0x3C@0&0xFFFF=53"), datagram()));
  EXPECT_TRUE(hits(*u32("0>>22&0x3C@8=0x41424344"), datagram()));
  EXPECT_FALSE(hits(*u32("0>>22&0x3C@8=0x41424345"), datagram()));
  // Two moves add up: 20, then the word at 20+4 (UDP length and checksum: 12 << 16).
  EXPECT_TRUE(hits(*u32("0>>22&0x3C@4>>16=12"), datagram()));
}

TEST(U32, WordsPastTheEndFailEvenNegated) {
  const Bytes packet = datagram();  // 32 bytes
  EXPECT_TRUE(hits(*u32("28=0x41424344"), packet));
  EXPECT_FALSE(hits(*u32("29=0"), packet));
  EXPECT_TRUE(hits(*u32("29=0", true), packet));  // the negation is of the whole
  EXPECT_FALSE(hits(*u32("0>>22&0x3C@9=0:0xffffffff"), packet));
  EXPECT_TRUE(hits(*u32("0>>22&0x3C@8=0:0xffffffff"), packet));
  EXPECT_FALSE(hits(*u32("0=0:0xffffffff"), Bytes{0x45, 0, 0}));
}

TEST(U32, ParseErrorsNameTheCharacter) {
  EXPECT_EQ(build_error(R"({"u32": "6&0xFF"})", "u32"),
            ": at character 7 of \"6&0xFF\": expected \"&\", \"<<\", \">>\", \"@\" or \"=\"");
  EXPECT_EQ(build_error(R"({"u32": "6&=1"})", "u32"),
            ": at character 3 of \"6&=1\": expected a number");
  EXPECT_EQ(build_error(R"({"u32": "0<<32=1"})", "u32"),
            ": at character 4 of \"0<<32=1\": a shift of more than 31 bits");
  EXPECT_EQ(build_error(R"({"u32": "0=5:4"})", "u32"),
            ": at character 5 of \"0=5:4\": a range that ends below its start");
  EXPECT_EQ(build_error(R"({"u32": "0=1 2"})", "u32"),
            ": at character 5 of \"0=1 2\": expected \"&&\" or the end");
  EXPECT_EQ(build_error(R"({"u32": "0=0x100000000"})", "u32"),
            ": at character 3 of \"0=0x100000000\": a number above 0xffffffff");
  std::string twelve = "0=0";
  for (int i = 0; i < 11; ++i) twelve += "&&0=0";
  EXPECT_NE(build_error(R"({"u32": ")" + twelve + "\"}", "u32").find("more than 11 tests"),
            std::string::npos);
  EXPECT_EQ(build(R"({"u32": ")" + twelve.substr(5) + "\"}", "u32")->spec().name, "u32");
}

TEST(U32, ListAndSaveAsIptables) {
  const std::string written = "0>>22&0x3C@ 12>>26&0x3C@0 = 0x41424344 && 6&0xFF=17,1:3";
  const std::string printed = "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x41424344&&0x6&0xff=0x11,0x1:0x3";
  EXPECT_EQ(listed(*u32(written)), "u32 \"" + printed + "\"");
  EXPECT_EQ(saved(*u32(written)), " -m u32 --u32 \"" + printed + "\"");
  EXPECT_EQ(listed(*u32("6&0xFF=17", true)), "u32 ! \"0x6&0xff=0x11\"");
  EXPECT_EQ(saved(*u32("6&0xFF=17", true)), " -m u32 ! --u32 \"0x6&0xff=0x11\"");
}

}  // namespace
}  // namespace verdictd
