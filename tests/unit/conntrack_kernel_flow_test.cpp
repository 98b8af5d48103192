// Conversion between ctnetlink's messages, as libnetfilter_conntrack parses
// them, and flows, tuples and expectations.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <array>
#include <chrono>
#include <memory>

#include "ctnetlink_message.hpp"
#include "kernel/kernel_flow.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

IpAddress address(const char* text) { return *IpAddress::parse(text); }

Tuple make_tuple(const char* source, const char* destination, std::uint8_t protocol,
                 std::uint16_t source_port, std::uint16_t destination_port) {
  Tuple tuple;
  tuple.source = address(source);
  tuple.destination = address(destination);
  tuple.family = tuple.source.family;
  tuple.protocol = protocol;
  tuple.source_port = source_port;
  tuple.destination_port = destination_port;
  return tuple;
}

using KernelMessage = test::CtnetlinkMessage;

struct ExpectDeleter {
  void operator()(nf_expect* expectation) const { nfexp_destroy(expectation); }
};

// What the library makes of `message`, as it hands events to callbacks.
KernelConntrack parsed(const KernelMessage& message) {
  KernelConntrack conntrack(nfct_new());
  EXPECT_EQ(nfct_nlmsg_parse(&message.get(), conntrack.get()), 0);
  return conntrack;
}

TEST(ConntrackKernelFlow, TcpConnectionBecomesAnUnobservedFlow) {
  const auto now = ConntrackClock::now();
  const Tuple original = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 40000, 22);
  // A DNAT'ed reply: the reply tuple is not the original turned around.
  const Tuple reply = make_tuple("192.168.0.9", "10.0.1.2", IPPROTO_TCP, 2222, 40000);
  KernelMessage message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
  message.put_tuple(CTA_TUPLE_ORIG, original);
  message.put_tuple(CTA_TUPLE_REPLY, reply);
  message.put_u32(CTA_STATUS, ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed |
                                  ctstatus::kDstNat);
  message.put_u32(CTA_MARK, 0x42);
  message.put_u32(CTA_ID, 123456789);
  message.put_u32(CTA_TIMEOUT, 431999);
  message.put_u16(CTA_ZONE, 7);
  message.put_tcp_state(3);
  message.put_counters(CTA_COUNTERS_REPLY, 2, 120);

  const auto flow = flow_from_kernel(message.get(), *parsed(message), now);
  ASSERT_TRUE(flow);
  Tuple zoned_original = original;
  zoned_original.zone = 7;
  Tuple zoned_reply = reply;
  zoned_reply.zone = 7;
  EXPECT_EQ(flow->original, zoned_original);
  EXPECT_EQ(flow->reply, zoned_reply);
  EXPECT_EQ(flow->status,
            ctstatus::kSeenReply | ctstatus::kAssured | ctstatus::kConfirmed | ctstatus::kDstNat);
  EXPECT_EQ(flow->mark, 0x42U);
  EXPECT_EQ(flow->kernel_id, 123456789U);
  EXPECT_EQ(flow->tcp_state, TcpState::kEstablished);
  EXPECT_EQ(flow->expires, now + seconds(431999));
  EXPECT_EQ(flow->counters[1].packets, 2U);
  EXPECT_EQ(flow->counters[1].bytes, 120U);
  EXPECT_EQ(flow->counters[0].packets, 0U);
  EXPECT_FALSE(flow->observed);
  EXPECT_FALSE(flow->mark_unsynced);
}

TEST(ConntrackKernelFlow, IcmpReplyKeepsTheIdNatGaveIt) {
  // Echo request id 1, masqueraded to id 7 because another host used 1.
  const Tuple original = make_tuple("10.0.1.2", "8.8.8.8", IPPROTO_ICMP, 1, 8U << 8U);
  const Tuple reply = make_tuple("8.8.8.8", "192.0.2.1", IPPROTO_ICMP, 7, 0);
  KernelMessage message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
  message.put_tuple(CTA_TUPLE_ORIG, original);
  message.put_tuple(CTA_TUPLE_REPLY, reply);
  message.put_u32(CTA_TIMEOUT, 30);
  const auto flow = flow_from_kernel(message.get(), *parsed(message), ConntrackClock::now());
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->original, original);
  EXPECT_EQ(flow->reply, reply);
}

TEST(ConntrackKernelFlow, DestroyWithoutTimeoutExpiresNow) {
  const auto now = ConntrackClock::now();
  const Tuple original = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_UDP, 5000, 53);
  KernelMessage message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE, AF_INET);
  message.put_tuple(CTA_TUPLE_ORIG, original);
  message.put_tuple(CTA_TUPLE_REPLY, *reply_tuple(original));
  message.put_u32(CTA_ID, 9);
  const auto flow = flow_from_kernel(message.get(), *parsed(message), now);
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->original, original);
  EXPECT_EQ(flow->kernel_id, 9U);
  EXPECT_EQ(flow->expires, now);
}

TEST(ConntrackKernelFlow, StatusOnlyUpdateCarriesNoTcpState) {
  // ctnetlink puts the TCP state into an event only when it changed
  // (IPCT_PROTOINFO): a reply that only sets SEEN_REPLY sends none.
  const Tuple original = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 40000, 22);
  KernelMessage message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
  message.put_tuple(CTA_TUPLE_ORIG, original);
  message.put_tuple(CTA_TUPLE_REPLY, *reply_tuple(original));
  message.put_u32(CTA_STATUS, ctstatus::kSeenReply | ctstatus::kConfirmed);
  message.put_u32(CTA_TIMEOUT, 300);
  const auto flow = flow_from_kernel(message.get(), *parsed(message), ConntrackClock::now());
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow->tcp_state, TcpState::kNone);
  EXPECT_EQ(flow->status, ctstatus::kSeenReply | ctstatus::kConfirmed);
}

