// DNAT, SNAT, MASQUERADE, REDIRECT and NETMAP: every way rules write them,
// their errors, what they ask the daemon to bind at each hook, and their
// listing and iptables-save text as iptables-legacy 1.8.9 prints them.
#include <gtest/gtest.h>

#include <vector>

#include "conntrack/flow.hpp"
#include "extension/build_extensions.hpp"
#include "extension/target.hpp"
#include "extension_builders.hpp"
#include "loader_errors.hpp"
#include "nat/nat_context.hpp"
#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"

namespace verdictd {
namespace {

// A target in a nat rule whose "match" object is `match_text`.
std::unique_ptr<Target> build(const std::string& target_text,
                              const std::string& match_text = "{}") {
  return test::build(target_text, TableId::kNat, match_text);
}

std::string build_error(const std::string& target_text, const std::string& match_text = "{}") {
  return test::build_error(target_text, TableId::kNat, match_text);
}

// The listing's end and the iptables-save text of a target.
std::string texts(const std::string& target_text, const std::string& match_text = "{}") {
  auto target = build(target_text, match_text);
  return target->list_extra() + " | " + target->save();
}

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

struct BindCall {
  std::uint8_t manip = 0;
  NatRange range;
};

class FakeNat final : public NatContext {
 public:
  bool bind(PacketConntrack& /*ct*/, std::uint8_t manip, const NatRange& range) override {
    binds.push_back(BindCall{manip, range});
    return bind_result;
  }
  void note_unbound_drop() override {}
  [[nodiscard]] std::optional<IpAddress> masquerade_address(
      std::uint32_t out_ifindex, const IpAddress& destination) const override {
    asked_out_ifindex = out_ifindex;
    asked_destination = destination;
    return interface_address;
  }
  [[nodiscard]] std::optional<IpAddress> redirect_address(
      std::uint32_t in_ifindex, const IpAddress& destination) const override {
    asked_in_ifindex = in_ifindex;
    asked_redirect_destination = destination;
    return interface_address;
  }

  bool bind_result = true;
  std::optional<IpAddress> interface_address;
  std::vector<BindCall> binds;
  mutable std::uint32_t asked_out_ifindex = 0;
  mutable std::uint32_t asked_in_ifindex = 0;
  mutable IpAddress asked_destination;
  mutable std::optional<IpAddress> asked_redirect_destination;
};

PacketView packet(const char* source, const char* destination) {
  PacketView p;
  p.has_network = true;
  p.source = ip(source);
  p.destination = ip(destination);
  p.family = p.source.family;
  return p;
}

// Runs `target` at `hook` on a tracked packet from 10.1.0.7 to 10.2.0.1
// (or the IPv6 `p`), with the fake context.
struct NatRun {
  FakeNat nat;
  PacketConntrack ct;
  EvalState state;
  NatRun() {
    state.conntrack = &ct;
    state.nat = &nat;
    state.in_ifindex = 3;
    state.out_ifindex = 4;
  }
  TargetAction apply(const Target& target, Hook hook,
                     const PacketView& p = packet("10.1.0.7", "10.2.0.1")) {
    state.hook = hook;
    return target.apply(p, state);
  }
};

TEST(NatTargetText, DnatAsIptablesPrintsIt) {
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2"}})"),
            "to:10.2.0.2 | -j DNAT --to-destination 10.2.0.2");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2-10.2.0.9"}})"),
            "to:10.2.0.2-10.2.0.9 | -j DNAT --to-destination 10.2.0.2-10.2.0.9");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2-10.2.0.2"}})"),
            "to:10.2.0.2 | -j DNAT --to-destination 10.2.0.2");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2:8080"}})", R"({"protocol": "tcp"})"),
            "to:10.2.0.2:8080 | -j DNAT --to-destination 10.2.0.2:8080");
  EXPECT_EQ(
      texts(R"({"DNAT": {"to_destination": "10.2.0.2:8080-8080"}})", R"({"protocol": "tcp"})"),
      "to:10.2.0.2:8080 | -j DNAT --to-destination 10.2.0.2:8080");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2:8000-8009", "random": true,
                              "persistent": true}})",
                  R"({"protocol": "udp"})"),
            "to:10.2.0.2:8000-8009 random persistent | -j DNAT --to-destination "
            "10.2.0.2:8000-8009 --random --persistent");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2-10.2.0.9:8000-8009"}})",
                  R"({"protocol": "tcp"})"),
            "to:10.2.0.2-10.2.0.9:8000-8009 | -j DNAT --to-destination "
            "10.2.0.2-10.2.0.9:8000-8009");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": ":8080"}})", R"({"protocol": "tcp"})"),
            "to::8080 | -j DNAT --to-destination :8080");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2:0-10"}})", R"({"protocol": "tcp"})"),
            "to:10.2.0.2:0-10 | -j DNAT --to-destination 10.2.0.2:0-10");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2", "random": false}})"),
            "to:10.2.0.2 | -j DNAT --to-destination 10.2.0.2");
  for (const char* protocol : {R"("sctp")", "132", "33", R"("icmp")", "6", "17"}) {
    EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "10.2.0.2:8080"}})",
                    std::string(R"({"protocol": )") + protocol + "}"),
              "to:10.2.0.2:8080 | -j DNAT --to-destination 10.2.0.2:8080")
        << protocol;
  }
}

