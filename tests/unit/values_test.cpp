// The value parsers: what each accepts, and the exact text of each refusal.
#include "extension/values.hpp"

#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"

namespace verdictd {
namespace {

// "SUFFIX: MESSAGE" of the FieldError `parse` throws, or "accepted".
template <typename Parse>
std::string refusal(Parse parse) {
  try {
    parse();
  } catch (const FieldError& e) {
    return e.pointer_suffix + ": " + e.what();
  }
  return "accepted";
}

std::string port_refusal(const Json& v) {
  return refusal([&] { parse_port_list(v); });
}

TEST(Values, ThrowExpectedDumpsTheValue) {
  EXPECT_EQ(refusal([] { throw_expected("a thing", Json("70000")); }),
            ": expected a thing, got \"70000\"");
  EXPECT_EQ(refusal([] { throw_expected("a thing", Json(70000)); }),
            ": expected a thing, got 70000");
  EXPECT_EQ(refusal([] { throw_expected("a thing", Json(true)); }), ": expected a thing, got true");
}

TEST(Values, PortsAndRanges) {
  EXPECT_EQ(parse_port_range(Json(22)).to_string(), "22");
  EXPECT_EQ(parse_port_range(Json("22")).to_string(), "22");
  EXPECT_EQ(parse_port_range(Json(0)).to_string(), "0");
  EXPECT_EQ(parse_port_range(Json(65535)).to_string(), "65535");
  EXPECT_EQ(parse_port_range(Json("1024:65535")).to_string(), "1024:65535");
  EXPECT_EQ(parse_port_range(Json(":1023")).to_string(), "0:1023");
  EXPECT_EQ(parse_port_range(Json("1024:")).to_string(), "1024:65535");
  EXPECT_EQ(parse_port_range(Json("5:5")).to_string(), "5");
  EXPECT_EQ(parse_port_range(Json("80:90")).to_string('-'), "80-90");
  const PortRange range = parse_port_range(Json("80:90"));
  EXPECT_TRUE(range.contains(80));
  EXPECT_TRUE(range.contains(90));
  EXPECT_FALSE(range.contains(91));
  EXPECT_FALSE(range.contains(79));
}

TEST(Values, BadPortsNameTheValue) {
  const std::string expected = R"(: expected a port 0-65535 or "lo:hi", got )";
  EXPECT_EQ(port_refusal(Json("70000")), expected + "\"70000\"");
  EXPECT_EQ(port_refusal(Json(70000)), expected + "70000");
  EXPECT_EQ(port_refusal(Json(true)), expected + "true");
  EXPECT_EQ(port_refusal(Json(-1)), expected + "-1");
  EXPECT_EQ(port_refusal(Json(22.5)), expected + "22.5");
  EXPECT_EQ(port_refusal(Json("no-such-service")),
            R"(: expected a port 0-65535 or a service name, got "no-such-service" (no such )"
            R"(service in the system's database))");
  EXPECT_EQ(port_refusal(Json("022")), expected + "\"022\"");
  EXPECT_EQ(port_refusal(Json("1:2:3")), expected + "\"1:2:3\"");
  EXPECT_EQ(port_refusal(Json("80-90")), expected + "\"80-90\"");
  EXPECT_EQ(port_refusal(Json(nullptr)), expected + "null");
  EXPECT_EQ(port_refusal(Json("9:5")), R"(: expected a range "lo:hi" with lo <= hi, got "9:5")");
}

TEST(Values, PortListsCountRangesAsTwo) {
  auto ports = parse_port_list(Json::parse(R"([80, "443", "8000:8080"])"));
  ASSERT_EQ(ports.size(), 3U);
  EXPECT_EQ(ports[2].to_string(), "8000:8080");
  EXPECT_EQ(parse_port_list(Json(22)).size(), 1U);
  // 13 ports and a range fill the 15 slots; one more port does not fit.
  Json full = Json::array();
  for (int p = 1; p <= 13; ++p) {
    full.push_back(p);
  }
  full.push_back("14:15");
  EXPECT_EQ(parse_port_list(full).size(), 14U);
  full.push_back(16);
  EXPECT_EQ(port_refusal(full),
            ": expected at most 15 ports, a range counting as two, got " + full.dump());
  // "5:5" is one port and takes one slot.
  Json singles = Json::array();
  for (int p = 1; p <= 14; ++p) {
    singles.push_back(p);
  }
  singles.push_back("5:5");
  EXPECT_EQ(parse_port_list(singles).size(), 15U);
  EXPECT_EQ(port_refusal(Json::array()), ": expected a list of 1 to 15 ports, got []");
}

TEST(Values, PortListElementsAreNamedByIndex) {
  EXPECT_EQ(port_refusal(Json::parse(R"([53, 99999])")),
            R"(/1: expected a port 0-65535 or "lo:hi", got 99999)");
  EXPECT_EQ(port_refusal(Json::parse(R"([53, 54, "9:5"])")),
            R"(/2: expected a range "lo:hi" with lo <= hi, got "9:5")");
}

TEST(Values, U16RangesNameWhatTheyAre) {
  EXPECT_EQ(parse_u16_range(Json("100:200"), "a length").to_string(), "100:200");
  EXPECT_EQ(refusal([] { parse_u16_range(Json("x"), "a length 0-65535 or \"lo:hi\""); }),
            R"(: expected a length 0-65535 or "lo:hi", got "x")");
}

TEST(Values, UnsignedNumbers) {
  EXPECT_EQ(parse_uint(Json(255), 255, "a TTL"), 255U);
  EXPECT_EQ(parse_uint(Json("7"), 255, "a TTL"), 7U);
  EXPECT_EQ(refusal([] { parse_uint(Json(256), 255, "a TTL 0-255"); }),
            ": expected a TTL 0-255, got 256");
  EXPECT_EQ(refusal([] { parse_uint(Json(-3), 255, "a TTL 0-255"); }),
            ": expected a TTL 0-255, got -3");
}

TEST(Values, ValueAndMask) {
  using Pair = std::pair<std::uint32_t, std::uint32_t>;
  EXPECT_EQ(parse_value_mask(Json(1), "m"), Pair(1, 0xffffffff));
  EXPECT_EQ(parse_value_mask(Json("0x1"), "m"), Pair(1, 0xffffffff));
  EXPECT_EQ(parse_value_mask(Json("0x1/0xff"), "m"), Pair(1, 0xff));
  EXPECT_EQ(parse_value_mask(Json("16/255"), "m"), Pair(16, 255));
  EXPECT_EQ(parse_value_mask(Json("0XFFFFFFFF"), "m"), Pair(0xffffffff, 0xffffffff));
  const std::string what = "a mark";
  EXPECT_EQ(refusal([&] { parse_value_mask(Json("0x100000000"), what); }),
            ": expected a mark, got \"0x100000000\"");
  EXPECT_EQ(refusal([&] { parse_value_mask(Json(4294967296), what); }),
            ": expected a mark, got 4294967296");
  EXPECT_EQ(refusal([&] { parse_value_mask(Json("0x1/"), what); }),
            ": expected a mark, got \"0x1/\"");
  EXPECT_EQ(refusal([&] { parse_value_mask(Json("0xg"), what); }),
            ": expected a mark, got \"0xg\"");
  // A leading zero is octal to iptables; refused rather than read otherwise.
  EXPECT_EQ(refusal([&] { parse_value_mask(Json("010"), what); }),
            ": expected a mark, got \"010\"");
}

TEST(Values, HexPrintsLikeIptables) {
  EXPECT_EQ(hex(0), "0x0");
  EXPECT_EQ(hex(0x1f), "0x1f");
  EXPECT_EQ(hex(0xffffffff), "0xffffffff");
}

TEST(Values, PrefixesAndAddresses) {
  const IpPrefix prefix = parse_prefix(Json("10.1.2.3/8"));
  EXPECT_EQ(prefix.length, 8);
  EXPECT_EQ(prefix.address.to_string(), "10.0.0.0");
  EXPECT_EQ(parse_prefix(Json("2001:db8::/32")).address.family, Family::kIPv6);
  EXPECT_EQ(parse_address(Json("10.0.0.1")).to_string(), "10.0.0.1");
  EXPECT_EQ(refusal([] { parse_prefix(Json("10.0.0.300")); }),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got \"10.0.0.300\"");
  EXPECT_EQ(refusal([] { parse_prefix(Json(10)); }),
            ": expected an IPv4 or IPv6 address or prefix (address/length), got 10");
  EXPECT_EQ(refusal([] { parse_address(Json("10.0.0.0/8")); }),
            ": expected an IPv4 or IPv6 address, got \"10.0.0.0/8\"");
}

TEST(Values, InterfaceNames) {
  EXPECT_EQ(parse_interface(Json("eth0")), "eth0");
  EXPECT_EQ(parse_interface(Json("veth+")), "veth+");
  EXPECT_EQ(parse_interface(Json("abcdefghijklmno")), "abcdefghijklmno");
  const std::string expected =
      ": expected an interface name of 1 to 15 characters, \"+\" at the end for a prefix, got ";
  EXPECT_EQ(refusal([] { parse_interface(Json("abcdefghijklmnop")); }),
            expected + "\"abcdefghijklmnop\"");
  EXPECT_EQ(refusal([] { parse_interface(Json("")); }), expected + "\"\"");
  EXPECT_EQ(refusal([] { parse_interface(Json("eth 0")); }), expected + "\"eth 0\"");
  EXPECT_EQ(refusal([] { parse_interface(Json("a/b")); }), expected + "\"a/b\"");
  EXPECT_EQ(refusal([] { parse_interface(Json(1)); }), expected + "1");
}

TEST(Values, StringsAndObjectKeys) {
  const Json text("x");
  EXPECT_EQ(&expect_string(text, "a name"), &text.get_ref<const std::string&>());
  EXPECT_EQ(refusal([] { expect_string(Json(1), "a name"); }), ": expected a name, got 1");
  expect_object_keys(Json::parse(R"({"a": 1})"), {"a", "b"}, "an object");
  EXPECT_EQ(refusal([] {
              expect_object_keys(Json::parse(R"({"a": 1, "c/d": 2})"), {"a", "b"}, "an object");
            }),
            "/c~1d: unknown key \"c/d\"; expected a, b");
  EXPECT_EQ(refusal([] { expect_object_keys(Json::array(), {"a"}, "an object"); }),
            ": expected an object, got []");
}

TEST(Values, IcmpTypes) {
  constexpr std::array<IcmpTypeName, 2> kNames = {
      {{"echo-request", {8, 0, 0xff}}, {"port-unreachable", {3, 3, 3}}}};
  const IcmpType echo = parse_icmp_type(Json("echo-request"), kNames, "t");
  EXPECT_EQ(echo.type, 8);
  EXPECT_FALSE(echo.has_code());
  EXPECT_EQ(echo.to_string(), "8");
  const IcmpType port = parse_icmp_type(Json("port-unreachable"), kNames, "t");
  EXPECT_TRUE(port.has_code());
  EXPECT_EQ(port.to_string(), "3/3");
  EXPECT_EQ(parse_icmp_type(Json(11), kNames, "t").to_string(), "11");
  EXPECT_EQ(parse_icmp_type(Json("11"), kNames, "t").to_string(), "11");
  EXPECT_EQ(parse_icmp_type(Json("3/1"), kNames, "t").to_string(), "3/1");
  const std::string what = "an ICMP type";
  EXPECT_EQ(refusal([&] { parse_icmp_type(Json("3/256"), kNames, what); }),
            ": expected an ICMP type, got \"3/256\"");
  EXPECT_EQ(refusal([&] { parse_icmp_type(Json(256), kNames, what); }),
            ": expected an ICMP type, got 256");
  EXPECT_EQ(refusal([&] { parse_icmp_type(Json("echo"), kNames, what); }),
            ": expected an ICMP type, got \"echo\"");
}

}  // namespace
}  // namespace verdictd
