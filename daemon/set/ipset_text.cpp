#include "set/ipset_text.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "extension/error.hpp"
#include "text/decimal.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

struct Token {
  std::string_view text;
  std::size_t offset;  // in the line
};

std::vector<Token> tokens(std::string_view line) {
  std::vector<Token> out;
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    const std::size_t start = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t') ++at;
    if (at > start) out.push_back({line.substr(start, at - start), start});
  }
  return out;
}

// The create line's options, from its fourth word on.
// Throws ElementError at an offset in the line.
[[noreturn]] void fail(std::size_t offset, const std::string& message) {
  throw ElementError(message, offset);
}

SetOptions create_options(const SetType& type, const std::vector<Token>& words) {
  SetOptions options;
  options.type = &type;
  const auto value = [&](std::size_t& i) -> const Token& {
    if (i + 1 >= words.size()) {
      fail(words[i].offset, "expected a value after " + std::string(words[i].text));
    }
    return words[++i];
  };
  const auto count = [&](std::size_t& i, std::uint64_t max) -> std::uint64_t {
    const Token& v = value(i);
    const auto n = parse_decimal<std::uint64_t>(v.text);
    if (!n || *n > max) {
      fail(v.offset,
           "expected a number 0-" + std::to_string(max) + ", got \"" + std::string(v.text) + "\"");
    }
    return *n;
  };
  bool has_range = false;
  for (std::size_t i = 3; i < words.size(); ++i) {
    const std::string_view option = words[i].text;
    if (option == "family" && type.has_family) {
      const Token& f = value(i);
      if (f.text == "inet") {
        options.family = Family::kIPv4;
      } else if (f.text == "inet6") {
        options.family = Family::kIPv6;
      } else {
        fail(f.offset, "expected family inet or inet6, got \"" + std::string(f.text) + "\"");
      }
    } else if (option == "hashsize") {
      options.hashsize = static_cast<std::uint32_t>(count(i, 0xffffffff));
    } else if (option == "maxelem") {
      options.maxelem = static_cast<std::uint32_t>(count(i, 0xffffffff));
    } else if (option == "timeout") {
      options.timeout = static_cast<std::uint32_t>(count(i, 2147483));
    } else if (option == "counters") {
      options.counters = true;
    } else if (option == "comment") {
      options.comment = true;
    } else if (option == "netmask" && type.name == "hash:ip") {
      const std::uint64_t netmask = count(i, options.family == Family::kIPv4 ? 32 : 128);
      if (netmask == 0) fail(words[i].offset, "expected a netmask from 1");
      options.netmask = static_cast<std::uint8_t>(netmask);
    } else if (option == "range" && type.name == "bitmap:port") {
      const Token& r = value(i);
      const std::size_t dash = r.text.find('-');
      const auto low = parse_decimal<std::uint16_t>(r.text.substr(0, dash));
      const auto high = dash == std::string_view::npos
                            ? std::nullopt
                            : parse_decimal<std::uint16_t>(r.text.substr(dash + 1));
      if (!low || !high || *low > *high) {
        fail(r.offset, "expected a port range LOW-HIGH, got \"" + std::string(r.text) + "\"");
      }
      options.first_port = *low;
      options.last_port = *high;
      has_range = true;
    } else if (option == "bucketsize" || option == "initval") {
      value(i);  // the kernel's hashing, not ours
    } else {
      fail(words[i].offset,
           "unknown option \"" + std::string(option) + "\" for " + std::string(type.name));
    }
  }
  if (type.name == "bitmap:port" && !has_range) fail(words[2].offset, "bitmap:port needs a range");
  return options;
}

// One line of a dump, for the set `name` (made by its create line); the
// lines of other sets are passed over.
void read_line(std::string_view line, const std::string& name, std::unique_ptr<IpSet>& set,
               SetTime now) {
  const std::vector<Token> words = tokens(line);
  if (words.empty() || words[0].text.starts_with('#')) return;
  const std::string_view command = words[0].text;
  if (command != "create" && command != "add") {
    fail(words[0].offset, "expected a create or add line, got \"" + std::string(command) + "\"");
  }
  if (words.size() < 3) {
    fail(line.size(),
         std::string("expected a set name and ") + (command == "add" ? "an element" : "a type"));
  }
  if (words[1].text != name) return;
  if (command == "create") {
    if (set) fail(words[1].offset, "set " + name + " is created twice");
    const SetType* type = find_set_type(words[2].text);
    if (type == nullptr) {
      fail(words[2].offset, "unknown set type \"" + std::string(words[2].text) + "\"; expected " +
                                std::string(set_type_names()));
    }
    set = std::make_unique<IpSet>(name, create_options(*type, words));
    set->start_loading();
    return;
  }
  if (!set) fail(words[1].offset, "set " + name + " is added to before its create line");
  const std::size_t element_at = words[2].offset;
  try {
    add_loaded(*set, set->codec().parse(line.substr(element_at)), now);
  } catch (const ElementError& e) {
    fail(element_at + e.offset, e.what());
  }
}

// Calls `read` on each line of `text`; its ElementError becomes a
// RulesetError naming `file`, the line and the column.
template <class Read>
void for_each_line(std::string_view text, const std::string& file, Read read) {
  int line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    ++line_number;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    try {
      read(line);
    } catch (const ElementError& e) {
      throw RulesetError(file, line_number, static_cast<int>(e.offset) + 1, "", e.what());
    }
    start = end + 1;
  }
}

}  // namespace

