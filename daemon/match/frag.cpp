// -m frag: the IPv6 fragment header, as ip6t_frag's frag_mt6: found in the
// extension header chain as ipv6_find_hdr finds it (no header: no match; cut
// short: dropped), its identification in a range, its reserved bits clear,
// first (offset 0), more or last. --fraglen is kept, listed and saved as
// iptables does, but tested by no kernel since 2.6 (the header is 8 bytes).
#include <array>

#include "extension/match.hpp"
#include "match/spi_range.hpp"
#include "packet/ipv6_extension.hpp"
#include "packet/ipv6_find_header.hpp"

namespace verdictd {

namespace {

constexpr std::size_t kFragmentHeader = 8;
constexpr std::uint16_t kOffsetBits = 0xfff8;
constexpr std::uint16_t kReservedBits = 0x0006;
constexpr std::uint16_t kMoreFragments = 0x0001;

struct FragTest {
  SpiTest id;
  std::optional<std::uint32_t> length;
  bool length_negated = false;
  bool reserved = false;  // --fragres: the reserved bits are clear
  bool first = false;
  bool more = false;
  bool last = false;
};

class FragMatch final : public Match {
 public:
  explicit FragMatch(FragTest test) : test_(test) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    const std::span<const std::uint8_t> b =
        packet.bytes.first(std::min<std::size_t>(packet.bytes.size(), packet.length));
    const Ipv6HeaderSearch found = find_ipv6_header(b, ipproto::kFragment);
    if (found.result == Ipv6HeaderSearch::Result::kAbsent) return false;
    if (found.result == Ipv6HeaderSearch::Result::kMalformed ||
        found.offset + kFragmentHeader > b.size()) {
      state.hotdrop = true;
      return false;
    }
    const std::size_t at = found.offset;
    const auto offset_field = static_cast<std::uint16_t>(b[at + 2] << 8U | b[at + 3]);
    const std::uint32_t id = static_cast<std::uint32_t>(b[at + 4]) << 24U |
                             static_cast<std::uint32_t>(b[at + 5]) << 16U |
                             static_cast<std::uint32_t>(b[at + 6]) << 8U | b[at + 7];
    return test_.id.passes(id) &&
           !(test_.reserved && (b[at + 1] != 0 || (offset_field & kReservedBits) != 0)) &&
           !(test_.first && (offset_field & kOffsetBits) != 0) &&
           !(test_.more && (offset_field & kMoreFragments) == 0) &&
           !(test_.last && (offset_field & kMoreFragments) != 0);
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv6; }

  // "frag ids:5:10 length:8 reserved first", "frag  last".
  void list(ListRow& row) const override {
    std::string text = "frag " + test_.id.list_text("id");
    if (test_.length) {
      text += std::string(" length:") + (test_.length_negated ? "!" : "") +
              std::to_string(*test_.length);
    }
    if (test_.reserved) text += " reserved";
    if (test_.first) text += " first";
    if (test_.more) text += " more";
    if (test_.last) text += " last";
    row.add_extra(text);
  }

  void save(SaveLine& line) const override {
    line.matches += " -m frag" + test_.id.save_text("--fragid");
    if (test_.length) {
      line.matches += std::string(test_.length_negated ? " !" : "") + " --fraglen " +
                      std::to_string(*test_.length);
    }
    if (test_.reserved) line.matches += " --fragres";
    if (test_.first) line.matches += " --fragfirst";
    if (test_.more) line.matches += " --fragmore";
    if (test_.last) line.matches += " --fraglast";
  }

 private:
  FragTest test_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  FragTest test;
  test.id = SpiTest::from(options, "fragid");
  if (options.has("fraglen")) {
    test.length = static_cast<std::uint32_t>(options.get<std::uint64_t>("fraglen"));
    test.length_negated = options.negated("fraglen");
  }
  test.reserved = options.has("fragres");
  test.first = options.has("fragfirst");
  test.more = options.has("fragmore");
  test.last = options.has("fraglast");
  return std::make_unique<FragMatch>(test);
}

const std::array<OptionSpec, 6> kOptions = {
    {{.key = "fragid",
      .flag = "--fragid",
      .type = &spi_range_type(),
      .negatable = true,
      .doc = "the IPv6 fragment header's identification is in the range"},
     {.key = "fraglen",
      .flag = "--fraglen",
      .type = &value_types::number(0xffffffff),
      .negatable = true,
      .doc = "kept and shown as iptables keeps it; the kernel tests nothing with it"},
     {.key = "fragres",
      .flag = "--fragres",
      .type = &value_types::flag(),
      .doc = "the fragment header's reserved bits are clear"},
     {.key = "fragfirst",
      .flag = "--fragfirst",
      .type = &value_types::flag(),
      .doc = "the first fragment (offset 0)"},
     {.key = "fragmore",
      .flag = "--fragmore",
      .type = &value_types::flag(),
      .doc = "more fragments follow"},
     {.key = "fraglast",
      .flag = "--fraglast",
      .type = &value_types::flag(),
      .doc = "the last fragment (no more follow)"}}};

constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kAtMostOne, "fragmore fraglast"}}};

const MatchRegistrar kRegistrar({.name = "frag",
                                 .summary = "the IPv6 fragment header",
                                 .options = kOptions,
                                 .constraints = kConstraints,
                                 .build = build});

}  // namespace

}  // namespace verdictd
