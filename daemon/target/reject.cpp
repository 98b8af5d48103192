// -j REJECT: drops the packet and answers its sender with an ICMP or ICMPv6
// destination unreachable error or a TCP RST (ipt_REJECT, ip6t_REJECT). The
// answer is built here (packet/reject_reply.hpp) and left in EvalState for
// the daemon, which sends it from its network namespace. Only the filter
// table's INPUT, FORWARD and OUTPUT, and the chains they reach.
#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "conntrack/transport_checksum.hpp"
#include "extension/error.hpp"
#include "extension/target.hpp"
#include "extension/values.hpp"
#include "packet/packet_type.hpp"
#include "packet/reject_reply.hpp"

namespace verdictd {

namespace {

// One --reject-with type of iptables or ip6tables: its name, the alias
// libipt_REJECT / libip6t_REJECT also take, and what the kernel sends.
struct RejectType {
  std::string_view name;
  std::string_view alias;
  bool tcp_reset = false;
  std::uint8_t icmp_code = 0;  // of destination unreachable, unless tcp_reset
};

// In the order iptables tries them: a type is found by a case-insensitive
// prefix of its name or alias, the first in this order winning.
constexpr std::array<RejectType, 8> kIpv4Types = {{
    {"icmp-net-unreachable", "net-unreach", false, 0},
    {"icmp-host-unreachable", "host-unreach", false, 1},
    {"icmp-proto-unreachable", "proto-unreach", false, 2},
    {"icmp-port-unreachable", "port-unreach", false, 3},
    {"icmp-net-prohibited", "net-prohib", false, 9},
    {"icmp-host-prohibited", "host-prohib", false, 10},
    {"tcp-reset", "tcp-rst", true, 0},
    {"icmp-admin-prohibited", "admin-prohib", false, 13},
}};
constexpr std::array<RejectType, 7> kIpv6Types = {{
    {"icmp6-no-route", "no-route", false, 0},
    {"icmp6-adm-prohibited", "adm-prohibited", false, 1},
    {"icmp6-addr-unreachable", "addr-unreach", false, 3},
    {"icmp6-port-unreachable", "port-unreach", false, 4},
    {"tcp-reset", "tcp-reset", true, 0},
    {"icmp6-policy-fail", "policy-fail", false, 5},
    {"icmp6-reject-route", "reject-route", false, 6},
}};
// The defaults, iptables' and ip6tables' REJECT_init.
const RejectType& kIpv4Default = kIpv4Types[3];
const RejectType& kIpv6Default = kIpv6Types[3];

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return prefix.size() <= text.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// REJECT_parse of one family: the type `written` names, or null.
template <std::size_t N>
const RejectType* find_type(const std::array<RejectType, N>& types, std::string_view written) {
  if (written.empty()) return nullptr;
  for (const RejectType& type : types) {
    if (starts_with_ignoring_case(type.name, written) ||
        starts_with_ignoring_case(type.alias, written)) {
      return &type;
    }
  }
  return nullptr;
}

// The written type, kept as written: what it names depends on the family
// the rule is loaded for, as the same --reject-with goes to iptables and to
// ip6tables. It must name a type of at least one.
class RejectWithType final : public ValueType {
 public:
  [[nodiscard]] std::string_view name() const override { return "reject type"; }
  [[nodiscard]] std::string syntax() const override {
    std::string text;
    for (const RejectType& t : kIpv4Types) text += std::string(t.name) + ", ";
    for (const RejectType& t : kIpv6Types) {
      if (!t.tcp_reset) text += std::string(t.name) + ", ";
    }
    return text + "or an alias or prefix of one as iptables takes it";
  }
  [[nodiscard]] Value parse(const Json& v) const override {
    if (!v.is_string()) throw_expected(syntax(), v);
    const auto written = v.get<std::string>();
    if (find_type(kIpv4Types, written) == nullptr && find_type(kIpv6Types, written) == nullptr) {
      throw_expected(syntax(), v);
    }
    return written;
  }
  [[nodiscard]] std::string save_text(const Value& v) const override {
    return std::get<std::string>(v);
  }
  [[nodiscard]] Json schema() const override { return Json{{"type", "string"}, {"minLength", 1}}; }
  [[nodiscard]] Json example() const override { return "icmp-host-prohibited"; }
};

const RejectWithType kRejectWith;

class RejectTarget final : public Target {
 public:
  RejectTarget(const RejectType* ipv4, const RejectType* ipv6) : ipv4_(ipv4), ipv6_(ipv6) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override {
    const RejectType* type = type_for(packet.family);
    if (state.reply != nullptr && type != nullptr && answerable(packet, state)) {
      RejectReply& reply = *state.reply;
      const bool ipv4 = packet.family == Family::kIPv4;
      const std::uint8_t hop_limit = ipv4 ? reply.hop_limits.ipv4 : reply.hop_limits.ipv6;
      if (type->tcp_reset) {
        build_tcp_reset(packet, hop_limit, reply.bytes);
      } else {
        // icmp_send and icmp6_send answer from the original's destination
        // when it is the host's own (INPUT), else from the address the route
        // back to the sender picks.
        const std::optional<IpAddress> source =
            state.hook == Hook::kInput ? std::optional(packet.destination) : std::nullopt;
        build_unreachable(packet, type->icmp_code, source, hop_limit, reply.bytes);
      }
    }
    return TargetAction::kDrop;
  }

