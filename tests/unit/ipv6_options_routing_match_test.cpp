// -m hbh, -m dst and -m rt: the options headers' length and leading options
// walked as hbh_mt6 walks them (Pad1 without a length byte, the list in
// order, the last one allowed past the end), the routing header's fields and
// type 0 address lists as rt_mt6, cut-short headers, and the text ip6tables
// 1.8.9 lists and saves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build_error;
using test::Bytes;
using test::listed;
using test::saved;

std::unique_ptr<Match> match(const std::string& match_object) {
  const Json object = Json::parse(match_object);
  return test::build(match_object, object.begin().key());
}

using Outcome = test::MatchOutcome;

// An options header (next header UDP) holding `options`, padded with zeros
// (Pad1) to whole 8-byte units.
Bytes options_header(Bytes options) {
  Bytes header = test::concat({{17, 0}, std::move(options)});
  header.resize((header.size() + 7) / 8 * 8, 0);
  header[1] = static_cast<std::uint8_t>(header.size() / 8 - 1);
  return header;
}

Bytes with_hbh(const Bytes& options) {
  return test::ipv6(0, test::concat({options_header(options), test::udp_header(1, 2)}));
}

TEST(HbhDst, OptionsInOrderWithPad1AndPadN) {
  // Router alert (5, 2 bytes), Pad1, PadN of 1 byte, then six Pad1 to the end.
  const Bytes packet = with_hbh({5, 2, 0, 0, 0, 1, 1, 0});
  EXPECT_EQ(test::run_match(*match(R"({"hbh_opts": "5:2,0,1:1"})"), packet),
            (Outcome{true, false}));
  EXPECT_TRUE(test::run_match(*match(R"({"hbh_opts": "5"})"), packet).matched);
  EXPECT_TRUE(
      test::run_match(*match(R"({"hbh_opts": "5:255,0"})"), packet).matched);  // 255: any length
  // The list is the header's leading options, in order.
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "0"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "5,1"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "5:3"})"), packet).matched);
  // Pad1 is one byte: after it, PadN.
  EXPECT_TRUE(test::run_match(*match(R"({"hbh_opts": "5,0,1"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "5,0,0"})"), packet).matched);
  // Options past the header's end: the list runs out of header.
  EXPECT_TRUE(test::run_match(*match(R"({"hbh_opts": "5,0,1,0,0,0,0,0,0"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "5,0,1,0,0,0,0,0,0,0"})"), packet).matched);
}

TEST(HbhDst, LastListedOptionMayRunPastTheHeader) {
  // PadN claiming 200 bytes: hbh_mt6 checks the space only before the next.
  const Bytes packet = with_hbh({5, 2, 0, 0, 1, 200});
  EXPECT_TRUE(test::run_match(*match(R"({"hbh_opts": "5,1:200"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "5,1:200,0"})"), packet).matched);
}

