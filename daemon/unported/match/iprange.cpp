// -m iprange --src-range / --dst-range: an address within an inclusive range.
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class IpRangeMatch final : public Match {
 public:
  IpRangeMatch(bool source, const IpAddress& first, const IpAddress& last, bool negated)
      : source_(source), first_(first), last_(last), negated_(negated) {}

  // Addresses of one family compare as big-endian bytes.
  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    const IpAddress& address = source_ ? packet.source : packet.destination;
    return (address >= first_ && address <= last_) != negated_;
  }

  [[nodiscard]] std::optional<Family> family() const override { return first_.family; }

  void list(ListRow& row) const override {
    row.add_extra(std::string(source_ ? "source" : "destination") + " IP range " +
                  (negated_ ? "! " : "") + text());
  }

  void save(SaveLine& line) const override {
    line.matches += std::string(" -m iprange") + (negated_ ? " !" : "") +
                    (source_ ? " --src-range " : " --dst-range ") + text();
  }

 private:
  [[nodiscard]] std::string text() const { return first_.to_string() + "-" + last_.to_string(); }

  bool source_;
  IpAddress first_;
  IpAddress last_;
  bool negated_;
};

std::unique_ptr<Match> make_iprange(const MatchArgs& args) {
  constexpr std::string_view kWhat =
      "an address range \"first-last\" of one family with first <= last";
  const std::string& text = expect_string(args.value, kWhat);
  const auto dash = text.find('-');
  if (dash == std::string::npos) {
    throw_expected(kWhat, args.value);
  }
  const auto first = IpAddress::parse(std::string_view(text).substr(0, dash));
  const auto last = IpAddress::parse(std::string_view(text).substr(dash + 1));
  if (!first || !last || first->family != last->family || *first > *last) {
    throw_expected(kWhat, args.value);
  }
  return std::make_unique<IpRangeMatch>(args.key == "src_range", *first, *last, args.negated);
}

const MatchRegistrar kSource("src_range", {make_iprange, true});
const MatchRegistrar kDestination("dst_range", {make_iprange, true});

}  // namespace

}  // namespace verdictd
