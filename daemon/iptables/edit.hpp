// An iptables command carried out on one family's tables, with iptables'
// outcomes: its messages and exit statuses (1 for a resource problem such
// as a rule or chain that is not there, 2 for a parameter problem).
#pragma once

#include <string>

#include "iptables/command.hpp"
#include "iptables/family_tables.hpp"

namespace verdictd {

struct CommandError {
  int status = 1;
  std::string message;  // "Bad rule (does a matching rule exist in that chain?)"
};

// Carries out an editing command (Command::edits(), or -C) on `tables`.
// Throws CommandError and leaves `tables` as it was when it fails.
void apply_command(FamilyTables& tables, const Command& command);

// iptables' text for an error of `family`'s program: "iptables: MESSAGE."
// (status 1), or the parameter problem's two lines (status 2).
std::string error_text(Family family, const CommandError& error);

}  // namespace verdictd
