// The flow table: both tuples find a flow, expiry, the bound with eviction of
// the oldest unassured flow, the kernel mirror's merge rules, and the
// `conntrack -L` line of a flow.
#include <gtest/gtest.h>

#include "conntrack/flow_listing.hpp"
#include "conntrack/flow_table.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

const ConntrackTime kStart{seconds(1000)};

IpAddress address(std::string_view text) { return *IpAddress::parse(text); }

Flow tcp_flow(std::uint16_t client_port, std::uint32_t status = 0) {
  Flow flow;
  flow.original = {.family = Family::kIPv4,
                   .protocol = ipproto::kTcp,
                   .source = address("10.0.1.2"),
                   .destination = address("10.0.2.2"),
                   .source_port = client_port,
                   .destination_port = 22};
  flow.reply = {.family = Family::kIPv4,
                .protocol = ipproto::kTcp,
                .source = address("10.0.2.2"),
                .destination = address("10.0.1.2"),
                .source_port = 22,
                .destination_port = client_port};
  flow.status = status;
  flow.tcp_state = TcpState::kEstablished;
  flow.observed = true;
  flow.created = kStart;
  flow.expires = kStart + seconds(120);
  return flow;
}

TEST(ConntrackFlowTable, EitherTupleFindsTheFlowWithItsDirection) {
  FlowTable table;
  const Flow flow = tcp_flow(40000);
  ASSERT_EQ(table.insert(flow, kStart), FlowTable::Insert::kInserted);
  const auto by_original = table.copy(flow.original, kStart);
  const auto by_reply = table.copy(flow.reply, kStart);
  ASSERT_TRUE(by_original && by_reply);
  EXPECT_EQ(by_original->direction, Direction::kOriginal);
  EXPECT_EQ(by_reply->direction, Direction::kReply);
  EXPECT_EQ(table.insert(flow, kStart), FlowTable::Insert::kExists);
  EXPECT_FALSE(table.copy(tcp_flow(40001).original, kStart));
}

TEST(ConntrackFlowTable, ExpiredFlowsAreNotFoundAndMakeRoom) {
  FlowTable table;
  const Flow flow = tcp_flow(40000);
  table.insert(flow, kStart);
  EXPECT_TRUE(table.copy(flow.original, kStart + seconds(119)));
  EXPECT_FALSE(table.copy(flow.original, kStart + seconds(120)));
  EXPECT_EQ(table.insert(flow, kStart + seconds(120)), FlowTable::Insert::kInserted);
  EXPECT_EQ(table.expire(kStart + seconds(500)), 1U);
  EXPECT_EQ(table.stats().flows, 0U);
}

TEST(ConntrackFlowTable, ModifyChangesTheStoredFlow) {
  FlowTable table;
  const Flow flow = tcp_flow(40000);
  table.insert(flow, kStart);
  const auto changed = table.modify(flow.reply, kStart, [](Flow& f, Direction d) {
    EXPECT_EQ(d, Direction::kReply);
    f.status |= ctstatus::kSeenReply;
  });
  ASSERT_TRUE(changed);
  EXPECT_EQ(table.copy(flow.original, kStart)->flow.status, ctstatus::kSeenReply);
  EXPECT_FALSE(table.modify(tcp_flow(1).original, kStart, [](Flow&, Direction) {}));
}

TEST(ConntrackFlowTable, FullTableEvictsTheOldestUnassuredFlow) {
  FlowTable table(3);
  table.insert(tcp_flow(1, ctstatus::kAssured), kStart);
  table.insert(tcp_flow(2), kStart);
  table.insert(tcp_flow(3), kStart);
  EXPECT_EQ(table.insert(tcp_flow(4), kStart), FlowTable::Insert::kInserted);
  EXPECT_TRUE(table.copy(tcp_flow(1).original, kStart)) << "assured flows are kept";
  EXPECT_FALSE(table.copy(tcp_flow(2).original, kStart)) << "the oldest unassured one goes";
  EXPECT_TRUE(table.copy(tcp_flow(3).original, kStart));
  EXPECT_EQ(table.stats().evicted, 1U);
  EXPECT_EQ(table.stats().flows, 3U);
}

TEST(ConntrackFlowTable, ClosingConnectionsMakeRoomLikeUnassuredOnes) {
  FlowTable table(2);
  Flow closing = tcp_flow(1, ctstatus::kAssured);
  closing.tcp_state = TcpState::kTimeWait;
  table.insert(closing, kStart);
  table.insert(tcp_flow(2, ctstatus::kAssured), kStart);
  EXPECT_EQ(table.insert(tcp_flow(3), kStart), FlowTable::Insert::kInserted);
  EXPECT_FALSE(table.copy(closing.original, kStart));
  EXPECT_TRUE(table.copy(tcp_flow(2).original, kStart));
}

