// -m ah: the authentication header's SPI, and for IPv6 its length and
// reserved field. As ipt_ah's ah_mt for IPv4 (the rule's -p ah: the header
// where the transport starts; later fragments never match) and ip6t_ah's
// ah_mt6 for IPv6 (the header wherever the extension header chain has it,
// found as ipv6_find_hdr finds it). A header cut short drops the packet.
#include <array>

#include "extension/match.hpp"
#include "match/spi_range.hpp"
#include "packet/ipv6_extension.hpp"
#include "packet/ipv6_find_header.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kAhHeader = 12;  // struct ip_auth_hdr up to the sequence number

struct AhTest {
  SpiTest spi;
  std::uint8_t length = 0;  // ipv6_authlen of the header; 0: not tested
  bool length_negated = false;
  bool reserved_zero = false;
  bool protocol_is_ah = false;  // the rule's -p ah (IPv4 needs it)
};

class AhMatch final : public Match {
 public:
  explicit AhMatch(AhTest test) : test_(test) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    std::size_t at = packet.transport_offset;
    if (packet.family == Family::kIPv4) {
      if (!packet.is_first_fragment_or_whole()) return false;
    } else {
      const std::span<const std::uint8_t> bytes =
          packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
      const Ipv6HeaderSearch found = find_ipv6_header(bytes, ipproto::kAh);
      if (found.result == Ipv6HeaderSearch::Result::kAbsent) return false;
      if (found.result == Ipv6HeaderSearch::Result::kMalformed) return hotdrop(state);
      at = found.offset;
    }
    const std::span<const std::uint8_t> b = packet.bytes;
    if (at + kAhHeader > b.size()) return hotdrop(state);
    const std::uint32_t spi = static_cast<std::uint32_t>(b[at + 4]) << 24U |
                              static_cast<std::uint32_t>(b[at + 5]) << 16U |
                              static_cast<std::uint32_t>(b[at + 6]) << 8U | b[at + 7];
    const std::size_t length = (static_cast<std::size_t>(b[at + 1]) + 2) * 4;
    const bool reserved_set = b[at + 2] != 0 || b[at + 3] != 0;
    return test_.spi.passes(spi) &&
           (test_.length == 0 || (length == test_.length) != test_.length_negated) &&
           !(test_.reserved_zero && reserved_set);
  }

  // IPv4 has no length or reserved test, and needs -p ah.
  [[nodiscard]] std::optional<Family> family() const override {
    if (!test_.protocol_is_ah || test_.length != 0 || test_.length_negated || test_.reserved_zero) {
      return Family::kIPv6;
    }
    return std::nullopt;
  }

  // "ah spis:!5:6length:!3", "ah  reserved", as libxt_ah prints them.
  void list(ListRow& row) const override {
    std::string text = "ah " + test_.spi.list_text("spi");
    if (test_.length != 0 || test_.length_negated) {
      text +=
          std::string("length:") + (test_.length_negated ? "!" : "") + std::to_string(test_.length);
    }
    if (test_.reserved_zero) text += " reserved";
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    line.matches += " -m ah" + test_.spi.save_text("--ahspi");
    if (test_.length != 0 || test_.length_negated) {
      line.matches += std::string(test_.length_negated ? " !" : "") + " --ahlen " +
                      std::to_string(test_.length);
    }
    if (test_.reserved_zero) line.matches += " --ahres";
  }

 private:
  static bool hotdrop(EvalState& state) {
    state.hotdrop = true;
    return false;
  }

  AhTest test_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& context) {
  AhTest test;
  test.spi = SpiTest::from(options, "ahspi");
  test.length = static_cast<std::uint8_t>(options.get_or<std::uint64_t>("ahlen", 0));
  test.length_negated = options.negated("ahlen");
  test.reserved_zero = options.has("ahres");
  test.protocol_is_ah = context.protocol == ipproto::kAh;
  return std::make_unique<AhMatch>(test);
}

const std::array<OptionSpec, 3> kOptions = {
    {{.key = "ahspi",
      .flag = "--ahspi",
      .type = &spi_range_type(),
      .negatable = true,
      .doc = "the authentication header's SPI is in the range (IPv4 needs \"protocol\": \"ah\"; "
             "IPv6 finds the header in the extension header chain)"},
     {.key = "ahlen",
      .flag = "--ahlen",
      .type = &value_types::number(0xff),
      .negatable = true,
      .doc = "IPv6 only: the header's length in bytes ((length field + 2) * 4); 0 tests nothing"},
     {.key = "ahres",
      .flag = "--ahres",
      .type = &value_types::flag(),
      .doc = "IPv6 only: the header's reserved field is zero"}}};

const MatchRegistrar kRegistrar({.name = "ah",
                                 .summary = "the SPI of an authentication header",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
