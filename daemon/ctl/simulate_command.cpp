#include "ctl/simulate_command.hpp"

#include <iostream>
#include <sstream>

#include "ctl/trace_text.hpp"
#include "extension/description.hpp"
#include "packet/packet.hpp"
#include "packet/protocol_names.hpp"
#include "pipeline/simulation.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kAccepted = 0;
constexpr int kDropped = 1;
constexpr int kUsageError = 2;
// The daemon's ruleset (its "ruleset" setting's default).
constexpr const char* kDefaultRuleset = "/etc/verdictd/ruleset.json";

// A command line that describes no packet.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<Hook> parse_hooks(const std::string& text) {
  std::vector<Hook> hooks;
  std::stringstream words(text);
  std::string word;
  while (std::getline(words, word, ',')) {
    const auto hook = hook_from_name(word);
    if (!hook) throw UsageError("--hook: unknown hook '" + word + "'");
    hooks.push_back(*hook);
  }
  if (hooks.empty()) throw UsageError("--hook: no hook given");
  return hooks;
}

std::uint8_t parse_protocol(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    const unsigned long number = std::stoul(text);
    if (number <= 255) return static_cast<std::uint8_t>(number);
  }
  const auto named = protocol_by_name(text);
  if (!named || *named == 0) throw UsageError("-p: unknown protocol '" + text + "'");
  return *named;
}

// An option's value parsed by the value type of the match that takes it
// (so simulate reads TCP flags and ICMP types as rulesets write them).
Value parse_as_option(std::string_view module, std::string_view flag, std::size_t member,
                      const std::string& text) {
  const OptionSpec* option = find_option_by_flag(module, flag);
  const ValueType* type = option->type != nullptr ? option->type : option->members[member].type;
  try {
    return type->parse(Json(text));
  } catch (const std::exception& e) {
    throw UsageError(std::string(flag) + ": " + e.what());
  }
}

// TCP flags as --tcp-flags names them, and ECE and CWR, which it does not
// take but a packet may carry.
std::uint8_t parse_tcp_flags(const std::string& text) {
  std::uint8_t extra = 0;
  std::string named;
  std::stringstream words(text);
  std::string word;
  while (std::getline(words, word, ',')) {
    if (word == "ECE") {
      extra |= tcpflag::kEce;
    } else if (word == "CWR") {
      extra |= tcpflag::kCwr;
    } else {
      named += (named.empty() ? "" : ",") + word;
    }
  }
  if (named.empty()) return extra;
  const auto mask = std::get<ValueMask>(parse_as_option("tcp", "--tcp-flags", 0, named));
  return static_cast<std::uint8_t>(mask.value | extra);
}

std::uint32_t parse_number(const std::string& option, const std::string& text) {
  try {
    std::size_t used = 0;
    const unsigned long value = std::stoul(text, &used, 0);
    if (used == text.size() && value <= 0xffffffffUL) return static_cast<std::uint32_t>(value);
  } catch (const std::exception&) {
  }
  throw UsageError(option + ": expected a number, got '" + text + "'");
}

SimulatedState parse_state(const std::string& text) {
  if (text == "NEW") return SimulatedState::kNew;
  if (text == "ESTABLISHED") return SimulatedState::kEstablished;
  if (text == "RELATED") return SimulatedState::kRelated;
  if (text == "INVALID") return SimulatedState::kInvalid;
  if (text == "UNTRACKED") return SimulatedState::kUntracked;
  throw UsageError("--ctstate: expected NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED, got '" +
                   text + "'");
}

IpAddress parse_address(const std::string& option, const std::string& text) {
  const auto address = IpAddress::parse(text);
  if (!address) throw UsageError(option + ": not an address: '" + text + "'");
  return *address;
}

// The family: -4 or -6, else the addresses'; IPv4 when nothing says.
Family family_of(const SimulateFlags& flags) {
  if (flags.ipv6) return Family::kIPv6;
  if (flags.ipv4) return Family::kIPv4;
  for (const auto& given : {flags.source, flags.destination}) {
    if (given) return parse_address("-s/-d", *given).family;
  }
  return Family::kIPv4;
}

// The address given, or the documentation prefix's first or second host.
IpAddress address_or(const std::optional<std::string>& given, const std::string& option,
                     Family family, bool second) {
  if (!given) {
    if (family == Family::kIPv4) return *IpAddress::parse(second ? "192.0.2.2" : "192.0.2.1");
    return *IpAddress::parse(second ? "2001:db8::2" : "2001:db8::1");
  }
  const IpAddress address = parse_address(option, *given);
  if (address.family != family) throw UsageError(option + ": " + *given + " is not of the family");
  return address;
}

