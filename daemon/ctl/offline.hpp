// The verdictctl commands that need no daemon: they read ruleset files.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "packet/address.hpp"

namespace verdictd {

// Prints "FILE: ok (N rules)" for each good file and the error line for each
// bad one (a file larger than `max_bytes` is one); the exit status: 1 if any
// is bad.
int check_rulesets(const std::vector<std::string>& files, std::size_t max_bytes);

// Prints the rules of `family` in FILE as iptables-save does; exit status.
int export_ruleset(const std::string& file, Family family, std::size_t max_bytes);

}  // namespace verdictd
