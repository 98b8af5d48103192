// The sharded flow table: many flows in and out of the shards' indexes
// (every survivor still found by both tuples), eviction of the oldest
// unassured flow whichever shards the flows fall in, and threads inserting,
// finding, changing, listing and removing flows at once; the node's first
// cache line holding all a lookup reads, and the word lock under contention.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "conntrack/flow_index.hpp"
#include "conntrack/flow_table.hpp"
#include "conntrack/word_lock.hpp"

namespace verdictd {
namespace {

using std::chrono::seconds;

const ConntrackTime kStart{seconds(1000)};

// Flow `n` of client `client`: a distinct UDP flow from 10.<client>.x.y.
Flow udp_flow(std::uint32_t client, std::uint32_t n, std::uint32_t status = 0) {
  IpAddress source = *IpAddress::parse("10.0.0.0");
  source.bytes[1] = static_cast<std::uint8_t>(client);
  source.bytes[2] = static_cast<std::uint8_t>(n >> 16);
  source.bytes[3] = static_cast<std::uint8_t>(n >> 8);
  const auto port = static_cast<std::uint16_t>(1024 + (n & 0xff));
  Flow flow;
  flow.original = {.family = Family::kIPv4,
                   .protocol = ipproto::kUdp,
                   .source = source,
                   .destination = *IpAddress::parse("192.0.2.1"),
                   .source_port = port,
                   .destination_port = 53};
  flow.reply = *reply_tuple(flow.original);
  flow.status = status;
  flow.created = kStart;
  flow.expires = kStart + seconds(120);
  return flow;
}

TEST(ConntrackFlowTableShards, RemovalsLeaveEveryOtherFlowFoundByBothTuples) {
  constexpr std::uint32_t kFlows = 50000;
  FlowTable table(kFlows);
  for (std::uint32_t n = 0; n < kFlows; ++n) {
    ASSERT_EQ(table.insert(udp_flow(1, n), kStart), FlowTable::Insert::kInserted);
  }
  for (std::uint32_t n = 0; n < kFlows; n += 3) EXPECT_TRUE(table.erase(udp_flow(1, n).reply));
  std::uint32_t wrong = 0;
  for (std::uint32_t n = 0; n < kFlows; ++n) {
    const Flow flow = udp_flow(1, n);
    const bool kept = n % 3 != 0;
    Direction seen = Direction::kOriginal;
    const auto note = [&seen](const Flow&, Direction direction) { seen = direction; };
    wrong += table.find(flow.original, kStart, note) == kept ? 0 : 1;
    wrong += table.find(flow.reply, kStart, note) == kept ? 0 : 1;
    wrong += kept && seen != Direction::kReply ? 1 : 0;
  }
  EXPECT_EQ(wrong, 0U);
  EXPECT_EQ(table.stats().flows, kFlows - (kFlows + 2) / 3);
  EXPECT_EQ(table.expire(kStart + seconds(120)), kFlows - (kFlows + 2) / 3);
  EXPECT_EQ(table.stats().flows, 0U);
}

TEST(ConntrackFlowTableShards, EvictionTakesTheOldestUnassuredFlowOfAllShards) {
  constexpr std::uint32_t kFlows = 1000;
  FlowTable table(kFlows);
  // The ten oldest are assured; the rest, in every shard, are not.
  for (std::uint32_t n = 0; n < kFlows; ++n) {
    table.insert(udp_flow(1, n, n < 10 ? ctstatus::kAssured : 0), kStart);
  }
  for (std::uint32_t extra = 0; extra < 5; ++extra) {
    ASSERT_EQ(table.insert(udp_flow(2, extra), kStart), FlowTable::Insert::kInserted);
    EXPECT_FALSE(table.copy(udp_flow(1, 10 + extra).original, kStart)) << extra;
    EXPECT_TRUE(table.copy(udp_flow(1, 11 + extra).original, kStart)) << extra;
  }
  for (std::uint32_t n = 0; n < 10; ++n) EXPECT_TRUE(table.copy(udp_flow(1, n).original, kStart));
  EXPECT_EQ(table.stats().evicted, 5U);
  EXPECT_EQ(table.stats().flows, kFlows);
}

TEST(ConntrackFlowTableShards, ThreadsInsertFindChangeAndRemoveAtOnce) {
  constexpr std::size_t kThreads = 4;
  constexpr std::uint32_t kFlowsEach = 2000;
  constexpr std::uint32_t kRounds = 20;
  FlowTable table(kThreads * kFlowsEach);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> wrong{0};
  std::vector<std::thread> threads;
  for (std::uint32_t client = 0; client < kThreads; ++client) {
    threads.emplace_back([&, client] {
      for (std::uint32_t n = 0; n < kFlowsEach; ++n) {
        if (table.insert(udp_flow(client, n), kStart) != FlowTable::Insert::kInserted) ++wrong;
      }
      for (std::uint32_t round = 0; round < kRounds; ++round) {
        for (std::uint32_t n = 0; n < kFlowsEach; ++n) {
          const Flow flow = udp_flow(client, n);
          // Alternate directions: one flow, two shards.
          const Tuple& tuple = n % 2 == 0 ? flow.original : flow.reply;
          const bool found = table.modify(tuple, kStart, [](Flow& f, Direction d) {
            ++f.counters[static_cast<std::size_t>(d)].packets;
          });
          if (!found) ++wrong;
        }
      }
      // The odd flows go; the even ones stay.
      for (std::uint32_t n = 1; n < kFlowsEach; n += 2) {
        if (!table.erase(udp_flow(client, n).original)) ++wrong;
      }
    });
  }
  // Meanwhile: listings and expiry runs (nothing is due) walk every flow.
  std::thread walker([&] {
    while (!done) {
      for (const Flow& flow : table.flows(kStart)) {
        if (flow.counters[0].packets + flow.counters[1].packets > kRounds) ++wrong;
      }
      if (table.expire(kStart) != 0) ++wrong;
    }
  });
  for (std::thread& thread : threads) thread.join();
  done = true;
  walker.join();
  EXPECT_EQ(wrong.load(), 0U);
  EXPECT_EQ(table.stats().flows, kThreads * kFlowsEach / 2);
  std::size_t counted = 0;
  for (std::uint32_t client = 0; client < kThreads; ++client) {
    for (std::uint32_t n = 0; n < kFlowsEach; n += 2) {
      table.find(udp_flow(client, n).reply, kStart, [&](const Flow& flow, Direction) {
        counted += flow.counters[0].packets == kRounds ? 1 : 0;
      });
    }
  }
  EXPECT_EQ(counted, kThreads * kFlowsEach / 2) << "every change kept";
}

// A lookup by the original tuple reads the node's lock, that tuple, the
// status and the expiry: one cache line (bench/flow_lookup measures why).
TEST(ConntrackFlowTableShards, WhatALookupReadsIsInTheNodesFirstCacheLine) {
  const FlowNode node;
  const auto offset_of_end = [&node](const auto& field) {
    return reinterpret_cast<const std::byte*>(&field) + sizeof field -
           reinterpret_cast<const std::byte*>(&node);
  };
  constexpr std::ptrdiff_t kCacheLine = 64;
  EXPECT_EQ(alignof(FlowNode), kCacheLine);
  EXPECT_LE(offset_of_end(node.mutex), kCacheLine);
  EXPECT_LE(offset_of_end(node.flow.original), kCacheLine);
  EXPECT_LE(offset_of_end(node.flow.status), kCacheLine);
  EXPECT_LE(offset_of_end(node.flow.expires), kCacheLine);
}

// Threads adding to one counter under a WordLock, often finding it held (and
// so sleeping on it and being woken), lose no increment.
TEST(ConntrackFlowTableShards, WordLockExcludesAndWakesItsWaiters) {
  WordLock lock;
  std::uint64_t counter = 0;  // guarded by `lock`
  constexpr int kThreads = 4;
  constexpr int kIncrements = 100000;
  {
    std::vector<std::jthread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kIncrements; ++i) {
          const std::lock_guard held(lock);
          ++counter;
          if (i % 1000 == 0) std::this_thread::yield();  // held across a yield: others wait
        }
      });
    }
  }
  EXPECT_EQ(counter, std::uint64_t{kThreads} * kIncrements);
}

}  // namespace
}  // namespace verdictd
