// Connections whose binding is unknown (adopted from the kernel at a restart)
// and bindings given back from the store: what the rules could have bound,
// which packets must be dropped, that the binder refuses and counts, and how a
// stored binding joins the kernel's connection.
#include <gtest/gtest.h>

#include "conntrack/flow_table.hpp"
#include "nat/nat_binder.hpp"
#include "packets.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/unknown_binding.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

const ConntrackTime kNow{seconds(100)};

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

Tuple udp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport) {
  return {.family = ip(src).family,
          .protocol = ipproto::kUdp,
          .source = ip(src),
          .destination = ip(dst),
          .source_port = sport,
          .destination_port = dport};
}

// The kernel's entry of a connection, as a dump gives it.
Flow kernel_flow(const Tuple& original, const Tuple& reply) {
  Flow flow;
  flow.original = original;
  flow.reply = reply;
  flow.status = ctstatus::kSeenReply | ctstatus::kAssured;
  flow.kernel_id = 77;
  flow.expires = kNow + seconds(120);
  return flow;
}

Flow adopted_client_flow(FlowTable& flows) {
  const Tuple original = udp("10.1.0.2", 4000, "10.2.0.2", 53);
  flows.merge_kernel(kernel_flow(original, *reply_tuple(original)), kNow);
  return flows.copy(original, kNow)->flow;
}

NatRange to(std::string_view address) {
  NatRange range;
  range.has_addresses = true;
  range.min_address = range.max_address = ip(address);
  return range;
}

std::array<std::uint8_t, kFamilyCount> bindable(const std::string& nat_table) {
  return bindable_manips(*load_ruleset_text(R"({"tables": {"nat": )" + nat_table + "}}", "t"));
}

TEST(NatUnknownBinding, AConnectionAdoptedFromTheKernelHasUnknownBindings) {
  FlowTable flows;
  EXPECT_EQ(adopted_client_flow(flows).nat_unknown, natmanip::kBoth);
  Flow ours;
  ours.original = udp("10.1.0.3", 4000, "10.2.0.2", 53);
  ours.reply = *reply_tuple(ours.original);
  ours.observed = true;
  ours.expires = kNow + seconds(30);
  flows.insert(ours, kNow);
  EXPECT_EQ(flows.copy(ours.original, kNow)->flow.nat_unknown, 0)
      << "a connection whose first packet we saw was bound, or not, by our rules";
}

TEST(NatUnknownBinding, TheBinderRefusesAnUnknownBindingAndCountsIt) {
  FlowTable flows;
  NatBinder binder(flows, {});
  PacketConntrack ct;
  ct.state = CtState::kEstablished;
  ct.has_flow = true;
  ct.flow = adopted_client_flow(flows);
  ct.now = kNow;
  EXPECT_FALSE(binder.bind(ct, natmanip::kSource, to("10.2.0.1")));
  EXPECT_EQ(binder.stats().unbound_drops, 1U);
  EXPECT_EQ(binder.stats().exhausted, 0U);
  EXPECT_EQ(binder.stats().bindings, 0U);
  EXPECT_EQ(flows.copy(ct.flow.original, kNow)->flow.reply, *reply_tuple(ct.flow.original))
      << "the connection keeps the kernel's tuples";
}

TEST(NatUnknownBinding, AMatchingNatRuleDropsTheAdoptedConnectionsPacketAndOthersPass) {
  const auto ruleset = load_ruleset_text(R"({"tables": {"nat": {"POSTROUTING": {"rules": [
      {"match": {"out_interface": "wan0"}, "target": {"SNAT": {"to_source": "10.2.0.1"}}}]}}}})",
                                         "t");
  RulesetState counted(*ruleset);
  FlowTable flows;
  NatBinder binder(flows, {});
  const auto bytes = test::ipv4_packet(ipproto::kUdp, "10.1.0.2", "10.2.0.2", 4000, 53);
  const PacketView packet = PacketView::parse(bytes);
  for (const char* out : {"wan0", "lan0"}) {
    PacketConntrack ct;
    ct.state = CtState::kEstablished;
    ct.has_flow = true;
    ct.flow = adopted_client_flow(flows);
    ct.now = kNow;
    EvalState state;
    state.hook = Hook::kPostrouting;
    state.out_interface = out;
    state.conntrack = &ct;
    state.nat = &binder;
    state.ruleset_state = &counted;
    const Verdict verdict = evaluate_table(ruleset->table(TableId::kNat), packet, state);
    EXPECT_EQ(verdict, std::string_view(out) == "wan0" ? Verdict::kDrop : Verdict::kAccept) << out;
  }
  EXPECT_EQ(binder.stats().unbound_drops, 1U);
}

TEST(NatUnknownBinding, WhatTheRulesCanBind) {
  using A = std::array<std::uint8_t, kFamilyCount>;
  constexpr auto src = natmanip::kSource;
  constexpr auto dst = natmanip::kDestination;
  EXPECT_EQ(bindable(R"({"POSTROUTING": {"rules": [{"target": "MASQUERADE"}]}})"), (A{src, src}));
  EXPECT_EQ(bindable(R"({"PREROUTING": {"rules": [
      {"target": {"DNAT": {"to_destination": "10.2.0.2"}}}]}})"),
            (A{dst, 0}))
      << "an IPv4 address: the IPv4 table only";
  EXPECT_EQ(bindable(R"({"POSTROUTING": {"rules": [{"jump": "out"}]},
      "out": {"rules": [{"target": {"SNAT": {"to_source": "fd02::1"}}}]}})"),
            (A{0, src}))
      << "through a user chain";
  EXPECT_EQ(bindable(R"({"PREROUTING": {"rules": [{"match": {"protocol": "tcp"}}]},
      "POSTROUTING": {"rules": [{"target": "ACCEPT"}]}})"),
            (A{0, 0}))
      << "rules without a NAT target bind nothing";
  EXPECT_EQ(bindable_manips(*load_ruleset_text(R"({"tables": {}})", "t")), (A{0, 0}));
}

