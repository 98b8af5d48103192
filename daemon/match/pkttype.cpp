// -m pkttype: the link-layer packet type, unicast, broadcast or multicast
// (xt_pkttype), as packet_type() rebuilds skb->pkt_type from what NFQUEUE
// gives.
#include "extension/match.hpp"
#include "extension/values.hpp"
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

  // "-m pkttype ! --pkt-type unicast".
  void save(SaveLine& line) const override {
    line.matches += std::string(" -m pkttype") + (negated_ ? " !" : "") + " --pkt-type " +
                    std::string(packet_type_name(type_));
  }

 private:
  PacketType type_;
  bool negated_;
};

std::unique_ptr<Match> make_pkt_type(const MatchArgs& args) {
  static constexpr std::string_view kWhat = R"("unicast", "broadcast" or "multicast")";
  const std::string& name = expect_string(args.value, kWhat);
  for (PacketType type : {PacketType::kUnicast, PacketType::kBroadcast, PacketType::kMulticast}) {
    if (name == packet_type_name(type)) return std::make_unique<PktTypeMatch>(type, args.negated);
  }
  throw_expected(kWhat, args.value);
}

const MatchRegistrar kRegistrar("pkt_type", {make_pkt_type, true});

}  // namespace

}  // namespace verdictd
