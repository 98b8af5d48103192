// What the NAT targets (DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP) share: the
// ranges they map to as rules write them and iptables prints them, their
// flags, and binding the packet's connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "extension/eval_state.hpp"
#include "extension/target.hpp"
#include "nat/nat_context.hpp"
#include "packet/packet.hpp"

namespace verdictd {

// options[key] as --to-destination and --to-source take it: "ADDR" or
// "ADDR-ADDR", optionally followed by ":PORT" or ":PORT-PORT"; IPv6 addresses
// with ports go in brackets ("[fd00::1-fd00::9]:80"); ":PORT" alone keeps
// the address. Errors carry the pointer suffix "/key".
NatRange parse_nat_range(const Json& options, std::string_view key, const Json& rule_match);
// options[key] as --to-ports takes it: 8080, "8080" or "8080-8090", into
// range's ports. Errors carry the pointer suffix "/key".
void parse_nat_ports(const Json& options, std::string_view key, const Json& rule_match,
                     NatRange& range);
// options[key]: true or false, false when absent.
bool parse_nat_flag(const Json& options, std::string_view key);

// The range as iptables prints it after "to:" and "--to-destination ":
// "10.0.0.1-10.0.0.9:80", "[fd00::1]:80-90", "fd00::1", ":80".
std::string nat_range_text(const NatRange& range);
// The ports as --to-ports prints them: "80" or "80-90".
std::string nat_ports_text(const NatRange& range);
// The flags set, as iptables -L ends the rule (" random random-fully
// persistent") and as iptables-save does (" --random --random-fully --persistent").
std::string nat_flags_list_text(const NatRange& range);
std::string nat_flags_save_text(const NatRange& range);

// A range of addresses restricts its rule to their family: the kernel holds
// it in the IPv4 or the IPv6 tables only.
bool nat_range_applies_to(const NatRange& range, Family family);

// MASQUERADE's and REDIRECT's listing, "LABEL PORTS random random-fully"
// (LABEL "masq ports:"), and their save text, "-j NAME --to-ports PORTS --random".
std::string nat_ports_list_text(std::string_view label, const NatRange& ports);
std::string nat_ports_save_text(std::string_view name, const NatRange& ports);

// The context to bind the packet's connection with, or null when nothing can
// be bound (no tracking: only in unit tests, as the nat table runs only for
// tracked packets).
NatContext* nat_context(const EvalState& state);
// The verdict of binding the packet's connection: the kernel drops a packet
// whose connection finds no unique tuple.
TargetAction bind_connection(NatContext& nat, EvalState& state, std::uint8_t manip,
                             const NatRange& range);

// DNAT and SNAT: map one side of the connection to a range (xt_nat). They
// differ in the side, the hooks and the option's name.
struct NatRangeTargetKind {
  std::string_view name;         // "DNAT"
  std::string_view save_option;  // "--to-destination"
  std::uint8_t manip;            // natmanip::kDestination
  HookMask hooks;
};

class NatRangeTarget final : public Target {
 public:
  NatRangeTarget(const NatRangeTargetKind& kind, const NatRange& range)
      : kind_(kind), range_(range) {}

  TargetAction apply(const PacketView& packet, EvalState& state) const override;
  [[nodiscard]] std::string_view name() const override { return kind_.name; }
  // Addresses restrict the rule to their family (for the loader, once
  // Target has this hook).
  [[nodiscard]] std::optional<Family> family() const override;
  // "to:10.0.0.1:80 random persistent"
  [[nodiscard]] std::string list_extra() const override;
  // "-j DNAT --to-destination 10.0.0.1:80 --random --persistent"
  [[nodiscard]] std::string save() const override;
  [[nodiscard]] HookMask allowed_hooks() const override { return kind_.hooks; }
  [[nodiscard]] bool needs_conntrack() const override { return true; }
  [[nodiscard]] bool allowed_in(TableId table) const override { return table == TableId::kNat; }

 private:
  NatRangeTargetKind kind_;
  NatRange range_;
};

}  // namespace verdictd