TEST(NatTargetText, DnatIpv6AsIp6tablesPrintsIt) {
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "[fd02::2]:8080"}})", R"({"protocol": "tcp"})"),
            "to:[fd02::2]:8080 | -j DNAT --to-destination [fd02::2]:8080");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "fd02::2"}})"),
            "to:fd02::2 | -j DNAT --to-destination fd02::2");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "[fd02::2]"}})"),
            "to:fd02::2 | -j DNAT --to-destination fd02::2");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "fd02::2-fd02::9"}})"),
            "to:fd02::2-fd02::9 | -j DNAT --to-destination fd02::2-fd02::9");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "[fd02::2-fd02::9]:8000-8009"}})",
                  R"({"protocol": "tcp"})"),
            "to:[fd02::2-fd02::9]:8000-8009 | -j DNAT --to-destination "
            "[fd02::2-fd02::9]:8000-8009");
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "[fd02::2]:8000-8009", "random": true,
                              "persistent": true}})",
                  R"({"protocol": "udp"})"),
            "to:[fd02::2]:8000-8009 random persistent | -j DNAT --to-destination "
            "[fd02::2]:8000-8009 --random --persistent");
  // Without brackets every colon belongs to the address, as ip6tables reads it.
  EXPECT_EQ(texts(R"({"DNAT": {"to_destination": "fd02::2:80"}})"),
            "to:fd02::2:80 | -j DNAT --to-destination fd02::2:80");
}

TEST(NatTargetText, SnatAsIptablesPrintsIt) {
  EXPECT_EQ(texts(R"({"SNAT": {"to_source": "10.3.0.1"}})"),
            "to:10.3.0.1 | -j SNAT --to-source 10.3.0.1");
  EXPECT_EQ(texts(R"({"SNAT": {"to_source": "10.3.0.1-10.3.0.5:1024-2000", "random": true,
                              "random_fully": true, "persistent": true}})",
                  R"({"protocol": "tcp"})"),
            "to:10.3.0.1-10.3.0.5:1024-2000 random random-fully persistent | -j SNAT --to-source "
            "10.3.0.1-10.3.0.5:1024-2000 --random --random-fully --persistent");
  EXPECT_EQ(texts(R"({"SNAT": {"to_source": "10.3.0.1", "random_fully": true}})"),
            "to:10.3.0.1 random-fully | -j SNAT --to-source 10.3.0.1 --random-fully");
  EXPECT_EQ(texts(R"({"SNAT": {"to_source": "10.0.0.1", "persistent": true, "random": true}})"),
            "to:10.0.0.1 random persistent | -j SNAT --to-source 10.0.0.1 --random --persistent");
  EXPECT_EQ(texts(R"({"SNAT": {"to_source": "fd03::1"}})"),
            "to:fd03::1 | -j SNAT --to-source fd03::1");
}

TEST(NatTargetText, MasqueradeAsIptablesPrintsIt) {
  EXPECT_EQ(texts(R"("MASQUERADE")"), " | -j MASQUERADE");
  EXPECT_EQ(texts(R"({"MASQUERADE": {}})"), " | -j MASQUERADE");
  EXPECT_EQ(texts(R"({"MASQUERADE": {"to_ports": "1024-2000", "random": true,
                                    "random_fully": true}})",
                  R"({"protocol": "tcp"})"),
            "masq ports: 1024-2000 random random-fully | -j MASQUERADE --to-ports 1024-2000 "
            "--random --random-fully");
  EXPECT_EQ(texts(R"({"MASQUERADE": {"to_ports": 5000}})", R"({"protocol": "tcp"})"),
            "masq ports: 5000 | -j MASQUERADE --to-ports 5000");
  EXPECT_EQ(texts(R"({"MASQUERADE": {"to_ports": "0"}})", R"({"protocol": "tcp"})"),
            "masq ports: 0 | -j MASQUERADE --to-ports 0");
  EXPECT_EQ(texts(R"({"MASQUERADE": {"random": true}})", R"({"protocol": "udp"})"),
            "random | -j MASQUERADE --random");
  EXPECT_EQ(texts(R"({"MASQUERADE": {"random_fully": true}})"),
            "random-fully | -j MASQUERADE --random-fully");
}

