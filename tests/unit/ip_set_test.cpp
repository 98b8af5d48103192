// Named sets (set/ip_set.hpp): each type's elements and lookups, hash:net's
// longest prefix and nomatch, timeouts, counters and their conditions, the
// table under many inserts and deletes, and the `ipset save` text with its
// errors.
#include "set/ip_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "extension/error.hpp"
#include "packet/packet.hpp"
#include "set/ipset_text.hpp"

namespace verdictd {
namespace {

constexpr SetTime kNow = 1'000'000;

SetOptions options(std::string_view type, Family family = Family::kIPv4) {
  SetOptions o;
  o.type = find_set_type(type);
  o.family = family;
  return o;
}

void add(IpSet& set, const std::string& text, SetTime now = kNow) {
  SetElement element = set.codec().parse(text);
  check_element(set.options(), element);
  ASSERT_EQ(set.add(element, false, now), IpSet::AddResult::kAdded) << text;
}

// `ipset test`, from the element's text.
SetTest test(const IpSet& set, const std::string& text, SetTime now = kNow) {
  return set.test_element(set.codec().parse(text), now);
}

// A packet's lookup, the key built as the set match builds it.
SetTest probe(IpSet& set, const std::string& text, SetTime now = kNow,
              const CounterCondition& counters = {}, std::uint64_t bytes = 60) {
  return set.test(set.codec().parse_key(text).key, now, counters, bytes);
}

TEST(IpSetHashNet, LongestPrefixDecidesAndNomatchExcludes) {
  IpSet set("blk", options("hash:net"));
  add(set, "10.0.0.0/8");
  add(set, "10.1.0.0/16 nomatch");
  add(set, "10.1.2.0/24");
  add(set, "192.0.2.7");
  EXPECT_EQ(probe(set, "10.200.0.1"), SetTest::kMatch);
  EXPECT_EQ(probe(set, "10.1.3.4"), SetTest::kNomatch);  // inside the nomatch /16
  EXPECT_EQ(probe(set, "10.1.2.3"), SetTest::kMatch);    // the /24 inside it is longer
  EXPECT_EQ(probe(set, "192.0.2.7"), SetTest::kMatch);
  EXPECT_EQ(probe(set, "192.0.2.8"), SetTest::kAbsent);
  EXPECT_EQ(probe(set, "11.0.0.1"), SetTest::kAbsent);
  // ipset test: a network is tested exactly, an address by longest prefix.
  EXPECT_EQ(test(set, "10.0.0.0/8"), SetTest::kMatch);
  EXPECT_EQ(test(set, "10.0.0.0/9"), SetTest::kAbsent);
  EXPECT_EQ(test(set, "10.1.9.9"), SetTest::kNomatch);
  EXPECT_EQ(set.size(kNow), 4U);
}

TEST(IpSetHashNet, DeletingTheLongerPrefixUncoversTheShorter) {
  IpSet set("blk", options("hash:net"));
  add(set, "10.0.0.0/8");
  add(set, "10.1.0.0/16 nomatch");
  EXPECT_EQ(probe(set, "10.1.0.1"), SetTest::kNomatch);
  EXPECT_TRUE(set.del(set.codec().parse("10.1.0.0/16"), kNow));
  EXPECT_FALSE(set.del(set.codec().parse("10.1.0.0/16"), kNow));
  EXPECT_EQ(probe(set, "10.1.0.1"), SetTest::kMatch);
  set.flush();
  EXPECT_EQ(probe(set, "10.1.0.1"), SetTest::kAbsent);
  EXPECT_EQ(set.size(kNow), 0U);
}

TEST(IpSetHashNet, Ipv6Prefixes) {
  IpSet set("blk6", options("hash:net", Family::kIPv6));
  add(set, "2001:db8::/32");
  add(set, "2001:db8:1::/48 nomatch");
  add(set, "2001:db8:1:2::/64");
  add(set, "2001:db8:ffff::1");
  EXPECT_EQ(probe(set, "2001:db8:5::1"), SetTest::kMatch);
  EXPECT_EQ(probe(set, "2001:db8:1::1"), SetTest::kNomatch);
  EXPECT_EQ(probe(set, "2001:db8:1:2::99"), SetTest::kMatch);
  EXPECT_EQ(probe(set, "2001:db9::1"), SetTest::kAbsent);
  EXPECT_EQ(test(set, "2001:db8:ffff::1"), SetTest::kMatch);
}

TEST(IpSetHashNet, ElementErrors) {
  IpSet set("blk", options("hash:net"));
  const auto error = [&set](const std::string& text) -> std::string {
    try {
      static_cast<void>(set.codec().parse(text));
    } catch (const ElementError& e) {
      return std::to_string(e.offset) + ": " + e.what();
    }
    return "parsed";
  };
  EXPECT_EQ(error("10.0.0.0/33"), "9: expected a prefix length 1-32, got \"33\"");
  EXPECT_EQ(error("10.0.0.0/0"), "9: expected a prefix length 1-32, got \"0\"");
  EXPECT_EQ(error("2001:db8::/32"), "0: expected an IPv4 address, got \"2001:db8::\"");
  EXPECT_EQ(error("10.0.0.1 timeout x"), "17: expected a number after timeout, got \"x\"");
  EXPECT_EQ(error("10.0.0.1 frob"),
            "9: unknown element option \"frob\"; expected timeout, nomatch, packets, bytes or "
            "comment");
  EXPECT_EQ(
      error("10.0.0.1,80"),
      "0: expected an element of hash:net (1 parts separated by commas), got \"10.0.0.1,80\"");
  EXPECT_EQ(error("10.0.0.9-10.0.0.1"), "0: the range 10.0.0.9-10.0.0.1 ends before it begins");
  EXPECT_EQ(error("10.0.0.1-10.0.0"), "9: expected an IPv4 address, got \"10.0.0\"");
  IpSet ip("ip", options("hash:ip"));
  EXPECT_THROW(static_cast<void>(ip.codec().parse("10.0.0.1 nomatch")), ElementError);
  // IPv6 takes single addresses only, as ipset ("plain IP address").
  IpSet ip6("ip6", options("hash:ip", Family::kIPv6));
  EXPECT_THROW(static_cast<void>(ip6.codec().parse("2001:db8::/126")), ElementError);
  EXPECT_THROW(static_cast<void>(ip6.codec().parse("2001:db8::1-2001:db8::3")), ElementError);
  IpSet ports("ports", options("hash:ip,port"));
  EXPECT_THROW(static_cast<void>(ports.codec().parse("10.0.0.1,gre:1-2")), ElementError);
  EXPECT_THROW(static_cast<void>(ports.codec().parse("10.0.0.1,tcp:90-80")), ElementError);
}

// The elements a ranged element stands for, as ipset lists them.
std::vector<std::string> expanded(const IpSet& set, const std::string& text) {
  std::vector<std::string> out;
  set.codec().for_each_element(set.codec().parse(text), [&](const SetElement& one) {
    out.push_back(set.codec().text(one.key, one.cidr));
    return true;
  });
  return out;
}

TEST(IpSetRanges, StandForTheElementsIpsetAdds) {
  // A net type's range: the fewest prefixes covering it (ip_set_range_to_cidr).
  IpSet net("net", options("hash:net"));
  EXPECT_EQ(expanded(net, "10.0.0.1-10.0.0.20"),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29",
                                      "10.0.0.16/30", "10.0.0.20"}));
  EXPECT_EQ(expanded(net, "0.0.0.0-255.255.255.255"),
            (std::vector<std::string>{"0.0.0.0/1", "128.0.0.0/1"}));
  EXPECT_EQ(expanded(net, "10.0.0.0/8"), (std::vector<std::string>{"10.0.0.0/8"}));
  // An ip type's network or range: each address, or each netmask block.
  IpSet ip("ip", options("hash:ip"));
  EXPECT_EQ(expanded(ip, "10.0.0.254/31"), (std::vector<std::string>{"10.0.0.254", "10.0.0.255"}));
  EXPECT_EQ(expanded(ip, "255.255.255.254-255.255.255.255"),
            (std::vector<std::string>{"255.255.255.254", "255.255.255.255"}));
  SetOptions masked = options("hash:ip");
  masked.netmask = 30;
  IpSet blocks("blocks", masked);
  EXPECT_EQ(expanded(blocks, "10.1.1.5-10.1.1.9"),
            (std::vector<std::string>{"10.1.1.4", "10.1.1.8"}));
  // Each address with each port.
  IpSet ip_port("ipp", options("hash:ip,port"));
  EXPECT_EQ(expanded(ip_port, "10.0.0.1-10.0.0.2,udp:65534-65535"),
            (std::vector<std::string>{"10.0.0.1,udp:65534", "10.0.0.1,udp:65535",
                                      "10.0.0.2,udp:65534", "10.0.0.2,udp:65535"}));
  IpSet bitmap("bp", [] {
    SetOptions o = options("bitmap:port");
    o.first_port = 1;
    o.last_port = 100;
    return o;
  }());
  EXPECT_EQ(expanded(bitmap, "10-12"), (std::vector<std::string>{"10", "11", "12"}));
  // Services by name, as ipset takes them (/etc/services).
  EXPECT_EQ(expanded(ip_port, "10.0.0.1,tcp:ssh"), (std::vector<std::string>{"10.0.0.1,tcp:22"}));
  EXPECT_EQ(expanded(ip_port, "10.0.0.1,udp:domain-domain"),
            (std::vector<std::string>{"10.0.0.1,udp:53"}));
  // The options go with each one.
  int nomatch = 0;
  net.codec().for_each_element(net.codec().parse("10.0.0.0-10.0.0.5 nomatch"),
                               [&](const SetElement& one) {
                                 nomatch += one.nomatch ? 1 : 0;
                                 return true;
                               });
  EXPECT_EQ(nomatch, 2);
}

