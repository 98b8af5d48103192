// -m addrtype (xt_addrtype revision 1): the type of the source or
// destination address as the routing table says it (RTN_LOCAL for an
// address of the host, RTN_BROADCAST, ...), optionally only when the route
// is of the incoming or outgoing interface.
#include <array>

#include "extension/error.hpp"
#include "extension/match.hpp"
#include "extension/values.hpp"
#include "match/ipv6_address_type.hpp"
#include "packet/routes.hpp"

namespace verdictd {

namespace {

// XT_ADDRTYPE_*: bit N is route type N (RTN_*).
constexpr std::uint32_t type_bit(std::uint8_t type) { return 1U << type; }
constexpr std::uint32_t kUnspecBit = type_bit(route_type::kUnspec);
constexpr std::uint32_t kUnicastBit = type_bit(route_type::kUnicast);
constexpr std::uint32_t kLocalBit = type_bit(route_type::kLocal);
constexpr std::uint32_t kBroadcastBit = type_bit(route_type::kBroadcast);
constexpr std::uint32_t kAnycastBit = type_bit(route_type::kAnycast);
constexpr std::uint32_t kMulticastBit = type_bit(route_type::kMulticast);
constexpr std::uint32_t kBlackholeBit = type_bit(route_type::kBlackhole);
constexpr std::uint32_t kUnreachableBit = type_bit(route_type::kUnreachable);
constexpr std::uint32_t kProhibitBit = type_bit(route_type::kProhibit);

const std::array<NamedBit, 12> kTypeNames = {{{"UNSPEC", kUnspecBit},
                                              {"UNICAST", kUnicastBit},
                                              {"LOCAL", kLocalBit},
                                              {"BROADCAST", kBroadcastBit},
                                              {"ANYCAST", kAnycastBit},
                                              {"MULTICAST", kMulticastBit},
                                              {"BLACKHOLE", kBlackholeBit},
                                              {"UNREACHABLE", kUnreachableBit},
                                              {"PROHIBIT", kProhibitBit},
                                              {"THROW", type_bit(route_type::kThrow)},
                                              {"NAT", 1U << 10},
                                              {"XRESOLVE", 1U << 11}}};
const NamesType kTypes("address types", kTypeNames);

// The types IPv6 cannot tell (checkentry refuses them for ip6tables).
constexpr std::uint32_t kIpv4OnlyBits = kBlackholeBit | kBroadcastBit | ~(kProhibitBit - 1);

// inet_dev_addr_type: 0.0.0.0/8 and 255.255.255.255 are broadcast, 224/4
// multicast; else the type of the route the local table (merged with main)
// gives, when its first nexthop is `device` or none is asked; unicast when
// the lookup fails (no route, or an error route) or the device differs.
std::uint8_t ipv4_type(const IpAddress& address, std::uint32_t device, const RouteLookup* routes) {
  const std::uint8_t first = address.bytes[0];
  const bool limited_broadcast = address.bytes[0] == 0xff && address.bytes[1] == 0xff &&
                                 address.bytes[2] == 0xff && address.bytes[3] == 0xff;
  if (first == 0 || limited_broadcast) return route_type::kBroadcast;
  if ((first & 0xf0) == 0xe0) return route_type::kMulticast;
  if (routes == nullptr) return route_type::kUnicast;
  const RouteResult route = routes->lookup_local_table(address);
  if (!route || (device != 0 && route->devices.front() != device)) return route_type::kUnicast;
  return route->type;
}

// match_lookup_rt6: a route lookup towards the address (through `device`
// only, when one is asked). A failed lookup is UNREACHABLE alone; LOCAL
// comes from the route's type, or with a device from the address being
// one of that device's; ANYCAST from an anycast route or the subnet-router
// anycast address of an on-link prefix (ipv6_anycast_destination).
std::uint32_t ipv6_route_types(const IpAddress& address, std::uint32_t device, std::uint32_t wanted,
                               const RouteLookup* routes) {
  if (routes == nullptr) return kUnreachableBit;
  std::uint32_t found = 0;
  if (device != 0 && (wanted & kLocalBit) != 0 && routes->is_address_of(device, address)) {
    found = kLocalBit;
  }
  const RouteResult route =
      routes->lookup({.destination = address, .oif = device, .strict = device != 0});
  if (!route) return kUnreachableBit;
  if (device == 0 && route->type == route_type::kLocal) found |= kLocalBit;
  const bool subnet_router = route->destination.length < 127 && !route->has_gateway &&
                             route->destination.address == address;
  if (route->type == route_type::kAnycast || subnet_router) found |= kAnycastBit;
  return found;
}

// match_type6: MULTICAST, UNICAST and UNSPEC are required of the address's
// bits (all of those named, together); the route decides LOCAL, ANYCAST and
// UNREACHABLE, any one of those named.
bool ipv6_matches(const IpAddress& address, std::uint32_t device, std::uint32_t wanted,
                  const RouteLookup* routes) {
  const std::uint32_t kind = ipv6_address_type(address);
  if ((wanted & kMulticastBit) != 0 && (kind & ipv6_address::kMulticast) == 0) return false;
  if ((wanted & kUnicastBit) != 0 && (kind & ipv6_address::kUnicast) == 0) return false;
  if ((wanted & kUnspecBit) != 0 && kind != ipv6_address::kAny) return false;
  if ((wanted & (kLocalBit | kAnycastBit | kUnreachableBit)) == 0) return true;
  return (wanted & ipv6_route_types(address, device, wanted, routes)) != 0;
}

enum class Limit : std::uint8_t { kNone, kIn, kOut };

class AddrtypeMatch final : public Match {
 public:
  AddrtypeMatch(std::uint32_t source, bool source_negated, std::uint32_t destination,
                bool destination_negated, Limit limit)
      : source_(source),
        source_negated_(source_negated),
        destination_(destination),
        destination_negated_(destination_negated),
        limit_(limit) {}