TEST(NatTargetText, RedirectAsIptablesPrintsIt) {
  EXPECT_EQ(texts(R"("REDIRECT")"), " | -j REDIRECT");
  EXPECT_EQ(texts(R"({"REDIRECT": {"to_ports": 8080}})", R"({"protocol": "tcp"})"),
            "redir ports 8080 | -j REDIRECT --to-ports 8080");
  EXPECT_EQ(
      texts(R"({"REDIRECT": {"to_ports": "8080-8090", "random": true}})", R"({"protocol": "tcp"})"),
      "redir ports 8080-8090 random | -j REDIRECT --to-ports 8080-8090 --random");
  EXPECT_EQ(texts(R"({"REDIRECT": {"random": true}})"), "random | -j REDIRECT --random");
  EXPECT_EQ(texts(R"({"REDIRECT": {"to_ports": 80}})", R"({"protocol": "icmp"})"),
            "redir ports 80 | -j REDIRECT --to-ports 80");
}

TEST(NatTargetText, NetmapAsIptablesPrintsIt) {
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "10.9.0.0/24"}})"),
            "to:10.9.0.0/24 | -j NETMAP --to 10.9.0.0/24");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "10.9.0.0/255.255.0.0"}})"),
            "to:10.9.0.0/16 | -j NETMAP --to 10.9.0.0/16");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "10.9.0.5"}})"),
            "to:10.9.0.5/32 | -j NETMAP --to 10.9.0.5/32");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "10.9.0.5/24"}})"),
            "to:10.9.0.0/24 | -j NETMAP --to 10.9.0.0/24");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "10.9.0.5/0"}})"),
            "to:0.0.0.0/0 | -j NETMAP --to 0.0.0.0/0");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "fd09::/64"}})"), "to:fd09::/64 | -j NETMAP --to fd09::/64");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "fd09::5"}})"),
            "to:fd09::5/128 | -j NETMAP --to fd09::5/128");
  EXPECT_EQ(texts(R"({"NETMAP": {"to": "fd09::5/64"}})"),
            "to:fd09::/64 | -j NETMAP --to fd09::/64");
}

TEST(NatTargetErrors, Options) {
  EXPECT_EQ(build_error(R"("DNAT")"), R"(: DNAT needs "to_destination")");
  EXPECT_EQ(build_error(R"({"DNAT": {"random": true}})"), R"(: DNAT needs "to_destination")");
  EXPECT_EQ(build_error(R"({"DNAT": "10.2.0.2"})"),
            R"(: expected an object with to_destination, random, persistent, got "10.2.0.2")");
  EXPECT_EQ(
      build_error(R"({"DNAT": {"to_destination": "10.2.0.2", "random_fully": true}})"),
      R"(/random_fully: unknown key "random_fully"; expected to_destination, random, persistent)");
  EXPECT_EQ(build_error(R"({"DNAT": {"to_destination": "10.2.0.2", "random": 1}})"),
            "/random: expected true or false, got 1");
  EXPECT_EQ(build_error(R"("SNAT")"), R"(: SNAT needs "to_source")");
  EXPECT_EQ(
      build_error(R"({"SNAT": {"to_destination": "10.2.0.2"}})"),
      R"(/to_destination: unknown key "to_destination"; expected to_source, random, random_fully, persistent)");
  EXPECT_EQ(build_error(R"({"MASQUERADE": {"to_source": "10.2.0.2"}})"),
            R"(/to_source: unknown key "to_source"; expected to_ports, random, random_fully)");
  EXPECT_EQ(build_error(R"({"MASQUERADE": true})"),
            R"(: expected an object with to_ports, random, random_fully, got true)");
  EXPECT_EQ(build_error(R"({"REDIRECT": {"random_fully": true}})"),
            R"(/random_fully: unknown key "random_fully"; expected to_ports, random)");
  EXPECT_EQ(build_error(R"("NETMAP")"), R"(: NETMAP needs "to")");
  EXPECT_EQ(
      build_error(R"({"NETMAP": {"to": "10.9.0.0/33"}})"),
      "/to: expected an IPv4 or IPv6 address or prefix (address/length), got \"10.9.0.0/33\"");
  EXPECT_EQ(build_error(R"({"NETMAP": {"to": "10.9.0.0/255.0.255.0"}})"),
            "/to: expected an IPv4 or IPv6 address or prefix (address/length), got "
            "\"10.9.0.0/255.0.255.0\"");
  EXPECT_EQ(build_error(R"({"NETMAP": {"to": "10.9.0.0/24", "random": true}})"),
            R"(/random: unknown key "random"; expected to)");
}

