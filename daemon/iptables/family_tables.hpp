// One family's tables as iptables and ip6tables see them, and the merge of
// both into one verdictd ruleset. verdictd holds IPv4 and IPv6 in one
// ruleset (a rule naming no family applies to both); an iptables command
// changes one family's view of it, and an import merges two files. Rules
// common to both families are written once; a family's own rules carry
// "family", its own user chains "families".
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "packet/address.hpp"
#include "packet/hooks.hpp"
#include "ruleset/model.hpp"

namespace verdictd {

struct FamilyChain {
  std::string name;
  bool builtin = false;
  Policy policy = Policy::kAccept;            // built-in chains only
  std::vector<nlohmann::ordered_json> rules;  // as JSON rules, without "family"
};

struct FamilyTable {
  // Built-in chains first, in hook order, then user chains in order.
  std::vector<FamilyChain> chains;

  [[nodiscard]] FamilyChain* chain(const std::string& name);
  [[nodiscard]] const FamilyChain* chain(const std::string& name) const;
  // True when iptables-save would leave it out: only empty built-in
  // chains with an ACCEPT policy.
  [[nodiscard]] bool is_default() const;
};

struct FamilyTables {
  Family family = Family::kIPv4;
  std::array<FamilyTable, kTableCount> tables;

  [[nodiscard]] FamilyTable& table(TableId id) { return tables[static_cast<std::size_t>(id)]; }
  [[nodiscard]] const FamilyTable& table(TableId id) const {
    return tables[static_cast<std::size_t>(id)];
  }
};

// A table's built-in chains, empty, with ACCEPT policies.
FamilyTable empty_table(TableId id);
// Every table empty.
FamilyTables empty_tables(Family family);

// The view of `family` of a ruleset document and the ruleset loaded from it
// (which knows each rule's family).
FamilyTables family_tables(const nlohmann::ordered_json& root, const Ruleset& loaded,
                           Family family);

// The one ruleset document holding both views, over `base`'s other keys
// ("sets", "comment", "$schema"); "families" says which families it
// covers when not both. A family `covered` leaves out contributes nothing.
nlohmann::ordered_json merge_family_tables(const FamilyTables& ipv4, const FamilyTables& ipv6,
                                           FamilyMask covered, const nlohmann::ordered_json& base);

}  // namespace verdictd
