// The NAT binding store: what is written is read back by the next run, a torn
// slot is ignored, a freed slot is gone, and the flow table frees the slot of
// a flow that goes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "conntrack/flow_table.hpp"
#include "service/binding_store.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

const ConntrackTime kNow{seconds(100)};
constexpr std::size_t kHeaderSize = 64;  // the file's header, then 128-byte slots
constexpr std::size_t kSlotSize = 128;

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

Tuple udp(std::string_view src, std::uint16_t sport, std::string_view dst, std::uint16_t dport) {
  return {.family = ip(src).family,
          .protocol = ipproto::kUdp,
          .source = ip(src),
          .destination = ip(dst),
          .source_port = sport,
          .destination_port = dport};
}

// A client masqueraded to 10.2.0.1:1025.
Flow masqueraded(std::uint16_t sport) {
  Flow flow;
  flow.original = udp("10.1.0.2", sport, "10.2.0.2", 53);
  flow.reply = udp("10.2.0.2", 53, "10.2.0.1", 1025);
  flow.status = ctstatus::kSrcNat | ctstatus::kConfirmed;
  flow.nat_done = natmanip::kBoth;
  flow.masquerade_ifindex = 3;
  flow.created = kNow;
  flow.expires = kNow + seconds(30);
  return flow;
}

class BindingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "vd-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
    path_ = (directory_ / "nat-bindings").string();
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  void corrupt(std::uint32_t slot, std::size_t offset) const {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(kHeaderSize + slot * kSlotSize + offset));
    file.put('\x5a');
  }

  std::filesystem::path directory_;
  std::string path_;
};

TEST_F(BindingStoreTest, WhatIsRecordedIsReadBackByTheNextRun) {
  Flow ipv6 = masqueraded(0);
  ipv6.original = udp("fd01::2", 5000, "fd02::2", 53);
  ipv6.reply = udp("fd02::2", 53, "fd02::1", 5000);
  ipv6.nat_done = natmanip::kSource;
  {
    BindingStore store(path_, 16);
    EXPECT_TRUE(store.previous().empty());
    store.commit();
    EXPECT_EQ(store.record(masqueraded(4000)), 0U);
    EXPECT_EQ(store.record(ipv6), 1U);
    EXPECT_EQ(store.used(), 2U);
  }  // as a SIGKILL leaves it: nothing but the mapped memory's contents
  BindingStore next(path_, 16);
  ASSERT_EQ(next.previous().size(), 2U);
  const Flow& first = next.previous()[0];
  EXPECT_EQ(first.original, masqueraded(4000).original);
  EXPECT_EQ(first.reply, masqueraded(4000).reply);
  EXPECT_EQ(first.status, ctstatus::kSrcNat) << "only the NAT bits are kept";
  EXPECT_EQ(first.nat_done, natmanip::kBoth);
  EXPECT_EQ(first.masquerade_ifindex, 3U);
  EXPECT_EQ(next.previous()[1].original, ipv6.original);
  EXPECT_EQ(next.previous()[1].reply, ipv6.reply);
  EXPECT_EQ(next.previous()[1].nat_done, natmanip::kSource);
  EXPECT_EQ(next.used(), 0U) << "the new run starts with an empty store";
}

TEST_F(BindingStoreTest, RecordingAgainRewritesTheSameSlot) {
  BindingStore store(path_, 16);
  store.commit();
  Flow flow = masqueraded(4000);
  flow.binding_slot = store.record(flow);
  flow.reply.destination_port = 2000;
  EXPECT_EQ(store.record(flow), flow.binding_slot);
  EXPECT_EQ(store.used(), 1U);
  BindingStore next(path_, 16);
  ASSERT_EQ(next.previous().size(), 1U);
  EXPECT_EQ(next.previous()[0].reply.destination_port, 2000);
}

TEST_F(BindingStoreTest, ATornSlotIsIgnored) {
  {
    BindingStore store(path_, 16);
    store.commit();
    store.record(masqueraded(4000));
    store.record(masqueraded(4001));
  }
  corrupt(0, 50);  // half of a write: the checksum no longer holds
  BindingStore next(path_, 16);
  ASSERT_EQ(next.previous().size(), 1U);
  EXPECT_EQ(next.previous()[0].original.source_port, 4001);
}

