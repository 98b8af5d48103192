// -j LOG: its options, its listing and iptables-save text as libxt_LOG
// prints them, and what it hands the logger from the chain walk.
#include <gtest/gtest.h>

#include <vector>

#include "extension/log_sink.hpp"
#include "extension_builders.hpp"
#include "packets.hpp"
#include "pipeline/hook_pipeline.hpp"
#include "ruleset_with_state.hpp"

namespace verdictd {
namespace {

using test::build;
using test::build_error;

std::string list_and_save(const std::string& target_text) {
  const auto target = build(target_text);
  return target->list_extra() + " | " + target->save();
}

TEST(LogTarget, ListAndSaveAsIptables) {
  EXPECT_EQ(list_and_save(R"("LOG")"), "LOG flags 0 level 4 | -j LOG");
  EXPECT_EQ(list_and_save(R"({"LOG": {"log_prefix": "ssh: ", "log_level": "info"}})"),
            R"(LOG flags 0 level 6 prefix "ssh: " | -j LOG --log-prefix "ssh: " --log-level 6)");
  EXPECT_EQ(list_and_save(R"({"LOG": {"log_prefix": "ssh", "log_level": 4}})"),
            R"(LOG flags 0 level 4 prefix "ssh" | -j LOG --log-prefix ssh)");
  EXPECT_EQ(list_and_save(R"({"LOG": {"log_level": "7", "log_tcp_sequence": true,
      "log_tcp_options": true, "log_ip_options": true, "log_uid": true,
      "log_macdecode": true}})"),
            "LOG flags 47 level 7 | -j LOG --log-level 7 --log-tcp-sequence --log-tcp-options "
            "--log-ip-options --log-uid --log-macdecode");
  EXPECT_EQ(build(R"({"LOG": {"log_prefix": "it's \"x\""}})")->save(),
            R"(-j LOG --log-prefix "it\'s \"x\"")");
}

TEST(LogTarget, LevelNamesAsLibxtables) {
  const std::vector<std::pair<std::string, int>> levels = {
      {"emerg", 0},   {"panic", 0},  {"alert", 1}, {"crit", 2}, {"error", 3},
      {"warning", 4}, {"notice", 5}, {"info", 6},  {"debug", 7}};
  for (const auto& [name, level] : levels) {
    EXPECT_EQ(build(R"({"LOG": {"log_level": ")" + name + R"("}})")->list_extra(),
              "LOG flags 0 level " + std::to_string(level))
        << name;
  }
}

TEST(LogTarget, Errors) {
  EXPECT_EQ(build_error(R"({"LOG": {"log_level": 8}})"),
            R"(/log_level: expected a syslog level 0-7 or one of "emerg", "alert", "crit", )"
            R"("error", "warning", "notice", "info", "debug", "panic", got 8)");
  // libxtables 1.8.9 knows no "err" or "warn".
  EXPECT_NE(build_error(R"({"LOG": {"log_level": "warn"}})"), "built");
  EXPECT_NE(build_error(R"({"LOG": {"log_level": "loud"}})"), "built");
  // 29 characters, as the kernel's 30-byte prefix with its NUL.
  EXPECT_EQ(build_error(R"({"LOG": {"log_prefix": ")" + std::string(29, 'x') + R"("}})"), "built");
  EXPECT_EQ(build_error(R"({"LOG": {"log_prefix": ")" + std::string(30, 'x') + R"("}})"),
            "/log_prefix: expected a string of 1 to 29 characters without a newline, got \"" +
                std::string(30, 'x') + "\"");
  EXPECT_NE(build_error(R"({"LOG": {"log_prefix": "a\nb"}})"), "built");
  EXPECT_NE(build_error(R"({"LOG": {"log_prefix": ""}})"), "built");
}

class Recorder final : public LogSink {
 public:
  void submit(LogRecord record) override { records.push_back(std::move(record)); }
  std::vector<LogRecord> records;
};

TEST(LogTarget, HandsTheLineAndTheRuleToTheLoggerAndGoesOn) {
  auto rs = test::with_state(R"({"tables": {"filter": {"INPUT": {"rules": [
      {"match": {"protocol": "udp"}, "jump": "logged"},
      {"target": "DROP"}]},
    "logged": {"rules": [
      {"match": {"protocol": "tcp"}, "target": "ACCEPT"},
      {"comment": "udp seen", "match": {"protocol": "udp"},
       "target": {"LOG": {"log_prefix": "udp: ", "log_level": "notice"}}}]}}}})");
  Recorder recorder;
  HookPacket packet;
  packet.hook = Hook::kInput;
  const auto bytes = test::ipv4_packet(17, "192.168.1.9", "10.0.0.1", 5353, 53);
  packet.packet = PacketView::parse(bytes);
  packet.in_interface = "eth0";
  packet.log_sink = &recorder;
  std::vector<std::uint8_t> rewritten;
  // LOG goes on: back from the chain, the packet meets the DROP.
  EXPECT_EQ(run_hook(PipelineRules(*rs.ruleset, *rs.state), packet, nullptr, rewritten).verdict,
            Verdict::kDrop);
  ASSERT_EQ(recorder.records.size(), 1U);
  const LogRecord& r = recorder.records[0];
  EXPECT_EQ(r.message,
            "udp: IN=eth0 OUT= MAC= SRC=192.168.1.9 DST=10.0.0.1 LEN=28 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=0 PROTO=UDP SPT=5353 DPT=53 LEN=8 ");
  EXPECT_EQ(r.priority, 5);
  EXPECT_EQ(r.table, TableId::kFilter);
  EXPECT_EQ(r.chain, "logged");
  EXPECT_EQ(r.rule, 2U);
  EXPECT_EQ(r.comment, "udp seen");
  EXPECT_EQ(r.hook, Hook::kInput);
  EXPECT_EQ(r.source.to_string(), "192.168.1.9");
  EXPECT_EQ(r.protocol, 17);
  EXPECT_EQ(r.destination_port, 53);
}

}  // namespace
}  // namespace verdictd
