// NAT packet rewriting: every rewritten packet is compared byte for byte with
// the original carrying the intended fields and every checksum computed from
// scratch by the reference code in nat_packets.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "nat/rewrite.hpp"
#include "nat_packets.hpp"
#include "packet/checksum.hpp"

namespace verdictd::test {
namespace {

// apply_manip on a copy; a refusal must leave the copy untouched.
std::optional<Bytes> rewritten(const Bytes& packet, const NatManip& m, bool partial) {
  Bytes copy = packet;
  if (!apply_manip(copy, m, partial)) {
    EXPECT_EQ(hex(copy), hex(packet)) << "a refused packet is left untouched";
    return std::nullopt;
  }
  return copy;
}

std::optional<Bytes> translated(const Bytes& packet, const NatManip& outer, const NatManip& inner) {
  Bytes copy = packet;
  if (!apply_manip_to_icmp_error(copy, outer, inner)) {
    EXPECT_EQ(hex(copy), hex(packet)) << "a refused packet is left untouched";
    return std::nullopt;
  }
  return copy;
}

// The rewrite of a whole packet `whole` (sealed): `m`'s fields written and
// every checksum recomputed.
Bytes expected(const Bytes& whole, const NatManip& m) { return sealed(with_fields(whole, m)); }

// Rewrites `whole` both ways it can arrive: with a complete checksum (updated
// incrementally) and with a partial one (computed whole).
void expect_rewrite(const Bytes& whole, const NatManip& m) {
  const Bytes want = expected(whole, m);
  const auto complete = rewritten(whole, m, false);
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(hex(*complete), hex(want)) << "complete checksum";
  Bytes partial_input = whole;
  make_partial(partial_input);
  const auto partial = rewritten(partial_input, m, true);
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(hex(*partial), hex(want)) << "partial checksum";
}

Bytes payload_bytes(std::size_t size, std::uint8_t seed) {
  Bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

Bytes tcp(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  Bytes b = tcp_header({.sport = sport,
                        .dport = dport,
                        .flags = tcpflag::kAck | tcpflag::kPsh,
                        .seq = 0x01020304,
                        .ack = 0xa0b0c0d0,
                        .options = syn_options(7)});
  const Bytes data = payload_bytes(payload, 0x31);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes udp(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  Bytes b = udp_header(sport, dport, payload);
  std::copy_n(payload_bytes(payload, 0x52).begin(), payload, b.begin() + 8);
  return b;
}

Bytes udplite(std::uint16_t sport, std::uint16_t dport, std::size_t payload,
              std::uint16_t coverage) {
  Bytes b = udp(sport, dport, payload);
  put16(b, 4, coverage);
  return b;
}

// An SCTP common header with one DATA chunk.
Bytes sctp(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  Bytes b = sctp_header(sport, dport);
  put32(b, 4, 0x11223344);  // verification tag
  Bytes chunk(16 + (payload + 3) / 4 * 4, 0);
  chunk[0] = 0;  // DATA
  chunk[1] = 3;  // beginning and end
  put16(chunk, 2, static_cast<std::uint16_t>(16 + payload));
  put32(chunk, 4, 77);  // TSN
  std::copy_n(payload_bytes(payload, 0x13).begin(), payload, chunk.begin() + 16);
  b.insert(b.end(), chunk.begin(), chunk.end());
  return b;
}

Bytes echo(std::uint8_t type, std::uint16_t id, std::size_t payload) {
  return icmp_message(type, 0, id, payload_bytes(payload, 0x70));
}

constexpr std::uint8_t kGre = 47;
constexpr std::uint8_t kDccpProtocol = 33;

// --- checksum helpers ------------------------------------------------------

TEST(NatChecksumTest, OnesSumFollowsRfc1071Example) {
  // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded).
  const Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum::ones_sum(data), 0xddf2);
  EXPECT_EQ(checksum::finish(checksum::ones_sum(data)), 0x220d);
  // An odd last byte is the high half of a word.
  EXPECT_EQ(checksum::ones_sum(Bytes{0x12, 0x34, 0x56}), 0x6834);
  // Chained sums equal one sum.
  EXPECT_EQ(checksum::ones_sum(Bytes{0xf6, 0xf7}, checksum::ones_sum(slice(data, 0, 6))), 0xddf2);
  EXPECT_EQ(checksum::ones_add(0xffff, 0x0001), 0x0001);
}

TEST(NatChecksumTest, Crc32cMatchesTheStandardCheckValue) {
  const std::string text = "123456789";
  const Bytes data(text.begin(), text.end());
  EXPECT_EQ(checksum::crc32c(data), 0xe3069283U);
  EXPECT_EQ(reference_crc32c(data), 0xe3069283U);
  EXPECT_EQ(checksum::crc32c(Bytes{}), 0U);
}

TEST(NatChecksumTest, PseudoHeaderSumMatchesTheAssembledHeader) {
  const Bytes v4 = ipv4(ipproto::kTcp, "192.0.2.1", "198.51.100.77", Bytes(30, 0));
  EXPECT_EQ(
      checksum::finish(checksum::pseudo_header_sum(
          *IpAddress::parse("192.0.2.1"), *IpAddress::parse("198.51.100.77"), ipproto::kTcp, 30)),
      reference_checksum(with_pseudo_header(v4, shape_of(v4))));
  const Bytes v6 = ipv6(ipproto::kUdp, "2001:db8::1", "2001:db8:ffff::42", Bytes(70000 % 997, 0));
  EXPECT_EQ(checksum::finish(checksum::pseudo_header_sum(*IpAddress::parse("2001:db8::1"),
                                                         *IpAddress::parse("2001:db8:ffff::42"),
                                                         ipproto::kUdp, 70000 % 997)),
            reference_checksum(with_pseudo_header(v6, shape_of(v6))));
}

TEST(NatChecksumTest, IncrementalUpdateEqualsRecomputation) {
  std::mt19937 random(7);
  for (int round = 0; round < 2000; ++round) {
    Bytes data(2 + random() % 64 * 2);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
    // Sometimes all ones or all zeros around the changed field.
    if (round % 10 == 0) std::fill(data.begin(), data.end(), round % 20 == 0 ? 0x00 : 0xff);
    const std::size_t width = round % 3 == 0 ? 2 : (round % 3 == 1 ? 4 : 16);
    if (data.size() < width) data.resize(width);
    const std::size_t at = random() % (data.size() - width + 1) / 2 * 2;
    const std::uint16_t before = reference_checksum(data);
    const Bytes old_field = slice(data, at, at + width);
    for (std::size_t i = 0; i < width; ++i) data[at + i] = static_cast<std::uint8_t>(random());
    const Bytes new_field = slice(data, at, at + width);
    SCOPED_TRACE(round);
    const std::uint16_t after = checksum::update(before, old_field, new_field);
    // The same sum: equal, or both representations of zero.
    const std::uint16_t full = reference_checksum(data);
    EXPECT_TRUE(after == full || (std::min(after, full) == 0 && std::max(after, full) == 0xffff))
        << after << " " << full;
    if (width == 2) {
      EXPECT_EQ(checksum::update16(before, get16(old_field, 0), get16(new_field, 0)), after);
    }
  }
}

// --- whole packets ---------------------------------------------------------

struct Case {
  std::string name;
  Bytes packet;  // sealed
};

std::vector<Case> ipv4_cases() {
  const char* a = "10.0.0.2";
  const char* b = "203.0.113.9";
  return {
      {"tcp", sealed(ipv4(ipproto::kTcp, a, b, tcp(40000, 443, 37)))},
      {"tcp no payload", sealed(ipv4(ipproto::kTcp, a, b, tcp(40000, 443, 0)))},
      {"tcp with ip options",
       sealed(with_ipv4_options(ipv4(ipproto::kTcp, a, b, tcp(1, 2, 9)), 3))},
      {"udp", sealed(ipv4(ipproto::kUdp, a, b, udp(40000, 53, 29)))},
      {"udplite full coverage", sealed(ipv4(ipproto::kUdplite, a, b, udplite(5000, 6000, 40, 0)))},
      {"udplite coverage 12", sealed(ipv4(ipproto::kUdplite, a, b, udplite(5000, 6000, 40, 12)))},
      {"sctp", sealed(ipv4(ipproto::kSctp, a, b, sctp(2905, 2905, 21)))},
      {"icmp echo request", sealed(ipv4(ipproto::kIcmp, a, b, echo(8, 0x1234, 56)))},
      {"icmp echo reply", sealed(ipv4(ipproto::kIcmp, b, a, echo(0, 0x1234, 56)))},
      {"icmp timestamp", sealed(ipv4(ipproto::kIcmp, a, b, echo(13, 0x0bcd, 12)))},
      {"gre", sealed(ipv4(kGre, a, b, payload_bytes(24, 1)))},
  };
}

std::vector<Case> ipv6_cases() {
  const char* a = "2001:db8:1::2";
  const char* b = "2001:db8:ffff::9";
  return {
      {"tcp", sealed(ipv6(ipproto::kTcp, a, b, tcp(40000, 443, 37)))},
      {"udp", sealed(ipv6(ipproto::kUdp, a, b, udp(40000, 53, 29)))},
      {"udplite coverage 8", sealed(ipv6(ipproto::kUdplite, a, b, udplite(5000, 6000, 33, 8)))},
      {"sctp", sealed(ipv6(ipproto::kSctp, a, b, sctp(2905, 2905, 22)))},
      {"icmpv6 echo request", sealed(ipv6(ipproto::kIcmpv6, a, b, echo(128, 0x1234, 56)))},
      {"icmpv6 echo reply", sealed(ipv6(ipproto::kIcmpv6, b, a, echo(129, 0x1234, 55)))},
      {"udp behind an atomic fragment header",
       sealed(ipv6_fragment(ipproto::kUdp, a, b, udp(1000, 2000, 10), 0, false))},
      {"gre", sealed(ipv6(kGre, a, b, payload_bytes(24, 1)))},
  };
}

TEST(NatRewriteTest, Ipv4PacketsGetSourceAndDestinationManips) {
  for (const Case& c : ipv4_cases()) {
    SCOPED_TRACE(c.name);
    expect_rewrite(c.packet, manip(ManipSide::kSource, "198.51.100.1", 61000));
    expect_rewrite(c.packet, manip(ManipSide::kDestination, "192.168.7.77", 8443));
  }
}

TEST(NatRewriteTest, Ipv6PacketsGetSourceAndDestinationManips) {
  for (const Case& c : ipv6_cases()) {
    SCOPED_TRACE(c.name);
    expect_rewrite(c.packet, manip(ManipSide::kSource, "2001:db8:aaaa::1", 61000));
    expect_rewrite(c.packet, manip(ManipSide::kDestination, "fd00:1234::77", 8443));
  }
}

TEST(NatRewriteTest, FieldsChangeAsIntended) {
  const Bytes packet = sealed(ipv4(ipproto::kTcp, "10.0.0.2", "203.0.113.9", tcp(40000, 443, 5)));
  const auto out = rewritten(packet, manip(ManipSide::kDestination, "192.168.7.77", 8443), false);
  ASSERT_TRUE(out.has_value());
  const PacketView view = PacketView::parse(*out);
  EXPECT_EQ(view.source.to_string(), "10.0.0.2");
  EXPECT_EQ(view.destination.to_string(), "192.168.7.77");
  EXPECT_EQ(view.source_port, 40000);
  EXPECT_EQ(view.destination_port, 8443);
  // The echo identifier changes whichever the side.
  const Bytes ping = sealed(ipv6(ipproto::kIcmpv6, "2001:db8::1", "2001:db8::2", echo(128, 7, 8)));
  const auto pinged = rewritten(ping, manip(ManipSide::kDestination, "2001:db8::3", 99), false);
  ASSERT_TRUE(pinged.has_value());
  EXPECT_EQ(get16(*pinged, 44), 99);
  EXPECT_EQ(PacketView::parse(*pinged).destination.to_string(), "2001:db8::3");
}

TEST(NatRewriteTest, ZeroUdpChecksumStaysZeroOnIpv4) {
  Bytes packet = ipv4(ipproto::kUdp, "10.0.0.2", "203.0.113.9", udp(40000, 53, 20));
  seal(packet);
  put16(packet, 26, 0);
  const NatManip m = manip(ManipSide::kSource, "198.51.100.1", 61000);
  Bytes want = expected(packet, m);
  put16(want, 26, 0);
  const auto out = rewritten(packet, m, false);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(hex(*out), hex(want));
  EXPECT_EQ(get16(*out, 20), 61000);
}

TEST(NatRewriteTest, ZeroUdpChecksumOnIpv6IsComputed) {
  Bytes packet = ipv6(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(40000, 53, 20));
  const NatManip m = manip(ManipSide::kSource, "2001:db8::99", 61000);
  const Bytes want = expected(sealed(packet), m);
  const auto out = rewritten(packet, m, false);  // built with a zero checksum
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(hex(*out), hex(want));
  EXPECT_NE(get16(*out, 46), 0);
}

TEST(NatRewriteTest, UdpChecksumThatComesOutZeroIsSentAsAllOnes) {
  for (const bool is_ipv4 : {true, false}) {
    SCOPED_TRACE(is_ipv4 ? "ipv4" : "ipv6");
    const NatManip m =
        manip(ManipSide::kDestination, is_ipv4 ? "192.168.1.10" : "2001:db8::77", 5353);
    // Choose the last payload word so that the rewritten sum is all ones.
    Bytes packet = is_ipv4 ? ipv4(ipproto::kUdp, "10.0.0.2", "203.0.113.9", udp(1, 53, 2))
                           : ipv6(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(1, 53, 2));
    put16(packet, packet.size() - 2, 0);
    const std::uint16_t would_be = get16(sealed(with_fields(packet, m)), packet.size() - 4);
    put16(packet, packet.size() - 2, would_be);
    seal(packet);
    ASSERT_NE(get16(packet, packet.size() - 4), 0);
    // With the fields rewritten, the sum (checksum field zero) comes out zero.
    Bytes zeroed = with_fields(packet, m);
    put16(zeroed, zeroed.size() - 4, 0);
    ASSERT_EQ(reference_checksum(with_pseudo_header(zeroed, shape_of(zeroed))), 0);
    expect_rewrite(packet, m);
    EXPECT_EQ(get16(rewritten(packet, m, false).value_or(Bytes(8, 0)), packet.size() - 4), 0xffff);
  }
}

// Found by tests/fuzz (nat_rewrite): an echo reply whose identifier is
// rewritten to 0 is all zeros, and its checksum must be 0xffff, not the
// 0x0000 the incremental update gives.
TEST(NatRewriteTest, IcmpMessageOfZerosIsSentWithAllOnes) {
  Bytes message = icmp_message(0, 0, 0x409c);
  put16(message, 6, 0);  // sequence
  const Bytes packet = sealed(ipv4(ipproto::kIcmp, "10.0.0.2", "203.0.113.9", message));
  const NatManip m = manip(ManipSide::kSource, "192.168.1.10", 0);
  expect_rewrite(packet, m);
  EXPECT_EQ(get16(rewritten(packet, m, false).value_or(Bytes(24, 0)), 22), 0xffff);
}

TEST(NatRewriteTest, NonFirstFragmentGetsOnlyItsAddressChanged) {
  // Fragment bytes that would read as a TCP header must stay as they are.
  Bytes v4 = ipv4(ipproto::kTcp, "10.0.0.2", "203.0.113.9", tcp(1, 2, 30));
  put16(v4, 6, 185);  // offset 185 * 8, last fragment
  seal_ip_header(v4);
  const NatManip m4 = manip(ManipSide::kSource, "198.51.100.1", 61000);
  Bytes want4 = with_fields(v4, m4);
  seal_ip_header(want4);
  const Bytes v6 =
      ipv6_fragment(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(1, 2, 30), 3, true);
  const NatManip m6 = manip(ManipSide::kDestination, "2001:db8::3", 61000);
  const Bytes want6 = with_fields(v6, m6);
  for (const bool partial : {false, true}) {
    EXPECT_EQ(hex(rewritten(v4, m4, partial).value_or(Bytes{})), hex(want4));
    EXPECT_EQ(hex(rewritten(v6, m6, partial).value_or(Bytes{})), hex(want6));
  }
  EXPECT_EQ(slice(want4, 20, want4.size()), slice(v4, 20, v4.size()));
}

TEST(NatRewriteTest, FirstFragmentIsUpdatedIncrementallyOnly) {
  const NatManip m4 = manip(ManipSide::kSource, "198.51.100.1", 61000);
  const NatManip m6 = manip(ManipSide::kSource, "2001:db8::99", 61000);
  const Bytes tcp4 = sealed(ipv4(ipproto::kTcp, "10.0.0.2", "203.0.113.9", tcp(40000, 80, 100)));
  const Bytes udp6 = sealed(
      ipv6_fragment(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(40000, 53, 100), 0, false));
  // The checksum covers the whole datagram; the update keeps it right.
  EXPECT_EQ(hex(rewritten(first_fragment(tcp4, 48), m4, false).value_or(Bytes{})),
            hex(first_fragment(expected(tcp4, m4), 48)));
  EXPECT_EQ(hex(rewritten(first_fragment(udp6, 48), m6, false).value_or(Bytes{})),
            hex(first_fragment(expected(udp6, m6), 48)));
  // Computing a checksum whole needs the whole datagram.
  EXPECT_FALSE(rewritten(first_fragment(tcp4, 48), m4, true).has_value());
  EXPECT_FALSE(rewritten(first_fragment(udp6, 48), m6, true).has_value());
  const Bytes sctp4 = sealed(ipv4(ipproto::kSctp, "10.0.0.2", "203.0.113.9", sctp(1, 2, 64)));
  EXPECT_FALSE(rewritten(first_fragment(sctp4, 40), m4, false).has_value());
  Bytes zero6 = ipv6_fragment(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(1, 2, 64), 0, false);
  EXPECT_FALSE(rewritten(first_fragment(zero6, 40), m6, false).has_value());
}

TEST(NatRewriteTest, RefusesWhatItCannotRewriteCorrectly) {
  const NatManip m4 = manip(ManipSide::kSource, "198.51.100.1", 61000);
  const NatManip m6 = manip(ManipSide::kSource, "2001:db8::99", 61000);
  const Bytes tcp4 = sealed(ipv4(ipproto::kTcp, "10.0.0.2", "203.0.113.9", tcp(40000, 80, 10)));
  // A copy cut short of the declared length.
  Bytes cut = tcp4;
  cut.pop_back();
  EXPECT_FALSE(rewritten(cut, m4, false).has_value());
  EXPECT_FALSE(rewritten(cut, m4, true).has_value());
  Bytes cut6 = sealed(ipv6(ipproto::kUdp, "2001:db8::1", "2001:db8::2", udp(1, 2, 10)));
  cut6.resize(45);
  EXPECT_FALSE(rewritten(cut6, m6, false).has_value());
  // Transport headers that do not fit in the packet.
  EXPECT_FALSE(
      rewritten(sealed(ipv4(ipproto::kTcp, "10.0.0.2", "203.0.113.9", slice(tcp4, 20, 38))), m4,
                false)
          .has_value());
  EXPECT_FALSE(rewritten(ipv4(ipproto::kUdp, "10.0.0.2", "203.0.113.9", Bytes(7, 0)), m4, false)
                   .has_value());
  EXPECT_FALSE(rewritten(ipv4(ipproto::kSctp, "10.0.0.2", "203.0.113.9", Bytes(11, 0)), m4, false)
                   .has_value());
  EXPECT_FALSE(
      rewritten(ipv6(ipproto::kIcmpv6, "2001:db8::1", "2001:db8::2", Bytes(4, 128)), m6, false)
          .has_value());
  // DCCP is not rewritten.
  EXPECT_FALSE(rewritten(ipv4(kDccpProtocol, "10.0.0.2", "203.0.113.9", Bytes(16, 0)), m4, false)
                   .has_value());
  // A manip of the other family, and no IP packet at all.
  EXPECT_FALSE(rewritten(tcp4, m6, false).has_value());
  EXPECT_FALSE(rewritten(Bytes(19, 0x45), m4, false).has_value());
  EXPECT_FALSE(rewritten(Bytes{}, m4, false).has_value());
  // A UDP-Lite coverage shorter than its header or longer than the packet
  // leaves nothing to compute a checksum over.
  for (const std::uint16_t coverage : {4, 60}) {
    const Bytes lite =
        sealed(ipv4(ipproto::kUdplite, "10.0.0.2", "203.0.113.9", udplite(1, 2, 20, 0)));
    Bytes bad = lite;
    put16(bad, 24, coverage);
    EXPECT_FALSE(rewritten(bad, m4, true).has_value());
  }
}

// --- ICMP errors -----------------------------------------------------------

// Quote bytes [from, to) that the translation leaves alone.
struct KeptBytes {
  std::size_t from = 0;
  std::size_t to = 0;
};

struct ErrorCase {
  Bytes before;
  Bytes after;
};

// An error quoting the first `quoted` bytes of `offending` (whole, sealed),
// and what translating it with `outer` and `inner` must give. `kept`: a
// checksum the quote cannot fix.
ErrorCase error_case(bool is_ipv4, std::uint8_t type, std::uint8_t code, const char* source,
                     const char* destination, const Bytes& offending, std::size_t quoted,
                     const NatManip& outer, const NatManip& inner, KeptBytes kept = {}) {
  const Bytes quote_before = slice(offending, 0, std::min(quoted, offending.size()));
  Bytes quote_after = slice(expected(offending, inner), 0, quote_before.size());
  // Clamped: a quote may end before the checksum.
  const auto from = static_cast<std::ptrdiff_t>(std::min(kept.from, quote_before.size()));
  const auto to = static_cast<std::ptrdiff_t>(std::min(kept.to, quote_before.size()));
  std::copy(quote_before.begin() + from, quote_before.begin() + to, quote_after.begin() + from);
  return {icmp_error(is_ipv4, type, code, source, destination, quote_before),
          expected(icmp_error(is_ipv4, type, code, source, destination, quote_after), outer)};
}

void expect_translation(const ErrorCase& c, const NatManip& outer, const NatManip& inner) {
  const auto out = translated(c.before, outer, inner);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(hex(*out), hex(c.after));
}

// Client 10.0.0.2:40000 behind SNAT to 198.51.100.1:61000 talks to
// 203.0.113.9:53; the error comes back to the mapped address, and the router
// undoes the SNAT: outer destination, and the quote's source.
const NatManip kToClient = manip(ManipSide::kDestination, "10.0.0.2", 0);
const NatManip kQuotedClient = manip(ManipSide::kSource, "10.0.0.2", 40000);

TEST(NatIcmpErrorTest, PortUnreachableQuotingUdp) {
  const Bytes sent = sealed(ipv4(ipproto::kUdp, "198.51.100.1", "203.0.113.9", udp(61000, 53, 40)));
  // RFC 792 quotes 8 bytes; Linux quotes as much as fits.
  for (const std::size_t quoted : {28, 40, 68}) {
    SCOPED_TRACE(quoted);
    expect_translation(error_case(true, 3, 3, "203.0.113.9", "198.51.100.1", sent, quoted,
                                  kToClient, kQuotedClient),
                       kToClient, kQuotedClient);
  }
  // The quoted UDP checksum is right for the packet the client sent.
  const auto out = translated(icmp_error(true, 3, 3, "203.0.113.9", "198.51.100.1", sent),
                              kToClient, kQuotedClient);
  ASSERT_TRUE(out.has_value());
  const Bytes client_sent =
      sealed(ipv4(ipproto::kUdp, "10.0.0.2", "203.0.113.9", udp(40000, 53, 40)));
  EXPECT_EQ(slice(*out, 28, out->size()), client_sent);
}

TEST(NatIcmpErrorTest, PortUnreachableQuotingUdpWithoutChecksum) {
  Bytes sent = ipv4(ipproto::kUdp, "198.51.100.1", "203.0.113.9", udp(61000, 53, 40));
  seal_ip_header(sent);
  ErrorCase c = error_case(true, 3, 3, "203.0.113.9", "198.51.100.1", sent, 28, kToClient,
                           kQuotedClient, KeptBytes{26, 28});
  EXPECT_EQ(get16(c.after, 28 + 26), 0);
  expect_translation(c, kToClient, kQuotedClient);
}

TEST(NatIcmpErrorTest, ErrorsQuotingTcp) {
  const Bytes sent =
      sealed(ipv4(ipproto::kTcp, "198.51.100.1", "203.0.113.9", tcp(61000, 443, 100)));
  // 8 bytes of TCP: no checksum in the quote. 18: the checksum but not the
  // whole header, which the kernel leaves alone. 20 and more: updated.
  expect_translation(
      error_case(true, 3, 3, "203.0.113.9", "198.51.100.1", sent, 28, kToClient, kQuotedClient),
      kToClient, kQuotedClient);
  expect_translation(error_case(true, 11, 0, "192.0.2.254", "198.51.100.1", sent, 38, kToClient,
                                kQuotedClient, KeptBytes{36, 38}),
                     kToClient, kQuotedClient);
  for (const std::size_t quoted : {40, 60, 576}) {
    SCOPED_TRACE(quoted);
    expect_translation(error_case(true, 3, 4, "203.0.113.9", "198.51.100.1", sent, quoted,
                                  kToClient, kQuotedClient),
                       kToClient, kQuotedClient);
  }
}

TEST(NatIcmpErrorTest, ErrorAboutADnatedConnectionGoingOut) {
  // 192.0.2.50 reached 198.51.100.1:80, DNATed to 10.0.0.5:8080; the server's
  // reply drew an error from a router on the way out, which the router sends
  // back to the server... the other way: the server 10.0.0.5 gets an error
  // about its reply only after SNAT of the outer source at POSTROUTING.
  const Bytes reply = sealed(ipv4(ipproto::kTcp, "10.0.0.5", "192.0.2.50", tcp(8080, 50000, 10)));
  const NatManip outer = manip(ManipSide::kSource, "198.51.100.1", 0);
  const NatManip inner = manip(ManipSide::kDestination, "198.51.100.1", 80);
  expect_translation(error_case(true, 3, 1, "10.0.0.5", "192.0.2.50", reply, 48, outer, inner),
                     outer, inner);
}

TEST(NatIcmpErrorTest, TimeExceededQuotingIcmpEcho) {
  // The client's ping, id 0x1234, was mapped to id 0x0400.
  const Bytes sent =
      sealed(ipv4(ipproto::kIcmp, "198.51.100.1", "203.0.113.9", echo(8, 0x0400, 56)));
  const NatManip inner = manip(ManipSide::kSource, "10.0.0.2", 0x1234);
  for (const std::size_t quoted : {28, 84}) {
    SCOPED_TRACE(quoted);
    expect_translation(
        error_case(true, 11, 0, "192.0.2.254", "198.51.100.1", sent, quoted, kToClient, inner),
        kToClient, inner);
  }
}

TEST(NatIcmpErrorTest, QuotedSctpKeepsItsCrc) {
  const Bytes sent =
      sealed(ipv4(ipproto::kSctp, "198.51.100.1", "203.0.113.9", sctp(61000, 9, 40)));
  // The quote never holds the whole SCTP packet the CRC covers.
  expect_translation(error_case(true, 3, 3, "203.0.113.9", "198.51.100.1", sent, 60, kToClient,
                                kQuotedClient, KeptBytes{28, 32}),
                     kToClient, kQuotedClient);
}

TEST(NatIcmpErrorTest, Icmpv6ErrorsQuotingUdpTcpAndEcho) {
  const NatManip outer = manip(ManipSide::kDestination, "fd00::2", 0);
  const NatManip inner = manip(ManipSide::kSource, "fd00::2", 40000);
  const Bytes udp6 =
      sealed(ipv6(ipproto::kUdp, "2001:db8:1::1", "2001:db8:2::9", udp(61000, 53, 40)));
  const Bytes tcp6 =
      sealed(ipv6(ipproto::kTcp, "2001:db8:1::1", "2001:db8:2::9", tcp(61000, 443, 40)));
  for (const std::size_t quoted : {48, 60, 200}) {
    SCOPED_TRACE(quoted);
    expect_translation(
        error_case(false, 1, 4, "2001:db8:2::9", "2001:db8:1::1", udp6, quoted, outer, inner),
        outer, inner);
  }
  expect_translation(
      error_case(false, 1, 4, "2001:db8:2::9", "2001:db8:1::1", tcp6, 48, outer, inner), outer,
      inner);
  expect_translation(
      error_case(false, 2, 0, "2001:db8:3::1", "2001:db8:1::1", tcp6, 200, outer, inner), outer,
      inner);
  const Bytes ping =
      sealed(ipv6(ipproto::kIcmpv6, "2001:db8:1::1", "2001:db8:2::9", echo(128, 0x400, 56)));
  const NatManip pinger = manip(ManipSide::kSource, "fd00::2", 0x1234);
  for (const std::size_t quoted : {48, 104}) {
    expect_translation(
        error_case(false, 3, 0, "2001:db8:3::1", "2001:db8:1::1", ping, quoted, outer, pinger),
        outer, pinger);
  }
}

TEST(NatIcmpErrorTest, RefusesWhatIsNoTranslatableError) {
  const Bytes sent = sealed(ipv4(ipproto::kUdp, "198.51.100.1", "203.0.113.9", udp(61000, 53, 40)));
  const Bytes error = icmp_error(true, 3, 3, "203.0.113.9", "198.51.100.1", sent);
  // Not an error: an echo reply.
  EXPECT_FALSE(
      translated(sealed(ipv4(ipproto::kIcmp, "203.0.113.9", "198.51.100.1", echo(0, 1, 8))),
                 kToClient, kQuotedClient)
          .has_value());
  // A truncated copy of the error.
  Bytes cut = error;
  cut.pop_back();
  EXPECT_FALSE(translated(cut, kToClient, kQuotedClient).has_value());
  // A quote cut inside its IP header, or inside the first 8 bytes of UDP.
  EXPECT_FALSE(translated(icmp_error(true, 3, 3, "203.0.113.9", "198.51.100.1", slice(sent, 0, 19)),
                          kToClient, kQuotedClient)
                   .has_value());
  EXPECT_FALSE(translated(icmp_error(true, 3, 3, "203.0.113.9", "198.51.100.1", slice(sent, 0, 27)),
                          kToClient, kQuotedClient)
                   .has_value());
  // Manips of the other family; a fragment of an error.
  EXPECT_FALSE(
      translated(error, manip(ManipSide::kDestination, "fd00::2", 0), kQuotedClient).has_value());
  EXPECT_FALSE(translated(error, kToClient, manip(ManipSide::kSource, "fd00::2", 1)).has_value());
  Bytes fragment = error;
  fragment[6] |= 0x20;
  seal_ip_header(fragment);
  EXPECT_FALSE(translated(fragment, kToClient, kQuotedClient).has_value());
}

// --- property: random packets and manips -----------------------------------

IpAddress random_address(std::mt19937& random, bool is_ipv4) {
  IpAddress a;
  a.family = is_ipv4 ? Family::kIPv4 : Family::kIPv6;
  for (std::size_t i = 0; i < a.size(); ++i) a.bytes[i] = static_cast<std::uint8_t>(random());
  return a;
}

TEST(NatRewritePropertyTest, RandomPacketsMatchFullRecomputation) {
  std::mt19937 random(20240501);
  const std::vector<std::uint8_t> protocols{ipproto::kTcp,  ipproto::kUdp,  ipproto::kUdplite,
                                            ipproto::kSctp, ipproto::kIcmp, kGre};
  int rewrites = 0;
  for (int round = 0; round < 1000; ++round) {
    SCOPED_TRACE(round);
    const bool is_ipv4 = random() % 2 == 0;
    std::uint8_t protocol = protocols[random() % protocols.size()];
    const std::size_t size = random() % 300;
    const auto sport = static_cast<std::uint16_t>(random());
    const auto dport = static_cast<std::uint16_t>(random());
    const bool zero_udp = protocol == ipproto::kUdp && random() % 4 == 0;
    Bytes transport;
    switch (protocol) {
      case ipproto::kTcp:
        transport = tcp(sport, dport, size);
        break;
      case ipproto::kUdp:
        transport = udp(sport, dport, size);
        break;
      case ipproto::kUdplite:
        transport =
            udplite(sport, dport, size,
                    random() % 2 == 0 ? 0 : static_cast<std::uint16_t>(8 + random() % (size + 1)));
        break;
      case ipproto::kSctp:
        transport = sctp(sport, dport, size);
        break;
      case ipproto::kIcmp: {
        if (!is_ipv4) protocol = ipproto::kIcmpv6;
        const std::vector<std::uint8_t> types = is_ipv4 ? std::vector<std::uint8_t>{0, 8, 13, 3}
                                                        : std::vector<std::uint8_t>{128, 129, 1};
        transport = echo(types[random() % types.size()], sport, size);
        break;
      }
      default:
        transport = payload_bytes(size, 3);
        break;
    }
    for (std::size_t i = 20; i < transport.size(); ++i) {
      transport[i] = static_cast<std::uint8_t>(random());
    }
    Bytes packet = is_ipv4 ? ipv4(protocol, "0.0.0.0", "0.0.0.0", transport)
                           : ipv6(protocol, "::", "::", transport);
    if (is_ipv4 && random() % 3 == 0) packet = with_ipv4_options(packet, 1 + random() % 4);
    const IpAddress source = random_address(random, is_ipv4);
    const IpAddress destination = random_address(random, is_ipv4);
    std::copy_n(source.bytes.begin(), source.size(), packet.begin() + (is_ipv4 ? 12 : 8));
    std::copy_n(destination.bytes.begin(), source.size(), packet.begin() + (is_ipv4 ? 16 : 24));
    seal(packet);
    const std::size_t udp_checksum = shape_of(packet).transport + 6;
    if (zero_udp) put16(packet, udp_checksum, 0);
    const NatManip m{random() % 2 == 0 ? ManipSide::kSource : ManipSide::kDestination,
                     random_address(random, is_ipv4), static_cast<std::uint16_t>(random())};
    const bool partial = random() % 2 == 0;

    Bytes want = expected(packet, m);
    if (zero_udp && is_ipv4 && !partial) put16(want, udp_checksum, 0);
    Bytes input = packet;
    if (partial) make_partial(input);
    const auto out = rewritten(input, m, partial);
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(hex(*out), hex(want)) << "partial " << partial;
    ++rewrites;
  }
  EXPECT_EQ(rewrites, 1000);
}

TEST(NatRewritePropertyTest, RandomIcmpErrorsMatchFullRecomputation) {
  std::mt19937 random(99);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    const bool is_ipv4 = random() % 2 == 0;
    const bool is_udp = random() % 2 == 0;
    Bytes offending =
        is_ipv4 ? ipv4(is_udp ? ipproto::kUdp : ipproto::kTcp, "0.0.0.0", "0.0.0.0",
                       is_udp ? udp(1, 2, random() % 200) : tcp(1, 2, random() % 200))
                : ipv6(is_udp ? ipproto::kUdp : ipproto::kTcp,
                       "::", "::", is_udp ? udp(1, 2, random() % 200) : tcp(1, 2, random() % 200));
    const std::size_t header = is_ipv4 ? 20 : 40;
    for (std::size_t i = 0; i < offending.size(); ++i) {
      const bool is_address = is_ipv4 ? (i >= 12 && i < 20) : (i >= 8 && i < 40);
      const bool is_ports = i >= header && i < header + 4;
      if (is_address || is_ports || i >= header + 20) {
        offending[i] = static_cast<std::uint8_t>(random());
      }
    }
    seal(offending);
    const std::size_t quoted = header + 8 + random() % (offending.size() - header - 7);
    const NatManip outer{ManipSide::kDestination, random_address(random, is_ipv4), 0};
    const NatManip inner{ManipSide::kSource, random_address(random, is_ipv4),
                         static_cast<std::uint16_t>(random())};
    const std::size_t checksum_at = header + (is_udp ? 6 : 16);
    const bool holds_checksum = quoted >= header + (is_udp ? 8 : 20);
    const KeptBytes kept = holds_checksum ? KeptBytes{} : KeptBytes{checksum_at, checksum_at + 2};
    expect_translation(
        error_case(is_ipv4, is_ipv4 ? 3 : 1, 3, is_ipv4 ? "192.0.2.1" : "2001:db8::1",
                   is_ipv4 ? "192.0.2.2" : "2001:db8::2", offending, quoted, outer, inner, kept),
        outer, inner);
  }
}

}  // namespace
}  // namespace verdictd::test
