#include "nat/port_choice.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <random>
#include <span>
#include <utility>

namespace verdictd {

namespace {

constexpr std::uint8_t kDccp = 33;
// The most probes of the first round; each later round from a new random
// offset has half as many, and the search stops after a round shorter than
// kFewestAttempts (nf_nat_l4proto_unique_tuple runs in softirq context).
constexpr unsigned kMostAttempts = 128;
constexpr unsigned kFewestAttempts = 16;

// Ports 512-1023 are by loose convention credential passing; a port of that
// class is remapped within 600-1023 (nf_nat_l4proto_unique_tuple).
constexpr unsigned kLowClassEnd = 512;
constexpr unsigned kPrivilegedClassStart = 600;
constexpr unsigned kPrivilegedEnd = 1024;
constexpr unsigned kPortSpace = 65536;

// Bob Jenkins' lookup3 hashword, which the kernel calls jhash2.
std::uint32_t jenkins_hash_words(std::span<const std::uint32_t> words, std::uint32_t seed) {
  constexpr std::uint32_t kInitial = 0xdeadbeef;
  std::uint32_t a = kInitial + (static_cast<std::uint32_t>(words.size()) << 2U) + seed;
  std::uint32_t b = a;
  std::uint32_t c = a;
  const auto mix = [&] {
    a -= c, a ^= std::rotl(c, 4), c += b;
    b -= a, b ^= std::rotl(a, 6), a += c;
    c -= b, c ^= std::rotl(b, 8), b += a;
    a -= c, a ^= std::rotl(c, 16), c += b;
    b -= a, b ^= std::rotl(a, 19), a += c;
    c -= b, c ^= std::rotl(b, 4), b += a;
  };
  const auto finish = [&] {
    c ^= b, c -= std::rotl(b, 14);
    a ^= c, a -= std::rotl(c, 11);
    b ^= a, b -= std::rotl(a, 25);
    c ^= b, c -= std::rotl(b, 16);
    a ^= c, a -= std::rotl(c, 4);
    b ^= a, b -= std::rotl(a, 14);
    c ^= b, c -= std::rotl(b, 24);
  };
  while (words.size() > 3) {
    a += words[0];
    b += words[1];
    c += words[2];
    mix();
    words = words.subspan(3);
  }
  if (words.empty()) return c;
  if (words.size() == 3) c += words[2];
  if (words.size() >= 2) b += words[1];
  a += words[0];
  finish();
  return c;
}

// The i-th 32-bit word of an address as it lies in memory: the kernel hashes
// and XORs addresses in their network byte order read as native words.
std::uint32_t memory_word(const IpAddress& address, std::size_t i) {
  std::uint32_t word = 0;
  std::memcpy(&word, address.bytes.data() + 4 * i, sizeof word);
  return word;
}

std::uint32_t numeric_word(const IpAddress& address, std::size_t i) {
  const std::uint8_t* b = address.bytes.data() + 4 * i;
  return (std::uint32_t{b[0]} << 24U) | (std::uint32_t{b[1]} << 16U) | (std::uint32_t{b[2]} << 8U) |
         b[3];
}

void set_numeric_word(IpAddress& address, std::size_t i, std::uint32_t value) {
  std::uint8_t* b = address.bytes.data() + 4 * i;
  b[0] = static_cast<std::uint8_t>(value >> 24U);
  b[1] = static_cast<std::uint8_t>(value >> 16U);
  b[2] = static_cast<std::uint8_t>(value >> 8U);
  b[3] = static_cast<std::uint8_t>(value);
}

// reciprocal_scale: `hash` mapped onto [0, size) by its high bits.
std::uint32_t scale(std::uint32_t hash, std::uint32_t size) {
  return static_cast<std::uint32_t>((std::uint64_t{hash} * size) >> 32U);
}

bool has_ports(std::uint8_t protocol) {
  return protocol == ipproto::kTcp || protocol == ipproto::kUdp || protocol == ipproto::kUdplite ||
         protocol == ipproto::kSctp || protocol == kDccp;
}

bool is_icmp(std::uint8_t protocol) {
  return protocol == ipproto::kIcmp || protocol == ipproto::kIcmpv6;
}

// get_random_u16: the kernel draws each search offset afresh.
std::uint16_t random_offset() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint16_t>(generator());
}

}  // namespace

IpAddress choose_address(const AddressRange& range, const Tuple& original, ManipSide side,
                         bool persistent) {
  if (range.min == range.max) return range.min;
  const std::size_t last_word = range.min.family == Family::kIPv4 ? 0 : 3;
  std::array<std::uint32_t, 4> source{};
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = memory_word(original.source, i);
  std::uint32_t hash = jenkins_hash_words(
      source, persistent ? 0 : memory_word(original.destination, last_word) ^ original.zone);

  IpAddress chosen = side == ManipSide::kSource ? original.source : original.destination;
  chosen.family = range.min.family;
  // Word by word from the front: while the words chosen so far equal the
  // range's upper end, the next one stays within the range's words; after
  // that any value will do.
  bool below_max = false;
  for (std::size_t i = 0; i <= last_word; ++i) {
    std::uint32_t low = 0;
    std::uint32_t size = 0xffffffff;
    if (!below_max) {
      low = numeric_word(range.min, i);
      size = numeric_word(range.max, i) - low + 1;
    }
    set_numeric_word(chosen, i, low + scale(hash, size));
    if (memory_word(chosen, i) != memory_word(range.max, i)) below_max = true;
    // The kernel XORs in the tuple's destination word as it stands now: for
    // a destination manip, the word just chosen.
    if (!persistent) {
      hash ^= memory_word(side == ManipSide::kDestination ? chosen : original.destination, i);
    }
  }
  return chosen;
}

std::optional<std::uint16_t> choose_port(const PortChoice& request,
                                         const std::function<bool(std::uint16_t)>& taken) {
  const bool icmp = is_icmp(request.protocol);
  const bool ports = has_ports(request.protocol);
  const std::uint16_t original = request.original;
  // Other protocols have nothing to change: a clash drops the packet when
  // the kernel confirms the connection.
  if (!icmp && !ports) return taken(original) ? std::nullopt : std::optional{original};

  unsigned low = 0;
  unsigned size = kPortSpace;
  if (request.range) {
    const auto [min, max] = std::minmax(request.range->min, request.range->max);
    low = min;
    size = unsigned{max} - min + 1;
  }
  const bool in_range = original >= low && original - low < size;
  if (!request.random && in_range && !taken(original)) return original;

  if (ports && !request.range) {
    if (request.side == ManipSide::kDestination) {
      return taken(original) ? std::nullopt : std::optional{original};
    }
    if (original < kLowClassEnd) {
      low = 1;
      size = kLowClassEnd - 1;
    } else if (original < kPrivilegedEnd) {
      low = kPrivilegedClassStart;
      size = kPrivilegedEnd - kPrivilegedClassStart;
    } else {
      low = kPrivilegedEnd;
      size = kPortSpace - kPrivilegedEnd;
    }
  }

  // A 16-bit offset, as in the kernel: it wraps at 65536 even when the range
  // is not a divisor of that.
  std::uint16_t offset = random_offset();
  unsigned attempts = std::min(size, kMostAttempts);
  for (;;) {
    for (unsigned i = 0; i < attempts; ++i, ++offset) {
      const auto port = static_cast<std::uint16_t>(low + offset % size);
      if (!taken(port)) return port;
    }
    if (attempts >= size || attempts < kFewestAttempts) return std::nullopt;
    attempts /= 2;
    offset = random_offset();
  }
}

}  // namespace verdictd
