// -m connmark: the connection's mark under a mask equals a value; a packet
// without a connection never matches, negated or not (xt_connmark).
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

  [[nodiscard]] bool needs_conntrack() const override { return true; }

  // iptables -L prints a space where "!" would be: "connmark match  0x1".
  void list(ListRow& row) const override {
    row.add_extra(std::string("connmark match ") + (negated_ ? "! " : " ") + text());
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m connmark") + (negated_ ? " !" : "") + " --mark " + text();
  }

 private:
  [[nodiscard]] std::string text() const { return mark_match_text(value_, mask_); }

  std::uint32_t value_;
  std::uint32_t mask_;
  bool negated_;
};

std::unique_ptr<Match> make_connmark(const MatchArgs& args) {
  const auto [value, mask] =
      parse_value_mask(args.value, "a connection mark \"value\" or \"value/mask\" of 32 bits");
  return std::make_unique<ConnmarkMatch>(value, mask, args.negated);
}

const MatchRegistrar kRegistrar("connmark", {make_connmark, true});

}  // namespace

}  // namespace verdictd
