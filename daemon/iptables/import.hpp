// `verdictctl import`: iptables-save files (one per family) and shell
// scripts of iptables commands turned into one verdictd ruleset.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "iptables/script.hpp"
#include "packet/address.hpp"

namespace verdictd {

struct ImportInput {
  // kIpset: an `ipset save` file whose sets the rules name (-m set, SET):
  // each is declared from the file ({"file": PATH, "format": "ipset"}).
  enum class Kind : std::uint8_t { kRestore, kScript, kIpset };
  Kind kind = Kind::kRestore;
  Family family = Family::kIPv4;  // of a restore file; a script's commands say theirs
  std::string file;               // names it in errors; an ipset file's absolute path
  std::string text;
};

struct Imported {
  nlohmann::ordered_json ruleset;
  std::vector<std::pair<std::string, SkippedLine>> skipped;  // by file
};

// The ruleset covers the families the inputs give rules for. Throws LineError.
Imported import_rules(const std::vector<ImportInput>& inputs);

// A ruleset document as people write them: nested objects indented, each
// rule on one line.
std::string format_ruleset(const nlohmann::ordered_json& ruleset);

}  // namespace verdictd