TEST(NatTargetErrors, PortsNeedAProtocolWithPorts) {
  constexpr const char* kNeed =
      R"(: ports need the rule to match "protocol" "tcp", "udp", "sctp", 33 (dccp) or "icmp")";
  EXPECT_EQ(build_error(R"({"DNAT": {"to_destination": "10.2.0.2:8080"}})"),
            std::string("/to_destination") + kNeed);
  EXPECT_EQ(build_error(R"({"SNAT": {"to_source": "[fd03::1]:1024-2000"}})"),
            std::string("/to_source") + kNeed);
  EXPECT_EQ(build_error(R"({"MASQUERADE": {"to_ports": 5000}})"), std::string("/to_ports") + kNeed);
  // iptables refuses UDP-Lite here, and a negated protocol is not one with ports.
  EXPECT_EQ(build_error(R"({"REDIRECT": {"to_ports": 8080}})", R"({"protocol": "udplite"})"),
            std::string("/to_ports") + kNeed);
  EXPECT_EQ(build_error(R"({"REDIRECT": {"to_ports": 8080}})", R"({"!protocol": "tcp"})"),
            std::string("/to_ports") + kNeed);
  EXPECT_EQ(build_error(R"({"REDIRECT": {"to_ports": 8080}})", R"({"protocol": "ipv6-icmp"})"),
            std::string("/to_ports") + kNeed);
}

