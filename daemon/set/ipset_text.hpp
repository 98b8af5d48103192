// Sets in the text `ipset save` writes and `ipset restore` reads:
//   create NAME TYPE [family inet|inet6] [hashsize N] [maxelem N] [timeout N]
//          [counters] [comment] [netmask N] [range LO-HI] ...
//   add NAME ELEMENT [timeout N] [nomatch] [packets N bytes N] [comment "x"]
// so an existing dump loads unchanged, and `verdictctl set save` writes one
// ipset restores.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "set/ip_set.hpp"
#include "set/list_set.hpp"

namespace verdictd {

// The set `name` of a dump: its create line's options and its add lines'
// elements; the lines of other sets are passed over. Throws RulesetError
// naming `file`, the line and the column at fault.
std::unique_ptr<IpSet> read_ipset_text(std::string_view text, const std::string& file,
                                       const std::string& name);

// The list:set `name` of a dump (create NAME list:set [size N], add NAME
// SET), or nullopt when the dump creates `name` with another type. Throws
// RulesetError as read_ipset_text does.
std::optional<ListDeclaration> read_ipset_list(std::string_view text, const std::string& file,
                                               const std::string& name);

// A list:set's create line and one add line per live member, with its
// timeout left, counters and comment.
std::string ipset_list_text(const ListSet& list, SetTime now);

// The create line's options: "family inet hashsize 1024 maxelem 65536 counters".
std::string ipset_header(const SetOptions& options);

// The create line and one add line per element, as ipset save writes them.
std::string ipset_text(const IpSet& set, SetTime now);

// What follows an element in an add line: " timeout 5 nomatch packets 1 bytes 60".
std::string element_options_text(const ListedElement& element);

// Refuses an element option the set was created without (timeout,
// counters, comment), or a port outside bitmap:port's range; throws
// ElementError at offset 0.
void check_element(const SetOptions& options, const SetElement& element);

// Adds a loaded element, or each one a ranged element stands for: throws
// ElementError(offset 0) for a repeated element or a full set, as ipset
// restore refuses them.
void add_loaded(IpSet& set, const SetElement& element, SetTime now);

}  // namespace verdictd
