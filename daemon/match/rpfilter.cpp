// -m rpfilter (ipt_rpfilter, ip6t_rpfilter): reverse-path filtering. The
// route back to the packet's source, as if replying, must leave through the
// interface the packet came in on (strict), or exist at all (--loose).
// Looked up in the route cache's local and main tables (packet/routes.hpp):
// policy routing rules are not followed, so --validmark (which only lets
// the mark choose a rule) changes nothing here.
#include <algorithm>
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "match/ipv6_address_type.hpp"
#include "packet/routes.hpp"

namespace verdictd {

namespace {

constexpr std::uint8_t kRouteTosMask = 0x1c;  // IPTOS_RT_MASK

struct Flags {
  bool loose = false;
  bool validmark = false;
  bool accept_local = false;
  bool invert = false;
};

bool uses(const Route& route, std::uint32_t ifindex) {
  return std::find(route.devices.begin(), route.devices.end(), ifindex) != route.devices.end();
}

// rpfilter_lookup_reverse: a unicast route (or a local one with
// --accept-local) through the incoming interface, or any with --loose.
bool reverse_path_v4(const PacketView& packet, std::uint32_t in, const Flags& flags,
                     const RouteLookup& routes) {
  const RouteResult route = routes.lookup(
      {.destination = packet.source, .tos = static_cast<std::uint8_t>(packet.tos & kRouteTosMask)});
  if (!route) return false;
  if (route->type != route_type::kUnicast &&
      (route->type != route_type::kLocal || !flags.accept_local)) {
    return false;
  }
  return uses(*route, in) || flags.loose;
}

// rpfilter_lookup_reverse6: a link-local source must route back through
// the incoming interface alone; strict mode prefers it among equal routes.
// Reject and anycast routes fail, a local one passes with --accept-local.
bool reverse_path_v6(const PacketView& packet, std::uint32_t in, const Flags& flags,
                     const RouteLookup& routes) {
  RouteQuery query{.destination = packet.source};
  if ((ipv6_address_type(packet.source) & ipv6_address::kLinkLocal) != 0) {
    query.oif = in;
    query.strict = true;
  } else if (!flags.loose) {
    query.oif = in;
  }
  const RouteResult route = routes.lookup(query);
  if (!route || route->type == route_type::kAnycast) return false;
  if (route->type == route_type::kLocal) return flags.accept_local;
  return uses(*route, in) || flags.loose;
}

// 0.0.0.0 to the limited broadcast or 224.0.0.0/24: DHCP and IGMP before
// an address is configured pass (rpfilter_mt).
bool unconfigured_sender(const PacketView& packet) {
  const auto& source = packet.source.bytes;
  const auto& destination = packet.destination.bytes;
  if (source[0] != 0 || source[1] != 0 || source[2] != 0 || source[3] != 0) return false;
  const bool limited_broadcast = destination[0] == 0xff && destination[1] == 0xff &&
                                 destination[2] == 0xff && destination[3] == 0xff;
  const bool local_multicast = destination[0] == 224 && destination[1] == 0 && destination[2] == 0;
  return limited_broadcast || local_multicast;
}

class RpfilterMatch final : public Match {
 public:
  explicit RpfilterMatch(Flags flags) : flags_(flags) {}

  // Packets from lo pass. A looped-back copy of the host's own broadcast
  // or multicast (PACKET_LOOPBACK) cannot be told from NFQUEUE's data and is
  // checked as any received packet.
  bool matches(const PacketView& packet, EvalState& state) const override {
    if (state.in_ifindex == kLoopbackIfindex) return !flags_.invert;
    if (packet.family == Family::kIPv4 && unconfigured_sender(packet)) return !flags_.invert;
    if (packet.family == Family::kIPv6 && ipv6_address_type(packet.source) == ipv6_address::kAny) {
      return !flags_.invert;  // not routable: the forward path drops it
    }
    if (state.routes == nullptr) return flags_.invert;
    const bool passes = packet.family == Family::kIPv4
                            ? reverse_path_v4(packet, state.in_ifindex, flags_, *state.routes)
                            : reverse_path_v6(packet, state.in_ifindex, flags_, *state.routes);
    return passes != flags_.invert;
  }

  // "rpfilter loose validmark accept-local invert".
  void list(ListRow& row) const override { row.add_extra("rpfilter" + words(" ")); }

  void save(SaveLine& line) const override { line.matches += " -m rpfilter" + words(" --"); }

 private:
  [[nodiscard]] std::string words(std::string_view before) const {
    std::string text;
    const std::array<std::pair<bool, std::string_view>, 4> kWords = {
        {{flags_.loose, "loose"},
         {flags_.validmark, "validmark"},
         {flags_.accept_local, "accept-local"},
         {flags_.invert, "invert"}}};
    for (const auto& [on, word] : kWords) {
      if (on) text += std::string(before) + std::string(word);
    }
    return text;
  }

  Flags flags_;
};

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& context) {
  // checkentry: only where the packet has not been routed yet.
  if (context.table != TableId::kRaw && context.table != TableId::kMangle) {
    throw FieldError("rpfilter is only valid in the raw and mangle tables");
  }
  const OptionValues flags = options.members("rpfilter");
  return std::make_unique<RpfilterMatch>(Flags{.loose = flags.has("loose"),
                                               .validmark = flags.has("validmark"),
                                               .accept_local = flags.has("accept_local"),
                                               .invert = flags.has("invert")});
}

const std::array<OptionSpec, 4> kFlags = {
    {{.key = "loose",
      .flag = "--loose",
      .type = &value_types::flag(),
      .doc = "any route back to the source will do, not only one through the incoming interface"},
     {.key = "validmark",
      .flag = "--validmark",
      .type = &value_types::flag(),
      .doc = "the packet's mark takes part in the lookup (it only selects policy rules, which "
             "verdictd does not follow: accepted, without effect)"},
     {.key = "accept_local",
      .flag = "--accept-local",
      .type = &value_types::flag(),
      .doc = "a source that is one of the host's own addresses passes"},
     {.key = "invert",
      .flag = "--invert",
      .type = &value_types::flag(),
      .doc = "match the packets that fail the check (to drop them)"}}};

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "rpfilter",
      .members = kFlags,
      .doc = "reverse-path filter: the route back to the source leaves through the incoming "
             "interface; {} for the strict check. Raw and mangle PREROUTING only",
      .example = R"({"invert": true})"}}};

const MatchRegistrar kRegistrar({.name = "rpfilter",
                                 .summary = "reverse-path filter: the source is routed back "
                                            "through the interface the packet came in on",
                                 .options = kOptions,
                                 .hooks = hook_bit(Hook::kPrerouting),
                                 .build = build});

}  // namespace

}  // namespace verdictd
