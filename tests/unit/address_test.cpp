// IpAddress and IpPrefix: parsing every accepted form and refusing the rest,
// masking, the text iptables -L -n prints, and prefix containment.
#include "packet/address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace verdictd {
namespace {

IpAddress address(const std::string& text) {
  auto a = IpAddress::parse(text);
  if (!a) {
    throw std::invalid_argument("bad test address " + text);
  }
  return *a;
}

IpPrefix prefix(const std::string& text) {
  auto p = IpPrefix::parse(text);
  if (!p) {
    throw std::invalid_argument("bad test prefix " + text);
  }
  return *p;
}

TEST(IpAddress, ParsesIpv4IntoTheFirstFourBytes) {
  const IpAddress a = address("192.168.1.2");
  EXPECT_EQ(a.family, Family::kIPv4);
  EXPECT_EQ(a.size(), 4U);
  const std::array<std::uint8_t, 16> expected{192, 168, 1, 2};
  EXPECT_EQ(a.bytes, expected);
  EXPECT_EQ(a.to_string(), "192.168.1.2");
}

TEST(IpAddress, ParsesIpv6) {
  const IpAddress a = address("2001:db8::1");
  EXPECT_EQ(a.family, Family::kIPv6);
  EXPECT_EQ(a.size(), 16U);
  const std::array<std::uint8_t, 16> expected{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                              0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(a.bytes, expected);
  EXPECT_EQ(a.to_string(), "2001:db8::1");
}

TEST(IpAddress, Ipv4MappedAddressIsIpv6) {
  const IpAddress a = address("::ffff:10.0.0.1");
  EXPECT_EQ(a.family, Family::kIPv6);
  EXPECT_EQ(a.to_string(), "::ffff:10.0.0.1");
}

TEST(IpAddress, RefusesWhatIsNotAnAddress) {
  for (const char* text : {"", "10.0.0", "10.0.0.256", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1.",
                           "host", "::g", "1:2:3:4:5:6:7:8:9", "10.0.0.1/8"}) {
    EXPECT_FALSE(IpAddress::parse(text)) << text;
  }
}

TEST(IpAddress, RefusesAnEmbeddedNul) {
  EXPECT_FALSE(IpAddress::parse(std::string_view("10.0.0.1\0junk", 13)));
  EXPECT_FALSE(IpPrefix::parse(std::string_view("10.0.0.0/8\0junk", 15)));
}

TEST(IpAddress, FromRawBytes) {
  const std::uint8_t four[] = {10, 1, 2, 3};
  const IpAddress v4 = IpAddress::from_v4(four);
  EXPECT_EQ(v4, address("10.1.2.3"));
  std::array<std::uint8_t, 16> sixteen{};
  inet_pton(AF_INET6, "fe80::abcd", sixteen.data());
  const IpAddress v6 = IpAddress::from_v6(sixteen.data());
  EXPECT_EQ(v6, address("fe80::abcd"));
  EXPECT_NE(v6, v4);
}

TEST(IpAddress, FamiliesDifferEvenWithTheSameBytes) {
  // 0.0.0.0 and :: share all 16 bytes; only the family tells them apart.
  EXPECT_NE(address("0.0.0.0"), address("::"));
}

TEST(IpPrefix, LengthMasksTheAddress) {
  const IpPrefix p = prefix("10.1.2.3/8");
  EXPECT_EQ(p.address, address("10.0.0.0"));
  EXPECT_EQ(p.length, 8);
  EXPECT_EQ(p.to_string(), "10.0.0.0/8");
  EXPECT_EQ(prefix("192.168.3.255/23").to_string(), "192.168.2.0/23");
}

TEST(IpPrefix, HostPrintsWithoutLengthLikeIptablesList) {
  const IpPrefix bare = prefix("10.0.0.5");
  EXPECT_EQ(bare.length, 32);
  EXPECT_EQ(bare.to_string(), "10.0.0.5");
  EXPECT_EQ(prefix("10.0.0.5/32").to_string(), "10.0.0.5");
  const IpPrefix v6 = prefix("2001:db8::1");
  EXPECT_EQ(v6.length, 128);
  EXPECT_EQ(v6.to_string(), "2001:db8::1");
}

TEST(IpPrefix, EverythingPrintsWithZeroLength) {
  EXPECT_EQ(prefix("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(prefix("1.2.3.4/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(prefix("::/0").to_string(), "::/0");
  EXPECT_EQ(prefix("2001:db8::1/0").to_string(), "::/0");
}

TEST(IpPrefix, DottedMask) {
  EXPECT_EQ(prefix("192.168.1.77/255.255.255.0").to_string(), "192.168.1.0/24");
  EXPECT_EQ(prefix("192.168.1.77/255.255.254.0").length, 23);
  EXPECT_EQ(prefix("192.168.1.77/255.255.255.255").to_string(), "192.168.1.77");
  EXPECT_EQ(prefix("192.168.1.77/0.0.0.0").to_string(), "0.0.0.0/0");
}

TEST(IpPrefix, RefusesNonContiguousMask) {
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/255.0.255.0"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/0.255.255.255"));
}

TEST(IpPrefix, Ipv6) {
  EXPECT_EQ(prefix("2001:db8:1234::1/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(prefix("2001:db8::ff/120").to_string(), "2001:db8::/120");
  EXPECT_EQ(prefix("2001:db8::1/127").to_string(), "2001:db8::/127");
  EXPECT_EQ(prefix("2001:db8:1:2::/ffff:ffff::").to_string(), "2001:db8::/32");
  EXPECT_FALSE(IpPrefix::parse("2001:db8::/ffff:0:ffff::"));
}

TEST(IpPrefix, RefusesBadLengths) {
  for (const char* text :
       {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/ 8", "10.0.0.0/+8",
        "10.0.0.0/8/8", "/8", "10.0.0/8", "::/129", "::/", "10.0.0.0/ffff::", "::/255.0.0.0",
        "10.0.0.0/255.255.255.0x", "10.0.0.0/99999999999999999999"}) {
    EXPECT_FALSE(IpPrefix::parse(text)) << text;
  }
}

TEST(IpPrefix, ContainsAtByteAndBitBoundaries) {
  const IpPrefix eight = prefix("10.0.0.0/8");
  EXPECT_TRUE(eight.contains(address("10.0.0.0")));
  EXPECT_TRUE(eight.contains(address("10.255.255.255")));
  EXPECT_FALSE(eight.contains(address("11.0.0.0")));
  EXPECT_FALSE(eight.contains(address("9.255.255.255")));

  const IpPrefix odd = prefix("192.168.2.0/23");
  EXPECT_TRUE(odd.contains(address("192.168.2.0")));
  EXPECT_TRUE(odd.contains(address("192.168.3.255")));
  EXPECT_FALSE(odd.contains(address("192.168.4.0")));
  EXPECT_FALSE(odd.contains(address("192.168.1.255")));

  const IpPrefix host = prefix("10.0.0.5");
  EXPECT_TRUE(host.contains(address("10.0.0.5")));
  EXPECT_FALSE(host.contains(address("10.0.0.4")));
}

TEST(IpPrefix, ContainsOnlyItsOwnFamily) {
  EXPECT_TRUE(prefix("0.0.0.0/0").contains(address("203.0.113.9")));
  EXPECT_FALSE(prefix("0.0.0.0/0").contains(address("::1")));
  EXPECT_TRUE(prefix("::/0").contains(address("2001:db8::1")));
  EXPECT_FALSE(prefix("::/0").contains(address("0.0.0.0")));
  EXPECT_FALSE(prefix("::/0").contains(address("10.0.0.1")));
}

TEST(IpPrefix, ContainsIpv6) {
  const IpPrefix p = prefix("2001:db8::/33");
  EXPECT_TRUE(p.contains(address("2001:db8:7fff:ffff::1")));
  EXPECT_FALSE(p.contains(address("2001:db8:8000::")));
  const IpPrefix last_bit = prefix("2001:db8::/127");
  EXPECT_TRUE(last_bit.contains(address("2001:db8::1")));
  EXPECT_FALSE(last_bit.contains(address("2001:db8::2")));
}

// Every length against a plain 32-bit reference, on addresses that differ
// from the prefix in one bit each.
TEST(IpPrefix, ContainsAgreesWithShiftArithmeticForEveryIpv4Length) {
  const std::uint32_t base = 0xC0A8'8155;  // 192.168.129.85
  for (int length = 0; length <= 32; ++length) {
    in_addr base_in{htonl(base)};
    std::array<char, INET_ADDRSTRLEN> text{};
    inet_ntop(AF_INET, &base_in, text.data(), text.size());
    const IpPrefix p = prefix(std::string(text.data()) + "/" + std::to_string(length));
    for (int bit = 0; bit < 32; ++bit) {
      const std::uint32_t other = base ^ (1U << bit);
      const std::uint32_t net = htonl(other);
      std::uint8_t raw[4];
      std::memcpy(raw, &net, 4);
      const bool expected = length == 0 || ((other ^ base) >> (32 - length)) == 0;
      EXPECT_EQ(p.contains(IpAddress::from_v4(raw)), expected) << length << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace verdictd
