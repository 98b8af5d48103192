// -m tos: the IPv4 TOS byte or the IPv6 traffic class under a mask, as
// xt_dscp's tos_mt. A symbolic name (libxt_tos's tos_values) stands for its
// value under the mask 0x3f; a number without a mask is compared whole.
#include <array>
#include <nlohmann/json.hpp>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/tos_value.hpp"

namespace verdictd {

namespace {

class TosMatch final : public Match {
 public:
  TosMatch(ValueMask tos, bool negated) : tos_(tos), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return ((packet.tos & tos_.mask) == tos_.value) != negated_;
  }

  // "tos match0x10/0xff", "tos match!0x10/0x3f": libxt_tos prints no space.
  void list(ListRow& row) const override {
    row.add_extra(std::string("tos match") + (negated_ ? "!" : "") + tos_text(tos_));
  }

 private:
  ValueMask tos_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<TosMatch>(options.get<ValueMask>("tos"), options.negated("tos"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "tos",
      .flag = "--tos",
      .type = &tos_value_type(),
      .negatable = true,
      .doc = "the IPv4 TOS byte or the IPv6 traffic class, under the mask (all 8 bits when none "
             "is written, 0x3f for a name), equals the value"}}};

const MatchRegistrar kRegistrar({.name = "tos",
                                 .summary = "the IPv4 TOS byte or the IPv6 traffic class",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
