// SipHash-2-4 against the reference vectors of the SipHash paper
// (key 00 01 .. 0f, message 00 01 .. len-1), and the tuple hash built on it:
// keyed per process, and even over buckets for tuples crafted to collide
// under an unkeyed hash.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <span>
#include <vector>

#include "conntrack/siphash.hpp"
#include "conntrack/tuple.hpp"

namespace verdictd {
namespace {

TEST(SipHash, ReferenceVectors) {
  // vectors_sip64 of the reference implementation, messages of 0 to 16
  // bytes; 15 bytes is the paper's worked example (Appendix A).
  constexpr std::array<std::uint64_t, 17> kExpected = {
      0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
      0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
      0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
      0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
      0x3f2acc7f57c29bdb,
  };
  const SipKey key{.k0 = 0x0706050403020100ULL, .k1 = 0x0f0e0d0c0b0a0908ULL};
  std::array<std::uint8_t, kExpected.size()> message{};
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::uint8_t>(i);
  for (std::size_t length = 0; length < kExpected.size(); ++length) {
    EXPECT_EQ(siphash24(key, std::span(message.data(), length)), kExpected[length])
        << length << " bytes";
  }
}

TEST(SipHash, AnEmptyMessageWithoutBytesHashesAsTheEmptyMessage) {
  // An empty span may have no data at all (an empty packet, say); found by
  // the packet path fuzzer under UBSan (memcpy from null).
  const SipKey key{.k0 = 0x0706050403020100ULL, .k1 = 0x0f0e0d0c0b0a0908ULL};
  EXPECT_EQ(siphash24(key, std::span<const std::uint8_t>()), 0x726fdb47dd0e0e31ULL);
}

TEST(SipHash, TheKeyChangesEveryOutput) {
  const std::array<std::uint8_t, 3> message{1, 2, 3};
  EXPECT_NE(siphash24({.k0 = 1, .k1 = 2}, message), siphash24({.k0 = 1, .k1 = 3}, message));
  const SipKey& key = process_sip_key();
  EXPECT_FALSE(key.k0 == 0 && key.k1 == 0) << "drawn from getrandom";
  EXPECT_EQ(&key, &process_sip_key()) << "one key per process";
}

// The tuple hash verdictd had before SipHash: a multiply-xorshift step per
// 64-bit word from a random 64-bit seed, and splitmix64's finalizer. Each
// step can be undone, so whoever knows the seed (it is no PRF: nothing
// keeps its outputs from giving it away) picks the last word of a tuple to
// land it on any hash value. Here the seed is known: 0.
class PreviousTupleHash {
 public:
  static constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;

  // The state after every word but the destination's last eight bytes.
  static std::uint64_t state_before_last(const Tuple& t) {
    std::uint64_t state = 0;
    add(state, static_cast<std::uint64_t>(t.family) | (std::uint64_t{t.protocol} << 8) |
                   (std::uint64_t{t.zone} << 16) | (std::uint64_t{t.source_port} << 32) |
                   (std::uint64_t{t.destination_port} << 48));
    add(state, word(t.source, 0));
    add(state, word(t.source, 8));
    add(state, word(t.destination, 0));
    return state;
  }
  static std::uint64_t hash(const Tuple& t) {
    std::uint64_t state = state_before_last(t);
    add(state, word(t.destination, 8));
    return finish(state);
  }
  // The last word that takes `before` to `state`.
  static std::uint64_t last_word_for(std::uint64_t before, std::uint64_t state) {
    state ^= state >> 32;  // its own inverse for a 32-bit shift of 64 bits
    return (state * inverse(kMultiplier)) ^ before;
  }

 private:
  static void add(std::uint64_t& state, std::uint64_t w) {
    state = (state ^ w) * kMultiplier;
    state ^= state >> 32;
  }
  static std::uint64_t word(const IpAddress& address, std::size_t at) {
    std::uint64_t w = 0;
    std::memcpy(&w, address.bytes.data() + at, sizeof w);
    return w;
  }
  static std::uint64_t finish(std::uint64_t h) {
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
  }
  // The inverse of an odd number modulo 2^64 (Newton's iteration).
  static std::uint64_t inverse(std::uint64_t odd) {
    std::uint64_t x = odd;
    for (int i = 0; i < 5; ++i) x *= 2 - odd * x;
    return x;
  }
};

// A SYN flood from a million IPv6 sources to one /64, each destination's
// interface identifier chosen to collide under the previous hash.
std::vector<Tuple> crafted_tuples(std::size_t count) {
  constexpr std::uint64_t kTarget = 0x5eed;
  std::vector<Tuple> tuples(count);
  for (std::size_t i = 0; i < count; ++i) {
    Tuple& t = tuples[i];
    t.family = Family::kIPv6;
    t.protocol = ipproto::kTcp;
    t.source = *IpAddress::parse("2001:db8:a::");
    t.destination = *IpAddress::parse("2001:db8:b::");
    for (std::size_t b = 0; b < 4; ++b) {
      t.source.bytes[15 - b] = static_cast<std::uint8_t>(i >> (8 * b));
    }
    t.source_port = 40000;
    t.destination_port = 80;
    const std::uint64_t last =
        PreviousTupleHash::last_word_for(PreviousTupleHash::state_before_last(t), kTarget);
    std::memcpy(t.destination.bytes.data() + 8, &last, sizeof last);
  }
  return tuples;
}

TEST(TupleHash, AMillionTuplesCraftedToCollideSpreadEvenly) {
  constexpr std::size_t kCount = std::size_t{1} << 20;
  const std::vector<Tuple> tuples = crafted_tuples(kCount);
  const std::uint64_t collided = PreviousTupleHash::hash(tuples.front());
  std::size_t colliding = 0;
  for (const Tuple& t : tuples) colliding += PreviousTupleHash::hash(t) == collided ? 1 : 0;
  ASSERT_EQ(colliding, kCount) << "the crafted tuples all collide under the previous hash";

  // As many buckets as tuples: the low bits place a tuple in a shard's
  // index, the top ones pick the shard (conntrack/flow_table.hpp).
  std::vector<std::uint32_t> buckets(kCount);
  std::array<std::uint32_t, 256> shards{};
  for (const Tuple& t : tuples) {
    const std::uint64_t hash = TupleHash{}(t);
    ++buckets[hash & (kCount - 1)];
    ++shards[hash >> 56];
  }
  const std::uint32_t longest = *std::max_element(buckets.begin(), buckets.end());
  const auto occupied = static_cast<double>(std::count_if(buckets.begin(), buckets.end(),
                                                          [](std::uint32_t n) { return n != 0; })) /
                        kCount;
  const auto [fewest, most] = std::minmax_element(shards.begin(), shards.end());
  std::cout << kCount << " crafted tuples: previous hash, one chain of " << colliding
            << "; SipHash over " << kCount << " buckets: longest chain " << longest
            << ", buckets occupied " << occupied << " (ideal 1 - 1/e = 0.632); per shard "
            << *fewest << " to " << *most << " (ideal " << kCount / shards.size() << ")\n";
  // Random placement gives a longest chain near 9 and 63.2 % occupied.
  EXPECT_LE(longest, 16U);
  EXPECT_GT(occupied, 0.62);
  EXPECT_LT(occupied, 0.645);
  EXPECT_LT(*most, kCount / shards.size() * 5 / 4);
  EXPECT_GT(*fewest, kCount / shards.size() * 3 / 4);
}

}  // namespace
}  // namespace verdictd
