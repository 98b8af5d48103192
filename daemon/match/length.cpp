// -m length: the packet's length as the kernel's xt_length sees it (IPv4
// total length; IPv6 payload length plus the 40-byte header), in 16 bits.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class LengthMatch final : public Match {
 public:
  LengthMatch(PortRange range, bool negated) : range_(range), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return range_.contains(static_cast<std::uint16_t>(packet.length)) != negated_;
  }

  void list(ListRow& row) const override {
    row.add_extra(std::string("length ") + (negated_ ? "!" : "") + range_.to_string());
  }

 private:
  PortRange range_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<LengthMatch>(options.get<PortRange>("length"), options.negated("length"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "length",
      .flag = "--length",
      .type = &value_types::u16_range(),
      .negatable = true,
      .doc = "the packet's length (IPv4 total length; IPv6 payload length plus 40) is in the "
             "range"}}};

const MatchRegistrar kRegistrar(
    {.name = "length", .summary = "the packet's length", .options = kOptions, .build = build});

}  // namespace

}  // namespace verdictd
