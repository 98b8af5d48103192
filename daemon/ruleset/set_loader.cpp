#include "ruleset/set_loader.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "extension/error.hpp"
#include "extension/values.hpp"
#include "ruleset/json_document.hpp"
#include "set/ipset_text.hpp"
#include "text/json_position.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxSetName = 31;  // IPSET_MAXNAMELEN less the NUL
// A set's elements file may be as large as a ruleset.
constexpr std::size_t kMaxSetFileBytes = std::size_t{1} << 30;

std::uint64_t count(const Json& object, const char* key, std::uint64_t max) {
  const Json& value = object[key];
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max) {
    throw FieldError("expected a number 0-" + std::to_string(max) + ", got " + value.dump(),
                     std::string("/") + key);
  }
  return value.get<std::uint64_t>();
}

bool flag(const Json& object, const char* key) {
  if (!object.contains(key)) return false;
  if (!object[key].is_boolean()) {
    throw FieldError("expected true or false, got " + object[key].dump(), std::string("/") + key);
  }
  return object[key].get<bool>();
}

SetOptions declared_options(const Json& body) {
  SetOptions options;
  if (!body.contains("type")) throw FieldError("a set needs a \"type\"");
  const Json& type = body["type"];
  options.type = type.is_string() ? find_set_type(type.get<std::string>()) : nullptr;
  if (options.type == nullptr) {
    throw FieldError(
        "expected a set type: " + std::string(set_type_names()) + ", got " + type.dump(), "/type");
  }
  if (body.contains("size")) throw FieldError("\"size\" applies to list:set only", "/size");
  if (body.contains("family")) {
    const Json& family = body["family"];
    if (!options.type->has_family) {
      throw FieldError(std::string(options.type->name) + " has no family", "/family");
    }
    if (family == "inet") {
      options.family = Family::kIPv4;
    } else if (family == "inet6") {
      options.family = Family::kIPv6;
    } else {
      throw FieldError("expected \"inet\" or \"inet6\", got " + family.dump(), "/family");
    }
  }
  if (body.contains("timeout")) {
    options.timeout = static_cast<std::uint32_t>(count(body, "timeout", 2147483));
  }
  options.counters = flag(body, "counters");
  options.comment = flag(body, "comment");
  if (body.contains("maxelem")) {
    options.maxelem = static_cast<std::uint32_t>(count(body, "maxelem", 0xffffffff));
  }
  if (body.contains("hashsize")) {
    options.hashsize = static_cast<std::uint32_t>(count(body, "hashsize", 0xffffffff));
  }
  if (body.contains("netmask")) {
    const std::uint64_t max = options.family == Family::kIPv4 ? 32 : 128;
    if (options.type->name != "hash:ip") {
      throw FieldError("netmask applies to hash:ip only", "/netmask");
    }
    options.netmask = static_cast<std::uint8_t>(count(body, "netmask", max));
    if (options.netmask == 0) {
      throw FieldError("expected a netmask 1-" + std::to_string(max), "/netmask");
    }
  }
  const bool bitmap = options.type->name == "bitmap:port";
  if (bitmap != body.contains("range")) {
    throw FieldError(bitmap ? "bitmap:port needs a \"range\": \"LOW-HIGH\""
                            : "\"range\" applies to bitmap:port only",
                     bitmap ? "" : "/range");
  }
  if (bitmap) {
    const Json& range = body["range"];
    const std::string text = range.is_string() ? range.get<std::string>() : "";
    unsigned low = 0;
    unsigned high = 0;
    char dash = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%u%c%u%c", &low, &dash, &high, &extra) != 3 || dash != '-' ||
        low > high || high > 65535) {
      throw FieldError("expected a port range \"LOW-HIGH\", got " + range.dump(), "/range");
    }
    options.first_port = static_cast<std::uint16_t>(low);
    options.last_port = static_cast<std::uint16_t>(high);
  }
  return options;
}

// One element: "10.0.0.0/8", "10.0.0.0/8 timeout 60 nomatch" or
// {"element": "10.0.0.0/8", "timeout": 60, "nomatch": true, "comment": "x",
// "packets": 0, "bytes": 0}.
SetElement json_element(const IpSet& set, const Json& value) {
  if (value.is_string()) {
    try {
      return set.codec().parse(value.get<std::string>());
    } catch (const ElementError& e) {
      throw FieldError(e.what());
    }
  }
  if (!value.is_object() || !value.contains("element") || !value["element"].is_string()) {
    throw FieldError("expected an element: a string, or an object with \"element\", got " +
                     value.dump());
  }
  expect_object_keys(value, {"element", "timeout", "nomatch", "comment", "packets", "bytes"},
                     "an element");
  SetElement element;
  try {
    element = set.codec().parse_key(value["element"].get<std::string>());
  } catch (const ElementError& e) {
    throw FieldError(e.what(), "/element");
  }
  if (value.contains("timeout")) {
    element.timeout = static_cast<std::uint32_t>(count(value, "timeout", 2147483));
  }
  if (flag(value, "nomatch")) {
    if (!set.options().type->networks) {
      throw FieldError("nomatch applies to the net types only", "/nomatch");
    }
    element.nomatch = true;
  }
  if (value.contains("packets")) element.packets = count(value, "packets", ~std::uint64_t{0});
  if (value.contains("bytes")) element.bytes = count(value, "bytes", ~std::uint64_t{0});
  if (value.contains("comment")) {
    if (!value["comment"].is_string()) throw FieldError("expected a string", "/comment");
    element.comment = value["comment"].get<std::string>();
  }
  return element;
}

