// -m ttl (IPv4 TTL) and -m hl (IPv6 hop limit): equal to, below or above a value.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

enum class Compare : std::uint8_t { kEqual, kNotEqual, kLess, kGreater };

class TtlMatch final : public Match {
 public:
  TtlMatch(Family family, Compare compare, std::uint8_t value)
      : family_(family), compare_(compare), value_(value) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    switch (compare_) {
      case Compare::kEqual:
        return packet.ttl == value_;
      case Compare::kNotEqual:
        return packet.ttl != value_;
      case Compare::kLess:
        return packet.ttl < value_;
      case Compare::kGreater:
        return packet.ttl > value_;
    }
    return false;
  }

  [[nodiscard]] std::optional<Family> family() const override { return family_; }

  // "TTL match TTL == 64", "HL match HL < 10".
  void list(ListRow& row) const override {
    static constexpr std::array<std::string_view, 4> kOperators = {"==", "!=", "<", ">"};
    const std::string name = is_v4() ? "TTL" : "HL";
    row.add_extra(name + " match " + name + " " +
                  std::string(kOperators[static_cast<std::size_t>(compare_)]) + " " +
                  std::to_string(value_));
  }

  // "-m ttl --ttl-eq 64", "-m hl ! --hl-eq 64".
  void save(SaveLine& line) const override {
    static constexpr std::array<std::string_view, 4> kOptions = {"-eq ", "-eq ", "-lt ", "-gt "};
    const std::string name = is_v4() ? "ttl" : "hl";
    line.matches += " -m " + name + (compare_ == Compare::kNotEqual ? " !" : "") + " --" + name +
                    std::string(kOptions[static_cast<std::size_t>(compare_)]) +
                    std::to_string(value_);
  }

 private:
  [[nodiscard]] bool is_v4() const { return family_ == Family::kIPv4; }

  Family family_;
  Compare compare_;
  std::uint8_t value_;
};

std::unique_ptr<Match> make_ttl(const MatchArgs& args) {
  const bool v4 = args.key == "ttl";
  const std::string_view what =
      v4 ? R"(an object {"eq"|"lt"|"gt": TTL})" : R"(an object {"eq"|"lt"|"gt": HOP_LIMIT})";
  expect_object_keys(args.value, {"eq", "lt", "gt"}, what);
  if (args.value.size() != 1) {
    throw_expected(what, args.value);
  }
  const std::string& key = args.value.begin().key();
  Compare compare = key == "eq"   ? Compare::kEqual
                    : key == "lt" ? Compare::kLess
                                  : Compare::kGreater;
  // iptables can negate only --ttl-eq / --hl-eq.
  if (args.negated) {
    if (compare != Compare::kEqual) {
      throw FieldError("only \"eq\" can be negated; write the opposite comparison instead",
                       "/" + key);
    }
    compare = Compare::kNotEqual;
  }
  std::uint8_t value = 0;
  try {
    value = static_cast<std::uint8_t>(
        parse_uint(args.value.begin().value(), 0xff, v4 ? "a TTL 0-255" : "a hop limit 0-255"));
  } catch (FieldError& e) {
    e.pointer_suffix = "/" + key + e.pointer_suffix;
    throw;
  }
  return std::make_unique<TtlMatch>(v4 ? Family::kIPv4 : Family::kIPv6, compare, value);
}

const MatchRegistrar kTtl("ttl", {make_ttl, true});
const MatchRegistrar kHopLimit("hop_limit", {make_ttl, true});

}  // namespace

}  // namespace verdictd
