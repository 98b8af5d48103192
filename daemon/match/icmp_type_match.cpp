#include "match/icmp_type_match.hpp"

#include <string>

namespace verdictd {

namespace {

class IcmpTypeMatch final : public Match {
 public:
  IcmpTypeMatch(const IcmpMatchKind& kind, IcmpType type, bool negated)
      : kind_(kind), type_(type), negated_(negated) {}

  // A non-first fragment or a missing ICMP header never matches, negated or not.
  bool matches(const PacketView& packet, EvalState& state) const override {
    if (!packet.is_first_fragment_or_whole()) return false;
    if (!packet.has_icmp) {
      state.hotdrop = true;  // the header is cut short: the kernel drops the packet
      return false;
    }
    const bool hit = type_.type == kind_.any_type ||
                     (packet.icmp_type == type_.type && packet.icmp_code >= type_.code_min &&
                      packet.icmp_code <= type_.code_max);
    return hit != negated_;
  }

  [[nodiscard]] std::optional<Family> family() const override { return kind_.family; }

  // "icmptype 3 code 3", negated "icmp !type 3 code 3".
  void list(ListRow& row) const override {
    std::string text(negated_ ? kind_.listed_negated : kind_.listed);
    text += " " + std::to_string(type_.type);
    if (type_.has_code()) text += " code " + std::to_string(type_.code_min);
    row.add_extra(text);
  }

 private:
  const IcmpMatchKind& kind_;
  IcmpType type_;
  bool negated_;
};

}  // namespace

std::unique_ptr<Match> make_icmp_match(const IcmpMatchKind& kind, const OptionValues& options,
                                       std::string_view key) {
  return std::make_unique<IcmpTypeMatch>(kind, options.get<IcmpType>(key), options.negated(key));
}

}  // namespace verdictd
