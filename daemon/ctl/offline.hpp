// The verdictctl commands that need no daemon: they read ruleset files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "packet/address.hpp"

namespace verdictd {

// Prints "FILE: ok (N rules)" for each good file and the error line for each
// bad one; the exit status: 1 if any is bad.
int check_rulesets(const std::vector<std::string>& files);

// Prints the rules of `family` in FILE as iptables-save does; exit status.
int export_ruleset(const std::string& file, Family family);

}  // namespace verdictd