TEST(NatTargetErrors, BadRangesAndAddresses) {
  const std::string tcp = R"({"protocol": "tcp"})";
  const std::string what =
      R"(expected an address or "ADDR-ADDR", then optionally ":PORT" or ":PORT-PORT" ("10.0.0.1:8080", "[fd00::1]:8080", ":8080"), got )";
  const std::string ports = R"(expected a port 0-65535 or a range "lo-hi", got )";
  const auto dnat_error = [&](const std::string& value) {
    return build_error(R"({"DNAT": {"to_destination": )" + value + "}}", tcp);
  };
  EXPECT_EQ(dnat_error(R"("10.2.0.2/24")"), "/to_destination: " + what + R"("10.2.0.2/24")");
  EXPECT_EQ(dnat_error(R"("")"), "/to_destination: " + what + R"("")");
  EXPECT_EQ(dnat_error("167903234"), "/to_destination: " + what + "167903234");
  EXPECT_EQ(dnat_error(R"("10.2.0.256")"), "/to_destination: " + what + R"("10.2.0.256")");
  // Two colons make an IPv6 address, as iptables reads them.
  EXPECT_EQ(dnat_error(R"("10.2.0.2:80:90")"), "/to_destination: " + what + R"("10.2.0.2:80:90")");
  EXPECT_EQ(dnat_error(R"("10.2.0.2:")"), "/to_destination: " + ports + R"("10.2.0.2:")");
  EXPECT_EQ(dnat_error(R"("10.2.0.2:65536")"), "/to_destination: " + ports + R"("10.2.0.2:65536")");
  EXPECT_EQ(dnat_error(R"("10.2.0.2:08080")"), "/to_destination: " + ports + R"("10.2.0.2:08080")");
  EXPECT_EQ(dnat_error(R"("10.2.0.2:http")"), "/to_destination: " + ports + R"("10.2.0.2:http")");
  EXPECT_EQ(
      dnat_error(R"("10.2.0.2:90-80")"),
      R"(/to_destination: expected a port range "lo-hi" with lo <= hi, got "10.2.0.2:90-80")");
  EXPECT_EQ(
      dnat_error(R"("10.2.0.9-10.2.0.2")"),
      R"(/to_destination: expected an address range "lo-hi" with lo <= hi, got "10.2.0.9-10.2.0.2")");
  EXPECT_EQ(
      dnat_error(R"("10.2.0.2-fd02::9")"),
      R"(/to_destination: expected both ends of an address range in one family, got "10.2.0.2-fd02::9")");
  // ip6tables takes a range of IPv6 addresses inside one pair of brackets.
  EXPECT_EQ(dnat_error(R"("[fd02::2]-[fd02::9]:8000-8009")"),
            "/to_destination: " + what + R"("[fd02::2]-[fd02::9]:8000-8009")");
  EXPECT_EQ(dnat_error(R"("[fd02::2:8080")"), "/to_destination: " + what + R"("[fd02::2:8080")");
  EXPECT_EQ(dnat_error(R"("[fd02::2]:")"), "/to_destination: " + ports + R"("[fd02::2]:")");
  EXPECT_EQ(dnat_error(R"("[]:8080")"), "/to_destination: " + what + R"("[]:8080")");
  EXPECT_EQ(
      dnat_error(R"("[10.2.0.2]:8080")"),
      R"(/to_destination: expected brackets around IPv6 addresses only, got "[10.2.0.2]:8080")");
  EXPECT_EQ(build_error(R"({"REDIRECT": {"to_ports": "80:90"}})", tcp),
            "/to_ports: " + ports + R"("80:90")");
  EXPECT_EQ(build_error(R"({"REDIRECT": {"to_ports": "90-80"}})", tcp),
            R"(/to_ports: expected a port range "lo-hi" with lo <= hi, got "90-80")");
  EXPECT_EQ(build_error(R"({"MASQUERADE": {"to_ports": 70000}})", tcp),
            "/to_ports: " + ports + "70000");
  EXPECT_EQ(build_error(R"({"MASQUERADE": {"to_ports": -1}})", tcp), "/to_ports: " + ports + "-1");
  EXPECT_EQ(build_error(R"({"MASQUERADE": {"to_ports": [80]}})", tcp),
            "/to_ports: " + ports + "[80]");
}

TEST(NatTargetApply, DnatAndSnatBindTheirSide) {
  NatRun run;
  auto dnat = build(R"({"DNAT": {"to_destination": "10.2.0.2-10.2.0.9:8000-8009",
                                 "random": true, "persistent": true}})",
                    R"({"protocol": "tcp"})");
  EXPECT_EQ(run.apply(*dnat, Hook::kPrerouting), TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 1U);
  const BindCall& d = run.nat.binds[0];
  EXPECT_EQ(d.manip, natmanip::kDestination);
  EXPECT_TRUE(d.range.has_addresses);
  EXPECT_EQ(d.range.min_address, ip("10.2.0.2"));
  EXPECT_EQ(d.range.max_address, ip("10.2.0.9"));
  EXPECT_TRUE(d.range.has_ports);
  EXPECT_EQ(d.range.min_port, 8000);
  EXPECT_EQ(d.range.max_port, 8009);
  EXPECT_TRUE(d.range.random);
  EXPECT_FALSE(d.range.random_fully);
  EXPECT_TRUE(d.range.persistent);
  EXPECT_FALSE(d.range.netmap_prefix_length);
  EXPECT_EQ(d.range.masquerade_ifindex, 0U);

  auto snat = build(R"({"SNAT": {"to_source": "10.3.0.1", "random_fully": true}})");
  EXPECT_EQ(run.apply(*snat, Hook::kPostrouting), TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 2U);
  const BindCall& s = run.nat.binds[1];
  EXPECT_EQ(s.manip, natmanip::kSource);
  EXPECT_EQ(s.range.min_address, ip("10.3.0.1"));
  EXPECT_EQ(s.range.max_address, ip("10.3.0.1"));
  EXPECT_FALSE(s.range.has_ports);
  EXPECT_FALSE(s.range.random);
  EXPECT_TRUE(s.range.random_fully);

  auto port_only = build(R"({"DNAT": {"to_destination": ":8080"}})", R"({"protocol": "tcp"})");
  EXPECT_EQ(run.apply(*port_only, Hook::kOutput), TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 3U);
  EXPECT_FALSE(run.nat.binds[2].range.has_addresses);
  EXPECT_EQ(run.nat.binds[2].range.min_port, 8080);
}

TEST(NatTargetApply, BindFailureDrops) {
  NatRun run;
  run.nat.bind_result = false;
  EXPECT_EQ(run.apply(*build(R"({"DNAT": {"to_destination": "10.2.0.2"}})"), Hook::kPrerouting),
            TargetAction::kDrop);
  EXPECT_EQ(run.apply(*build(R"({"SNAT": {"to_source": "10.3.0.1"}})"), Hook::kInput),
            TargetAction::kDrop);
  run.nat.interface_address = ip("10.4.0.1");
  EXPECT_EQ(run.apply(*build(R"("MASQUERADE")"), Hook::kPostrouting), TargetAction::kDrop);
  EXPECT_EQ(run.apply(*build(R"("REDIRECT")"), Hook::kPrerouting), TargetAction::kDrop);
  EXPECT_EQ(run.apply(*build(R"({"NETMAP": {"to": "10.9.0.0/24"}})"), Hook::kOutput),
            TargetAction::kDrop);
  EXPECT_EQ(run.nat.binds.size(), 5U);
}