TEST_F(BindingStoreTest, AFreedSlotIsGoneAndUsedAgain) {
  {
    BindingStore store(path_, 16);
    store.commit();
    EXPECT_EQ(store.record(masqueraded(4000)), 0U);
    EXPECT_EQ(store.record(masqueraded(4001)), 1U);
    store.release(0);
    EXPECT_EQ(store.used(), 1U);
    EXPECT_EQ(store.record(masqueraded(4002)), 0U);
    store.release(1);
  }
  BindingStore next(path_, 16);
  ASSERT_EQ(next.previous().size(), 1U);
  EXPECT_EQ(next.previous()[0].original.source_port, 4002);
}

TEST_F(BindingStoreTest, AFullStoreRecordsNothingMore) {
  BindingStore store(path_, 1);
  EXPECT_EQ(store.record(masqueraded(4000)), 0U);
  EXPECT_EQ(store.record(masqueraded(4001)), kNoBindingSlot);
}

TEST_F(BindingStoreTest, UntilCommittedARestartReadsTheOldStore) {
  {
    BindingStore store(path_, 16);
    store.commit();
    store.record(masqueraded(4000));
  }
  {
    BindingStore interrupted(path_, 16);  // dies before commit()
    EXPECT_EQ(interrupted.previous().size(), 1U);
  }
  BindingStore next(path_, 16);
  EXPECT_EQ(next.previous().size(), 1U);
}

TEST_F(BindingStoreTest, SomethingElseInItsPlaceHoldsNoBindings) {
  std::ofstream(path_) << "not a store, but long enough to hold a header of sixty-four bytes.";
  BindingStore store(path_, 16);
  EXPECT_TRUE(store.previous().empty());
}

TEST_F(BindingStoreTest, TheFlowTableFreesTheSlotOfAFlowThatGoes) {
  BindingStore store(path_, 16);
  store.commit();
  FlowTable flows;
  flows.set_journal(&store);
  Flow flow = masqueraded(4000);
  flow.status = 0;
  flow.nat_done = 0;
  flow.reply = *reply_tuple(flow.original);
  ASSERT_EQ(flows.insert(flow, kNow), FlowTable::Insert::kInserted);
  ASSERT_TRUE(flows.rebind(flow.original, masqueraded(4000).reply, kNow));
  const auto bound =
      flows.note_binding(flow.original, natmanip::kSource, ctstatus::kSrcNat, 3, kNow);
  ASSERT_TRUE(bound);
  EXPECT_EQ(bound->binding_slot, 0U);
  EXPECT_EQ(store.used(), 1U);
  EXPECT_EQ(flows.expire(kNow + seconds(31)), 1U);
  EXPECT_EQ(store.used(), 0U) << "an expired flow frees its slot";
  BindingStore next(path_, 16);
  EXPECT_TRUE(next.previous().empty());
}

TEST_F(BindingStoreTest, ANullBindingIsRecordedOnlyBesideARealOne) {
  BindingStore store(path_, 16);
  store.commit();
  FlowTable flows;
  flows.set_journal(&store);
  for (const std::uint16_t sport : {4000, 4001}) {
    Flow flow = masqueraded(sport);
    flow.reply = *reply_tuple(flow.original);
    flow.status = 0;
    flow.nat_done = 0;
    ASSERT_EQ(flows.insert(flow, kNow), FlowTable::Insert::kInserted);
  }
  // 4000: a port forward (DNAT) at PREROUTING, then no SNAT rule at
  // POSTROUTING; 4001: no rule at either.
  ASSERT_TRUE(flows.note_binding(masqueraded(4000).original, natmanip::kDestination,
                                 ctstatus::kDstNat, 0, kNow));
  flows.note_null_binding(masqueraded(4000).original, natmanip::kSource, kNow);
  flows.note_null_binding(masqueraded(4001).original, natmanip::kDestination, kNow);
  flows.note_null_binding(masqueraded(4001).original, natmanip::kSource, kNow);
  EXPECT_EQ(store.used(), 1U) << "a connection no rule bound takes no slot";
  BindingStore next(path_, 16);
  ASSERT_EQ(next.previous().size(), 1U);
  EXPECT_EQ(next.previous()[0].nat_done, natmanip::kBoth)
      << "a restart knows the source side was decided too";
}

}  // namespace
}  // namespace verdictd