// Every element of `list`; errors carry the element's index.
void add_json_elements(IpSet& set, const Json& list) {
  if (!list.is_array()) throw FieldError("expected an array of elements, got " + list.dump());
  const SetTime now = set_clock_now();
  set.start_loading();
  for (std::size_t i = 0; i < list.size(); ++i) {
    try {
      const SetElement element = json_element(set, list[i]);
      try {
        add_loaded(set, element, now);
      } catch (const ElementError& e) {
        throw FieldError(e.what());
      }
    } catch (FieldError& e) {
      e.pointer_suffix = "/" + std::to_string(i) + e.pointer_suffix;
      throw;
    }
  }
  set.finish_loading();
}

// One member of a list:set: "b", "b timeout 30 comment \"x\"", or
// {"element": "b", "timeout": 30, "packets": 0, "bytes": 0, "comment": "x"}.
ListMemberSpec list_member(const Json& value, const ListSetOptions& options) {
  if (value.is_string()) {
    try {
      return parse_list_member(value.get<std::string>(), options, nullptr);
    } catch (const ElementError& e) {
      throw FieldError(e.what());
    }
  }
  if (!value.is_object() || !value.contains("element") || !value["element"].is_string()) {
    throw FieldError("expected a set name, or an object with \"element\", got " + value.dump());
  }
  expect_object_keys(value, {"element", "timeout", "comment", "packets", "bytes"}, "a member");
  ListMemberSpec spec{};
  spec.name = value["element"].get<std::string>();
  if (value.contains("timeout")) {
    if (!options.timeout) throw FieldError("the set was created without timeout support");
    spec.timeout = static_cast<std::uint32_t>(count(value, "timeout", 2147483));
  }
  if (value.contains("packets") || value.contains("bytes")) {
    if (!options.counters) throw FieldError("the set was created without counters");
    if (value.contains("packets")) spec.packets = count(value, "packets", ~std::uint64_t{0});
    if (value.contains("bytes")) spec.bytes = count(value, "bytes", ~std::uint64_t{0});
  }
  if (value.contains("comment")) {
    if (!options.comment) throw FieldError("the set was created without comment support");
    if (!value["comment"].is_string()) throw FieldError("expected a string", "/comment");
    spec.comment = value["comment"].get<std::string>();
  }
  return spec;
}

// A list:set's members, in order.
std::vector<ListMemberSpec> list_members(const Json& list, const ListSetOptions& options) {
  if (!list.is_array()) throw FieldError("expected an array of set names, got " + list.dump());
  std::vector<ListMemberSpec> members;
  for (std::size_t i = 0; i < list.size(); ++i) {
    try {
      ListMemberSpec member = list_member(list[i], options);
      if (std::any_of(members.begin(), members.end(),
                      [&](const ListMemberSpec& m) { return m.name == member.name; })) {
        throw FieldError("set " + member.name + " is already a member");
      }
      members.push_back(std::move(member));
    } catch (FieldError& e) {
      e.pointer_suffix = "/" + std::to_string(i) + e.pointer_suffix;
      throw;
    }
  }
  return members;
}

// {"type": "list:set", "size": 8, "timeout": 600, "counters": true,
// "comment": true, "elements": ["a", "b"]}, or with a JSON "file".
ListDeclaration declared_list(const Json& body) {
  for (const auto& [key, value] : body.items()) {
    if (key != "type" && key != "size" && key != "timeout" && key != "counters" &&
        key != "comment" && key != "elements" && key != "file" && key != "format") {
      throw FieldError(
          "a list:set takes \"size\", \"timeout\", \"counters\", \"comment\" and "
          "\"elements\" (set names), not \"" +
              key + "\"",
          "/" + json_pointer_token(key));
    }
  }
  ListDeclaration list;
  if (body.contains("size")) {
    list.options.size =
        std::max(static_cast<std::uint32_t>(count(body, "size", 0xffffffff)), kMinListSize);
  }
  if (body.contains("timeout")) {
    list.options.timeout = static_cast<std::uint32_t>(count(body, "timeout", 2147483));
  }
  list.options.counters = flag(body, "counters");
  list.options.comment = flag(body, "comment");
  if (body.contains("elements")) {
    try {
      list.members = list_members(body["elements"], list.options);
    } catch (FieldError& e) {
      e.pointer_suffix = "/elements" + e.pointer_suffix;
      throw;
    }
  }
  return list;
}

bool is_list(const Json& body) { return body.contains("type") && body["type"] == "list:set"; }

