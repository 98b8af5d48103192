// How long loading a big or hostile ruleset file takes, and the most memory
// it needs: 100k chains jumping in a line, 1M rules, and JSON nested 100k
// levels deep (refused, with its location). Each load runs in a child
// process of its own, so its peak RSS is its own (wait4's ru_maxrss), and a
// crash or a load slower than the time limit is reported, not fatal. The
// CPU time is printed beside the elapsed time: on a busy machine it is the
// steadier figure.
// Usage: ruleset_load [CASE...] (default: every case).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "ruleset/list.hpp"
#include "ruleset/loader.hpp"

namespace verdictd {
namespace {

constexpr unsigned kTimeLimitSeconds = 300;
constexpr std::size_t kMaxShownError = 160;

std::string chain_name(std::size_t i) { return "c" + std::to_string(i); }

std::string address(std::size_t i) {
  return "10." + std::to_string((i >> 16) & 0xff) + "." + std::to_string((i >> 8) & 0xff) + "." +
         std::to_string(i & 0xff);
}

// A filter rule as people write them: protocol, source address, port.
std::string filter_rule(std::size_t i) {
  return R"({"match": {"protocol": "tcp", "source": ")" + address(i) + R"(", "dport": )" +
         std::to_string(i % 65536) + R"(}, "target": "ACCEPT"})";
}

// `chains` user chains jumping in a line from INPUT, each with
// `rules_per_chain` rules (the last one the jump to the next chain).
std::string chains_in_a_line(std::size_t chains, std::size_t rules_per_chain) {
  std::string text = R"({"tables": {"filter": {"INPUT": {"rules": [{"jump": "c0"}]})";
  std::size_t rule = 0;
  for (std::size_t c = 0; c < chains; ++c) {
    text += ",\n\"" + chain_name(c) + R"(": {"rules": [)";
    for (std::size_t r = 0; r + 1 < rules_per_chain; ++r) text += filter_rule(rule++) + ",\n";
    text += c + 1 < chains ? R"({"jump": ")" + chain_name(c + 1) + "\"}" : filter_rule(rule++);
    text += "]}";
  }
  return text + "}}}\n";
}

std::string rules_in_input(std::size_t rules) {
  std::string text = R"({"tables": {"filter": {"INPUT": {"rules": [)";
  for (std::size_t r = 0; r < rules; ++r) text += (r == 0 ? "\n" : ",\n") + filter_rule(r);
  return text + "]}}}}\n";
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_in_comment(std::size_t depth) {
  return R"({"tables": {"filter": {"INPUT": {"rules": [{"comment": )" + nested_arrays(depth) +
         "}]}}}}\n";
}

struct Case {
  const char* name;
  std::function<std::string()> text;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"chains_20k_line", [] { return chains_in_a_line(20'000, 1); }},
      {"chains_100k_line", [] { return chains_in_a_line(100'000, 1); }},
      {"rules_1m_input", [] { return rules_in_input(1'000'000); }},
      {"chains_100k_rules_1m", [] { return chains_in_a_line(100'000, 10); }},
      {"nesting_10k", [] { return nested_arrays(10'000); }},
      {"nesting_100k", [] { return nested_arrays(100'000); }},
      {"nesting_100k_comment", [] { return nested_in_comment(100'000); }},
  };
  return all;
}

// Runs `body` in a child process; its exit status and resource use.
struct ChildResult {
  int status = 0;
  rusage usage{};
};
ChildResult in_child(const std::function<int()>& body) {
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    alarm(kTimeLimitSeconds);
    std::_Exit(body());
  }
  ChildResult result;
  wait4(pid, &result.status, 0, &result.usage);
  return result;
}

std::string outcome(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return sig == SIGALRM ? "slower than " + std::to_string(kTimeLimitSeconds) + " s"
                          : "died of signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return WEXITSTATUS(status) == 0 ? "loaded" : "refused";
}

void run(const Case& c) {
  const std::string path = "/tmp/verdictd-ruleset-load-" + std::to_string(getpid()) + ".json";
  const ChildResult written = in_child([&] {
    std::ofstream(path) << c.text();
    return 0;
  });
  if (written.status != 0) {
    std::cout << c.name << ": could not write " << path << "\n";
    return;
  }
  std::ifstream sized(path, std::ios::ate);
  const auto bytes = static_cast<long long>(sized.tellg());
  const std::string message_path = path + ".msg";
  const auto started = std::chrono::steady_clock::now();
  const ChildResult loaded = in_child([&] {
    std::string message;
    int status = 0;
    try {
      message =
          std::to_string(rule_count(*load_ruleset_file(path, kMaxRulesetMaxBytes))) + " rules";
    } catch (const std::exception& e) {
      message = e.what();
      status = 1;
    }
    std::ofstream(message_path) << message.substr(0, kMaxShownError);
    return status;
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string message;
  std::getline(std::ifstream(message_path), message);
  std::remove(path.c_str());
  std::remove(message_path.c_str());
  const auto cpu = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  std::printf("%-22s %6.1f MB  %8.3f s (cpu %7.3f s)  peak RSS %7.1f MB  %s%s%s\n", c.name,
              static_cast<double>(bytes) / 1e6, seconds,
              cpu(loaded.usage.ru_utime) + cpu(loaded.usage.ru_stime),
              static_cast<double>(loaded.usage.ru_maxrss) / 1024.0, outcome(loaded.status).c_str(),
              message.empty() ? "" : ": ", message.c_str());
  std::fflush(stdout);
}

}  // namespace
}  // namespace verdictd

int main(int argc, char** argv) {
  const std::vector<std::string> wanted(argv + 1, argv + argc);
  for (const verdictd::Case& c : verdictd::cases()) {
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), c.name) != wanted.end()) {
      verdictd::run(c);
    }
  }
  return 0;
}
