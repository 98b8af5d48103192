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

std::unique_ptr<Match> make_fragment(const MatchArgs& args) {
  if (args.value != true) {
    throw_expected("true", args.value);
  }
  return std::make_unique<FragmentMatch>(args.negated);
}

const MatchRegistrar kRegistrar("fragment", {make_fragment, true});

}  // namespace

}  // namespace verdictd
