// -m esp and -m ah: SPI ranges, later fragments, cut-short headers, IPv6's
// authentication header found anywhere in the extension header chain (with
// its length and reserved tests), and the text iptables 1.8.9 and
// ip6tables 1.8.9 list and save for the same rules.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "packet/ipv6_find_header.hpp"
#include "packets.hpp"

namespace verdictd {
namespace {

using test::build;
using test::Bytes;
using test::listed;
using test::saved;

constexpr std::uint8_t kEsp = 50;
constexpr std::uint8_t kAh = 51;

std::unique_ptr<Match> built(const std::string& match_object) {
  const Json object = Json::parse(match_object);
  return build(match_object, std::prev(object.end()).key());
}

using Outcome = test::MatchOutcome;

Bytes esp_header(std::uint32_t spi) {
  Bytes b(16, 0);
  test::put32(b, 0, spi);
  return b;
}

Bytes ah_with_spi(std::uint8_t next, std::uint8_t length_field, std::uint32_t spi,
                  std::uint16_t reserved = 0) {
  Bytes b = test::auth_header(next, length_field);
  test::put16(b, 2, reserved);
  test::put32(b, 4, spi);
  return b;
}

TEST(Esp, SpiRangeBothFamilies) {
  const auto range = built(R"({"protocol": "esp", "espspi": "5:10"})");
  EXPECT_EQ(test::run_match(*range, test::ipv4(kEsp, esp_header(5))), (Outcome{true, false}));
  EXPECT_EQ(test::run_match(*range, test::ipv4(kEsp, esp_header(11))), (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*range, test::ipv6(kEsp, esp_header(10))), (Outcome{true, false}));
  const auto negated = built(R"({"protocol": "esp", "!espspi": 5})");
  EXPECT_EQ(test::run_match(*negated, test::ipv4(kEsp, esp_header(6))), (Outcome{true, false}));
  // A later fragment never matches; a cut-short header is dropped.
  EXPECT_EQ(test::run_match(*negated, test::ipv4(kEsp, esp_header(6), {.fragment_offset = 8})),
            (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*negated, test::ipv4(kEsp, Bytes(7, 0))), (Outcome{false, true}));
}

TEST(Ah, Ipv4AtTheTransportHeader) {
  const auto ah = built(R"({"protocol": "ah", "ahspi": 500})");
  EXPECT_EQ(ah->family(), std::nullopt);
  EXPECT_EQ(test::run_match(*ah, test::ipv4(kAh, ah_with_spi(6, 4, 500))), (Outcome{true, false}));
  EXPECT_EQ(test::run_match(*ah, test::ipv4(kAh, ah_with_spi(6, 4, 501))), (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*ah, test::ipv4(kAh, Bytes(11, 0))), (Outcome{false, true}));
}

TEST(Ah, Ipv6FindsTheHeaderInTheChain) {
  const auto ah = built(R"({"ahspi": "100:200"})");
  EXPECT_EQ(ah->family(), Family::kIPv6);  // IPv4 would need -p ah
  // Behind a hop-by-hop header, before the transport header.
  const Bytes chained =
      test::ipv6(0, test::concat({test::options_header(kAh), ah_with_spi(6, 4, 150),
                                  test::tcp_header({.sport = 1, .dport = 2})}));
  EXPECT_EQ(test::run_match(*ah, chained), (Outcome{true, false}));
  // None in the chain: no match; behind a later fragment: not looked for.
  EXPECT_EQ(test::run_match(*ah, test::ipv6(6, test::tcp_header({.sport = 1, .dport = 2}))),
            (Outcome{false, false}));
  EXPECT_EQ(test::run_match(*ah, test::ipv6_fragment(kAh, "2001:db8::1", "2001:db8::2",
                                                     ah_with_spi(6, 4, 150), 8, false)),
            (Outcome{false, false}));
  // The header's first bytes cut off: dropped.
  Bytes cut = chained;
  cut.resize(40 + 8 + 6);
  test::put16(cut, 4, 14);
  EXPECT_EQ(test::run_match(*ah, cut), (Outcome{false, true}));
}

TEST(Ah, Ipv6LengthAndReserved) {
  const Bytes header = test::ipv6(kAh, ah_with_spi(59, 4, 7));  // 24 bytes
  EXPECT_TRUE(test::run_match(*built(R"({"ahlen": 24})"), header).matched);
  EXPECT_FALSE(test::run_match(*built(R"({"!ahlen": 24})"), header).matched);
  EXPECT_TRUE(test::run_match(*built(R"({"ahlen": 0})"), header).matched);  // 0 tests nothing
  EXPECT_TRUE(test::run_match(*built(R"({"ahres": true})"), header).matched);
  EXPECT_FALSE(
      test::run_match(*built(R"({"ahres": true})"), test::ipv6(kAh, ah_with_spi(59, 4, 7, 1)))
          .matched);
}

TEST(Ipv6FindHeader, AsIpv6FindHdr) {
  using Result = Ipv6HeaderSearch::Result;
  const Bytes chained =
      test::ipv6(0, test::concat({test::options_header(60, 1), test::options_header(kAh),
                                  ah_with_spi(6, 1, 1), test::tcp_header({})}));
  const Ipv6HeaderSearch ah = find_ipv6_header(chained, kAh);
  EXPECT_EQ(ah.result, Result::kFound);
  EXPECT_EQ(ah.offset, 40U + 16 + 8);
  const Ipv6HeaderSearch tcp = find_ipv6_header(chained, 6);
  EXPECT_EQ(tcp.result, Result::kFound);
  EXPECT_EQ(tcp.offset, 40U + 16 + 8 + 12);
  EXPECT_EQ(find_ipv6_header(chained, 43).result, Result::kAbsent);
  EXPECT_EQ(find_ipv6_header(Bytes(chained.begin(), chained.begin() + 41), kAh).result,
            Result::kMalformed);
}

TEST(EspAh, ListAndSaveAsIptables) {
  EXPECT_EQ(listed(*built(R"({"protocol": "esp", "espspi": "5:10"})")), "esp spis:5:10");
  EXPECT_EQ(listed(*built(R"({"protocol": "esp", "!espspi": 5})")), "esp spi:!5");
  EXPECT_EQ(saved(*built(R"({"protocol": "esp", "!espspi": "5:5"})")), " -m esp ! --espspi 5");
  EXPECT_EQ(saved(*built(R"({"protocol": "esp", "espspi": "5:10"})")), " -m esp --espspi 5:10");
  const auto all = built(R"({"protocol": "esp", "!espspi": "0:4294967295"})");
  EXPECT_EQ(listed(*all), "esp spis:!0:4294967295");
  EXPECT_EQ(saved(*all), " -m esp");  // iptables-save leaves the whole range out
  EXPECT_EQ(listed(*built(R"({"protocol": "ah", "ahspi": 500})")), "ah spi:500");
  EXPECT_EQ(listed(*built(R"({"protocol": "ah", "ahspi": ":4294967295"})")), "ah ");
  const auto v6 = built(R"({"!ahspi": "5:6", "!ahlen": 3})");
  EXPECT_EQ(listed(*v6), "ah spis:!5:6length:!3");
  EXPECT_EQ(saved(*v6), " -m ah ! --ahspi 5:6 ! --ahlen 3");
  EXPECT_EQ(listed(*built(R"({"ahres": true})")), "ah  reserved");
  EXPECT_EQ(saved(*built(R"({"ahres": true})")), " -m ah --ahres");
  EXPECT_EQ(saved(*built(R"({"ahlen": 0})")), " -m ah");
}

}  // namespace
}  // namespace verdictd
