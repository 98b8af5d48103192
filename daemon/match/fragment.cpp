// -f: IPv4 fragments other than the first (fragment offset not zero).
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class FragmentMatch final : public Match {
 public:
  explicit FragmentMatch(bool negated) : negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return !packet.is_first_fragment_or_whole() != negated_;
  }

  [[nodiscard]] std::optional<Family> family() const override { return Family::kIPv4; }

  void list(ListRow& row) const override { row.option = negated_ ? "!f" : "-f"; }

  void save(SaveLine& line) const override { line.fragment = negated_ ? "! -f" : "-f"; }

 private:
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<FragmentMatch>(options.negated("fragment"));
}

const std::array<OptionSpec, 1> kOption = {{{.key = "fragment",
                                             .flag = "--fragment",
                                             .aliases = "-f",
                                             .type = &value_types::flag(),
                                             .negatable = true,
                                             .doc = "IPv4 fragments other than the first"}}};

const MatchRegistrar kRegistrar({.summary = "second and further fragments (-f)",
                                 .options = kOption,
                                 .build = build});

}  // namespace

}  // namespace verdictd