TEST(IpSetHashIp, NetmaskMasksElementsAndPackets) {
  SetOptions o = options("hash:ip");
  o.netmask = 24;
  IpSet set("nets", o);
  add(set, "192.0.2.77");
  EXPECT_EQ(probe(set, "192.0.2.1"), SetTest::kMatch);
  EXPECT_EQ(probe(set, "192.0.3.1"), SetTest::kAbsent);
  ASSERT_EQ(set.list(kNow).size(), 1U);
  EXPECT_EQ(set.list(kNow)[0].text, "192.0.2.0");
  // Adding another address of the same /24 is adding the same element.
  EXPECT_EQ(set.add(set.codec().parse("192.0.2.9"), false, kNow), IpSet::AddResult::kExists);
}

TEST(IpSetPorts, HashIpPortAndNetPort) {
  IpSet ip_port("ipp", options("hash:ip,port"));
  add(ip_port, "192.0.2.1,80");  // tcp by default
  add(ip_port, "192.0.2.1,udp:53");
  add(ip_port, "192.0.2.1,icmp:8/0");
  add(ip_port, "192.0.2.1,gre:0");
  EXPECT_EQ(probe(ip_port, "192.0.2.1,tcp:80"), SetTest::kMatch);
  EXPECT_EQ(probe(ip_port, "192.0.2.1,udp:80"), SetTest::kAbsent);
  EXPECT_EQ(probe(ip_port, "192.0.2.1,udp:53"), SetTest::kMatch);
  EXPECT_EQ(probe(ip_port, "192.0.2.1,icmp:8/0"), SetTest::kMatch);
  EXPECT_EQ(probe(ip_port, "192.0.2.1,47:0"), SetTest::kMatch);
  EXPECT_THROW(static_cast<void>(ip_port.codec().parse("192.0.2.1,gre:5")), ElementError);
  EXPECT_EQ(ip_port.list(kNow).size(), 4U);

  IpSet net_port("np", options("hash:net,port"));
  add(net_port, "10.0.0.0/8,tcp:22");
  add(net_port, "10.9.0.0/16,tcp:22 nomatch");
  EXPECT_EQ(probe(net_port, "10.1.1.1,tcp:22"), SetTest::kMatch);
  EXPECT_EQ(probe(net_port, "10.9.1.1,tcp:22"), SetTest::kNomatch);
  EXPECT_EQ(probe(net_port, "10.1.1.1,tcp:23"), SetTest::kAbsent);
  std::vector<std::string> texts;
  for (const ListedElement& e : net_port.list(kNow)) texts.push_back(e.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"10.9.0.0/16,tcp:22", "10.0.0.0/8,tcp:22"}));
}

