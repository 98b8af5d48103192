#include "service/drop_log.hpp"

#include <algorithm>
#include <ctime>

#include "pipeline/trace_json.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// "2026-12-05T23:50:01.123Z"
std::string utc_time(std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::array<char, 40> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text.data() + n, text.size() - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
  return text.data();
}

std::string_view cause_name(DropCause::Kind kind) {
  switch (kind) {
    case DropCause::Kind::kRule:
      return "rule";
    case DropCause::Kind::kPolicy:
      return "policy";
    case DropCause::Kind::kHotdrop:
      return "hotdrop";
    case DropCause::Kind::kTableFull:
      return "conntrack table full";
    case DropCause::Kind::kNat:
      return "nat";
    case DropCause::Kind::kNone:
      break;
  }
  return "unknown";
}

}  // namespace

void DropLog::record(const HookPacket& in, const HookOutcome& outcome, const Ruleset& ruleset) {
  Entry entry;
  entry.when = std::chrono::system_clock::now();
  entry.hook = in.hook;
  entry.in = in.in_interface;
  entry.out = in.out_interface;
  entry.packet = PacketFacts::of(in.packet, in.mark);
  entry.cause = outcome.dropped_by;
  const DropCause& cause = outcome.dropped_by;
  if (cause.chain >= 0) {
    const Chain& chain = ruleset.table(cause.table).chains[static_cast<std::size_t>(cause.chain)];
    entry.chain = chain.name;
    if (cause.kind == DropCause::Kind::kRule) {
      const Rule& rule = chain.rules[cause.rule - 1];
      entry.comment = rule.comment;
      if (rule.target) entry.action = rule.target->name();
      entry.location = ruleset_location(ruleset, rule.position);
    } else {
      entry.action = "DROP";
      entry.location = ruleset_location(ruleset, chain.position);
    }
  }
  const std::lock_guard lock(mutex_);
  ring_[recorded_ % kCapacity] = std::move(entry);
  ++recorded_;
}

Json DropLog::last(std::size_t count) const {
  const std::lock_guard lock(mutex_);
  const std::uint64_t n = std::min<std::uint64_t>({count, kCapacity, recorded_});
  Json drops = Json::array();
  for (std::uint64_t i = recorded_ - n; i < recorded_; ++i) {
    const Entry& e = ring_[i % kCapacity];
    Json by = {{"kind", cause_name(e.cause.kind)}};
    if (e.cause.kind == DropCause::Kind::kRule || e.cause.kind == DropCause::Kind::kPolicy ||
        e.cause.kind == DropCause::Kind::kHotdrop || e.cause.kind == DropCause::Kind::kNat) {
      by["table"] = table_name(e.cause.table);
    }
    if (!e.chain.empty()) by["chain"] = e.chain;
    if (e.cause.kind == DropCause::Kind::kRule) by["rule"] = e.cause.rule;
    if (!e.comment.empty()) by["comment"] = e.comment;
    if (!e.action.empty()) by["action"] = e.action;
    if (!e.location.empty()) by["location"] = e.location;
    drops.push_back({{"time", utc_time(e.when)},
                     {"hook", hook_name(e.hook)},
                     {"in", e.in},
                     {"out", e.out},
                     {"packet", packet_facts_json(e.packet)},
                     {"by", std::move(by)}});
  }
  return drops;
}

std::uint64_t DropLog::recorded() const {
  const std::lock_guard lock(mutex_);
  return recorded_;
}

}  // namespace verdictd
