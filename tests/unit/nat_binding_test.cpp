// NAT bindings: the flow table's reply tuple and midway tuples after a
// binding, what each hook does to each direction's packets, and the binder's
// unique tuples.
#include <gtest/gtest.h>

#include "conntrack/flow_table.hpp"
#include "nat/nat_binder.hpp"
#include "nat/nat_translation.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

const ConntrackTime kNow{seconds(100)};

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

Tuple tcp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport) {
  return {.protocol = ipproto::kTcp,
          .source = ip(src),
          .destination = ip(dst),
          .source_port = sport,
          .destination_port = dport};
}

// client 10.1.0.2:40000 -> 10.1.0.1:8080, not yet bound.
Flow new_flow() {
  Flow flow;
  flow.original = tcp("10.1.0.2", 40000, "10.1.0.1", 8080);
  flow.reply = *reply_tuple(flow.original);
  flow.observed = true;
  flow.created = kNow;
  flow.expires = kNow + seconds(120);
  return flow;
}

PacketConntrack first_packet(const Flow& flow) {
  PacketConntrack ct;
  ct.state = CtState::kNew;
  ct.has_flow = true;
  ct.flow = flow;
  ct.now = kNow;
  return ct;
}

NatRange to(std::string_view address, std::uint16_t port = 0) {
  NatRange range;
  range.has_addresses = true;
  range.min_address = range.max_address = ip(address);
  if (port != 0) {
    range.has_ports = true;
    range.min_port = range.max_port = port;
  }
  return range;
}

TEST(NatBinding, DnatRebindsTheReplyAndFindsThePacketMidway) {
  FlowTable flows;
  NatBinder binder(flows, {});
  const Flow flow = new_flow();
  flows.insert(flow, kNow);
  PacketConntrack ct = first_packet(flow);
  ASSERT_TRUE(binder.bind(ct, natmanip::kDestination, to("10.2.0.2", 80)));
  EXPECT_EQ(ct.flow.reply, tcp("10.2.0.2", 80, "10.1.0.2", 40000));
  EXPECT_EQ(ct.flow.status & ctstatus::kDstNat, ctstatus::kDstNat);
  EXPECT_EQ(ct.flow.nat_done, natmanip::kDestination);
  EXPECT_FALSE(flows.copy(*reply_tuple(flow.original), kNow)) << "the old reply is gone";
  const auto reply = flows.copy(ct.flow.reply, kNow);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->direction, Direction::kReply);
  // At FORWARD the client's packet already goes to the server.
  const auto midway = flows.copy(tcp("10.1.0.2", 40000, "10.2.0.2", 80), kNow);
  ASSERT_TRUE(midway);
  EXPECT_EQ(midway->direction, Direction::kOriginal);
  EXPECT_EQ(binder.stats().bindings, 1U);
}

TEST(NatBinding, EachHookTranslatesItsSideForEachDirection) {
  Flow flow = new_flow();
  flow.reply = tcp("10.2.0.2", 80, "10.2.0.1", 1024);  // DNAT to the server, SNAT to the router
  flow.status = ctstatus::kDstNat | ctstatus::kSrcNat;
  const auto in = nat_translation(Hook::kPrerouting, flow, Direction::kOriginal);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->outer.side, ManipSide::kDestination);
  EXPECT_EQ(in->outer.address, ip("10.2.0.2"));
  EXPECT_EQ(in->outer.port, 80);
  const auto out = nat_translation(Hook::kPostrouting, flow, Direction::kOriginal);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->outer.side, ManipSide::kSource);
  EXPECT_EQ(out->outer.address, ip("10.2.0.1"));
  EXPECT_EQ(out->outer.port, 1024);
  const auto back_in = nat_translation(Hook::kPrerouting, flow, Direction::kReply);
  ASSERT_TRUE(back_in);
  EXPECT_EQ(back_in->outer.address, ip("10.1.0.2"));
  EXPECT_EQ(back_in->outer.port, 40000);
  // An ICMP error about the reply quotes the packet the router sent out.
  EXPECT_EQ(back_in->inner.side, ManipSide::kSource);
  EXPECT_EQ(back_in->inner.address, ip("10.1.0.2"));
  const auto back_out = nat_translation(Hook::kPostrouting, flow, Direction::kReply);
  ASSERT_TRUE(back_out);
  EXPECT_EQ(back_out->outer.address, ip("10.1.0.1"));
  EXPECT_EQ(back_out->outer.port, 8080);
  EXPECT_FALSE(nat_translation(Hook::kForward, flow, Direction::kOriginal));
  EXPECT_FALSE(nat_translation(Hook::kPrerouting, new_flow(), Direction::kOriginal))
      << "a null binding changes nothing";
}

TEST(NatBinding, ASecondConnectionOnTheSamePortGetsAnotherOne) {
  FlowTable flows;
  NatBinder binder(flows, {});
  Flow first = new_flow();
  first.original = tcp("10.1.0.2", 40000, "10.2.0.2", 80);
  first.reply = *reply_tuple(first.original);
  Flow second = first;
  second.original.source = ip("10.1.0.3");
  second.reply = *reply_tuple(second.original);
  flows.insert(first, kNow);
  flows.insert(second, kNow);
  PacketConntrack a = first_packet(first);
  PacketConntrack b = first_packet(second);
  ASSERT_TRUE(binder.bind(a, natmanip::kSource, to("10.2.0.1")));
  ASSERT_TRUE(binder.bind(b, natmanip::kSource, to("10.2.0.1")));
  EXPECT_EQ(a.flow.reply.destination_port, 40000) << "the first keeps its port";
  EXPECT_NE(b.flow.reply.destination_port, 40000);
  EXPECT_GE(b.flow.reply.destination_port, 1024);
}

TEST(NatBinding, AnExhaustedRangeRefusesAndIsCounted) {
  FlowTable flows;
  NatBinder binder(flows, {});
  Flow first = new_flow();
  Flow second = first;
  second.original.source = ip("10.1.0.3");
  second.reply = *reply_tuple(second.original);
  flows.insert(first, kNow);
  flows.insert(second, kNow);
  PacketConntrack a = first_packet(first);
  PacketConntrack b = first_packet(second);
  // One address and one port: room for one connection to 10.1.0.1:8080.
  ASSERT_TRUE(binder.bind(a, natmanip::kSource, to("10.1.0.1", 5000)));
  EXPECT_FALSE(binder.bind(b, natmanip::kSource, to("10.1.0.1", 5000)));
  EXPECT_EQ(binder.stats().exhausted, 1U);
}

}  // namespace
}  // namespace verdictd
