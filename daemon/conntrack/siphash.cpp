#include "conntrack/siphash.hpp"

#include <sys/random.h>

#include <bit>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace verdictd {

namespace {

// The paper reads the message as little-endian words: this host's order.
static_assert(std::endian::native == std::endian::little);

// `count` bytes (at most 8) as the low bytes of a word. An empty message
// may have no bytes at all (a null pointer), which memcpy may not be given.
std::uint64_t load_le(const std::uint8_t* bytes, std::size_t count) {
  std::uint64_t word = 0;
  if (count != 0) std::memcpy(&word, bytes, count);
  return word;
}

class SipState {
 public:
  explicit SipState(const SipKey& key)
      : v0_(key.k0 ^ 0x736f6d6570736575ULL),
        v1_(key.k1 ^ 0x646f72616e646f6dULL),
        v2_(key.k0 ^ 0x6c7967656e657261ULL),
        v3_(key.k1 ^ 0x7465646279746573ULL) {}

  // One message word: c = 2 rounds.
  void compress(std::uint64_t word) {
    v3_ ^= word;
    round();
    round();
    v0_ ^= word;
  }

  // d = 4 rounds.
  std::uint64_t finish() {
    v2_ ^= 0xff;
    round();
    round();
    round();
    round();
    return v0_ ^ v1_ ^ v2_ ^ v3_;
  }

 private:
  void round() {
    v0_ += v1_;
    v1_ = std::rotl(v1_, 13);
    v1_ ^= v0_;
    v0_ = std::rotl(v0_, 32);
    v2_ += v3_;
    v3_ = std::rotl(v3_, 16);
    v3_ ^= v2_;
    v0_ += v3_;
    v3_ = std::rotl(v3_, 21);
    v3_ ^= v0_;
    v2_ += v1_;
    v1_ = std::rotl(v1_, 17);
    v1_ ^= v2_;
    v2_ = std::rotl(v2_, 32);
  }

  std::uint64_t v0_;
  std::uint64_t v1_;
  std::uint64_t v2_;
  std::uint64_t v3_;
};

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::uint8_t> message) {
  SipState state(key);
  const std::size_t whole = message.size() / 8 * 8;
  for (std::size_t at = 0; at < whole; at += 8) state.compress(load_le(message.data() + at, 8));
  // The last word: the bytes left over, and the message length mod 256 in its top byte.
  const std::uint64_t last = load_le(message.data() + whole, message.size() - whole) |
                             (std::uint64_t{message.size() & 0xff} << 56);
  state.compress(last);
  return state.finish();
}

const SipKey& process_sip_key() {
  static const SipKey key = [] {
    SipKey drawn;
    // 16 bytes from the urandom pool never come back short once it is
    // initialised; getrandom blocks until it is.
    if (getrandom(&drawn, sizeof drawn, 0) != static_cast<ssize_t>(sizeof drawn)) {
      throw std::runtime_error("getrandom failed for the flow table's hash key");
    }
    return drawn;
  }();
  return key;
}

}  // namespace verdictd
