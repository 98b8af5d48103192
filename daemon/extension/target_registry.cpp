#include <map>
#include <string>

#include "extension/target.hpp"

namespace verdictd {

namespace {
std::map<std::string, TargetFactory, std::less<>>& registry() {
  static std::map<std::string, TargetFactory, std::less<>> targets;
  return targets;
}
}  // namespace

void register_target(std::string_view name, TargetFactory factory) {
  registry().emplace(name, factory);
}

TargetFactory find_target(std::string_view name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

}  // namespace verdictd