  // A type of one family only restricts the rule to it, as only iptables or
  // only ip6tables would take it.
  [[nodiscard]] std::optional<Family> family() const override {
    if (ipv4_ == nullptr) return Family::kIPv6;
    if (ipv6_ == nullptr) return Family::kIPv4;
    return std::nullopt;
  }

  // "reject-with icmp-port-unreachable"
  [[nodiscard]] std::string list_extra_for(Family family) const override {
    return "reject-with " + std::string(type_for(family)->name);
  }
  [[nodiscard]] std::string list_extra() const override { return list_extra_for(shown()); }
  // "-j REJECT --reject-with icmp-port-unreachable": iptables-save always names the type.
  [[nodiscard]] std::string save_for(Family family) const override {
    return "-j REJECT --reject-with " + std::string(type_for(family)->name);
  }
  [[nodiscard]] std::string save() const override { return save_for(shown()); }

 private:
  [[nodiscard]] const RejectType* type_for(Family family) const {
    const RejectType* type = family == Family::kIPv4 ? ipv4_ : ipv6_;
    return type != nullptr ? type : (ipv4_ != nullptr ? ipv4_ : ipv6_);
  }
  [[nodiscard]] Family shown() const { return family().value_or(Family::kIPv4); }

  // What the kernel refuses to answer besides what the builders refuse: a
  // packet whose checksum it finds wrong (nf_ip_checksum and
  // nf_ip6_checksum check one nobody has verified, at any hook), and one to
  // a broadcast or multicast address (the route's RTCF_BROADCAST and
  // RTCF_MULTICAST, icmp6_send's and nf_send_reset6's address tests). The
  // destination tells it as it tells pkttype at the receiving hooks; at
  // OUTPUT the route still says it, so the destination is read the same way.
  static bool answerable(const PacketView& packet, const EvalState& state) {
    if (packet.checksum == ChecksumInfo::kUnverified && !transport_checksum_valid(packet)) {
      return false;
    }
    const std::uint32_t ifindex = state.in_ifindex != 0 ? state.in_ifindex : state.out_ifindex;
    return packet_type(Hook::kForward, packet, ifindex, state.broadcasts) == PacketType::kUnicast;
  }

  const RejectType* ipv4_;  // null: the rule is IPv6 only
  const RejectType* ipv6_;  // null: the rule is IPv4 only
};

std::unique_ptr<Target> build(const OptionValues& options, const BuildContext& context) {
  const RejectType* ipv4 = &kIpv4Default;
  const RejectType* ipv6 = &kIpv6Default;
  if (const OptionValue* with = options.find("reject_with"); with != nullptr) {
    const auto& written = std::get<std::string>(with->value);
    ipv4 = find_type(kIpv4Types, written);
    ipv6 = find_type(kIpv6Types, written);
  }
  // reject_tg_check: a RST only for rules that match TCP, not negated.
  const bool resets = (ipv4 != nullptr && ipv4->tcp_reset) || (ipv6 != nullptr && ipv6->tcp_reset);
  if (resets && context.protocol != ipproto::kTcp) {
    throw FieldError("tcp-reset needs \"protocol\": \"tcp\" in the same rule", "/reject_with");
  }
  return std::make_unique<RejectTarget>(ipv4, ipv6);
}

const std::array<OptionSpec, 1> kOptions = {
    {{.key = "reject_with",
      .flag = "--reject-with",
      .type = &kRejectWith,
      .doc = "what to answer with: an ICMP error (icmp-port-unreachable by default, "
             "icmp6-port-unreachable for IPv6) or tcp-reset; a type of one family makes the "
             "rule that family's only"}}};

constexpr std::array<TableId, 1> kFilterOnly = {TableId::kFilter};

const TargetRegistrar kRegistrar(
    {.name = "REJECT",
     .summary = "drops the packet and answers its sender with an ICMP error or a TCP RST",
     .options = kOptions,
     .tables = kFilterOnly,
     .hooks = hook_bit(Hook::kInput) | hook_bit(Hook::kForward) | hook_bit(Hook::kOutput),
     .build = build});

}  // namespace

}  // namespace verdictd