void check_element(const SetOptions& options, const SetElement& element) {
  if (element.timeout && !options.timeout) {
    throw ElementError("the set was created without timeout support", 0);
  }
  if ((element.packets || element.bytes) && !options.counters) {
    throw ElementError("the set was created without counters", 0);
  }
  if (element.comment && !options.comment) {
    throw ElementError("the set was created without comment support", 0);
  }
  if (options.type->name == "bitmap:port" &&
      (element.key[0] < options.first_port || element.key[0] > options.last_port)) {
    throw ElementError("port " + std::to_string(element.key[0]) + " is outside the set's range " +
                           std::to_string(options.first_port) + "-" +
                           std::to_string(options.last_port),
                       0);
  }
}

void add_loaded(IpSet& set, const SetElement& element, SetTime now) {
  set.codec().for_each_element(element, [&](const SetElement& one) {
    check_element(set.options(), one);
    switch (set.add(one, false, now)) {
      case IpSet::AddResult::kAdded:
        return true;
      case IpSet::AddResult::kExists:
        throw ElementError("the element " + set.codec().text(one.key, one.cidr) +
                               " is already in set " + set.name(),
                           0);
      case IpSet::AddResult::kFull:
        throw ElementError("set " + set.name() + " is full (maxelem " +
                               std::to_string(set.options().maxelem) + ")",
                           0);
    }
    return true;
  });
}

std::unique_ptr<IpSet> read_ipset_text(std::string_view text, const std::string& file,
                                       const std::string& name) {
  std::unique_ptr<IpSet> set;
  const SetTime now = set_clock_now();
  for_each_line(text, file, [&](std::string_view line) { read_line(line, name, set, now); });
  if (!set) throw RulesetError(file, 1, 1, "", "no create line for set " + name);
  set->finish_loading();
  return set;
}

std::optional<ListDeclaration> read_ipset_list(std::string_view text, const std::string& file,
                                               const std::string& name) {
  std::optional<ListDeclaration> list;
  bool other_type = false;
  for_each_line(text, file, [&](std::string_view line) {
    const std::vector<Token> words = tokens(line);
    if (other_type || words.size() < 3 || words[1].text != name) return;
    if (words[0].text == "create") {
      other_type = words[2].text != "list:set";
      if (other_type) return;
      list.emplace();
      ListSetOptions& options = list->options;
      for (std::size_t i = 3; i < words.size(); ++i) {
        const std::string_view option = words[i].text;
        if (option == "counters") {
          options.counters = true;
          continue;
        }
        if (option == "comment") {
          options.comment = true;
          continue;
        }
        const std::optional<std::uint32_t> value =
            i + 1 < words.size() ? parse_decimal<std::uint32_t>(words[i + 1].text) : std::nullopt;
        if ((option != "size" && option != "timeout") || !value ||
            (option == "timeout" && *value > 2147483)) {
          fail(words[i].offset,
               "expected size N, timeout N, counters or comment, list:set's options");
        }
        if (option == "size") options.size = std::max(*value, kMinListSize);
        if (option == "timeout") options.timeout = *value;
        ++i;
      }
    } else if (words[0].text == "add" && list) {
      ListPosition position;
      ListMemberSpec member;
      try {
        member = parse_list_member(line.substr(words[2].offset), list->options, &position);
      } catch (const ElementError& e) {
        fail(words[2].offset + e.offset, e.what());
      }
      std::vector<ListMemberSpec>& members = list->members;
      const auto named = [&members](const std::string& wanted) {
        return std::find_if(members.begin(), members.end(),
                            [&wanted](const ListMemberSpec& m) { return m.name == wanted; });
      };
      if (named(member.name) != members.end()) {
        fail(words[2].offset, "set " + member.name + " is already in list:set " + name);
      }
      auto where = members.end();
      if (position.side != ListPosition::Side::kNone) {
        where = named(position.reference);
        if (where == members.end()) {
          fail(words[2].offset, "set " + position.reference + " is not in list:set " + name);
        }
        if (position.side == ListPosition::Side::kAfter) ++where;
      }
      members.insert(where, std::move(member));
    }
  });
  return list;
}

std::string ipset_list_text(const ListSet& list, SetTime now) {
  std::string out = "create " + list.name() + " list:set " + list_set_header(list.options()) + "\n";
  for (const ListedElement& member : list.list(now)) {
    out += "add " + list.name() + " " + member.text + element_options_text(member) + "\n";
  }
  return out;
}

std::string element_options_text(const ListedElement& element) {
  std::string out;
  if (element.timeout) out += " timeout " + std::to_string(*element.timeout);
  if (element.nomatch) out += " nomatch";
  if (element.packets) out += " packets " + std::to_string(*element.packets);
  if (element.bytes) out += " bytes " + std::to_string(*element.bytes);
  if (element.comment) out += " comment \"" + *element.comment + "\"";
  return out;
}

std::string ipset_header(const SetOptions& o) {
  std::string out;
  if (o.type->name == "bitmap:port") {
    out += "range " + std::to_string(o.first_port) + "-" + std::to_string(o.last_port);
  } else {
    if (o.type->has_family) out += o.family == Family::kIPv4 ? "family inet " : "family inet6 ";
    out += "hashsize " + std::to_string(o.hashsize) + " maxelem " + std::to_string(o.maxelem);
  }
  if (o.netmask != 0) out += " netmask " + std::to_string(o.netmask);
  if (o.timeout) out += " timeout " + std::to_string(*o.timeout);
  if (o.counters) out += " counters";
  if (o.comment) out += " comment";
  return out;
}

std::string ipset_text(const IpSet& set, SetTime now) {
  std::string out = "create " + set.name() + " " + std::string(set.options().type->name) + " " +
                    ipset_header(set.options()) + "\n";
  for (const ListedElement& element : set.list(now)) {
    out += "add " + set.name() + " " + element.text + element_options_text(element) + '\n';
  }
  return out;
}

}  // namespace verdictd
