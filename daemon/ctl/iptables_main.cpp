// iptables-verdictd, ip6tables-verdictd and their -save and -restore forms:
// one program, called by those names (installed as links), that takes
// iptables' command lines and changes the running verdictd's ruleset over
// its control socket. Registered as alternatives for iptables, the tools
// that call iptables (ufw, fail2ban, iptables-persistent) run on verdictd
// unchanged.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/control_client.hpp"

namespace {

using Json = nlohmann::ordered_json;

// iptables' exit status for a problem it could not get past (xtables.h's
// RESOURCE_PROBLEM): here, a daemon that cannot be reached.
constexpr int kResourceProblem = 4;
constexpr int kParameterProblem = 2;

std::string socket_path() {
  const char* path = std::getenv("VERDICTD_SOCKET");
  return path != nullptr && *path != '\0' ? path : "/run/verdictd/control.sock";
}

// Sends `request` and prints what iptables would: its output, its messages,
// and its exit status.
int relay(const std::string& program, const Json& request) {
  Json response;
  try {
    response = verdictd::control_request(socket_path(), request);
  } catch (const std::exception& e) {
    std::cerr << program << ": cannot reach verdictd: " << e.what() << "\n";
    return kResourceProblem;
  }
  if (!response.value("ok", false)) {
    std::cerr << program << ": " << response.value("error", std::string("verdictd refused"))
              << "\n";
    return 1;
  }
  std::cout << response.value("stdout", std::string());
  std::cerr << response.value("stderr", std::string());
  return response.value("status", 1);
}

int usage(const std::string& program, const std::string& problem) {
  std::cerr << program << " v1.8.9 (verdictd): " << problem << "\nTry `" << program << " -h' or '"
            << program << " --help' for more information.\n";
  return kParameterProblem;
}

int save(const std::string& program, int family, const std::vector<std::string>& args) {
  Json request = {{"command", "iptables-save"}, {"family", family}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-c" || a == "--counters") {
      request["counters"] = true;
    } else if ((a == "-t" || a == "--table") && i + 1 < args.size()) {
      request["table"] = args[++i];
    } else if (a.starts_with("--table=")) {
      request["table"] = a.substr(8);
    } else if ((a == "-M" || a == "--modprobe") && i + 1 < args.size()) {
      ++i;  // verdictd loads no kernel modules
    } else {
      return usage(program, "unknown option \"" + a + "\"");
    }
  }
  return relay(program, request);
}

int restore(const std::string& program, int family, const std::vector<std::string>& args) {
  Json request = {{"command", "iptables-restore"}, {"family", family}};
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-n" || a == "--noflush") {
      request["noflush"] = true;
    } else if (a == "-t" || a == "--test") {
      request["test"] = true;
    } else if (a == "-c" || a == "--counters" || a == "-v" || a == "--verbose") {
      // counters are verdictd's own; verbose output has nothing to add
    } else if (a == "-w" || a == "--wait" || a == "-W" || a == "--wait-interval") {
      if (i + 1 < args.size() && !args[i + 1].empty() && args[i + 1][0] != '-') ++i;
    } else if ((a == "-M" || a == "--modprobe") && i + 1 < args.size()) {
      ++i;
    } else if (!a.starts_with('-') && file.empty()) {
      file = a;
    } else {
      return usage(program, "unknown option \"" + a + "\"");
    }
  }
  std::ostringstream text;
  if (file.empty()) {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "Can't open " << file << ": No such file or directory\n";
      return 1;
    }
    text << in.rdbuf();
  }
  request["text"] = text.str();
  request["file"] = file.empty() ? "<stdin>" : file;
  return relay(program, request);
}

int run(int argc, char** argv) {
  std::string_view called = argv[0];
  if (const auto slash = called.rfind('/'); slash != std::string_view::npos) {
    called.remove_prefix(slash + 1);
  }
  const int family = called.starts_with("ip6tables") ? 6 : 4;
  const std::string program = family == 6 ? "ip6tables" : "iptables";
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (called.ends_with("-save")) return save(program + "-save", family, args);
  if (called.ends_with("-restore")) return restore(program + "-restore", family, args);
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << program
                << " v1.8.9 (verdictd): iptables' commands, carried out by the running verdictd\n"
                   "  -t TABLE  -A -I -D -R -C -N -X -E -F -Z -P -L -S  -v -n -x "
                   "--line-numbers  -w -W (accepted)\n"
                   "See verdictctl(8), section IPTABLES COMMANDS.\n";
      return 0;
    }
  }
  return relay(program, {{"command", "iptables"}, {"family", family}, {"arguments", args}});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "iptables-verdictd: " << e.what() << "\n";
    return kResourceProblem;
  }
}
