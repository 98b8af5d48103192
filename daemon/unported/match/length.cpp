// -m length: the packet's length as the kernel's xt_length sees it (IPv4
// total length; IPv6 payload length plus the 40-byte header), in 16 bits.
#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class LengthMatch final : public Match {
 public:
  LengthMatch(PortRange range, bool negated) : range_(range), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return range_.contains(static_cast<std::uint16_t>(packet.length)) != negated_;
  }

  void list(ListRow& row) const override {
    row.add_extra(std::string("length ") + (negated_ ? "!" : "") + range_.to_string());
  }

  void save(SaveLine& line) const override {
    line.matches +=
        std::string(" -m length") + (negated_ ? " !" : "") + " --length " + range_.to_string();
  }

 private:
  PortRange range_;
  bool negated_;
};

std::unique_ptr<Match> make_length(const MatchArgs& args) {
  return std::make_unique<LengthMatch>(parse_u16_range(args.value, "a length 0-65535 or \"lo:hi\""),
                                       args.negated);
}

const MatchRegistrar kRegistrar("length", {make_length, true});

}  // namespace

}  // namespace verdictd
