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

// Written beside the file, then renamed over it: never half a file.
std::string save(const IpSet& set, const SetDeclaration& declaration, SetTime now) {
  if (declaration.file.empty()) {
    return "set " + set.name() +
           " is declared with its elements in the ruleset; it has no file to save to";
  }
  const std::string text =
      declaration.format == SetFileFormat::kIpset ? ipset_text(set, now) : json_elements(set, now);
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

}  // namespace

Json set_command(const RulesetInForce& in_force, const Json& request) {
  const std::string action = request.value("action", "");
  const std::string name = request.value("name", "");
  const SetTime now = set_clock_now();
  const SetDeclarations& sets = in_force.ruleset->sets;
  const auto live = [&in_force](const std::string& set_name) {
    return static_cast<IpSet*>(in_force.state->named(set_state_name(set_name)));
  };
  if (action == "list" && name.empty()) {
    std::string out;
    for (const auto& declaration : sets) {
      out += (out.empty() ? "" : "\n") + listing(*live(declaration->name), *declaration, now);
    }
    return done(out);
  }
  const SetDeclaration* declaration = find_set(sets, name);
  if (declaration == nullptr) return failed("the ruleset declares no set named \"" + name + "\"");
  IpSet& set = *live(name);
  if (action == "list") return done(listing(set, *declaration, now));
  if (action == "flush") {
    set.flush();
    return done("");
  }
  if (action == "save") {
    const std::string error = save(set, *declaration, now);
    return error.empty() ? done("saved set " + name + " to " + declaration->file + "\n")
                         : failed(error);
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
  const std::string key = set.codec().text(element.key, element.cidr);
  if (action == "add") {
    switch (set.add(element, request.value("exist", false), now)) {
      case IpSet::AddResult::kAdded:
        return done("");
      case IpSet::AddResult::kExists:
        return failed("element " + key + " is already in set " + name);
      case IpSet::AddResult::kFull:
        return failed("set " + name + " is full (maxelem " + std::to_string(set.options().maxelem) +
                      ")");
    }
  }
  if (action == "del") {
    return set.del(element, now) ? done("") : failed("element " + key + " is not in set " + name);
  }
  return set.test_element(element, now) == SetTest::kMatch
             ? done(key + " is in set " + name + ".\n")
             : failed(key + " is NOT in set " + name + ".");
}

}  // namespace verdictd
