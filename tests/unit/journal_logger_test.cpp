// The LOG target's journal entries: their fields, and the bounded queue that
// loses and counts rather than waits.
#include "service/journal_logger.hpp"

#include <gtest/gtest.h>

namespace verdictd {
namespace {

LogRecord record() {
  return {.message = "ssh: IN=eth0 OUT= ",
          .priority = 6,
          .table = TableId::kFilter,
          .chain = "INPUT",
          .rule = 3,
          .comment = "ssh in",
          .hook = Hook::kInput,
          .accepted_at = hooks_before(Hook::kInput, 2),
          .mark = 42,
          .has_network = true,
          .source = *IpAddress::parse("10.0.0.5"),
          .destination = *IpAddress::parse("10.0.0.1"),
          .protocol = 6,
          .has_ports = true,
          .source_port = 40000,
          .destination_port = 22};
}

TEST(JournalLogger, Fields) {
  EXPECT_EQ(
      journal_fields(record()),
      (std::vector<std::string>{
          "MESSAGE=ssh: IN=eth0 OUT= ", "PRIORITY=6", "SYSLOG_IDENTIFIER=verdictd",
          "VERDICTD_TABLE=filter", "VERDICTD_CHAIN=INPUT", "VERDICTD_RULE=3", "VERDICTD_HOOK=INPUT",
          "VERDICTD_VERDICT_SO_FAR=continue", "VERDICTD_MARK=0x2a",
          "VERDICTD_ACCEPTED_AT=PREROUTING", "VERDICTD_COMMENT=ssh in", "VERDICTD_SRC=10.0.0.5",
          "VERDICTD_DST=10.0.0.1", "VERDICTD_PROTO=tcp", "VERDICTD_SPT=40000", "VERDICTD_DPT=22"}));
  // No comment, no earlier hook, no ports, no network header: those fields
  // are left out.
  LogRecord bare = record();
  bare.comment.clear();
  bare.accepted_at = {};
  bare.has_network = false;
  bare.has_ports = false;
  EXPECT_EQ(journal_fields(bare).size(), 9U);
}

TEST(JournalLogger, AFullQueueLosesAndCounts) {
  JournalLogger logger(0);
  logger.submit(record());
  logger.submit(record());
  EXPECT_EQ(logger.stats().lost, 2U);
  EXPECT_EQ(logger.stats().written + logger.stats().to_stderr, 0U);
}

}  // namespace
}  // namespace verdictd
