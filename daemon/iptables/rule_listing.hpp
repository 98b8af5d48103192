// Rules of one family's tables as iptables prints them: a rule's
// iptables-save text, which is also how two rules are compared (iptables
// compares the kernel's entries, so "--dport ssh" is "--dport 22"), and
// `iptables -S`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "iptables/family_tables.hpp"

namespace verdictd {

// " -p tcp -m tcp --dport 22 -j ACCEPT", as iptables-save prints the rule
// after "-A CHAIN"; the JSON text for a rule its extensions refuse.
std::string rule_save_text(const nlohmann::ordered_json& rule, TableId table, Family family);

// `iptables -S [CHAIN]`: "-P CHAIN POLICY", "-N CHAIN", then "-A CHAIN …"
// lines (the rule numbered `rule_number` alone when given).
std::string list_rules(const FamilyTables& tables, TableId table, const std::string& chain,
                       std::optional<std::size_t> rule_number);

}  // namespace verdictd
