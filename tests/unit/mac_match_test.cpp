// -m mac: the sender's address of an Ethernet packet, never a match (negated
// or not) without an Ethernet header, the address forms iptables takes, the
// hooks, and the text iptables 1.8.9 lists and saves.
#include <gtest/gtest.h>

#include "extension/match.hpp"
#include "extension_builders.hpp"
#include "loader_errors.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;
using test::listed;
using test::saved;

constexpr MacAddress kSender = {0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc};

bool hits(const Match& match, LinkKind device, std::optional<MacAddress> source) {
  EvalState state;
  state.link.device = device;
  state.link.source = source;
  return match.matches(PacketView::parse({}), state);
}

TEST(Mac, SenderAddressAndNegation) {
  const auto mac = build(R"({"mac_source": "00:11:22:AA:bb:cc"})", "mac_source");
  const auto other = build(R"({"!mac_source": "00:11:22:aa:bb:cc"})", "!mac_source");
  EXPECT_TRUE(hits(*mac, LinkKind::kEthernet, kSender));
  EXPECT_FALSE(hits(*other, LinkKind::kEthernet, kSender));
  const MacAddress stranger = {0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcd};
  EXPECT_FALSE(hits(*mac, LinkKind::kEthernet, stranger));
  EXPECT_TRUE(hits(*other, LinkKind::kEthernet, stranger));
}

TEST(Mac, NoEthernetHeaderNeverMatches) {
  // mac_mt: not ARPHRD_ETHER, or no header left: false, whatever the negation.
  const auto other = build(R"({"!mac_source": "00:11:22:aa:bb:cc"})", "!mac_source");
  EXPECT_FALSE(hits(*other, LinkKind::kLoopback, MacAddress{}));
  EXPECT_FALSE(hits(*other, LinkKind::kOther, kSender));
  EXPECT_FALSE(hits(*other, LinkKind::kEthernet, std::nullopt));
}

TEST(Mac, AddressForms) {
  EXPECT_EQ(saved(*build(R"({"mac_source": "0:1:2:a:B:c"})", "mac_source")),
            " -m mac --mac-source 00:01:02:0a:0b:0c");
  for (const char* bad : {"00:11:22:aa:bb", "00:11:22:aa:bb:cc:dd", "00:11:22:aa:bb:ccc",
                          "00-11-22-aa-bb-cc", "00:11:22:aa:bb:xx", ""}) {
    EXPECT_EQ(build_error(std::string(R"({"mac_source": ")") + bad + "\"}", "mac_source"),
              std::string(R"(: expected a MAC address "XX:XX:XX:XX:XX:XX", got ")") + bad + "\"");
  }
}

TEST(Mac, NotInOutputOrPostrouting) {
  const std::string error = test::load_error(R"({"tables": {"filter": {"OUTPUT": {"rules": [
                {"match": {"mac_source": "00:11:22:aa:bb:cc"}, "target": "ACCEPT"}]}}}})");
  EXPECT_NE(error.find("cannot be used in OUTPUT"), std::string::npos) << error;
}

TEST(Mac, ListAndSaveAsIptables) {
  const auto mac = build(R"({"mac_source": "00:11:22:aa:BB:cc"})", "mac_source");
  const auto other = build(R"({"!mac_source": "00:11:22:aa:BB:cc"})", "!mac_source");
  EXPECT_EQ(listed(*mac), "MAC 00:11:22:aa:bb:cc");
  EXPECT_EQ(listed(*other), "MAC ! 00:11:22:aa:bb:cc");
  EXPECT_EQ(saved(*mac), " -m mac --mac-source 00:11:22:aa:bb:cc");
  EXPECT_EQ(saved(*other), " -m mac ! --mac-source 00:11:22:aa:bb:cc");
}

}  // namespace
}  // namespace verdictd
