// -m mark: the packet mark under a mask equals a value.
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

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m mark") + (negated_ ? " !" : "") + " --mark " + text();
  }

 private:
  [[nodiscard]] std::string text() const { return mark_match_text(value_, mask_); }

  std::uint32_t value_;
  std::uint32_t mask_;
  bool negated_;
};

std::unique_ptr<Match> make_mark(const MatchArgs& args) {
  const auto [value, mask] =
      parse_value_mask(args.value, "a mark \"value\" or \"value/mask\" of 32 bits");
  return std::make_unique<MarkMatch>(value, mask, args.negated);
}

const MatchRegistrar kRegistrar("mark", {make_mark, true});

}  // namespace

}  // namespace verdictd
