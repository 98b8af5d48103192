// What the NAT targets (DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP) share: the
// ranges they map to as rules write them and iptables prints them, their
// flags, and binding the packet's connection.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "extension/eval_state.hpp"
#include "extension/target.hpp"
#include "nat/nat_context.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// The NAT targets' table, as xt_nat's and the others' .table = "nat".
inline constexpr std::array<TableId, 1> kNatTable = {TableId::kNat};

// The options the NAT targets share, described. A range, as --to-destination
// and --to-source take it: "ADDR" or "ADDR-ADDR", optionally followed by
// ":PORT" or ":PORT-PORT"; IPv6 addresses with ports go in brackets
// ("[fd00::1-fd00::9]:80"); ":PORT" alone keeps the address. Mandatory.
OptionSpec nat_range_option(std::string_view key, std::string_view flag, std::string_view doc);
// Ports, as --to-ports takes them: 8080, "8080" or "8080-8090".
OptionSpec nat_ports_option();
// A flag ("random"), true or false; saved only when true.
OptionSpec nat_flag_option(std::string_view key, std::string_view flag, std::string_view doc);

// What a NAT target's parsed options map to: its range or ports and its
// flags. Throws a FieldError pointing at the option when it has ports and
// the rule's protocol has none.
NatRange nat_range_from(const OptionValues& options, const BuildContext& context);

// The range as iptables prints it after "to:" and "--to-destination ":
// "10.0.0.1-10.0.0.9:80", "[fd00::1]:80-90", "fd00::1", ":80".
std::string nat_range_text(const NatRange& range);
// The ports as --to-ports prints them: "80" or "80-90".
std::string nat_ports_text(const NatRange& range);
// The flags set, as iptables -L ends the rule: " random random-fully persistent".
std::string nat_flags_list_text(const NatRange& range);

// A range of addresses restricts its rule to their family: the kernel holds
// it in the IPv4 or the IPv6 tables only.
bool nat_range_applies_to(const NatRange& range, Family family);

// MASQUERADE's and REDIRECT's listing, "LABEL PORTS random random-fully"
// (LABEL "masq ports:").
std::string nat_ports_list_text(std::string_view label, const NatRange& ports);

// The context to bind the packet's connection with, or null when nothing can
// be bound (no tracking: only in unit tests, as the nat table runs only for
// tracked packets).
NatContext* nat_context(const EvalState& state);
// The verdict of binding the packet's connection: the kernel drops a packet
// whose connection finds no unique tuple.
TargetAction bind_connection(NatContext& nat, EvalState& state, std::uint8_t manip,
                             const NatRange& range);

// DNAT and SNAT: map one side of the connection to a range (xt_nat).
class NatRangeTarget final : public Target {
 public:
  NatRangeTarget(std::uint8_t manip, const NatRange& range) : manip_(manip), range_(range) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override;
  // Addresses restrict the rule to their family.
  [[nodiscard]] std::optional<Family> family() const override;
  // "to:10.0.0.1:80 random persistent"
  [[nodiscard]] std::string list_extra() const override;

 private:
  std::uint8_t manip_;  // natmanip::kDestination or kSource
  NatRange range_;
};

}  // namespace verdictd
