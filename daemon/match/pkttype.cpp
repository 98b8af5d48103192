// -m pkttype: the link-layer packet type, unicast, broadcast or multicast
// (xt_pkttype), as packet_type() rebuilds skb->pkt_type from what NFQUEUE
// gives.
#include <array>

#include "extension/match.hpp"
#include "packet/packet_type.hpp"

namespace verdictd {

namespace {

class PktTypeMatch final : public Match {
 public:
  PktTypeMatch(PacketType type, bool negated) : type_(type), negated_(negated) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    return (packet_type(state.hook, packet, state.in_ifindex, state.broadcasts) == type_) !=
           negated_;
  }

  // "PKTTYPE = broadcast", "PKTTYPE != unicast".
  void list(ListRow& row) const override {
    row.add_extra(std::string("PKTTYPE ") + (negated_ ? "!= " : "= ") +
                  std::string(packet_type_name(type_)));
  }

 private:
  PacketType type_;
  bool negated_;
};

// In PacketType's order.
constexpr std::array<std::string_view, 3> kTypeNames = {"unicast", "broadcast", "multicast"};
const ChoiceType kTypes("packet type", kTypeNames);

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  return std::make_unique<PktTypeMatch>(
      static_cast<PacketType>(options.get<std::uint64_t>("pkt_type")), options.negated("pkt_type"));
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "pkt_type",
      .flag = "--pkt-type",
      .type = &kTypes,
      .negatable = true,
      .doc = "the link-layer packet type: unicast, broadcast or multicast"}}};

const MatchRegistrar kRegistrar({.name = "pkttype",
                                 .summary = "the link-layer packet type",
                                 .options = kOptions,
                                 .build = build});

}  // namespace

}  // namespace verdictd