TEST(ConntrackKernelFlow, OtherFamiliesAreNotFlows) {
  KernelMessage message(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_BRIDGE);
  EXPECT_FALSE(flow_from_kernel(message.get(), *parsed(message), ConntrackClock::now()));
}

// A tuple made into a conntrack object (for a get) and back, through the
// message the library builds of it.
Tuple round_trip(const Tuple& tuple) {
  const KernelConntrack conntrack = kernel_conntrack(tuple);
  alignas(nlmsghdr) std::array<char, 2048> buffer{};
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8U | IPCTNL_MSG_CT_GET;
  auto* general = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  general->nfgen_family = tuple.family == Family::kIPv4 ? AF_INET : AF_INET6;
  EXPECT_EQ(nfct_nlmsg_build(header, conntrack.get()), 0);
  const KernelConntrack back(nfct_new());
  EXPECT_EQ(nfct_nlmsg_parse(header, back.get()), 0);
  const auto flow = flow_from_kernel(*header, *back, ConntrackClock::now());
  EXPECT_TRUE(flow);
  return flow ? flow->original : Tuple{};
}

TEST(ConntrackKernelFlow, TuplesSurviveTheWayToTheKernel) {
  Tuple zoned = make_tuple("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 443);
  zoned.zone = 3;
  for (const Tuple& tuple : {
           zoned,
           make_tuple("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 53, 5353),
           make_tuple("10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 77, 8U << 8U),
           make_tuple("10.0.0.2", "10.0.0.1", IPPROTO_ICMP, 77, 0),
           make_tuple("2001:db8::1", "2001:db8::2", IPPROTO_TCP, 1, 65535),
           make_tuple("2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 9, 128U << 8U),
           make_tuple("2001:db8::2", "2001:db8::1", IPPROTO_ICMPV6, 9, 129U << 8U),
           make_tuple("10.0.0.1", "10.0.0.2", IPPROTO_GRE, 0, 0),
       }) {
    EXPECT_EQ(round_trip(tuple), tuple) << tuple_text(tuple);
  }
}

TEST(ConntrackKernelFlow, HelperAndMasterAreRead) {
  const auto now = ConntrackClock::now();
  // The ftp control connection, with the helper attached (CTA_HELP).
  const Tuple control = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 40000, 21);
  KernelMessage with_helper(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
  with_helper.put_tuple(CTA_TUPLE_ORIG, control);
  with_helper.put_tuple(CTA_TUPLE_REPLY,
                        make_tuple("10.0.2.2", "10.0.1.2", IPPROTO_TCP, 21, 40000));
  with_helper.put_helper("ftp");
  const KernelConntrack control_parsed = parsed(with_helper);
  const auto control_flow = flow_from_kernel(with_helper.get(), *control_parsed, now);
  ASSERT_TRUE(control_flow);
  EXPECT_EQ(std::string_view(control_flow->helper.data()), "ftp");
  EXPECT_FALSE(master_from_kernel(*control_parsed, Family::kIPv4));

  // Its data connection, which names it as its master (CTA_TUPLE_MASTER).
  KernelMessage expected(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW, AF_INET);
  expected.put_tuple(CTA_TUPLE_ORIG, make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 40001, 50000));
  expected.put_tuple(CTA_TUPLE_REPLY,
                     make_tuple("10.0.2.2", "10.0.1.2", IPPROTO_TCP, 50000, 40001));
  expected.put_u32(CTA_STATUS, ctstatus::kExpected);
  expected.put_tuple(CTA_TUPLE_MASTER, control);
  const KernelConntrack expected_parsed = parsed(expected);
  const auto expected_flow = flow_from_kernel(expected.get(), *expected_parsed, now);
  ASSERT_TRUE(expected_flow);
  EXPECT_EQ(expected_flow->helper[0], '\0');
  EXPECT_EQ(master_from_kernel(*expected_parsed, Family::kIPv4), control);
}

TEST(ConntrackKernelFlow, ExpectationCarriesItsIdMaskMasterAndHelper) {
  const auto now = ConntrackClock::now();
  const Tuple master = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 40000, 21);
  const Tuple expected = make_tuple("10.0.1.2", "10.0.2.2", IPPROTO_TCP, 0, 50000);
  const Tuple mask = make_tuple("255.255.255.255", "255.255.255.255", IPPROTO_TCP, 0, 0xffff);
  KernelMessage message(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW, AF_INET);
  message.put_tuple(CTA_EXPECT_MASTER, master);
  message.put_tuple(CTA_EXPECT_TUPLE, expected);
  message.put_tuple(CTA_EXPECT_MASK, mask);
  message.put_u32(CTA_EXPECT_TIMEOUT, 300);
  message.put_u32(CTA_EXPECT_ID, 4242);
  message.put_string(CTA_EXPECT_HELP_NAME, "ftp");
  const std::unique_ptr<nf_expect, ExpectDeleter> parsed_expectation(nfexp_new());
  ASSERT_EQ(nfexp_nlmsg_parse(&message.get(), parsed_expectation.get()), 0);

  const auto expectation = expectation_from_kernel(message.get(), *parsed_expectation, now);
  ASSERT_TRUE(expectation);
  EXPECT_EQ(expectation->kernel_id, 4242U);
  EXPECT_EQ(expectation->tuple, expected);
  EXPECT_EQ(expectation->master, master);
  Tuple zone_compared = mask;
  zone_compared.zone = 0xffff;
  EXPECT_EQ(expectation->mask, zone_compared);
  EXPECT_EQ(expectation->expires, now + seconds(300));
  EXPECT_EQ(std::string_view(expectation->helper.data()), "ftp");
}

}  // namespace
}  // namespace verdictd
