#include "iptables/family_tables.hpp"

#include <algorithm>

#include "extension/build_extensions.hpp"
#include "extension/error.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// Chains longer than this on both sides are merged without looking for the
// rules they share beyond a common start and end (the table would be too
// big); each family still sees its rules in its order.
constexpr std::size_t kMaxMergeCells = std::size_t{4} << 20;

const char* policy_text(Policy p) { return p == Policy::kAccept ? "ACCEPT" : "DROP"; }

// The family a rule's own matches and target restrict it to (an address of
// one family, an ICMP type), as the loader finds it.
std::optional<Family> inherent_family(const Json& rule, TableId table) {
  try {
    static const Json kNoMatch = Json::object();
    const Json& match = rule.contains("match") ? rule["match"] : kNoMatch;
    for (const BuiltMatch& built : build_matches(match, table)) {
      if (const auto family = built.match->family()) return family;
    }
    if (rule.contains("target")) return build_target(rule["target"], match, table)->family();
  } catch (const FieldError&) {
    // the loader says what is wrong with it
  }
  return std::nullopt;
}

struct MergedRule {
  const Json* rule;
  std::optional<Family> only;  // set for a rule of one family
};

// Both lists in one, each family's rules in its order, the rules they share
// (the longest common subsequence) once.
std::vector<MergedRule> merge_rules(const std::vector<Json>& a, const std::vector<Json>& b) {
  std::vector<std::string> ta;
  std::vector<std::string> tb;
  ta.reserve(a.size());
  tb.reserve(b.size());
  for (const Json& r : a) ta.push_back(r.dump());
  for (const Json& r : b) tb.push_back(r.dump());
  std::vector<MergedRule> out;
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && ta[head] == tb[head]) {
    out.push_back({&a[head], std::nullopt});
    ++head;
  }
  std::size_t tail = 0;
  while (tail + head < a.size() && tail + head < b.size() &&
         ta[a.size() - 1 - tail] == tb[b.size() - 1 - tail]) {
    ++tail;
  }
  const std::size_t n = a.size() - head - tail;
  const std::size_t m = b.size() - head - tail;
  if (n != 0 && m != 0 && (n + 1) * (m + 1) <= kMaxMergeCells) {
    // lcs[i][j]: the longest common subsequence of a[head+i..] and b[head+j..].
    std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
    const auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& {
      return lcs[i * (m + 1) + j];
    };
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = m; j-- > 0;) {
        at(i, j) = ta[head + i] == tb[head + j] ? at(i + 1, j + 1) + 1
                                                : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && ta[head + i] == tb[head + j]) {
        out.push_back({&a[head + i], std::nullopt});
        ++i;
        ++j;
      } else if (j == m || (i < n && at(i + 1, j) >= at(i, j + 1))) {
        out.push_back({&a[head + i++], Family::kIPv4});
      } else {
        out.push_back({&b[head + j++], Family::kIPv6});
      }
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) out.push_back({&a[head + i], Family::kIPv4});
    for (std::size_t j = 0; j < m; ++j) out.push_back({&b[head + j], Family::kIPv6});
  }
  for (std::size_t k = a.size() - tail; k < a.size(); ++k) out.push_back({&a[k], std::nullopt});
  return out;
}

Json families_json(FamilyMask mask) {
  return mask == family_bit(Family::kIPv4) ? Json("ipv4") : Json("ipv6");
}

}  // namespace

FamilyChain* FamilyTable::chain(const std::string& name) {
  const auto found = std::find_if(chains.begin(), chains.end(),
                                  [&name](const FamilyChain& c) { return c.name == name; });
  return found == chains.end() ? nullptr : &*found;
}

