// -s / -d: the source or destination address against a prefix.
#include <array>

#include "extension/match.hpp"
#include "extension/values.hpp"

namespace verdictd {

namespace {

class AddressMatch final : public Match {
 public:
  AddressMatch(bool source, const IpPrefix& prefix, bool negated)
      : source_(source), prefix_(prefix), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& /*state*/) const override {
    return prefix_.contains(source_ ? packet.source : packet.destination) != negated_;
  }

  [[nodiscard]] std::optional<Family> family() const override { return prefix_.address.family; }

  // iptables -L -n leaves the length off a host address.
  void list(ListRow& row) const override {
    std::string text = prefix_.address.to_string();
    if (!is_host()) {
      text += "/" + std::to_string(prefix_.length);
    }
    (source_ ? row.source : row.destination) = (negated_ ? "!" : "") + text;
  }

  // iptables-save always prints the length, and leaves out a non-negated /0.
  void save(SaveLine& line) const override {
    if (prefix_.length == 0 && !negated_) {
      return;
    }
    (source_ ? line.source : line.destination) =
        std::string(negated_ ? "! " : "") + (source_ ? "-s " : "-d ") +
        prefix_.address.to_string() + "/" + std::to_string(prefix_.length);
  }

 private:
  [[nodiscard]] bool is_host() const {
    return static_cast<std::size_t>(prefix_.length) == prefix_.address.size() * 8;
  }

  bool source_;
  IpPrefix prefix_;
  bool negated_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const OptionValue& given = options.all().front();
  return std::make_unique<AddressMatch>(given.spec->key == "source",
                                        std::get<IpPrefix>(given.value), given.negated);
}

const std::array<OptionSpec, 1> kSourceOption = {
    {{.key = "source",
      .flag = "--source",
      .aliases = "-s --src",
      .type = &value_types::prefix(),
      .negatable = true,
      .doc = "the packet's source address is in the network"}}};
const std::array<OptionSpec, 1> kDestinationOption = {
    {{.key = "destination",
      .flag = "--destination",
      .aliases = "-d --dst",
      .type = &value_types::prefix(),
      .negatable = true,
      .doc = "the packet's destination address is in the network"}}};

const MatchRegistrar kSource({.summary = "source address (-s)",
                              .options = kSourceOption,
                              .build = build});
const MatchRegistrar kDestination({.summary = "destination address (-d)",
                                   .options = kDestinationOption,
                                   .build = build});

}  // namespace

}  // namespace verdictd
