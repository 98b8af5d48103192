#include <map>
#include <string>

#include "extension/match.hpp"

namespace verdictd {

namespace {
std::map<std::string, MatchInfo, std::less<>>& registry() {
  static std::map<std::string, MatchInfo, std::less<>> matches;
  return matches;
}
}  // namespace

void register_match(std::string_view key, MatchInfo info) { registry().emplace(key, info); }

const MatchInfo* find_match(std::string_view key) {
  auto it = registry().find(key);
  return it == registry().end() ? nullptr : &it->second;
}

}  // namespace verdictd