TEST(NatTargetApply, WithoutTrackingNothingIsBound) {
  for (const char* target :
       {R"({"DNAT": {"to_destination": "10.2.0.2"}})", R"({"SNAT": {"to_source": "10.3.0.1"}})",
        R"("MASQUERADE")", R"("REDIRECT")", R"({"NETMAP": {"to": "10.9.0.0/24"}})"}) {
    NatRun no_context;
    no_context.state.nat = nullptr;
    EXPECT_EQ(no_context.apply(*build(target), Hook::kPostrouting), TargetAction::kAccept)
        << target;
    NatRun no_conntrack;
    no_conntrack.state.conntrack = nullptr;
    EXPECT_EQ(no_conntrack.apply(*build(target), Hook::kPostrouting), TargetAction::kAccept)
        << target;
    EXPECT_TRUE(no_conntrack.nat.binds.empty()) << target;
  }
}

TEST(NatTargetApply, AnAddressOfTheOtherFamilyLeavesThePacketAlone) {
  NatRun run;
  const PacketView v6 = packet("fd01::7", "fd02::1");
  EXPECT_EQ(run.apply(*build(R"({"DNAT": {"to_destination": "10.2.0.2"}})"), Hook::kPrerouting, v6),
            TargetAction::kContinue);
  EXPECT_EQ(run.apply(*build(R"({"SNAT": {"to_source": "fd03::1"}})"), Hook::kPostrouting),
            TargetAction::kContinue);
  EXPECT_EQ(run.apply(*build(R"({"NETMAP": {"to": "fd09::/64"}})"), Hook::kPrerouting),
            TargetAction::kContinue);
  EXPECT_TRUE(run.nat.binds.empty());
  // A port-only DNAT serves both families.
  EXPECT_EQ(run.apply(*build(R"({"DNAT": {"to_destination": ":80"}})", R"({"protocol": "tcp"})"),
                      Hook::kPrerouting, v6),
            TargetAction::kAccept);
  EXPECT_EQ(run.nat.binds.size(), 1U);
}

TEST(NatTargetApply, MasqueradeTakesTheOutInterfaceAddress) {
  NatRun run;
  auto masquerade = build(R"({"MASQUERADE": {"to_ports": "1024-2000", "random": true}})",
                          R"({"protocol": "udp"})");
  EXPECT_EQ(run.apply(*masquerade, Hook::kPostrouting), TargetAction::kDrop);
  EXPECT_EQ(run.nat.asked_out_ifindex, 4U);
  EXPECT_EQ(run.nat.asked_destination, ip("10.2.0.1"));
  EXPECT_TRUE(run.nat.binds.empty());

  run.nat.interface_address = ip("10.4.0.1");
  EXPECT_EQ(run.apply(*masquerade, Hook::kPostrouting), TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 1U);
  const BindCall& m = run.nat.binds[0];
  EXPECT_EQ(m.manip, natmanip::kSource);
  EXPECT_EQ(m.range.min_address, ip("10.4.0.1"));
  EXPECT_EQ(m.range.max_address, ip("10.4.0.1"));
  EXPECT_TRUE(m.range.has_ports);
  EXPECT_EQ(m.range.min_port, 1024);
  EXPECT_EQ(m.range.max_port, 2000);
  EXPECT_TRUE(m.range.random);
  EXPECT_EQ(m.range.masquerade_ifindex, 4U);
}

TEST(NatTargetApply, RedirectGoesToLoopbackFromOutputElseToTheInInterface) {
  NatRun run;
  auto redirect = build(R"({"REDIRECT": {"to_ports": 8080}})", R"({"protocol": "tcp"})");
  EXPECT_EQ(run.apply(*redirect, Hook::kOutput), TargetAction::kAccept);
  EXPECT_EQ(run.apply(*redirect, Hook::kOutput, packet("fd01::7", "fd02::1")),
            TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 2U);
  EXPECT_EQ(run.nat.binds[0].manip, natmanip::kDestination);
  EXPECT_EQ(run.nat.binds[0].range.min_address, ip("127.0.0.1"));
  EXPECT_EQ(run.nat.binds[0].range.max_address, ip("127.0.0.1"));
  EXPECT_EQ(run.nat.binds[0].range.min_port, 8080);
  EXPECT_EQ(run.nat.binds[0].range.max_port, 8080);
  EXPECT_EQ(run.nat.binds[1].range.min_address, ip("::1"));
  EXPECT_FALSE(run.nat.asked_redirect_destination);

  // From outside: the in interface's address, or a drop without one.
  EXPECT_EQ(run.apply(*redirect, Hook::kPrerouting, packet("fd01::7", "fd02::1")),
            TargetAction::kDrop);
  EXPECT_EQ(run.nat.asked_in_ifindex, 3U);
  EXPECT_EQ(run.nat.asked_redirect_destination, ip("fd02::1"));
  EXPECT_EQ(run.nat.binds.size(), 2U);
  run.nat.interface_address = ip("10.5.0.1");
  EXPECT_EQ(run.apply(*build(R"("REDIRECT")"), Hook::kPrerouting), TargetAction::kAccept);
  ASSERT_EQ(run.nat.binds.size(), 3U);
  EXPECT_EQ(run.nat.asked_redirect_destination, ip("10.2.0.1"));
  EXPECT_EQ(run.nat.binds[2].manip, natmanip::kDestination);
  EXPECT_EQ(run.nat.binds[2].range.min_address, ip("10.5.0.1"));
  EXPECT_FALSE(run.nat.binds[2].range.has_ports);
}

