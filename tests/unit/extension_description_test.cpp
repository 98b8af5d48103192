// The extension descriptions themselves: every option of every match and
// target can be parsed, listed and saved from its description, and every
// error building it names the option at fault.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"
#include "ruleset/schema.hpp"
#include "set/set_declaration.hpp"

namespace verdictd {
namespace {

// The value an option is written with in the tests: its type's example, or
// for an object-valued option its required members' (and the first of each
// "exactly one" group).
Json example_of(const OptionSpec& option, std::span<const Constraint> constraints = {}) {
  if (option.type != nullptr) return option.type->example();
  if (!option.example.empty()) return Json::parse(option.example);
  Json object = Json::object();
  for (const OptionSpec& member : option.members) {
    if (member.mandatory) object[std::string(member.key)] = example_of(member);
  }
  for (const Constraint& c : constraints) {
    if (c.kind == Constraint::Kind::kAtMostOne) continue;
    const std::string first(c.keys.substr(0, c.keys.find(' ')));
    for (const OptionSpec& member : option.members) {
      if (member.key == first) object[first] = example_of(member);
    }
  }
  return object;
}

// The set the set match's and SET target's examples name, in scope while
// they are built as a ruleset's rules would be.
const SetDeclarations& example_sets() {
  static const SetDeclarations sets = [] {
    auto declaration = std::make_shared<SetDeclaration>();
    declaration->name = "blocklist";
    SetOptions options;
    options.type = find_set_type("hash:net");
    declaration->contents = std::make_shared<IpSet>("blocklist", options);
    return SetDeclarations{declaration};
  }();
  return sets;
}

// A rule's "match" object holding `option` of `spec`, with the protocol it needs.
Json rule_with(const MatchSpec& spec, const OptionSpec& option, const std::string& written_key) {
  Json match = Json::object();
  if (!spec.protocols.empty()) match["protocol"] = spec.protocols.front();
  // -m ecn's TCP bits need -p tcp, which only its ECT test does without.
  if (spec.name == "ecn") match["protocol"] = "tcp";
  // -m rt's type 0 tests need "--rt-type 0"; --rt-0-not-strict needs the addresses.
  if (spec.name == "rt" && option.key.starts_with("rt_0_")) {
    match["rt_type"] = 0;
    if (option.key == "rt_0_not_strict") match["rt_0_addrs"] = "::1";
  }
  match[written_key] = example_of(option);
  for (const OptionSpec& other : spec.options) {
    if (other.mandatory && other.key != option.key) {
      match[std::string(other.key)] = example_of(other);
    }
  }
  // A module that needs one of several options ("string" or "hex_string"): the first.
  for (const Constraint& c : spec.constraints) {
    if (c.kind == Constraint::Kind::kAtMostOne) continue;
    const std::string first(c.keys.substr(0, c.keys.find(' ')));
    bool present = false;
    for (const OptionSpec& other : spec.options) {
      const std::string other_key(other.key);
      if (c.keys.find(other_key) != std::string_view::npos &&
          (match.contains(other_key) || match.contains("!" + other_key))) {
        present = true;
      }
    }
    for (const OptionSpec& other : spec.options) {
      if (!present && other.key == first) match[first] = example_of(other);
    }
  }
  return match;
}

const BuiltMatch& built_from(const std::vector<BuiltMatch>& built, std::string_view key) {
  return *std::find_if(built.begin(), built.end(),
                       [key](const BuiltMatch& b) { return b.match->options().has(key); });
}

TEST(ExtensionDescriptions, EveryMatchOptionParsesListsAndSaves) {
  const SetsInScope sets(example_sets());
  ASSERT_FALSE(all_matches().empty());
  for (const MatchSpec* spec : all_matches()) {
    for (const OptionSpec& option : spec->options) {
      const std::string key(option.key);
      SCOPED_TRACE("-m " + std::string(spec->name) + " " + key);
      EXPECT_FALSE(option.doc.empty());
      EXPECT_TRUE(option.type != nullptr || !option.members.empty());
      // An object's members carry the flags.
      EXPECT_FALSE(option.type != nullptr && option.flag.empty() && option.save == nullptr);
      std::string plain_save;
      for (const bool negated : {false, true}) {
        if (negated && !option.negatable) continue;
        const std::string written = (negated ? "!" : "") + key;
        const Json rule = rule_with(*spec, option, written);
        std::vector<BuiltMatch> built;
        // In a table where the match may run (rpfilter: raw and mangle PREROUTING).
        const TableId table =
            (spec->hooks & table_hooks(TableId::kFilter)) != 0 ? TableId::kFilter : TableId::kRaw;
        ASSERT_NO_THROW(built = build_matches(rule, table)) << rule.dump();
        const Match& match = *built_from(built, key).match;
        EXPECT_EQ(&match.spec(), spec);
        ListRow row;
        const ListRow before = row;
        match.list(row);
        EXPECT_TRUE(row.extra != before.extra || row.protocol != before.protocol ||
                    row.source != before.source || row.destination != before.destination ||
                    row.in != before.in || row.out != before.out || row.option != before.option)
            << rule.dump();
        SaveLine line;
        match.save(line);
        EXPECT_FALSE(line.str().empty()) << rule.dump();
        // Negated, it saves otherwise ("!", or connlimit's other bound).
        if (negated) {
          EXPECT_NE(line.str(), plain_save);
        } else {
          plain_save = line.str();
        }
      }
    }
  }
}

TEST(ExtensionDescriptions, EveryErrorNamesItsOption) {
  const SetsInScope sets(example_sets());
  for (const MatchSpec* spec : all_matches()) {
    for (const OptionSpec& option : spec->options) {
      const std::string key(option.key);
      SCOPED_TRACE("-m " + std::string(spec->name) + " " + key);
      Json rule = rule_with(*spec, option, key);
      rule[key] = Json::array({Json::object()});  // no value type takes a list of objects
      try {
        build_matches(rule, TableId::kFilter);
        ADD_FAILURE() << "built " << rule.dump();
      } catch (const FieldError& e) {
        EXPECT_TRUE(e.pointer_suffix.starts_with("/" + key))
            << e.pointer_suffix << ": " << e.what();
      }
      if (!option.negatable) {
        Json negated = rule_with(*spec, option, "!" + key);
        try {
          build_matches(negated, TableId::kFilter);
          ADD_FAILURE() << "built " << negated.dump();
        } catch (const FieldError& e) {
          EXPECT_EQ(e.pointer_suffix, "/!" + key);
          EXPECT_NE(std::string(e.what()).find("cannot be negated"), std::string::npos);
        }
      }
    }
  }
}

TEST(ExtensionDescriptions, EveryTargetBuildsAndSavesFromItsDescription) {
  const SetsInScope sets(example_sets());
  ASSERT_FALSE(all_targets().empty());
  for (const TargetSpec* spec : all_targets()) {
    SCOPED_TRACE(std::string(spec->name));
    EXPECT_FALSE(spec->summary.empty());
    const TableId table = spec->tables.empty() ? TableId::kFilter : spec->tables.front();
    const OptionSpec whole{.key = spec->name, .members = spec->options};
    const Json options = example_of(whole, spec->constraints);
    const Json written = options.empty() ? Json(spec->name) : Json{{spec->name, options}};
    std::unique_ptr<Target> target;
    ASSERT_NO_THROW(target = build_target(written, Json{{"protocol", "tcp"}, {"syn", true}}, table))
        << written.dump();
    EXPECT_EQ(target->name(), spec->real_name.empty() ? spec->name : spec->real_name);
    EXPECT_TRUE(target->save().starts_with("-j " + std::string(spec->name))) << target->save();
    for (const OptionSpec& option : spec->options) {
      EXPECT_FALSE(option.doc.empty()) << option.key;
      Json wrong = written.is_object() ? written : Json{{spec->name, Json::object()}};
      wrong[std::string(spec->name)][std::string(option.key)] = Json::array({Json::object()});
      try {
        build_target(wrong, Json{{"protocol", "tcp"}, {"syn", true}}, table);
        ADD_FAILURE() << "built " << wrong.dump();
      } catch (const FieldError& e) {
        EXPECT_TRUE(e.pointer_suffix.starts_with("/" + std::string(spec->name)))
            << e.pointer_suffix << ": " << e.what();
      }
    }
  }
}

TEST(ExtensionDescriptions, TheIptablesGrammarFindsEveryFlag) {
  const OptionSpec* dport = find_option_by_flag("tcp", "--dport");
  ASSERT_NE(dport, nullptr);
  EXPECT_EQ(dport->key, "dport");
  EXPECT_EQ(find_option_by_flag("tcp", "--destination-port"), dport);
  EXPECT_EQ(find_option_by_flag("multiport", "--dports")->key, "dport");
  EXPECT_EQ(find_option_by_flag("", "-s")->key, "source");
  EXPECT_EQ(find_option_by_flag("tcp", "--no-such-option"), nullptr);
  for (const MatchSpec* spec : all_matches()) {
    for (const OptionSpec& option : spec->options) {
      if (option.flag.empty()) continue;
      const OptionSpec* found = find_option_by_flag(spec->name, option.flag);
      ASSERT_NE(found, nullptr) << spec->name << " " << option.flag;
      EXPECT_EQ(found->key, option.key);
    }
  }
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The committed schema and man page are what the descriptions generate
// (regenerate: build/daemon/ctl/verdictctl schema > rules/ruleset.schema.json,
// verdictctl reference > man/verdictd.ruleset.5).
TEST(ExtensionDescriptions, CommittedSchemaAndReferenceAreGenerated) {
  EXPECT_EQ(file_text(VERDICTD_SOURCE_DIR "/rules/ruleset.schema.json"),
            ruleset_schema().dump(2) + "\n");
  EXPECT_EQ(file_text(VERDICTD_SOURCE_DIR "/man/verdictd.ruleset.5"), ruleset_reference());
}

}  // namespace
}  // namespace verdictd
