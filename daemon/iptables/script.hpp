// A shell script of iptables and ip6tables commands, as the classic firewall
// scripts are written: variables set with NAME=value, lines continued with
// a backslash. Every other shell line is skipped and reported.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "iptables/command.hpp"

namespace verdictd {

struct ScriptCommand {
  std::size_t line = 0;
  Command command;
};

struct SkippedLine {
  std::size_t line = 0;
  std::string text;
  std::string reason;  // "not an iptables command", "changes nothing"
};

struct Script {
  std::vector<ScriptCommand> commands;
  std::vector<SkippedLine> skipped;
};

// Throws LineError naming `file`.
Script parse_script(std::string_view text, const std::string& file);

}  // namespace verdictd