TEST(NatUnknownBinding, PacketsThatCannotRunTheChainsNeedTheUnknownBinding) {
  FlowTable flows;
  Flow flow = adopted_client_flow(flows);
  constexpr auto src = natmanip::kSource;
  constexpr auto dst = natmanip::kDestination;
  // A reply is translated at PREROUTING by the source binding of the original.
  EXPECT_TRUE(needs_unknown_binding(flow, Direction::kReply, Hook::kPrerouting, src));
  EXPECT_FALSE(needs_unknown_binding(flow, Direction::kReply, Hook::kPrerouting, dst));
  EXPECT_TRUE(needs_unknown_binding(flow, Direction::kReply, Hook::kPostrouting, dst));
  EXPECT_TRUE(needs_unknown_binding(flow, Direction::kOriginal, Hook::kPostrouting, src));
  EXPECT_FALSE(needs_unknown_binding(flow, Direction::kOriginal, Hook::kForward, src | dst));
  flow.nat_done = src;  // the original's next packet found no rule binding it
  EXPECT_FALSE(needs_unknown_binding(flow, Direction::kReply, Hook::kPrerouting, src));
  flow.nat_unknown = 0;
  EXPECT_FALSE(needs_unknown_binding(flow, Direction::kReply, Hook::kPostrouting, dst));
}

TEST(NatUnknownBinding, AStoredMasqueradeJoinsTheKernelsConnection) {
  FlowTable flows;
  const Flow adopted = adopted_client_flow(flows);
  Flow stored;
  stored.original = adopted.original;
  stored.reply = udp("10.2.0.2", 53, "10.2.0.1", 1025);
  stored.status = ctstatus::kSrcNat;
  stored.nat_done = natmanip::kBoth;
  stored.masquerade_ifindex = 3;
  ASSERT_TRUE(flows.restore_binding(stored, kNow));
  const auto reply = flows.copy(stored.reply, kNow);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->direction, Direction::kReply);
  EXPECT_EQ(reply->flow.nat_unknown, 0);
  EXPECT_EQ(reply->flow.masquerade_ifindex, 3U);
  EXPECT_EQ(reply->flow.kernel_id, 77U);
  EXPECT_NE(reply->flow.status & ctstatus::kAssured, 0U) << "the kernel's state stays";
  // The kernel's next UPDATE leaves the binding alone.
  flows.merge_kernel(kernel_flow(adopted.original, adopted.reply), kNow);
  EXPECT_EQ(flows.copy(stored.reply, kNow)->flow.status & ctstatus::kSrcNat, ctstatus::kSrcNat);
}

TEST(NatUnknownBinding, AStoredPortForwardJoinsTheKernelsConnectionByItsMidwayTuple) {
  FlowTable flows;
  // The kernel tracks the client's packets as verdictd handed them over:
  // already sent to the server, and still from the client.
  const Tuple kernel_original = udp("10.2.0.9", 5000, "10.1.0.2", 53);
  flows.merge_kernel(kernel_flow(kernel_original, *reply_tuple(kernel_original)), kNow);
  Flow stored;
  stored.original = udp("10.2.0.9", 5000, "10.2.0.1", 5353);
  stored.reply = udp("10.1.0.2", 53, "10.1.0.1", 1025);  // also masqueraded into the LAN
  stored.status = ctstatus::kDstNat | ctstatus::kSrcNat;
  stored.nat_done = natmanip::kDestination;
  ASSERT_TRUE(flows.restore_binding(stored, kNow));
  const auto found = flows.copy(stored.original, kNow);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->flow.nat_unknown, natmanip::kSource)
      << "a manipulation not done when the binding was stored stays unknown";
  ASSERT_TRUE(flows.copy(kernel_original, kNow)) << "found midway";
  const std::unordered_set<Tuple, TupleHash> dumped{kernel_original, *reply_tuple(kernel_original)};
  EXPECT_EQ(flows.retain_kernel(dumped, kNow, seconds(5)), 0U)
      << "a resync finds it in the kernel's dump by its midway tuples";
  EXPECT_TRUE(flows.erase_kernel(kernel_original, 77)) << "the kernel's DESTROY still finds it";
  EXPECT_FALSE(flows.copy(stored.original, kNow));
}

TEST(NatUnknownBinding, AStoredBindingWhoseConnectionIsGoneIsDropped) {
  FlowTable flows;
  Flow stored;
  stored.original = udp("10.1.0.2", 4000, "10.2.0.2", 53);
  stored.reply = udp("10.2.0.2", 53, "10.2.0.1", 1025);
  stored.status = ctstatus::kSrcNat;
  stored.nat_done = natmanip::kBoth;
  EXPECT_FALSE(flows.restore_binding(stored, kNow));
  EXPECT_FALSE(flows.copy(stored.original, kNow));
}

}  // namespace
}  // namespace verdictd
