// verdictctl: check rulesets, and talk to a running verdictd.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <optional>

#include "ctl/control_client.hpp"
#include "ctl/offline.hpp"
#include "ctl/simulate_command.hpp"
#include "ctl/trace_text.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/schema.hpp"

namespace {

using Json = nlohmann::ordered_json;

constexpr int kUsageError = 2;

struct ListFlags {
  std::string table = "filter";
  std::string chain;
  bool verbose = false;
  bool numeric = false;  // accepted for iptables' sake; output is always numeric
  bool line_numbers = false;
  bool exact = false;
  bool ipv4 = false;
  bool ipv6 = false;
};

CLI::App* add_list(CLI::App& app, ListFlags& flags) {
  auto* list = app.add_subcommand("list", "rules with counters, like iptables -L -v -n");
  list->add_option("-t,--table", flags.table, "table")
      ->capture_default_str()
      ->check(CLI::IsMember({"filter", "nat", "mangle", "raw", "security"}));
  list->add_option("chain", flags.chain, "one chain only");
  list->add_flag("-v,--verbose", flags.verbose, "counters, interfaces and options");
  list->add_flag("-n,--numeric", flags.numeric, "numeric output (always on)");
  list->add_flag("--line-numbers", flags.line_numbers, "rule numbers");
  list->add_flag("-x,--exact", flags.exact, "counters in full, not shrunk to K, M, G");
  auto* v4 = list->add_flag("-4,--ipv4", flags.ipv4, "only rules that apply to IPv4");
  list->add_flag("-6,--ipv6", flags.ipv6, "only rules that apply to IPv6")->excludes(v4);
  return list;
}

Json list_request(const ListFlags& flags) {
  Json request = {{"command", "list"},
                  {"table", flags.table},
                  {"verbose", flags.verbose},
                  {"line_numbers", flags.line_numbers},
                  {"exact", flags.exact}};
  if (!flags.chain.empty()) request["chain"] = flags.chain;
  if (flags.ipv4) request["family"] = 4;
  if (flags.ipv6) request["family"] = 6;
  return request;
}

struct ConntrackFlags {
  std::optional<std::string> protocol;
  std::optional<std::string> source;
  std::optional<std::string> destination;
  std::optional<unsigned> sport;
  std::optional<unsigned> dport;
  std::optional<std::string> state;
  std::optional<std::string> family;
};

CLI::App* add_conntrack(CLI::App& app, ConntrackFlags& flags) {
  auto* conntrack =
      app.add_subcommand("conntrack", "the flow table, like conntrack -L, with its filters");
  conntrack->add_option("-p,--proto", flags.protocol, "protocol (tcp, udp, icmp, icmpv6, ...)");
  conntrack->add_option("-s,--src,--orig-src", flags.source, "original source address");
  conntrack->add_option("-d,--dst,--orig-dst", flags.destination, "original destination address");
  conntrack->add_option("--sport,--orig-port-src", flags.sport, "original source port")
      ->check(CLI::Range(0, 65535));
  conntrack->add_option("--dport,--orig-port-dst", flags.dport, "original destination port")
      ->check(CLI::Range(0, 65535));
  conntrack->add_option("--state", flags.state, "TCP state (ESTABLISHED, TIME_WAIT, ...)");
  conntrack->add_option("-f,--family", flags.family, "ipv4 or ipv6")
      ->check(CLI::IsMember({"ipv4", "ipv6"}));
  return conntrack;
}

Json conntrack_request(const ConntrackFlags& flags) {
  Json filter = Json::object();
  if (flags.protocol) {
    const std::string& p = *flags.protocol;
    const bool numeric = !p.empty() && p.find_first_not_of("0123456789") == std::string::npos;
    filter["protocol"] = numeric ? Json(std::stoul(p)) : Json(p);
  }
  if (flags.source) filter["source"] = *flags.source;
  if (flags.destination) filter["destination"] = *flags.destination;
  if (flags.sport) filter["sport"] = *flags.sport;
  if (flags.dport) filter["dport"] = *flags.dport;
  if (flags.state) filter["state"] = *flags.state;
  if (flags.family) filter["family"] = *flags.family;
  return {{"command", "conntrack"}, {"filter", filter}};
}

struct TraceFlags {
  std::optional<std::string> match;  // a rule's "match" object, as JSON
  std::optional<std::string> protocol;
  std::optional<std::string> source;
  std::optional<std::string> destination;
  std::optional<std::string> sport;
  std::optional<std::string> dport;
  std::optional<std::string> in_interface;
  std::optional<std::string> out_interface;
  std::uint64_t count = 0;
  bool json = false;
};

CLI::App* add_trace(CLI::App& app, TraceFlags& flags) {
  auto* trace = app.add_subcommand(
      "trace",
      "follow packets through the rules: those TRACE rules mark, or those the filter selects");
  trace->add_option("--match", flags.match,
                    "a rule's \"match\" object as JSON, e.g. '{\"protocol\": \"tcp\"}'");
  trace->add_option("-p,--protocol", flags.protocol, "protocol");
  trace->add_option("-s,--source", flags.source, "source address[/prefix]");
  trace->add_option("-d,--destination", flags.destination, "destination address[/prefix]");
  trace->add_option("--sport", flags.sport, "source port or lo:hi");
  trace->add_option("--dport", flags.dport, "destination port or lo:hi");
  trace->add_option("-i,--in-interface", flags.in_interface,
                    "input interface (name+ for a prefix)");
  trace->add_option("-o,--out-interface", flags.out_interface, "output interface");
  trace->add_option("-n,--count", flags.count, "stop after this many traces (0: until interrupted)")
      ->capture_default_str();
  trace->add_flag("--json", flags.json, "one JSON record per packet and hook");
  return trace;
}

// The filter of `verdictctl trace`, a rule's "match" object; none when no
// option selects packets.
std::optional<Json> trace_filter(const TraceFlags& flags) {
  Json filter = flags.match ? Json::parse(*flags.match) : Json::object();
  const auto port = [](const std::string& text) {
    const bool numeric = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    return numeric ? Json(std::stoul(text)) : Json(text);
  };
  if (flags.protocol) filter["protocol"] = *flags.protocol;
  if (flags.source) filter["source"] = *flags.source;
  if (flags.destination) filter["destination"] = *flags.destination;
  if (flags.sport) filter["sport"] = port(*flags.sport);
  if (flags.dport) filter["dport"] = port(*flags.dport);
  if (flags.in_interface) filter["in_interface"] = *flags.in_interface;
  if (flags.out_interface) filter["out_interface"] = *flags.out_interface;
  if (!flags.match && filter.empty()) return std::nullopt;
  return filter;
}

// Streams the traces to stdout until the count is reached or verdictd ends it.
int run_trace(const std::string& socket, const TraceFlags& flags) {
  Json request = {{"command", "trace"}, {"count", flags.count}};
  if (const auto filter = trace_filter(flags)) request["filter"] = *filter;
  const Json response = verdictd::control_request(socket, request, [&flags](const Json& line) {
    if (line.contains("following")) {
      std::cerr << "verdictctl: following " << line["following"].get<std::string>() << "\n";
    } else if (line.contains("trace")) {
      // Flushed at once: whoever reads the stream sees each packet as it comes.
      std::cout << (flags.json ? line["trace"].dump() + "\n" : verdictd::trace_text(line["trace"]))
                << std::flush;
    }
  });
  if (!response.value("ok", false)) {
    std::cerr << "verdictctl: " << response.value("error", "the request failed") << "\n";
    return 1;
  }
  if (const auto lost = response.value("lost", std::uint64_t{0}); lost > 0) {
    std::cerr << "verdictctl: " << lost << " traces lost: this client read too slowly\n";
  }
  return 0;
}

// What is wrong with a command line CLI11 accepted: no subcommand, an
// unknown one, or words after the subcommand that it does not take.
std::optional<std::string> usage_error(const CLI::App& app) {
  const std::vector<std::string> extra = app.remaining();
  if (app.get_subcommands().empty()) {
    if (extra.empty()) return "a subcommand is required";
    return "unknown subcommand '" + extra.front() + "'";
  }
  if (!extra.empty()) return "unexpected argument '" + extra.front() + "'";
  return std::nullopt;
}

int run(int argc, char** argv) {
  CLI::App app{"verdictctl: check rulesets and control verdictd"};
  app.set_version_flag("--version", std::string("verdictctl ") + VERDICTD_VERSION);
  // --socket may also follow the subcommand: `verdictctl status --socket PATH`.
  app.fallthrough();
  std::string socket = "/run/verdictd/control.sock";
  app.add_option("--socket", socket, "verdictd's control socket")->capture_default_str();

  // As the daemon's "ruleset_max_bytes", for the commands that read files.
  std::uint32_t max_bytes = verdictd::kDefaultRulesetMaxBytes;
  const auto add_max_bytes = [&max_bytes](CLI::App* command) {
    command->add_option("--ruleset-max-bytes", max_bytes, "largest ruleset file read")
        ->capture_default_str()
        ->check(CLI::Range(std::uint32_t{1}, verdictd::kMaxRulesetMaxBytes));
  };
  std::vector<std::string> check_files;
  auto* check = app.add_subcommand("check", "validate ruleset files without a daemon");
  check->add_option("files", check_files, "ruleset files")->required();
  add_max_bytes(check);

  std::string export_file;
  bool export_v4 = false;
  bool export_v6 = false;
  auto* export_rules =
      app.add_subcommand("export", "print one family's rules of FILE in iptables-save format");
  export_rules->add_option("file", export_file, "ruleset file")->required();
  auto* export_v4_flag = export_rules->add_flag("-4,--ipv4", export_v4, "IPv4 rules (default)");
  export_rules->add_flag("-6,--ipv6", export_v6, "IPv6 rules")->excludes(export_v4_flag);
  add_max_bytes(export_rules);

  std::vector<std::string> import_ipv4;
  std::vector<std::string> import_ipv6;
  std::vector<std::string> import_scripts;
  std::vector<std::string> import_ipsets;
  auto* import_rules = app.add_subcommand(
      "import", "print the ruleset iptables-save files or an iptables shell script make");
  import_rules->add_option("files", import_ipv4, "iptables-save files (IPv4); - reads stdin");
  // Each option takes one file; the words after it are the positional files.
  import_rules->add_option("-4,--ipv4", import_ipv4, "an iptables-save file")
      ->allow_extra_args(false);
  import_rules->add_option("-6,--ipv6", import_ipv6, "an ip6tables-save file")
      ->allow_extra_args(false);
  import_rules
      ->add_option("--script", import_scripts, "a shell script of iptables and ip6tables commands")
      ->allow_extra_args(false);
  import_rules
      ->add_option("--ipset", import_ipsets, "ipset save output declaring the sets the rules name")
      ->allow_extra_args(false);

  verdictd::SimulateFlags simulate_flags;
  auto* simulate = verdictd::add_simulate(app, simulate_flags);
  add_max_bytes(simulate);

  auto* schema =
      app.add_subcommand("schema", "print the JSON Schema of rulesets, from the extensions");
  auto* reference = app.add_subcommand(
      "reference", "print verdictd.ruleset(5), the reference of every key, in roff");

  auto* status = app.add_subcommand("status", "ruleset, reload result, steering and queues");
  auto* reload = app.add_subcommand("reload", "reload the ruleset file; print its error");
  auto* zero = app.add_subcommand("zero", "set every rule and policy counter to zero");
  ListFlags list_flags;
  auto* list = add_list(app, list_flags);
  ConntrackFlags conntrack_flags;
  auto* conntrack = add_conntrack(app, conntrack_flags);
  TraceFlags trace_flags;
  auto* trace = add_trace(app, trace_flags);
  std::size_t drops_count = 50;
  bool drops_json = false;
  auto* drops = app.add_subcommand("drops", "the last packets dropped or rejected, and by what");
  drops->add_option("-n,--count", drops_count, "how many (at most 1024)")->capture_default_str();
  drops->add_flag("--json", drops_json, "as JSON");
  std::string recent_action;
  std::string recent_name;
  std::string recent_address;
  auto* recent = app.add_subcommand(
      "recent", "a recent list: list, add or del ADDRESS, or flush (as /proc/net/xt_recent)");
  recent->add_option("action", recent_action, "list, add, del or flush")
      ->required()
      ->check(CLI::IsMember({"list", "add", "del", "flush"}));
  recent->add_option("name", recent_name, "the list's name")->required();
  recent->add_option("address", recent_address, "the address to add or delete");
  std::string save_file;
  bool save_ipv4 = false;
  bool save_ipv6 = false;
  auto* save = app.add_subcommand(
      "save",
      "write the ruleset in force (with iptables commands' changes) as JSON, or with "
      "-4/-6 as iptables-save text, to FILE or the standard output");
  save->add_option("file", save_file, "where to write it");
  auto* save_v4_flag = save->add_flag("-4,--ipv4", save_ipv4, "iptables-save text of IPv4");
  save->add_flag("-6,--ipv6", save_ipv6, "iptables-save text of IPv6")->excludes(save_v4_flag);
  std::vector<std::string> set_words;
  bool set_exist = false;
  auto* set = app.add_subcommand(
      "set", "the ruleset's named sets: list [NAME], add|del|test NAME ELEMENT, flush|save NAME");
  set->add_option("words", set_words,
                  "ACTION NAME ELEMENT (an element may carry options: "
                  "\"10.0.0.0/8 timeout 600\")")
      ->required();
  set->add_flag("--exist", set_exist, "add: an element already there is added again");

  // Words left over are kept (not refused by CLI11) so that a mistyped
  // subcommand is named as one; set last, as subcommands inherit it.
  app.allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsageError;
  }
  if (const auto usage = usage_error(app)) {
    std::cerr << "verdictctl: " << *usage << "; see verdictctl --help\n";
    return kUsageError;
  }

