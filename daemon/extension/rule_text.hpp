// How a rule is shown: the columns of `iptables -L -v -n`, and the argument
// line of `iptables-save`. Each match and target fills in its own part.
#pragma once

#include <string>

#include "packet/address.hpp"

namespace verdictd {

// One row of `verdictctl list`. The base fields (protocol, addresses,
// interfaces, fragment) have columns; every other match appends to `extra`.
struct ListRow {
  Family family = Family::kIPv4;  // of the listing, for defaults that depend on it
  std::string protocol = "0";     // iptables -n prints "0" for any, else the number or name
  std::string option = "--";      // "-f" / "!f" for the fragment flag
  std::string in = "*";
  std::string out = "*";
  std::string source;       // filled with the family's any-address when empty
  std::string destination;  // likewise
  std::string extra;        // "tcp dpt:22 multiport dports 80,443"
  void add_extra(const std::string& text) {
    if (!extra.empty()) extra += ' ';
    extra += text;
  }
};

// One rule line of iptables-save, without "-A CHAIN". iptables-save prints
// `-s -d -i -o -p -f`, then the matches, then `-j`/`-g`.
struct SaveLine {
  Family family = Family::kIPv4;  // of the export, for defaults that depend on it
  std::string source;
  std::string destination;
  std::string in;
  std::string out;
  std::string protocol;
  std::string fragment;
  std::string matches;  // " -m tcp --dport 22 -m mark --mark 0x1"
  std::string target;   // " -j ACCEPT"
  [[nodiscard]] std::string str() const;
};

}  // namespace verdictd
