// -m mark: the packet mark under a mask equals a value.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class MarkMatch final : public Match {
 public:
  MarkMatch(std::uint32_t value, std::uint32_t mask, bool negated)
      : value_(value), mask_(mask), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    return ((state.mark & mask_) == value_) != negated_;
  }

  void list(ListRow& row) const override {
    row.add_extra(std::string("mark match ") + (negated_ ? "! " : "") + text());
  }

 private:
  [[nodiscard]] std::string text() const { return mark_match_text(value_, mask_); }

  std::uint32_t value_;
  std::uint32_t mask_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const auto& mark = options.get<ValueMask>("mark");
  return std::make_unique<MarkMatch>(mark.value, mark.mask, options.negated("mark"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "mark",
      .flag = "--mark",
      .type = &value_types::value_mask(),
      .negatable = true,
      .doc = "the packet's mark, under the mask, equals the value"}}};

const MatchRegistrar kRegistrar(
    {.name = "mark", .summary = "the packet's mark (nfmark)", .options = kOptions, .build = build});

}  // namespace

}  // namespace verdictd