TEST(IpSetOtherTypes, IpPortIpNetIfaceMacBitmapPort) {
  IpSet ipi("ipi", options("hash:ip,port,ip"));
  add(ipi, "192.0.2.1,udp:53,198.51.100.1");
  EXPECT_EQ(probe(ipi, "192.0.2.1,udp:53,198.51.100.1"), SetTest::kMatch);
  EXPECT_EQ(probe(ipi, "192.0.2.1,udp:53,198.51.100.2"), SetTest::kAbsent);

  IpSet iface("ifc", options("hash:net,iface"));
  add(iface, "10.0.0.0/8,eth0");
  EXPECT_EQ(probe(iface, "10.1.1.1,eth0"), SetTest::kMatch);
  EXPECT_EQ(probe(iface, "10.1.1.1,eth1"), SetTest::kAbsent);
  EXPECT_EQ(iface.list(kNow)[0].text, "10.0.0.0/8,eth0");

  IpSet mac("mac", options("hash:mac"));
  add(mac, "02:00:00:aa:bb:cc");
  EXPECT_EQ(probe(mac, "02:00:00:AA:BB:CC"), SetTest::kMatch);
  EXPECT_EQ(mac.list(kNow)[0].text, "02:00:00:AA:BB:CC");
  EXPECT_THROW(static_cast<void>(mac.codec().parse("02:00:00:aa:bb")), ElementError);

  SetOptions o = options("bitmap:port");
  o.first_port = 1000;
  o.last_port = 2000;
  IpSet ports("ports", o);
  add(ports, "1500");
  EXPECT_EQ(probe(ports, "1500"), SetTest::kMatch);
  EXPECT_EQ(probe(ports, "1501"), SetTest::kAbsent);
  EXPECT_THROW(check_element(ports.options(), ports.codec().parse("2001")), ElementError);
}

