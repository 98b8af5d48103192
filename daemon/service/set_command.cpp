#include "service/set_command.hpp"

#include <filesystem>
#include <fstream>

#include "set/ipset_text.hpp"
#include "set/set_declaration.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

Json failed(const std::string& error) { return {{"ok", false}, {"error", error}}; }
Json done(const std::string& text) { return {{"ok", true}, {"text", text}}; }

// As `ipset list NAME`.
std::string listing(const IpSet& set, const SetDeclaration& declaration, SetTime now) {
  const std::vector<ListedElement> elements = set.list(now);
  std::string out = "Name: " + set.name() + "\nType: " + std::string(set.options().type->name) +
                    "\nHeader: " + ipset_header(set.options()) + "\n";
  if (!declaration.file.empty()) out += "File: " + declaration.file + "\n";
  out += "Number of entries: " + std::to_string(elements.size()) + "\nMembers:\n";
  for (const ListedElement& element : elements) {
    out += element.text + element_options_text(element) + "\n";
  }
  return out;
}

// As `ipset list NAME` of a list:set.
std::string list_listing(const ListSet& list, const SetDeclaration& declaration, SetTime now) {
  const std::vector<ListedElement> members = list.list(now);
  std::string out = "Name: " + list.name() +
                    "\nType: list:set\nHeader: " + list_set_header(list.options()) + "\n";
  if (!declaration.file.empty()) out += "File: " + declaration.file + "\n";
  out += "Number of entries: " + std::to_string(members.size()) + "\nMembers:\n";
  for (const ListedElement& member : members) {
    out += member.text + element_options_text(member) + "\n";
  }
  return out;
}

// A JSON set file: one element per line, its options as ipset writes them.
std::string json_elements(const IpSet& set, SetTime now) {
  Json elements = Json::array();
  for (const ListedElement& element : set.list(now)) {
    elements.push_back(element.text + element_options_text(element));
  }
  std::string out = "[\n";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    out += "  " + elements[i].dump() + (i + 1 < elements.size() ? ",\n" : "\n");
  }
  return out + "]\n";
}

// `text` written to the set's file beside it, then renamed over it: never
// half a file.
std::string save(const std::string& text, const SetDeclaration& declaration) {
  if (declaration.file.empty()) {
    return "set " + declaration.name +
           " is declared with its elements in the ruleset; it has no file to save to";
  }
  const std::string temporary = declaration.file + ".saving";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return "cannot write " + temporary;
  }
  std::error_code error;
  std::filesystem::rename(temporary, declaration.file, error);
  if (error) return "cannot replace " + declaration.file + ": " + error.message();
  return {};
}

Json saved(const std::string& error, const SetDeclaration& declaration) {
  return error.empty() ? done("saved set " + declaration.name + " to " + declaration.file + "\n")
                       : failed(error);
}

// The actions on a list:set, whose elements are the names of the ruleset's
// other sets (ip_set_list_set.c's list_set_uadt and its errors).
Json list_command(const RulesetInForce& in_force, const Json& request, ListSet& list,
                  const SetDeclaration& declaration, SetTime now) {
  const std::string action = request.value("action", "");
  if (action == "list") return done(list_listing(list, declaration, now));
  if (action == "flush") {
    list.flush();
    return done("");
  }
  if (action == "save") {
    Json members = Json::array();
    for (const ListedElement& member : list.list(now)) {
      members.push_back(member.text + element_options_text(member));
    }
    return saved(save(declaration.format == SetFileFormat::kIpset ? ipset_list_text(list, now)
                                                                  : members.dump(2) + "\n",
                      declaration),
                 declaration);
  }
  if (action != "add" && action != "del" && action != "test") {
    return failed("unknown set action \"" + action +
                  "\"; expected list, add, del, flush, test or save");
  }
  const std::string text = request.value("element", "");
  ListPosition position;
  ListMemberSpec member;
  try {
    member = parse_list_member(text, list.options(), &position);
  } catch (const ElementError& e) {
    return failed("element \"" + text + "\": " + e.what());
  }
  const std::string& name = member.name;
  const std::string not_beside =
      "set " + name + " is not " +
      (position.side == ListPosition::Side::kBefore ? "before " : "after ") + position.reference +
      " in list:set " + list.name();
  if (action == "test") {
    return list.test(name, position, now) ? done(name + " is in set " + list.name() + ".\n")
                                          : failed(name + " is NOT in set " + list.name() + ".");
  }
  if (action == "del") {
    switch (list.del(name, position, now)) {
      case ListSet::Result::kDone:
        return done("");
      case ListSet::Result::kNoReference:
        return failed(not_beside);
      case ListSet::Result::kAbsent:
      case ListSet::Result::kExists:
        break;
    }
    return failed("set " + name + " is not in list:set " + list.name());
  }
  auto set = std::dynamic_pointer_cast<IpSet>(in_force.state->named(set_state_name(name)));
  if (!set) {
    return failed(find_set(in_force.ruleset->sets, name) == nullptr
                      ? "the ruleset declares no set named \"" + name + "\""
                      : "a list:set cannot hold list:sets");
  }
  switch (list.add(std::move(set), member, position, request.value("exist", false), now)) {
    case ListSet::Result::kDone:
      return done("");
    case ListSet::Result::kNoReference:
      return failed("set " + position.reference + " is not in list:set " + list.name());
    case ListSet::Result::kExists:
    case ListSet::Result::kAbsent:
      break;
  }
  return failed("set " + name + " is already in list:set " + list.name());
}

}  // namespace

