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

// Prints the ruleset that iptables-restore files (IPv4 `ipv4_files`, IPv6
// `ipv6_files`; "-" is the standard input) and shell scripts of iptables
// commands make, after checking it as the daemon would; the script lines it
// skipped go to the standard error. Exit status 1 and the error, naming
// file, line and column, when an input cannot be imported.
// `ipset_files` (ipset save output) declare the sets the rules name.
int import_rulesets(const std::vector<std::string>& ipv4_files,
                    const std::vector<std::string>& ipv6_files,
                    const std::vector<std::string>& scripts,
                    const std::vector<std::string>& ipset_files);

// Writes `text` to `file` (through a temporary file renamed over it, so a
// reader never sees half of it); exit status, with the error on stderr.
int write_text_file(const std::string& file, const std::string& text);

}  // namespace verdictd
