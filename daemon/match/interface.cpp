// -i / -o: the interface a packet came in on or goes out of; a trailing "+"
// matches every name that starts with what precedes it.
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class InterfaceMatch final : public Match {
 public:
  InterfaceMatch(bool incoming, std::string name, bool negated)
      : incoming_(incoming), name_(std::move(name)), negated_(negated) {}

  bool matches(const PacketView& /*packet*/, EvalState& state) const override {
    const std::string_view actual = incoming_ ? state.in_interface : state.out_interface;
    const bool equal = name_.back() == '+'
                           ? actual.starts_with(std::string_view(name_).substr(0, name_.size() - 1))
                           : actual == name_;
    return equal != negated_;
  }

  // The kernel has no incoming interface at OUTPUT and POSTROUTING, and no
  // outgoing one at PREROUTING and INPUT.
  [[nodiscard]] HookMask allowed_hooks() const override {
    const HookMask refused = incoming_ ? hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting)
                                       : hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput);
    return static_cast<HookMask>(kEveryHook & ~refused);
  }

  void list(ListRow& row) const override {
    (incoming_ ? row.in : row.out) = (negated_ ? "!" : "") + name_;
  }

  // iptables-save leaves out "-i +", which matches every interface.
  void save(SaveLine& line) const override {
    if (name_ == "+" && !negated_) {
      return;
    }
    (incoming_ ? line.in : line.out) =
        std::string(negated_ ? "! " : "") + (incoming_ ? "-i " : "-o ") + name_;
  }

 private:
  bool incoming_;
  std::string name_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValue& given = options.all().front();
  return std::make_unique<InterfaceMatch>(given.spec->key == "in_interface",
                                          std::get<std::string>(given.value), given.negated);
}

const std::array<OptionSpec, 1> kInOption = {
    {{.key = "in_interface",
      .flag = "--in-interface",
      .aliases = "-i",
      .type = &value_types::interface(),
      .negatable = true,
      .doc = "the interface the packet came in on (PREROUTING, INPUT, FORWARD)"}}};
const std::array<OptionSpec, 1> kOutOption = {
    {{.key = "out_interface",
      .flag = "--out-interface",
      .aliases = "-o",
      .type = &value_types::interface(),
      .negatable = true,
      .doc = "the interface the packet goes out of (FORWARD, OUTPUT, POSTROUTING)"}}};

const MatchRegistrar kIn({.summary = "incoming interface (-i)",
                          .options = kInOption,
                          .build = build});
const MatchRegistrar kOut({.summary = "outgoing interface (-o)",
                           .options = kOutOption,
                           .build = build});

}  // namespace

}  // namespace verdictd