TEST(IpSetTimeouts, ElementsExpireAndExistRestartsThem) {
  SetOptions o = options("hash:ip");
  o.timeout = 10;
  IpSet set("ban", o);
  add(set, "192.0.2.1");              // the set's 10 s
  add(set, "192.0.2.2 timeout 100");  // its own
  add(set, "192.0.2.3 timeout 0");    // for good
  EXPECT_EQ(probe(set, "192.0.2.1", kNow + 9'999), SetTest::kMatch);
  EXPECT_EQ(probe(set, "192.0.2.1", kNow + 10'000), SetTest::kAbsent);
  EXPECT_EQ(probe(set, "192.0.2.2", kNow + 99'000), SetTest::kMatch);
  EXPECT_EQ(probe(set, "192.0.2.3", kNow + 1'000'000'000), SetTest::kMatch);
  EXPECT_EQ(set.size(kNow + 50'000), 2U);
  for (const ListedElement& e : set.list(kNow + 50'000)) {
    EXPECT_EQ(e.timeout, e.text == "192.0.2.2" ? 50U : 0U) << e.text;
  }
  // Added again without exist: refused while there, taken once expired.
  const SetElement again = set.codec().parse("192.0.2.1");
  EXPECT_EQ(set.add(again, false, kNow + 5'000), IpSet::AddResult::kExists);
  EXPECT_EQ(set.add(again, true, kNow + 5'000), IpSet::AddResult::kAdded);  // until kNow + 15 s
  EXPECT_EQ(probe(set, "192.0.2.1", kNow + 14'000), SetTest::kMatch);
  EXPECT_EQ(probe(set, "192.0.2.1", kNow + 15'000), SetTest::kAbsent);
  EXPECT_EQ(set.add(again, false, kNow + 20'000), IpSet::AddResult::kAdded);
  // An expired element is not deleted: it is not there.
  EXPECT_FALSE(set.del(again, kNow + 40'000));
}

TEST(IpSetTimeouts, AFullSetDropsExpiredElementsFirst) {
  SetOptions o = options("hash:ip");
  o.timeout = 1;
  o.maxelem = 2;
  IpSet set("small", o);
  add(set, "192.0.2.1");
  add(set, "192.0.2.2");
  EXPECT_EQ(set.add(set.codec().parse("192.0.2.3"), false, kNow), IpSet::AddResult::kFull);
  EXPECT_EQ(set.add(set.codec().parse("192.0.2.3"), false, kNow + 2'000), IpSet::AddResult::kAdded);
}

TEST(IpSetCounters, CountedThenCompared) {
  SetOptions o = options("hash:net");
  o.counters = true;
  IpSet set("c", o);
  add(set, "10.0.0.0/8 packets 5 bytes 500");
  add(set, "10.1.0.0/16");
  CounterCondition below3;
  below3.packets_op = CounterCondition::Op::kLt;
  below3.packets = 3;
  // The /16's counter passes twice (1, 2), then the /8 is tried: it has 5.
  EXPECT_EQ(probe(set, "10.1.0.1", kNow, below3), SetTest::kMatch);
  EXPECT_EQ(probe(set, "10.1.0.1", kNow, below3), SetTest::kMatch);
  EXPECT_EQ(probe(set, "10.1.0.1", kNow, below3), SetTest::kAbsent);
  CounterCondition quiet;
  quiet.update = false;
  quiet.bytes_op = CounterCondition::Op::kEq;
  quiet.bytes = 560;  // 500 + the 60 of the third packet, which fell through to the /8
  EXPECT_EQ(probe(set, "10.2.0.1", kNow, quiet), SetTest::kMatch);
  const std::vector<ListedElement> listed = set.list(kNow);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].packets, 3U);
  EXPECT_EQ(listed[1].packets, 6U);
  EXPECT_EQ(listed[1].bytes, 560U);
}

TEST(KeyTable, AgreesWithAReferenceUnderRandomInsertsAndErases) {
  KeyTable table(2, 12345);
  std::set<std::pair<std::uint64_t, std::uint64_t>> reference;
  std::mt19937_64 random(7);
  for (int i = 0; i < 200'000; ++i) {
    // Few distinct keys, so inserts and erases collide and probe runs wrap.
    const std::array<std::uint64_t, 2> key{random() % 5000, random() % 3};
    if (random() % 3 == 0) {
      EXPECT_EQ(table.erase(key.data()) != 0, reference.erase({key[0], key[1]}) == 1);
    } else {
      table.insert(key.data(), 1);
      reference.insert({key[0], key[1]});
    }
  }
  EXPECT_EQ(table.size(), reference.size());
  for (std::uint64_t a = 0; a < 5000; ++a) {
    for (std::uint64_t b = 0; b < 3; ++b) {
      const std::array<std::uint64_t, 2> key{a, b};
      EXPECT_EQ(table.find(key.data()) != 0, reference.contains({a, b}));
    }
  }
}

// ---- ipset save text.

const char* const kDump =
    "create other hash:ip family inet hashsize 1024 maxelem 65536\n"
    "add other 192.0.2.1\n"
    "create blk hash:net family inet hashsize 1024 maxelem 65536 timeout 0 counters "
    "bucketsize 12 initval 0xe082369c\n"
    "add blk 10.0.0.0/8 timeout 0 packets 0 bytes 0\n"
    "add blk 1.2.3.4 timeout 99 packets 3 bytes 180\n"
    "add blk 10.1.0.0/16 timeout 0 nomatch packets 0 bytes 0\n";

TEST(IpsetText, LoadsOneSetOfADumpUnchanged) {
  const std::unique_ptr<IpSet> set = read_ipset_text(kDump, "dump", "blk");
  EXPECT_EQ(set->options().type->name, "hash:net");
  EXPECT_TRUE(set->options().counters);
  EXPECT_EQ(set->options().timeout, 0U);
  EXPECT_EQ(set->size(set_clock_now()), 3U);
  EXPECT_EQ(set->test_element(set->codec().parse("10.1.1.1"), set_clock_now()), SetTest::kNomatch);
  EXPECT_EQ(set->test_element(set->codec().parse("192.0.2.1"), set_clock_now()), SetTest::kAbsent);
}

TEST(IpsetText, SavedTextLoadsBackTheSameSet) {
  const std::unique_ptr<IpSet> set = read_ipset_text(kDump, "dump", "blk");
  const std::string text = ipset_text(*set, set_clock_now());
  EXPECT_TRUE(text.starts_with(
      "create blk hash:net family inet hashsize 1024 maxelem 65536 timeout 0 counters\n"))
      << text;
  EXPECT_NE(text.find("add blk 10.1.0.0/16 timeout 0 nomatch packets 0 bytes 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("add blk 1.2.3.4 timeout 9"), std::string::npos) << text;
  EXPECT_NE(text.find(" packets 3 bytes 180\n"), std::string::npos) << text;
  const std::unique_ptr<IpSet> again = read_ipset_text(text, "saved", "blk");
  // The same, but for the seconds that pass meanwhile.
  const auto without_seconds = [](std::string s) {
    const std::size_t at = s.find("timeout 9");
    return s.erase(at, s.find(' ', at + 8) - at);
  };
  EXPECT_EQ(without_seconds(ipset_text(*again, set_clock_now())), without_seconds(text));
}

std::string text_error(const std::string& text, const std::string& name = "blk") {
  try {
    read_ipset_text(text, "b.ipset", name);
  } catch (const RulesetError& e) {
    return e.what();
  }
  return "loaded";
}

TEST(IpsetText, ErrorsNameTheLineAndColumn) {
  EXPECT_EQ(text_error("create blk hash:net\nadd blk 10.0.0.0/40\n"),
            "b.ipset:2:18: expected a prefix length 1-32, got \"40\"");
  EXPECT_EQ(text_error("create blk hash:nett\n"),
            "b.ipset:1:12: unknown set type \"hash:nett\"; expected hash:ip, hash:net, "
            "hash:ip,port, hash:net,port, hash:ip,port,ip, hash:net,iface, hash:mac, "
            "bitmap:port or list:set");
  EXPECT_EQ(text_error("add blk 10.0.0.0/8\n"),
            "b.ipset:1:5: set blk is added to before its create line");
  EXPECT_EQ(text_error("create blk hash:net\nadd blk 10.0.0.0/8\nadd blk 10.0.0.0/8\n"),
            "b.ipset:3:9: the element 10.0.0.0/8 is already in set blk");
  EXPECT_EQ(text_error("create blk hash:net\nadd blk 10.0.0.1 timeout 5\n"),
            "b.ipset:2:9: the set was created without timeout support");
  EXPECT_EQ(text_error("create blk hash:net maxelem 1\nadd blk 10.0.0.1\nadd blk 10.0.0.2\n"),
            "b.ipset:3:9: set blk is full (maxelem 1)");
  EXPECT_EQ(text_error("create blk hash:net family inet7\n"),
            "b.ipset:1:28: expected family inet or inet6, got \"inet7\"");
  EXPECT_EQ(text_error("flush blk\n"), "b.ipset:1:1: expected a create or add line, got \"flush\"");
  EXPECT_EQ(text_error("create other hash:ip\n"), "b.ipset:1:1: no create line for set blk");
}

}  // namespace
}  // namespace verdictd