TEST(ConntrackFlowTable, FullOfAssuredFlowsRefusesNewOnes) {
  FlowTable table(2);
  table.insert(tcp_flow(1, ctstatus::kAssured), kStart);
  table.insert(tcp_flow(2, ctstatus::kAssured), kStart);
  EXPECT_EQ(table.insert(tcp_flow(3), kStart), FlowTable::Insert::kFull);
  EXPECT_EQ(table.stats().refused, 1U);
  EXPECT_EQ(table.stats().flows, 2U);
}

TEST(ConntrackFlowTable, KernelFlowsAreAddedConfirmedAndUnobserved) {
  FlowTable table;
  Flow kernel = tcp_flow(40000, ctstatus::kSeenReply | ctstatus::kAssured);
  kernel.observed = true;  // whatever the caller says: no queue saw it
  kernel.kernel_id = 77;
  table.merge_kernel(kernel, kStart);
  const auto found = table.copy(kernel.reply, kStart);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->flow.observed);
  EXPECT_EQ(found->flow.kernel_id, 77U);
  EXPECT_NE(found->flow.status & ctstatus::kConfirmed, 0U);
}

// A dump of a kernel table larger than ours (a SYN flood) evicts none of our
// flows, and says which of its flows the table holds: only those need
// keeping for the resync's sweep.
TEST(ConntrackFlowTable, KernelFlowsThatDoNotFitAreRefusedWithoutEvictingWhenAsked) {
  FlowTable table(2);
  table.insert(tcp_flow(1), kStart);
  Flow first = tcp_flow(2);
  first.kernel_id = 2;
  EXPECT_TRUE(table.merge_kernel(first, kStart, /*may_evict=*/false));
  Flow second = tcp_flow(3);
  second.kernel_id = 3;
  EXPECT_FALSE(table.merge_kernel(second, kStart, /*may_evict=*/false));
  EXPECT_TRUE(table.copy(tcp_flow(1).original, kStart)) << "nothing evicted";
  EXPECT_FALSE(table.copy(second.original, kStart));
  EXPECT_EQ(table.stats().refused, 1U);
  EXPECT_TRUE(table.merge_kernel(first, kStart, /*may_evict=*/false)) << "held already";
  EXPECT_TRUE(table.merge_kernel(second, kStart)) << "an event may evict";
  EXPECT_EQ(table.stats().evicted, 1U);
}

TEST(ConntrackFlowTable, ObservedFlowsKeepTheirStateAndTheirUnsyncedMark) {
  FlowTable table;
  Flow ours = tcp_flow(40000, ctstatus::kSeenReply);
  ours.tcp_state = TcpState::kSynRecv;
  ours.mark = 5;
  ours.mark_unsynced = true;
  table.insert(ours, kStart);
  Flow kernel = tcp_flow(40000, ctstatus::kAssured);
  kernel.tcp_state = TcpState::kSynSent;  // an older event
  kernel.kernel_id = 9;
  kernel.expires = kStart + seconds(5);
  table.merge_kernel(kernel, kStart);
  const Flow merged = table.copy(ours.original, kStart)->flow;
  EXPECT_EQ(merged.tcp_state, TcpState::kSynRecv);
  EXPECT_EQ(merged.expires, ours.expires);
  EXPECT_EQ(merged.mark, 5U);
  EXPECT_EQ(merged.kernel_id, 9U);
  // SEEN_REPLY and ASSURED are the tracker's: the kernel's ASSURED is not taken.
  EXPECT_EQ(merged.status, ctstatus::kSeenReply | ctstatus::kConfirmed);
}

TEST(ConntrackFlowTable, KernelHelperIsKeptAndNotedOnce) {
  FlowTable table;
  const Flow ours = tcp_flow(40000);
  table.insert(ours, kStart);
  Flow kernel = tcp_flow(40000);
  kernel.kernel_id = 9;
  kernel.helper = {'f', 't', 'p'};
  table.merge_kernel(kernel, kStart);
  EXPECT_EQ(std::string_view(table.copy(ours.original, kStart)->flow.helper.data()), "ftp");
  // A helper noted later (a master resolved after a dump) fills only an empty name.
  table.note_helper(ours.original, {'i', 'r', 'c'}, kStart);
  EXPECT_EQ(std::string_view(table.copy(ours.original, kStart)->flow.helper.data()), "ftp");
  const Flow other = tcp_flow(40001);
  table.insert(other, kStart);
  table.note_helper(other.reply, {'i', 'r', 'c'}, kStart);
  EXPECT_EQ(std::string_view(table.copy(other.original, kStart)->flow.helper.data()), "irc");
}

TEST(ConntrackFlowTable, DestroyRemovesOnlyTheKernelsOwnConnection) {
  FlowTable table;
  Flow flow = tcp_flow(40000);
  flow.kernel_id = 2;
  table.insert(flow, kStart);
  EXPECT_FALSE(table.erase_kernel(flow.original, 1)) << "a late DESTROY of an older connection";
  EXPECT_TRUE(table.copy(flow.original, kStart));
  EXPECT_TRUE(table.erase_kernel(flow.original, 2));
  EXPECT_FALSE(table.copy(flow.original, kStart));
}

