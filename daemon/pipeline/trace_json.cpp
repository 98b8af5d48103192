#include "pipeline/trace_json.hpp"

#include <array>

#include "text/hex.hpp"

#include "packet/protocol_names.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

std::string tcp_flags_text(std::uint8_t flags) {
  static constexpr std::array<const char*, 8> kNames = {"FIN", "SYN", "RST", "PSH",
                                                        "ACK", "URG", "ECE", "CWR"};
  std::string text;
  for (std::size_t bit = 0; bit < kNames.size(); ++bit) {
    if ((flags & (1U << bit)) == 0) continue;
    if (!text.empty()) text += ',';
    text += kNames[bit];
  }
  return text;
}

}  // namespace

Json packet_facts_json(const PacketFacts& facts) {
  Json out = Json::object();
  if (!facts.has_network) return out;
  out["family"] = static_cast<int>(facts.family);
  out["protocol"] = protocol_name(facts.protocol);
  out["source"] = facts.source.to_string();
  out["destination"] = facts.destination.to_string();
  if (facts.has_ports) {
    out["sport"] = facts.source_port;
    out["dport"] = facts.destination_port;
  }
  if (facts.has_tcp) out["tcp_flags"] = tcp_flags_text(facts.tcp_flags);
  if (facts.has_icmp) {
    out["icmp_type"] = facts.icmp_type;
    out["icmp_code"] = facts.icmp_code;
  }
  out["length"] = facts.length;
  out["ttl"] = facts.ttl;
  out["tos"] = hex_byte(facts.tos);
  out["mark"] = hex(facts.mark);
  return out;
}

namespace {

// The fields a step changed: {"field": [before, after]}.
Json changes_json(const PacketFacts& before, const PacketFacts& after) {
  Json changes = Json::object();
  const Json from = packet_facts_json(before);
  const Json to = packet_facts_json(after);
  for (const auto& [field, value] : to.items()) {
    if (!from.contains(field) || from[field] != value) {
      changes[field] = Json::array({from.value(field, Json()), value});
    }
  }
  return changes;
}

std::string_view outcome_name(TraceOutcome outcome) {
  switch (outcome) {
    case TraceOutcome::kContinue:
      return "continue";
    case TraceOutcome::kAccept:
      return "accept";
    case TraceOutcome::kDrop:
      return "drop";
    case TraceOutcome::kReturn:
      return "return";
    case TraceOutcome::kJump:
      return "jump";
    case TraceOutcome::kGoto:
      return "goto";
  }
  return "continue";
}

std::string_view kind_name(TraceStepKind kind) {
  switch (kind) {
    case TraceStepKind::kRule:
      return "rule";
    case TraceStepKind::kReturn:
      return "return";
    case TraceStepKind::kPolicy:
      return "policy";
    case TraceStepKind::kTranslated:
      return "nat";
  }
  return "rule";
}

Json step_json(const TraceStep& step, const Ruleset& ruleset, Family family) {
  Json out = {{"kind", kind_name(step.kind)}, {"table", table_name(step.table)}};
  const Table& table = ruleset.table(step.table);
  if (step.chain >= 0) {
    const Chain& chain = table.chains[static_cast<std::size_t>(step.chain)];
    out["chain"] = chain.name;
    if (step.kind == TraceStepKind::kRule) {
      const Rule& rule = chain.rules[step.rule - 1];
      out["rule"] = step.rule;
      if (!rule.comment.empty()) out["comment"] = rule.comment;
      out["location"] = ruleset_location(ruleset, rule.position);
      if (rule.jump_chain >= 0) {
        out["action"] = std::string(rule.is_goto ? "goto " : "jump ") +
                        table.chains[static_cast<std::size_t>(rule.jump_chain)].name;
      } else if (rule.target) {
        // As iptables-save writes it, without the "-j ".
        std::string action = rule.target->save_for(family);
        if (action.starts_with("-j ")) action.erase(0, 3);
        out["action"] = action;
      }
    } else {
      out["location"] = ruleset_location(ruleset, chain.position);
    }
  }
  out["outcome"] = outcome_name(step.outcome);
  return out;
}

}  // namespace

std::string ruleset_location(const Ruleset& ruleset, TextPosition position) {
  return ruleset.source + ":" + std::to_string(position.line) + ":" +
         std::to_string(position.column);
}

Json trace_json(const PacketTrace& trace, const Ruleset& ruleset) {
  Json steps = Json::array();
  const PacketFacts* before = &trace.arrived;
  for (const TraceStep& step : trace.steps) {
    Json item = step_json(step, ruleset, trace.arrived.family);
    const Json changes = changes_json(*before, step.after);
    if (!changes.empty()) item["changes"] = changes;
    steps.push_back(std::move(item));
    before = &step.after;
  }
  return {{"hook", hook_name(trace.hook)},
          {"in", trace.in_interface},
          {"out", trace.out_interface},
          {"packet", packet_facts_json(trace.arrived)},
          {"steps", std::move(steps)},
          {"verdict", trace.accepted ? "ACCEPT" : "DROP"}};
}

}  // namespace verdictd