TEST(HbhDst, LengthAndNegation) {
  const Bytes packet = with_hbh({1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // 16 bytes
  EXPECT_TRUE(test::run_match(*match(R"({"hbh_len": 16})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_len": 8})"), packet).matched);
  EXPECT_TRUE(test::run_match(*match(R"({"!hbh_len": 8})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"!hbh_len": 16, "hbh_opts": "1"})"), packet).matched);
}

TEST(HbhDst, DestinationOptionsBehindRouting) {
  Bytes routing = test::options_header(60);
  routing[2] = 2;  // type 2, no addresses
  Bytes destination = options_header({0xc9, 0});
  const Bytes packet = test::ipv6(43, test::concat({routing, destination, test::udp_header(1, 2)}));
  EXPECT_TRUE(test::run_match(*match(R"({"dst_opts": "201:0"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"hbh_opts": "201:0"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"dst_opts": "201:0"})"), with_hbh({0xc9, 0})).matched);
}

TEST(HbhDst, CutShortAsTheKernel) {
  const auto any = match(R"({"!hbh_len": 99})");
  // No header at all: no match, no drop.
  EXPECT_EQ(test::run_match(*any, test::ipv6(17, test::udp_header(1, 2))), (Outcome{false, false}));
  // The header's length field beyond the packet: no match, no drop.
  Bytes longer = with_hbh({1, 2, 0, 0});
  longer[40 + 1] = 5;
  EXPECT_EQ(test::run_match(*any, longer), (Outcome{false, false}));
  // Its first two bytes missing: dropped.
  Bytes cut = test::ipv6(0, {});
  EXPECT_EQ(test::run_match(*any, cut), (Outcome{false, true}));
}

TEST(HbhDst, OptionListsRefusedAsIp6tables) {
  EXPECT_THAT(build_error(R"({"hbh_opts": "0:1"})", "hbh_opts"), testing::HasSubstr("Pad1"));
  EXPECT_THAT(build_error(R"({"hbh_opts": "256:3"})", "hbh_opts"), testing::HasSubstr("Pad1"));
  EXPECT_THAT(build_error(R"({"hbh_opts": "1,x"})", "hbh_opts"),
              testing::HasSubstr("expected a number"));
  EXPECT_THAT(build_error(R"({"hbh_opts": "1,"})", "hbh_opts"),
              testing::HasSubstr("expected a number"));
  EXPECT_THAT(
      build_error(R"({"hbh_opts": "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"})", "hbh_opts"),
      testing::HasSubstr("more than 16"));
  EXPECT_THAT(
      build_error(R"({"hbh_opts": "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16:4"})", "hbh_opts"),
      testing::HasSubstr("16th"));
  EXPECT_EQ(build_error(R"({"dst_opts": "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15:4,16"})", "dst_opts"),
            "built");
}

TEST(HbhDst, ListAndSaveAsIp6tables) {
  const auto all = match(R"({"hbh_len": 8, "hbh_opts": "1:4,0,5,194:4"})");
  EXPECT_EQ(listed(*all), "hbh length:8 opts 1:4,0,5,194:4");
  EXPECT_EQ(saved(*all), " -m hbh --hbh-len 8 --hbh-opts 1:4,0,5,194:4");
  const auto hex = match(R"({"hbh_opts": "1,0x10:255"})");
  EXPECT_EQ(listed(*hex), "hbh opts 1,16");
  EXPECT_EQ(saved(*hex), " -m hbh --hbh-opts 1,16");
  const auto dst = match(R"({"!dst_len": 8, "dst_opts": "1:4,0"})");
  EXPECT_EQ(listed(*dst), "dst length:!8 opts 1:4,0");
  EXPECT_EQ(saved(*dst), " -m dst ! --dst-len 8 --dst-opts 1:4,0");
  EXPECT_EQ(dst->family(), Family::kIPv6);
}

// A routing header of `type` with `segments_left` and type 0's reserved
// field and addresses.
Bytes routing(std::uint8_t type, std::uint8_t segments_left,
              const std::vector<const char*>& addresses, std::uint8_t reserved = 0) {
  Bytes header = {
      17, static_cast<std::uint8_t>(addresses.size() * 2), type, segments_left, reserved, 0, 0, 0};
  for (const char* text : addresses) {
    const IpAddress address = *IpAddress::parse(text);
    header.insert(header.end(), address.bytes.begin(), address.bytes.end());
  }
  return test::ipv6(43, test::concat({header, test::udp_header(1, 2)}));
}

TEST(Rt, TypeSegmentsLeftLengthReserved) {
  const Bytes packet = routing(0, 3, {"2001:db8::1", "2001:db8::2"});
  EXPECT_TRUE(
      test::run_match(*match(R"({"rt_type": 0, "rt_segsleft": "2:5", "rt_len": 40})"), packet)
          .matched);
  EXPECT_FALSE(test::run_match(*match(R"({"!rt_type": 0})"), packet).matched);
  EXPECT_TRUE(test::run_match(*match(R"({"!rt_segsleft": 4})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"rt_segsleft": ":2"})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"!rt_len": 40})"), packet).matched);
  EXPECT_FALSE(test::run_match(*match(R"({"rt_type": 256})"), routing(0, 0, {})).matched);
  EXPECT_TRUE(test::run_match(*match(R"({"rt_type": 0, "rt_0_res": true})"), packet).matched);
  EXPECT_FALSE(
      test::run_match(*match(R"({"rt_type": 0, "rt_0_res": true})"), routing(0, 3, {"::1"}, 1))
          .matched);
}

TEST(Rt, Type0AddressesStrictAndNot) {
  const Bytes packet = routing(0, 3, {"2001:db8::1", "2001:db8::2", "2001:db8::3"});
  const auto strict = [&](const char* list) {
    return test::run_match(*match(std::string(R"({"rt_type": 0, "rt_0_addrs": ")") + list + "\"}"),
                           packet)
        .matched;
  };
  const auto loose = [&](const char* list) {
    return test::run_match(
               *match(std::string(R"({"rt_type": 0, "rt_0_not_strict": true, "rt_0_addrs": ")") +
                      list + "\"}"),
               packet)
        .matched;
  };
  EXPECT_TRUE(strict("2001:db8::1,2001:db8::2,2001:db8::3"));
  EXPECT_FALSE(strict("2001:db8::1,2001:db8::2"));  // strict: all of them
  EXPECT_FALSE(strict("2001:db8::2,2001:db8::1,2001:db8::3"));
  EXPECT_TRUE(loose("2001:db8::1,2001:db8::3"));
  EXPECT_FALSE(loose("2001:db8::3,2001:db8::1"));  // in order
  EXPECT_FALSE(loose("2001:db8::1,2001:db8::2,2001:db8::3,2001:db8::4"));
}

TEST(Rt, CutShortAsTheKernel) {
  const auto any = match(R"({"!rt_type": 99})");
  EXPECT_EQ(test::run_match(*any, routing(2, 0, {})), (Outcome{true, false}));
  EXPECT_EQ(test::run_match(*any, test::ipv6(17, test::udp_header(1, 2))), (Outcome{false, false}));
  Bytes longer = routing(2, 0, {});
  longer[40 + 1] = 4;
  EXPECT_EQ(test::run_match(*any, longer), (Outcome{false, false}));
  Bytes cut = routing(2, 0, {});
  cut.resize(40 + 3);
  test::put16(cut, 4, 3);
  EXPECT_EQ(test::run_match(*any, cut), (Outcome{false, true}));
}

TEST(Rt, Type0TestsNeedType0) {
  EXPECT_THAT(build_error(R"({"rt_0_res": true})", "rt_0_res"), testing::HasSubstr("rt_type"));
  EXPECT_THAT(build_error(R"({"!rt_type": 0, "rt_0_addrs": "::1"})", "rt_0_addrs"),
              testing::HasSubstr("rt_type"));
  EXPECT_THAT(build_error(R"({"rt_type": 0, "rt_0_not_strict": true})", "rt_0_not_strict"),
              testing::HasSubstr("rt_0_addrs"));
  EXPECT_THAT(build_error(R"({"rt_type": 0, "rt_0_addrs": "10.0.0.1"})", "rt_0_addrs"),
              testing::HasSubstr("not an IPv6 address"));
}

TEST(Rt, ListAndSaveAsIp6tables) {
  const auto all = match(R"({"rt_type": 0, "rt_segsleft": "2:5", "rt_len": 40, "rt_0_res": true,)"
                         R"( "rt_0_addrs": "2001:db8:0::1,::2", "rt_0_not_strict": true})");
  EXPECT_EQ(listed(*all),
            "rt type:0 segslefts:2:5 length:40 reserved 0-addrs 2001:db8::1,::2 0-not-strict");
  EXPECT_EQ(saved(*all),
            " -m rt --rt-type 0 --rt-segsleft 2:5 --rt-len 40 --rt-0-res --rt-0-addrs "
            "2001:db8::1,::2 --rt-0-not-strict");
  const auto negated = match(R"({"!rt_type": 2, "!rt_segsleft": 3, "!rt_len": 24})");
  EXPECT_EQ(listed(*negated), "rt type:!2 segsleft:!3 length:!24");
  EXPECT_EQ(saved(*negated), " -m rt ! --rt-type 2 ! --rt-segsleft 3 ! --rt-len 24");
  const auto open = match(R"({"rt_segsleft": "3:"})");
  EXPECT_EQ(listed(*open), "rt segslefts:3:4294967295");
  EXPECT_EQ(saved(*open), " -m rt --rt-segsleft 3:4294967295");
  EXPECT_EQ(listed(*match(R"({"rt_segsleft": "0:4294967295"})")), "rt");
  EXPECT_EQ(saved(*match(R"({"rt_segsleft": "0:4294967295"})")), " -m rt");
}

}  // namespace
}  // namespace verdictd