TEST(NatTargetApply, NetmapKeepsTheHostBitsOfTheSideItMaps) {
  NatRun run;
  auto netmap = build(R"({"NETMAP": {"to": "10.9.0.0/20"}})");
  const PacketView p = packet("172.16.33.44", "192.168.77.88");
  for (Hook hook : {Hook::kPrerouting, Hook::kOutput}) {
    EXPECT_EQ(run.apply(*netmap, hook, p), TargetAction::kAccept);
    ASSERT_FALSE(run.nat.binds.empty());
    EXPECT_EQ(run.nat.binds.back().manip, natmanip::kDestination);
    EXPECT_EQ(run.nat.binds.back().range.min_address, ip("10.9.13.88"));  // 77 & 0x0f = 13
    EXPECT_EQ(run.nat.binds.back().range.max_address, ip("10.9.13.88"));
    EXPECT_EQ(run.nat.binds.back().range.netmap_prefix_length, 20);
  }
  for (Hook hook : {Hook::kPostrouting, Hook::kInput}) {
    EXPECT_EQ(run.apply(*netmap, hook, p), TargetAction::kAccept);
    EXPECT_EQ(run.nat.binds.back().manip, natmanip::kSource);
    EXPECT_EQ(run.nat.binds.back().range.min_address, ip("10.9.1.44"));  // 33 & 0x0f = 1
  }
  auto netmap6 = build(R"({"NETMAP": {"to": "fd09:1:2:3::/60"}})");
  EXPECT_EQ(run.apply(*netmap6, Hook::kPrerouting, packet("fd01::7", "fd02:aaaa:bbbb:cccc::1")),
            TargetAction::kAccept);
  EXPECT_EQ(run.nat.binds.back().range.min_address, ip("fd09:1:2:c::1"));
  EXPECT_EQ(run.nat.binds.back().range.netmap_prefix_length, 60);
  auto whole = build(R"({"NETMAP": {"to": "10.9.0.5"}})");
  EXPECT_EQ(run.apply(*whole, Hook::kPrerouting, p), TargetAction::kAccept);
  EXPECT_EQ(run.nat.binds.back().range.min_address, ip("10.9.0.5"));
}

using test::load_error;

TEST(NatTargetLoader, TablesAndHooks) {
  EXPECT_EQ(load_error(R"({"tables": {"filter": {"INPUT": {"rules": [
                {"target": {"DNAT": {"to_destination": "10.2.0.2"}}}]}}}})"),
            "r.json:2:37: /tables/filter/INPUT/rules/0/target/DNAT: the filter table does not "
            "allow DNAT");
  for (const char* target : {R"({"SNAT": {"to_source": "10.3.0.1"}})", R"("MASQUERADE")",
                             R"("REDIRECT")", R"({"NETMAP": {"to": "10.9.0.0/24"}})"}) {
    const std::string error =
        load_error(std::string(R"({"tables": {"mangle": {"INPUT": {"rules": [{"target": )") +
                   target + "}]}}}}");
    EXPECT_NE(error.find("the mangle table does not allow"), std::string::npos) << error;
  }
  struct Refused {
    const char* chain;
    const char* target;
    const char* name;
  };
  for (const Refused& r :
       {Refused{"POSTROUTING", R"({"DNAT": {"to_destination": "10.2.0.2"}})", "DNAT"},
        Refused{"INPUT", R"({"DNAT": {"to_destination": "10.2.0.2"}})", "DNAT"},
        Refused{"PREROUTING", R"({"SNAT": {"to_source": "10.3.0.1"}})", "SNAT"},
        Refused{"OUTPUT", R"({"SNAT": {"to_source": "10.3.0.1"}})", "SNAT"},
        Refused{"INPUT", R"("MASQUERADE")", "MASQUERADE"},
        Refused{"OUTPUT", R"("MASQUERADE")", "MASQUERADE"},
        Refused{"PREROUTING", R"("MASQUERADE")", "MASQUERADE"},
        Refused{"POSTROUTING", R"("REDIRECT")", "REDIRECT"},
        Refused{"INPUT", R"("REDIRECT")", "REDIRECT"}}) {
    const std::string text = std::string(R"({"tables": {"nat": {")") + r.chain +
                             R"(": {"rules": [{"target": )" + r.target + "}]}}}}";
    const std::string error = load_error(text);
    EXPECT_NE(error.find(std::string("/tables/nat/") + r.chain + "/rules/0/target: " + r.name +
                         " cannot be used in " + r.chain),
              std::string::npos)
        << error;
  }
  // Through a user chain, the hooks that reach it count.
  EXPECT_EQ(load_error(R"({"tables": {"nat": {
                "POSTROUTING": {"rules": [{"jump": "to_web"}]},
                "to_web": {"rules": [{"target": {"DNAT": {"to_destination": "10.2.0.2"}}}]}}}})"),
            "r.json:3:49: /tables/nat/to_web/rules/0/target: DNAT cannot be used in POSTROUTING "
            "(chain \"to_web\" is reached from POSTROUTING in table nat)");
  EXPECT_EQ(load_error(R"({"tables": {"nat": {"PREROUTING": {"rules": [
                {"target": {"DNAT": {"to_destination": "10.2.0.2:80"}}}]}}}})"),
            "r.json:2:56: /tables/nat/PREROUTING/rules/0/target/DNAT/to_destination: ports need "
            "the rule to match \"protocol\" \"tcp\", \"udp\", \"sctp\", 33 (dccp) or \"icmp\"");
}