  bool matches(const PacketView& packet, EvalState& state) const override {
    const std::uint32_t device = limit_ == Limit::kIn    ? state.in_ifindex
                                 : limit_ == Limit::kOut ? state.out_ifindex
                                                         : 0;
    if (source_ != 0 && is_type(packet.source, source_, device, state) == source_negated_) {
      return false;
    }
    return destination_ == 0 ||
           is_type(packet.destination, destination_, device, state) != destination_negated_;
  }

  // Only IPv4 tells broadcast, blackhole and the types after unreachable.
  [[nodiscard]] std::optional<Family> family() const override {
    if (((source_ | destination_) & kIpv4OnlyBits) != 0) return Family::kIPv4;
    return std::nullopt;
  }

  // checkentry: the outgoing interface is unknown in PREROUTING and INPUT,
  // the incoming one in OUTPUT and POSTROUTING.
  [[nodiscard]] HookMask allowed_hooks() const override {
    HookMask hooks = spec().hooks;
    if (limit_ == Limit::kOut) {
      hooks &= static_cast<HookMask>(~(hook_bit(Hook::kPrerouting) | hook_bit(Hook::kInput)));
    }
    if (limit_ == Limit::kIn) {
      hooks &= static_cast<HookMask>(~(hook_bit(Hook::kOutput) | hook_bit(Hook::kPostrouting)));
    }
    return hooks;
  }

  // "ADDRTYPE match src-type LOCAL dst-type !BROADCAST limit-in".
  void list(ListRow& row) const override {
    std::string text = "ADDRTYPE match";
    if (source_ != 0) {
      text += " src-type " + std::string(source_negated_ ? "!" : "") + kTypes.text(source_);
    }
    if (destination_ != 0) {
      text +=
          " dst-type " + std::string(destination_negated_ ? "!" : "") + kTypes.text(destination_);
    }
    if (limit_ == Limit::kIn) text += " limit-in";
    if (limit_ == Limit::kOut) text += " limit-out";
    row.add_extra(text);
  }

 private:
  [[nodiscard]] static bool is_type(const IpAddress& address, std::uint32_t wanted,
                                    std::uint32_t device, const EvalState& state) {
    if (address.family == Family::kIPv6) return ipv6_matches(address, device, wanted, state.routes);
    return (wanted & type_bit(ipv4_type(address, device, state.routes))) != 0;
  }

  std::uint32_t source_;
  bool source_negated_;
  std::uint32_t destination_;
  bool destination_negated_;
  Limit limit_;
};

std::uint32_t types_of(const OptionValues& options, std::string_view key) {
  const OptionValue* given = options.find(key);
  return given == nullptr ? 0 : std::get<ValueMask>(given->value).value;
}

std::unique_ptr<Match> build(const OptionValues& options, const BuildContext& /*context*/) {
  const Limit limit = options.has("limit_iface_in")    ? Limit::kIn
                      : options.has("limit_iface_out") ? Limit::kOut
                                                       : Limit::kNone;
  return std::make_unique<AddrtypeMatch>(types_of(options, "src_type"), options.negated("src_type"),
                                         types_of(options, "dst_type"), options.negated("dst_type"),
                                         limit);
}

const std::array<OptionSpec, 4> kOptions = {
    {{.key = "src_type",
      .flag = "--src-type",
      .type = &kTypes,
      .negatable = true,
      .doc = "the source address is of one of these types (IPv4: the type of its route in the "
             "local table; IPv6: UNICAST, MULTICAST and UNSPEC are all required, then LOCAL, "
             "ANYCAST or UNREACHABLE from a route lookup). BROADCAST, BLACKHOLE and the types "
             "after UNREACHABLE exist only for IPv4: naming one makes the rule IPv4 only"},
     {.key = "dst_type",
      .flag = "--dst-type",
      .type = &kTypes,
      .negatable = true,
      .doc = "the destination address is of one of these types, as src_type"},
     {.key = "limit_iface_in",
      .flag = "--limit-iface-in",
      .type = &value_types::flag(),
      .doc = "only routes of the incoming interface count (not in OUTPUT and POSTROUTING); "
             "without src_type or dst_type the match takes every packet, as the kernel's "
             "(iptables asks for one)"},
     {.key = "limit_iface_out",
      .flag = "--limit-iface-out",
      .type = &value_types::flag(),
      .doc = "only routes of the outgoing interface count (not in PREROUTING and INPUT)"}}};

const std::array<Constraint, 1> kConstraints = {
    {{.kind = Constraint::Kind::kAtMostOne, .keys = "limit_iface_in limit_iface_out"}}};

const MatchRegistrar kRegistrar({.name = "addrtype",
                                 .summary = "the type of the source or destination address, as "
                                            "the routing table gives it (LOCAL, BROADCAST, ...)",
                                 .options = kOptions,
                                 .constraints = kConstraints,
                                 .build = build});

}  // namespace

}  // namespace verdictd