  if (check->parsed()) return verdictd::check_rulesets(check_files, max_bytes);
  if (export_rules->parsed()) {
    return verdictd::export_ruleset(
        export_file, export_v6 ? verdictd::Family::kIPv6 : verdictd::Family::kIPv4, max_bytes);
  }
  if (import_rules->parsed()) {
    if (import_ipv4.empty() && import_ipv6.empty() && import_scripts.empty()) {
      import_ipv4.emplace_back("-");
    }
    return verdictd::import_rulesets(import_ipv4, import_ipv6, import_scripts, import_ipsets);
  }
  if (simulate->parsed()) return verdictd::run_simulate(simulate_flags, max_bytes);
  if (schema->parsed()) {
    std::cout << verdictd::ruleset_schema().dump(2) << "\n";
    return 0;
  }
  if (reference->parsed()) {
    std::cout << verdictd::ruleset_reference();
    return 0;
  }
  if (trace->parsed()) return run_trace(socket, trace_flags);
  if (drops->parsed()) {
    const Json response =
        verdictd::control_request(socket, {{"command", "drops"}, {"count", drops_count}});
    if (!response.value("ok", false)) {
      std::cerr << "verdictctl: " << response.value("error", "the request failed") << "\n";
      return 1;
    }
    if (drops_json) {
      std::cout << response["drops"].dump(2) << "\n";
    } else {
      for (const Json& drop : response["drops"]) std::cout << verdictd::drop_text(drop);
      std::cerr << response.value("recorded", std::uint64_t{0}) << " drops since the start\n";
    }
    return 0;
  }
  if (save->parsed()) {
    const Json response = verdictd::control_request(
        socket, save_ipv4 || save_ipv6
                    ? Json{{"command", "iptables-save"}, {"family", save_ipv6 ? 6 : 4}}
                    : Json{{"command", "save"}});
    if (!response.value("ok", false)) {
      std::cerr << "verdictctl: " << response.value("error", "the request failed") << "\n";
      return 1;
    }
    const std::string text = response.contains("stdout") ? response["stdout"].get<std::string>()
                                                         : response.value("text", std::string());
    if (save_file.empty()) {
      std::cout << text;
      return 0;
    }
    return verdictd::write_text_file(save_file, text);
  }
  Json request;
  if (set->parsed()) {
    request = {{"command", "set"}, {"action", set_words[0]}, {"exist", set_exist}};
    if (set_words.size() > 1) request["name"] = set_words[1];
    // The element and its options, however the shell split them.
    std::string element;
    for (std::size_t i = 2; i < set_words.size(); ++i) element += (i > 2 ? " " : "") + set_words[i];
    if (!element.empty()) request["element"] = element;
  }
  if (status->parsed()) request = {{"command", "status"}};
  if (reload->parsed()) request = {{"command", "reload"}};
  if (zero->parsed()) request = {{"command", "zero"}};
  if (list->parsed()) request = list_request(list_flags);
  if (conntrack->parsed()) request = conntrack_request(conntrack_flags);
  if (recent->parsed()) {
    request = {{"command", "recent"}, {"action", recent_action}, {"name", recent_name}};
    if (!recent_address.empty()) request["address"] = recent_address;
  }
  return verdictd::run_control_command(socket, request);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "verdictctl: " << e.what() << "\n";
    return 1;
  }
}