// Each member of each list:set is a declared set of another type
// (ip_set_list_set.c refuses a missing set and, against loops, a list:set).
void check_members(const SetDeclarations& sets) {
  for (const auto& declaration : sets) {
    if (!declaration->list) continue;
    for (const ListMemberSpec& member : declaration->list->members) {
      const SetDeclaration* found = find_set(sets, member.name);
      if (found == nullptr || found->list) {
        throw FieldError("member " + member.name + " of list:set " + declaration->name + ": " +
                             (found == nullptr ? "the ruleset declares no set of that name"
                                               : "a list:set cannot hold list:sets"),
                         "/" + json_pointer_token(declaration->name));
      }
    }
  }
}

std::string resolve(const std::string& file, const std::string& ruleset_file) {
  const std::filesystem::path path(file);
  if (path.is_absolute()) return file;
  return (std::filesystem::path(ruleset_file).parent_path() / path).lexically_normal().string();
}

std::shared_ptr<const SetDeclaration> load_set(const std::string& name, const Json& body,
                                               const std::string& ruleset_file) {
  if (!body.is_object()) {
    throw FieldError("expected a set object with \"type\", got " + body.dump());
  }
  expect_object_keys(body,
                     {"type", "family", "timeout", "counters", "comment", "maxelem", "hashsize",
                      "netmask", "range", "size", "elements", "file", "format"},
                     "a set");
  auto declaration = std::make_shared<SetDeclaration>();
  declaration->name = name;
  declaration->identity = body.dump();
  if (body.contains("format")) {
    if (body["format"] == "ipset") {
      declaration->format = SetFileFormat::kIpset;
    } else if (body["format"] != "json") {
      throw FieldError("expected \"json\" or \"ipset\", got " + body["format"].dump(), "/format");
    }
    if (!body.contains("file")) throw FieldError("\"format\" applies to a \"file\"", "/format");
  }
  if (body.contains("file") == body.contains("elements") && body.contains("file")) {
    throw FieldError("a set takes its elements from \"elements\" or \"file\", not both", "/file");
  }
  if (!body.contains("file") && is_list(body)) {
    declaration->list = declared_list(body);
    return declaration;
  }
  if (!body.contains("file")) {
    auto set = std::make_unique<IpSet>(name, declared_options(body));
    if (body.contains("elements")) {
      try {
        add_json_elements(*set, body["elements"]);
      } catch (FieldError& e) {
        e.pointer_suffix = "/elements" + e.pointer_suffix;
        throw;
      }
    }
    declaration->contents = std::move(set);
    return declaration;
  }
  if (!body["file"].is_string() || body["file"].get<std::string>().empty()) {
    throw FieldError("expected a file name, got " + body["file"].dump(), "/file");
  }
  declaration->file = resolve(body["file"].get<std::string>(), ruleset_file);
  if (declaration->format == SetFileFormat::kIpset) {
    for (const char* key : {"type", "family", "timeout", "counters", "comment", "maxelem",
                            "hashsize", "netmask", "range", "size"}) {
      if (body.contains(key)) {
        throw FieldError(std::string("an ipset file's create line gives the set's options; \"") +
                             key + "\" cannot be declared beside it",
                         std::string("/") + key);
      }
    }
  }
  // The same reader, limits and errors as the ruleset's.
  std::string text;
  if (declaration->format == SetFileFormat::kIpset) {
    text = read_text_file(declaration->file, {kMaxSetFileBytes, ""});
    declaration->list = read_ipset_list(text, declaration->file, name);
    if (!declaration->list) declaration->contents = read_ipset_text(text, declaration->file, name);
  } else if (is_list(body)) {
    const JsonDocument document = JsonDocument::read(declaration->file, {kMaxSetFileBytes, ""});
    declaration->list = declared_list(body);
    try {
      declaration->list->members = list_members(document.root(), declaration->list->options);
    } catch (const FieldError& e) {
      throw document.error_at(e.pointer_suffix, e.what());
    }
    text = document.text();
  } else {
    const JsonDocument document = JsonDocument::read(declaration->file, {kMaxSetFileBytes, ""});
    auto set = std::make_unique<IpSet>(name, declared_options(body));
    try {
      add_json_elements(*set, document.root());
    } catch (const FieldError& e) {
      throw document.error_at(e.pointer_suffix, e.what());
    }
    declaration->contents = std::move(set);
    text = document.text();
  }
  declaration->identity +=
      "\n" + std::to_string(text.size()) + ":" + std::to_string(std::hash<std::string>{}(text));
  return declaration;
}

}  // namespace

SetDeclarations load_sets(const Json& sets, const std::string& ruleset_file) {
  if (!sets.is_object()) throw FieldError("expected an object of sets by name, got " + sets.dump());
  SetDeclarations out;
  for (const auto& [name, body] : sets.items()) {
    const std::string pointer = "/" + json_pointer_token(name);
    if (name.empty() || name.size() > kMaxSetName) {
      throw FieldError("set name \"" + name + "\" must be 1 to 31 characters", pointer);
    }
    try {
      out.push_back(load_set(name, body, ruleset_file));
    } catch (FieldError& e) {
      e.pointer_suffix = pointer + e.pointer_suffix;
      throw;
    }
  }
  check_members(out);
  return out;
}

}  // namespace verdictd
