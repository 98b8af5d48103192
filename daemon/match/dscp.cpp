// -m dscp: the six DSCP bits of the IPv4 TOS byte or the IPv6 traffic class,
// as xt_dscp's dscp_mt and dscp_mt6. --dscp-class names a value
// (extension/dscp_classes.hpp); iptables keeps and saves the number.
#include <array>

#include "extension/dscp_classes.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

constexpr unsigned kDscpShift = 2;

class DscpMatch final : public Match {
 public:
  DscpMatch(std::uint8_t dscp, bool negated) : dscp_(dscp), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return ((packet.tos >> kDscpShift) == dscp_) != negated_;
  }

  // "DSCP match 0x0a", "DSCP match !0x2e".
  void list(ListRow& row) const override {
    row.add_extra(std::string("DSCP match ") + (negated_ ? "!" : "") + hex_byte(dscp_));
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m dscp") + (negated_ ? " !" : "") + " --dscp " + hex_byte(dscp_);
  }

 private:
  std::uint8_t dscp_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  if (options.has("dscp")) {
    return std::make_unique<DscpMatch>(
        static_cast<std::uint8_t>(options.get<std::uint64_t>("dscp")), options.negated("dscp"));
  }
  return std::make_unique<DscpMatch>(dscp_of_class(options.get<std::uint64_t>("dscp_class")),
                                     options.negated("dscp_class"));
}

const std::array<OptionSpec, 2> kOptions = {
    {{.key = "dscp",
      .flag = "--dscp",
      .type = &value_types::number(0x3f),
      .negatable = true,
      .doc = "the DSCP bits of the IPv4 TOS byte or the IPv6 traffic class equal this value, "
             "0-63"},
     {.key = "dscp_class",
      .flag = "--dscp-class",
      .type = &dscp_class_type(),
      .negatable = true,
      .doc = "the DSCP bits equal the value of a class: CS0-CS7, BE, AF11-AF43, EF"}}};

constexpr std::array<Constraint, 1> kConstraints = {
    {{Constraint::Kind::kExactlyOne, "dscp dscp_class"}}};

const MatchRegistrar kRegistrar({.name = "dscp",
                                 .summary = "the DSCP bits of the IPv4 TOS byte or the IPv6 "
                                            "traffic class",
                                 .options = kOptions,
                                 .constraints = kConstraints,
                                 .build = build});

}  // namespace

}  // namespace verdictd
