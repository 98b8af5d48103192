// `verdictctl simulate`: a packet described on the command line, run offline
// through a ruleset file (pipeline/simulation.hpp); prints each hook's trace
// and the verdict, and exits 0 for ACCEPT, 1 for DROP, 2 for a usage or
// ruleset error, so that a script can test a ruleset before it is deployed.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <optional>
#include <string>

namespace verdictd {

struct SimulateFlags {
  std::string ruleset;
  std::string hooks;  // "INPUT" or "PREROUTING,FORWARD,POSTROUTING"
  std::string in_interface;
  std::string out_interface;
  bool ipv4 = false;
  bool ipv6 = false;
  std::string protocol;
  std::optional<std::string> source;
  std::optional<std::string> destination;
  unsigned source_port = 0;
  unsigned destination_port = 0;
  std::optional<std::string> tcp_flags;
  std::optional<std::string> icmp_type;
  std::optional<std::string> ctstate;
  std::string mark = "0";
  unsigned length = 0;
  unsigned ttl = 64;
  std::optional<std::string> in_address;
  std::optional<std::string> out_address;
  bool connection = false;
  bool json = false;
};

CLI::App* add_simulate(CLI::App& app, SimulateFlags& flags);

// Exit status: 0 ACCEPT, 1 DROP, 2 a usage or ruleset error.
int run_simulate(const SimulateFlags& flags, std::size_t max_bytes);

}  // namespace verdictd
