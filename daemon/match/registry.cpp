#include <map>
#include <string>

#include "match/match.hpp"
#include "ruleset/values.hpp"

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

std::optional<std::uint8_t> rule_protocol(const Json& rule_match) {
  auto it = rule_match.find("protocol");
  if (it == rule_match.end()) return std::nullopt;
  static const std::map<std::string, std::uint8_t, std::less<>> kNames = {
      {"tcp", ipproto::kTcp},         {"udp", ipproto::kUdp},      {"icmp", ipproto::kIcmp},
      {"ipv6-icmp", ipproto::kIcmpv6}, {"icmpv6", ipproto::kIcmpv6}, {"sctp", ipproto::kSctp},
      {"udplite", ipproto::kUdplite},  {"esp", 50},                {"ah", 51},
      {"gre", 47},                     {"all", 0}};
  if (it->is_number_unsigned() && it->get<std::uint64_t>() <= 255) {
    return static_cast<std::uint8_t>(it->get<std::uint64_t>());
  }
  if (it->is_string()) {
    auto name = kNames.find(it->get<std::string>());
    if (name != kNames.end()) return name->second;
  }
  return std::nullopt;
}

}  // namespace verdictd
