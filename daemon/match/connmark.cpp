// -m connmark: the connection's mark under a mask equals a value; a packet
// without a connection never matches, negated or not (xt_connmark).
#include <array>

#include "conntrack/flow.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class ConnmarkMatch final : public Match {
 public:
  ConnmarkMatch(std::uint32_t value, std::uint32_t mask, bool negated)
      : value_(value), mask_(mask), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const PacketConntrack* ct = state.conntrack;
    if (ct == nullptr || !ct->has_flow) return false;
    return ((ct->flow.mark & mask_) == value_) != negated_;
  }

  // iptables -L prints a space where "!" would be: "connmark match  0x1".
  void list(ListRow& row) const override {
    row.add_extra(std::string("connmark match ") + (negated_ ? "! " : " ") + text());
  }

 private:
  [[nodiscard]] std::string text() const { return mark_match_text(value_, mask_); }

  std::uint32_t value_;
  std::uint32_t mask_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const auto& mark = options.get<ValueMask>("connmark");
  return std::make_unique<ConnmarkMatch>(mark.value, mark.mask, options.negated("connmark"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "connmark",
      .flag = "--mark",
      .type = &value_types::value_mask(),
      .negatable = true,
      .doc = "the connection's mark, under the mask, equals the value"}}};

const MatchRegistrar kRegistrar({.name = "connmark",
                                 .summary = "the connection's mark (ctmark)",
                                 .options = kOptions,
                                 .needs = kNeedsTracking,
                                 .build = build});

}  // namespace

}  // namespace verdictd
