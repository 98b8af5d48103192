// -m iprange --src-range / --dst-range: an address within an inclusive range.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

struct RangeTest {
  IpAddress first;
  IpAddress last;
  bool negated = false;

  // Addresses of one family compare as big-endian bytes.
  [[nodiscard]] bool passes(const IpAddress& address) const {
    return (address >= first && address <= last) != negated;
  }
  [[nodiscard]] std::string text() const { return first.to_string() + "-" + last.to_string(); }
};

// iptables keeps both ranges in one iprange match, as this one.
class IpRangeMatch final : public Match {
 public:
  IpRangeMatch(std::optional<RangeTest> source, std::optional<RangeTest> destination)
      : source_(source), destination_(destination) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return (!source_ || source_->passes(packet.source)) &&
           (!destination_ || destination_->passes(packet.destination));
  }

  [[nodiscard]] std::optional<Family> family() const override {
    return (source_ ? source_ : destination_)->first.family;
  }

  // "source IP range ! 10.0.0.1-10.0.0.9 destination IP range ..."
  void list(ListRow& row) const override {
    if (source_) row.add_extra(list_text("source", *source_));
    if (destination_) row.add_extra(list_text("destination", *destination_));
  }

 private:
  static std::string list_text(const char* side, const RangeTest& range) {
    return std::string(side) + " IP range " + (range.negated ? "! " : "") + range.text();
  }

  std::optional<RangeTest> source_;
  std::optional<RangeTest> destination_;
};

std::optional<RangeTest> range_test(const OptionValues& options, std::string_view key) {
  const OptionValue* given = options.find(key);
  if (given == nullptr) return std::nullopt;
  const auto& range = std::get<AddressRange>(given->value);
  return RangeTest{range.first, range.last, given->negated};
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<IpRangeMatch>(range_test(options, "src_range"),
                                        range_test(options, "dst_range"));
}

const std::array<OptionSpec, 2> kOptions = {{{.key = "src_range",
                                              .flag = "--src-range",
                                              .type = &value_types::address_range(),
                                              .negatable = true,
                                              .doc = "the source address is in the range"},
                                             {.key = "dst_range",
                                              .flag = "--dst-range",
                                              .type = &value_types::address_range(),
                                              .negatable = true,
                                              .doc = "the destination address is in the range"}}};

const MatchRegistrar kRegistrar({.name = "iprange",
                                 .summary = "an address within an inclusive range",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
