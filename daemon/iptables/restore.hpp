// iptables-restore input (what iptables-save prints, and what ufw and
// iptables-persistent write) carried out on one family's tables.
#pragma once

#include <string>
#include <string_view>

#include "iptables/family_tables.hpp"

namespace verdictd {

struct RestoreOptions {
  // -n: tables named in the input keep their rules; without it each is
  // replaced by what the input gives it.
  bool noflush = false;
};

// Applies `text` to `tables` whole, or throws LineError naming `file`, the
// line and column, and leaves `tables` as it was. (iptables-restore commits
// table by table; verdictd takes the input as one generation.)
void restore_tables(FamilyTables& tables, std::string_view text, const std::string& file,
                    const RestoreOptions& options);

}  // namespace verdictd
