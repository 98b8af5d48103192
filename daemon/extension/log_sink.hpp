// Where the LOG target hands its lines: declared here, among the pure
// extensions, and implemented by the service (a logger thread writing to the
// journal), so that evaluating a rule never waits on I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "packet/address.hpp"
#include "packet/hooks.hpp"

namespace verdictd {

// One logged packet: the kernel's words, and fields to search by.
struct LogRecord {
  std::string message{};      // as nf_log_syslog.c writes it (packet/log_line.hpp)
  std::uint8_t priority = 4;  // syslog level 0-7
  TableId table = TableId::kFilter;
  std::string chain{};
  std::uint32_t rule = 0;  // 1-based, as `iptables -L --line-numbers`
  std::string comment{};
  Hook hook = Hook::kInput;
  // The verdict so far: the hooks that accepted the packet before this one
  // (hooks_before(), static storage), and its mark at the rule; the LOG rule
  // itself decides nothing.
  std::span<const Hook> accepted_at{};
  std::uint32_t mark = 0;
  bool has_network = false;  // the addresses and protocol below are set
  IpAddress source{};
  IpAddress destination{};
  std::uint8_t protocol = 0;
  bool has_ports = false;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
};

class LogSink {
 public:
  LogSink() = default;
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;
  LogSink(LogSink&&) = delete;
  LogSink& operator=(LogSink&&) = delete;
  virtual ~LogSink() = default;

  // Takes the record or counts it lost; never blocks.
  virtual void submit(LogRecord record) = 0;
};

}  // namespace verdictd