Simulation simulation_of(const SimulateFlags& flags) {
  Simulation s;
  s.hooks = parse_hooks(flags.hooks);
  s.in_interface = flags.in_interface;
  s.out_interface = flags.out_interface;
  const Family family = family_of(flags);
  PacketDescription& p = s.packet;
  p.source = address_or(flags.source, "-s", family, false);
  p.destination = address_or(flags.destination, "-d", family, true);
  p.protocol = parse_protocol(flags.protocol);
  p.source_port = static_cast<std::uint16_t>(flags.source_port);
  p.destination_port = static_cast<std::uint16_t>(flags.destination_port);
  p.length = flags.length;
  p.ttl = static_cast<std::uint8_t>(flags.ttl);
  if (flags.ctstate) s.state = parse_state(*flags.ctstate);
  // TCP flags, by default those of the state's usual packet.
  if (p.protocol == ipproto::kTcp) {
    p.tcp_flags = s.state == SimulatedState::kEstablished ? tcpflag::kAck
                  : s.state == SimulatedState::kInvalid   ? tcpflag::kFin | tcpflag::kSyn
                                                          : tcpflag::kSyn;
    if (flags.tcp_flags) p.tcp_flags = parse_tcp_flags(*flags.tcp_flags);
  } else if (flags.tcp_flags) {
    throw UsageError("--tcp-flags: the packet is not TCP");
  }
  const bool icmp = p.protocol == (family == Family::kIPv4 ? ipproto::kIcmp : ipproto::kIcmpv6);
  if (icmp) {
    const std::string type = flags.icmp_type.value_or("echo-request");
    const auto parsed = std::get<IcmpType>(
        family == Family::kIPv4 ? parse_as_option("icmp", "--icmp-type", 0, type)
                                : parse_as_option("icmp6", "--icmpv6-type", 0, type));
    p.icmp_type = parsed.type;
    p.icmp_code = parsed.has_code() ? parsed.code_min : 0;
    p.icmp_identifier = 1;
  } else if (flags.icmp_type) {
    throw UsageError("--icmp-type: the packet is not ICMP of its family");
  }
  s.mark = parse_number("--mark", flags.mark);
  if (flags.in_address) s.in_address = parse_address("--in-address", *flags.in_address);
  if (flags.out_address) s.out_address = parse_address("--out-address", *flags.out_address);
  s.connection = flags.connection;
  return s;
}

}  // namespace

CLI::App* add_simulate(CLI::App& app, SimulateFlags& flags) {
  auto* simulate = app.add_subcommand(
      "simulate", "run a described packet through a ruleset file, offline; exit 0 ACCEPT, 1 DROP");
  flags.ruleset = kDefaultRuleset;
  simulate->add_option("--ruleset", flags.ruleset, "ruleset file")->capture_default_str();
  simulate
      ->add_option("--hook", flags.hooks,
                   "the hook, or the packet's way as a list: PREROUTING,FORWARD,POSTROUTING")
      ->required();
  simulate->add_option("-i,--in-interface", flags.in_interface, "incoming interface");
  simulate->add_option("-o,--out-interface", flags.out_interface, "outgoing interface");
  auto* v4 = simulate->add_flag("-4,--ipv4", flags.ipv4, "IPv4 (default: the addresses')");
  simulate->add_flag("-6,--ipv6", flags.ipv6, "IPv6")->excludes(v4);
  simulate->add_option("-p,--protocol", flags.protocol, "protocol: a name or number")->required();
  simulate->add_option("-s,--source", flags.source, "source address (default 192.0.2.1)");
  simulate->add_option("-d,--destination", flags.destination,
                       "destination address (default 192.0.2.2)");
  simulate->add_option("--sport", flags.source_port, "source port")->check(CLI::Range(0, 65535));
  simulate->add_option("--dport", flags.destination_port, "destination port")
      ->check(CLI::Range(0, 65535));
  simulate->add_option("--tcp-flags", flags.tcp_flags, "TCP flags set: SYN, SYN,ACK, ...");
  simulate->add_option("--icmp-type", flags.icmp_type, "ICMP type (default echo-request)");
  simulate->add_option("--ctstate", flags.ctstate,
                       "NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED, made by the tracker");
  simulate->add_option("--mark", flags.mark, "the packet's mark")->capture_default_str();
  simulate->add_option("--length", flags.length, "the packet's length (default: its headers')")
      ->check(CLI::Range(0, 65535));
  simulate->add_option("--ttl", flags.ttl, "TTL or hop limit as sent")
      ->capture_default_str()
      ->check(CLI::Range(0, 255));
  simulate->add_option("--in-address", flags.in_address, "the in interface's address (REDIRECT)");
  simulate->add_option("--out-address", flags.out_address,
                       "the out interface's address (MASQUERADE)");
  simulate->add_flag("--connection", flags.connection,
                     "play SYN, SYN-ACK (the reply, the way back), ACK");
  simulate->add_flag("--json", flags.json, "one JSON record per hook");
  return simulate;
}

int run_simulate(const SimulateFlags& flags, std::size_t max_bytes) {
  SimulationResult result;
  try {
    const Simulation simulation = simulation_of(flags);
    const auto ruleset = load_ruleset_file(flags.ruleset, max_bytes);
    result = simulate(*ruleset, simulation);
  } catch (const std::exception& e) {
    std::cerr << "verdictctl simulate: " << e.what() << "\n";
    return kUsageError;
  }
  for (const std::string& note : result.notes) {
    std::cerr << "verdictctl simulate: " << note << "\n";
  }
  const char* verdict = result.accepted ? "ACCEPT" : "DROP";
  for (std::size_t i = 0; i < result.records.size(); ++i) {
    if (flags.json) {
      std::cout << result.records[i].dump() << "\n";
    } else {
      std::cout << (i == 0 ? "" : "\n") << trace_text(result.records[i]);
    }
  }
  if (flags.json) {
    std::cout << Json{{"final_verdict", verdict}}.dump() << "\n";
  } else {
    std::cout << "\nfinal verdict " << verdict << "\n";
  }
  return result.accepted ? kAccepted : kDropped;
}

}  // namespace verdictd