TEST(ConntrackFlowTable, AResetConnectionOutlivesTheKernelsDestroyForItsReset) {
  FlowTable table;
  Flow unassured = tcp_flow(40000);
  unassured.kernel_id = 3;
  unassured.observed = true;
  table.insert(unassured, kStart);
  // The reset that made the kernel kill it still passes verdictd's hooks.
  EXPECT_TRUE(table.kernel_destroyed(unassured.original, 3, kStart));
  ASSERT_TRUE(table.copy(unassured.original, kStart));
  EXPECT_LE(table.copy(unassured.original, kStart)->flow.expires,
            kStart + FlowTable::kDestroyedResetGrace);
  Flow assured = tcp_flow(40001);
  assured.kernel_id = 4;
  assured.observed = true;
  assured.status |= ctstatus::kAssured;
  table.insert(assured, kStart);
  EXPECT_TRUE(table.kernel_destroyed(assured.original, 4, kStart));
  EXPECT_FALSE(table.copy(assured.original, kStart));
}

TEST(ConntrackFlowTable, OnlyUnconfirmedFlowsGoWithADroppedPacket) {
  FlowTable table;
  Flow confirmed = tcp_flow(1);
  confirmed.kernel_id = 4;
  table.insert(confirmed, kStart);
  table.insert(tcp_flow(2), kStart);
  EXPECT_FALSE(table.erase_unconfirmed(confirmed.original));
  EXPECT_TRUE(table.erase_unconfirmed(tcp_flow(2).original));
  EXPECT_EQ(table.stats().flows, 1U);
}

TEST(ConntrackFlowTable, ResyncKeepsWhatTheDumpHadAndYoungUnconfirmedFlows) {
  FlowTable table;
  Flow dumped = tcp_flow(1);
  dumped.kernel_id = 10;
  Flow gone = tcp_flow(2);
  gone.kernel_id = 11;
  Flow old_unconfirmed = tcp_flow(3);
  Flow young_unconfirmed = tcp_flow(4);
  young_unconfirmed.created = kStart + seconds(9);
  for (const Flow& f : {dumped, gone, old_unconfirmed, young_unconfirmed}) table.insert(f, kStart);
  EXPECT_EQ(table.unconfirmed_before(kStart + seconds(5)).size(), 1U);
  EXPECT_EQ(table.retain_kernel({dumped.original, dumped.reply}, kStart + seconds(10), seconds(2)),
            2U);
  EXPECT_TRUE(table.copy(dumped.original, kStart));
  EXPECT_FALSE(table.copy(gone.original, kStart));
  EXPECT_FALSE(table.copy(old_unconfirmed.original, kStart));
  EXPECT_TRUE(table.copy(young_unconfirmed.original, kStart));
}

TEST(ConntrackFlowListing, LinesReadLikeConntrackList) {
  Flow flow = tcp_flow(38146, ctstatus::kSeenReply | ctstatus::kAssured);
  flow.tcp_state = TcpState::kClose;
  flow.counters = {{{4, 218}, {3, 164}}};
  flow.expires = kStart + seconds(9);
  EXPECT_EQ(flow_line(flow, kStart),
            "tcp      6 9 CLOSE src=10.0.1.2 dst=10.0.2.2 sport=38146 dport=22 packets=4 "
            "bytes=218 src=10.0.2.2 dst=10.0.1.2 sport=22 dport=38146 packets=3 bytes=164 "
            "[ASSURED] mark=0 use=1");
  flow.status = 0;
  flow.mark = 7;
  EXPECT_NE(flow_line(flow, kStart).find("bytes=218 [UNREPLIED] src="), std::string::npos);
  EXPECT_NE(flow_line(flow, kStart).find(" mark=7 use=1"), std::string::npos);
}

TEST(ConntrackFlowListing, FiltersSelectByProtocolAddressPortAndState) {
  const Flow flow = tcp_flow(40000);
  auto accepts = [&flow](const nlohmann::ordered_json& filter) {
    return FlowFilter::from_request({{"filter", filter}}).accepts(flow);
  };
  EXPECT_TRUE(accepts({{"protocol", "tcp"}, {"source", "10.0.1.2"}, {"dport", 22}}));
  EXPECT_TRUE(accepts({{"protocol", 6}, {"state", "ESTABLISHED"}, {"family", "ipv4"}}));
  EXPECT_FALSE(accepts({{"protocol", "udp"}}));
  EXPECT_FALSE(accepts({{"destination", "10.0.1.2"}}));
  EXPECT_FALSE(accepts({{"sport", 22}}));
  EXPECT_FALSE(accepts({{"state", "TIME_WAIT"}}));
  EXPECT_FALSE(accepts({{"family", "ipv6"}}));
  EXPECT_THROW(accepts({{"state", "OPEN"}}), std::invalid_argument);
  EXPECT_THROW(accepts({{"source", "10.0.1"}}), std::invalid_argument);
}

}  // namespace
}  // namespace verdictd