const FamilyChain* FamilyTable::chain(const std::string& name) const {
  return const_cast<FamilyTable*>(this)->chain(
      name);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

bool FamilyTable::is_default() const {
  return std::all_of(chains.begin(), chains.end(), [](const FamilyChain& c) {
    return c.builtin && c.rules.empty() && c.policy == Policy::kAccept;
  });
}

FamilyTable empty_table(TableId id) {
  FamilyTable table;
  for (Hook h : kAllHooks) {
    if ((table_hooks(id) & hook_bit(h)) == 0) continue;
    table.chains.push_back({std::string(hook_name(h)), true, Policy::kAccept, {}});
  }
  return table;
}

FamilyTables empty_tables(Family family) {
  FamilyTables tables;
  tables.family = family;
  for (TableId id : kAllTables) tables.table(id) = empty_table(id);
  return tables;
}

FamilyTables family_tables(const Json& root, const Ruleset& loaded, Family family) {
  FamilyTables view = empty_tables(family);
  if ((loaded.families & family_bit(family)) == 0 || !root.contains("tables")) return view;
  for (TableId id : kAllTables) {
    const Table& table = loaded.table(id);
    const std::string name(table_name(id));
    if ((table.families & family_bit(family)) == 0 || !root["tables"].contains(name)) continue;
    const Json& chains = root["tables"][name];
    FamilyTable& out = view.table(id);
    for (const Chain& chain : table.chains) {
      if ((chain.families & family_bit(family)) == 0) continue;
      FamilyChain* target = out.chain(chain.name);
      if (target == nullptr) {
        out.chains.push_back({chain.name, false, Policy::kAccept, {}});
        target = &out.chains.back();
      }
      target->policy = chain.policy(family).verdict;
      if (!chains.contains(chain.name) || !chains[chain.name].contains("rules")) continue;
      const Json& rules = chains[chain.name]["rules"];
      for (std::size_t r = 0; r < chain.rules.size(); ++r) {
        const Rule& rule = chain.rules[r];
        if (rule.family && *rule.family != family) continue;
        Json body = rules[r];
        body.erase("family");
        target->rules.push_back(std::move(body));
      }
    }
  }
  return view;
}

Json merge_family_tables(const FamilyTables& ipv4, const FamilyTables& ipv6, FamilyMask covered,
                         const Json& base) {
  Json root = Json::object();
  for (const char* key : {"$schema", "comment"}) {
    if (base.contains(key)) root[key] = base[key];
  }
  if (covered != kBothFamilies) root["families"] = families_json(covered);
  if (base.contains("sets")) root["sets"] = base["sets"];
  const bool has4 = (covered & family_bit(Family::kIPv4)) != 0;
  const bool has6 = (covered & family_bit(Family::kIPv6)) != 0;
  static const FamilyTable kNone;
  Json tables = Json::object();
  for (TableId id : kAllTables) {
    const FamilyTable& t4 = has4 ? ipv4.table(id) : kNone;
    const FamilyTable& t6 = has6 ? ipv6.table(id) : kNone;
    if ((t4.chains.empty() || t4.is_default()) && (t6.chains.empty() || t6.is_default())) continue;
    Json chains = Json::object();
    std::vector<std::string> names;
    for (const FamilyTable* t : {&t4, &t6}) {
      for (const FamilyChain& c : t->chains) {
        if (std::find(names.begin(), names.end(), c.name) == names.end()) names.push_back(c.name);
      }
    }
    for (const std::string& name : names) {
      const FamilyChain* c4 = t4.chain(name);
      const FamilyChain* c6 = t6.chain(name);
      static const std::vector<Json> kNoRules;
      const std::vector<Json>& r4 = c4 != nullptr ? c4->rules : kNoRules;
      const std::vector<Json>& r6 = c6 != nullptr ? c6->rules : kNoRules;
      const bool builtin = (c4 != nullptr ? c4 : c6)->builtin;
      Json body = Json::object();
      if (builtin) {
        const Policy p4 = c4 != nullptr ? c4->policy : Policy::kAccept;
        const Policy p6 = c6 != nullptr ? c6->policy : Policy::kAccept;
        if (c4 != nullptr && c6 != nullptr && p4 != p6) {
          body["policy"] = Json{{"ipv4", policy_text(p4)}, {"ipv6", policy_text(p6)}};
        } else if ((c4 != nullptr ? p4 : p6) == Policy::kDrop) {
          body["policy"] = policy_text(c4 != nullptr ? p4 : p6);
        }
      } else if ((c4 == nullptr || c6 == nullptr) && covered == kBothFamilies) {
        body["families"] = families_json(family_bit(c4 != nullptr ? Family::kIPv4 : Family::kIPv6));
      }
      Json rules = Json::array();
      for (const MergedRule& merged : merge_rules(r4, r6)) {
        Json rule = *merged.rule;
        // A rule of one family says so, unless its own matches already do, or
        // the ruleset or chain holds that family only.
        if (merged.only && covered == kBothFamilies && c4 != nullptr && c6 != nullptr &&
            inherent_family(rule, id) != merged.only) {
          // After the comment, before what the rule tests and does.
          Json with_family = Json::object();
          if (rule.contains("comment")) with_family["comment"] = rule["comment"];
          with_family["family"] = family_name(*merged.only);
          with_family.update(rule);
          rule = std::move(with_family);
        }
        rules.push_back(std::move(rule));
      }
      if (!rules.empty() || !builtin) body["rules"] = std::move(rules);
      if (!body.empty()) chains[name] = std::move(body);
    }
    tables[std::string(table_name(id))] = std::move(chains);
  }
  root["tables"] = std::move(tables);
  return root;
}

}  // namespace verdictd