Json set_command(const RulesetInForce& in_force, const Json& request) {
  const std::string action = request.value("action", "");
  const std::string name = request.value("name", "");
  const SetTime now = set_clock_now();
  const SetDeclarations& sets = in_force.ruleset->sets;
  const auto live = [&in_force](const std::string& set_name) {
    return in_force.state->named(set_state_name(set_name)).get();
  };
  if (action == "list" && name.empty()) {
    std::string out;
    for (const auto& declaration : sets) {
      ExtensionState* state = live(declaration->name);
      out += (out.empty() ? "" : "\n") +
             (declaration->list ? list_listing(static_cast<ListSet&>(*state), *declaration, now)
                                : listing(static_cast<IpSet&>(*state), *declaration, now));
    }
    return done(out);
  }
  const SetDeclaration* declaration = find_set(sets, name);
  if (declaration == nullptr) return failed("the ruleset declares no set named \"" + name + "\"");
  if (declaration->list) {
    return list_command(in_force, request, static_cast<ListSet&>(*live(name)), *declaration, now);
  }
  IpSet& set = static_cast<IpSet&>(*live(name));
  if (action == "list") return done(listing(set, *declaration, now));
  if (action == "flush") {
    set.flush();
    return done("");
  }
  if (action == "save") {
    return saved(save(declaration->format == SetFileFormat::kIpset ? ipset_text(set, now)
                                                                   : json_elements(set, now),
                      *declaration),
                 *declaration);
  }
  if (action != "add" && action != "del" && action != "test") {
    return failed("unknown set action \"" + action +
                  "\"; expected list, add, del, flush, test or save");
  }
  const std::string text = request.value("element", "");
  SetElement element;
  try {
    element = set.codec().parse(text);
    check_element(set.options(), element);
  } catch (const ElementError& e) {
    return failed("element \"" + text + "\": " + e.what());
  }
  if (action != "test") {
    // A range stands for many elements; as the kernel's uadt loops, the
    // first that fails stops it, and those before it stay changed.
    std::string failure;
    const bool exist = request.value("exist", false);
    set.codec().for_each_element(element, [&](const SetElement& one) {
      const std::string key = set.codec().text(one.key, one.cidr);
      if (action == "del") {
        if (!set.del(one, now) && !exist) failure = "element " + key + " is not in set " + name;
        return failure.empty();
      }
      try {
        check_element(set.options(), one);
      } catch (const ElementError& e) {
        failure = "element " + key + ": " + e.what();
        return false;
      }
      switch (set.add(one, exist, now)) {
        case IpSet::AddResult::kAdded:
          break;
        case IpSet::AddResult::kExists:
          failure = "element " + key + " is already in set " + name;
          break;
        case IpSet::AddResult::kFull:
          failure =
              "set " + name + " is full (maxelem " + std::to_string(set.options().maxelem) + ")";
          break;
      }
      return failure.empty();
    });
    return failure.empty() ? done("") : failed(failure);
  }
  const std::string key = set.codec().text(element.key, element.cidr);
  if (element.ranged()) {
    return failed("element \"" + text + "\": a range is not allowed in test, as in ipset");
  }
  return set.test_element(element, now) == SetTest::kMatch
             ? done(key + " is in set " + name + ".\n")
             : failed(key + " is NOT in set " + name + ".");
}

}  // namespace verdictd