TEST(NatTargetLoader, ListAndSaveAsIptables) {
  auto rs = load_ruleset_text(R"({"tables": {"nat": {
      "PREROUTING": {"rules": [
        {"match": {"protocol": "tcp", "dport": 80},
         "target": {"DNAT": {"to_destination": "10.2.0.2:8080"}}},
        {"target": "REDIRECT"},
        {"target": {"NETMAP": {"to": "10.9.0.0/24"}}}]},
      "INPUT": {"rules": [{"target": {"SNAT": {"to_source": "10.3.0.1", "random_fully": true}}}]},
      "OUTPUT": {"rules": [{"match": {"protocol": "tcp"},
                            "target": {"REDIRECT": {"to_ports": "8080-8090", "random": true}}}]},
      "POSTROUTING": {"rules": [
        {"target": "MASQUERADE"},
        {"match": {"protocol": "tcp"},
         "target": {"MASQUERADE": {"to_ports": "1024-2000", "random": true,
                                   "random_fully": true}}}]}}}})",
                              "t");
  EXPECT_EQ(rs->tracked_families, kBothFamilies);
  ListOptions options;
  options.table = TableId::kNat;
  options.verbose = true;
  EXPECT_EQ(list_table(*rs, RulesetState(*rs), options),
            "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 DNAT       6    --  *      *       0.0.0.0/0            0.0.0.0/0       "
            "     tcp dpt:80 to:10.2.0.2:8080\n"
            "    0     0 REDIRECT   0    --  *      *       0.0.0.0/0            0.0.0.0/0\n"
            "    0     0 NETMAP     0    --  *      *       0.0.0.0/0            0.0.0.0/0       "
            "     to:10.9.0.0/24\n"
            "\n"
            "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 SNAT       0    --  *      *       0.0.0.0/0            0.0.0.0/0       "
            "     to:10.3.0.1 random-fully\n"
            "\n"
            "Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 REDIRECT   6    --  *      *       0.0.0.0/0            0.0.0.0/0       "
            "     redir ports 8080-8090 random\n"
            "\n"
            "Chain POSTROUTING (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 MASQUERADE  0    --  *      *       0.0.0.0/0            0.0.0.0/0\n"
            "    0     0 MASQUERADE  6    --  *      *       0.0.0.0/0            0.0.0.0/0      "
            "      masq ports: 1024-2000 random random-fully\n");
  EXPECT_EQ(save_ruleset(*rs, Family::kIPv4),
            "# verdictd ruleset t for iptables-restore\n"
            "*nat\n"
            ":PREROUTING ACCEPT [0:0]\n"
            ":INPUT ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.2.0.2:8080\n"
            "-A PREROUTING -j REDIRECT\n"
            "-A PREROUTING -j NETMAP --to 10.9.0.0/24\n"
            "-A INPUT -j SNAT --to-source 10.3.0.1 --random-fully\n"
            "-A OUTPUT -p tcp -j REDIRECT --to-ports 8080-8090 --random\n"
            "-A POSTROUTING -j MASQUERADE\n"
            "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2000 --random --random-fully\n"
            "COMMIT\n");
}

}  // namespace
}  // namespace verdictd
