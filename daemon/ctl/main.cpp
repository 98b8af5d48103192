// verdictctl: check rulesets, and talk to a running verdictd.
#include <CLI/CLI.hpp>
#include <iostream>

#include "ctl/control_client.hpp"
#include "ruleset/loader.hpp"
#include "ruleset/save.hpp"
#include "ruleset/list.hpp"

namespace {

int check(const std::vector<std::string>& files) {
  int status = 0;
  for (const std::string& file : files) {
    try {
      auto ruleset = verdictd::load_ruleset_file(file);
      std::cout << file << ": ok (" << verdictd::rule_count(*ruleset) << " rules)\n";
    } catch (const verdictd::RulesetError& e) {
      std::cerr << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

int export_ruleset(const std::string& file, bool ipv6) {
  try {
    auto ruleset = verdictd::load_ruleset_file(file);
    std::cout << verdictd::save_ruleset(*ruleset, ipv6 ? verdictd::Family::kIPv6
                                                       : verdictd::Family::kIPv4);
    return 0;
  } catch (const verdictd::RulesetError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

int ask(const std::string& socket, const nlohmann::ordered_json& request) {
  try {
    const auto response = verdictd::control_request(socket, request);
    if (!response.value("ok", false)) {
      std::cerr << "verdictctl: " << response.value("error", "request failed") << "\n";
      return 1;
    }
    std::cout << response.value("text", "");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "verdictctl: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"verdictctl: check rulesets and control verdictd"};
  app.require_subcommand(1);
  std::string socket = "/run/verdictd/control.sock";
  app.add_option("--socket", socket, "verdictd's control socket")->capture_default_str();

  std::vector<std::string> check_files;
  auto* check_cmd = app.add_subcommand("check", "validate ruleset files without a daemon");
  check_cmd->add_option("files", check_files, "ruleset files")->required();

  std::string export_file;
  bool export_v4 = false;
  bool export_v6 = false;
  auto* export_cmd =
      app.add_subcommand("export", "print a ruleset in iptables-save format (one family)");
  export_cmd->add_option("file", export_file, "ruleset file")->required();
  auto* export_v4_flag = export_cmd->add_flag("-4", export_v4, "IPv4 rules (default)");
  export_cmd->add_flag("-6", export_v6, "IPv6 rules")->excludes(export_v4_flag);

  auto* status_cmd = app.add_subcommand("status", "queues, counters and health");
  auto* reload_cmd = app.add_subcommand("reload", "reload the ruleset file; print its error");
  auto* zero_cmd = app.add_subcommand("zero", "zero every counter");

  std::string table = "filter";
  std::string chain;
  bool verbose = false;
  bool numeric = false;
  bool line_numbers = false;
  bool list_v4 = false;
  bool list_v6 = false;
  auto* list_cmd = app.add_subcommand("list", "rules with counters, like iptables -L");
  list_cmd->add_option("-t,--table", table, "table")->capture_default_str();
  list_cmd->add_option("chain", chain, "one chain only");
  list_cmd->add_flag("-v,--verbose", verbose, "counters and interfaces");
  list_cmd->add_flag("-n,--numeric", numeric, "numeric output (always on)");
  list_cmd->add_flag("--line-numbers", line_numbers, "rule numbers");
  auto* list_v4_flag = list_cmd->add_flag("-4", list_v4, "IPv4 rules only");
  list_cmd->add_flag("-6", list_v6, "IPv6 rules only")->excludes(list_v4_flag);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (check_cmd->parsed()) return check(check_files);
  if (export_cmd->parsed()) return export_ruleset(export_file, export_v6);
  if (status_cmd->parsed()) return ask(socket, {{"command", "status"}});
  if (reload_cmd->parsed()) return ask(socket, {{"command", "reload"}});
  if (zero_cmd->parsed()) return ask(socket, {{"command", "zero"}});
  nlohmann::ordered_json request = {{"command", "list"},
                                    {"table", table},
                                    {"verbose", verbose},
                                    {"line_numbers", line_numbers}};
  if (!chain.empty()) request["chain"] = chain;
  if (list_v6) request["family"] = 6;
  if (list_v4) request["family"] = 4;
  return ask(socket, request);
}
