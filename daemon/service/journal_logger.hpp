// The LOG target's lines on their way to the journal: the packet path hands
// each one over (submit) and goes on; a thread of its own writes them with
// sd_journal_sendv. The queue is bounded: when it is full the line is lost
// and counted (`verdictctl status`), never waited for. Without a journal
// (no socket to send to) a line goes to stderr, in the same words.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "extension/log_sink.hpp"

namespace verdictd {

struct LoggerStats {
  std::uint64_t written = 0;    // to the journal
  std::uint64_t to_stderr = 0;  // the journal refused them
  std::uint64_t lost = 0;       // the queue was full
};

// The journal fields of a record: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and
// the VERDICTD_* fields verdictd.8 lists, each "NAME=value".
std::vector<std::string> journal_fields(const LogRecord& record);

class JournalLogger final : public LogSink {
 public:
  explicit JournalLogger(std::size_t capacity);
  JournalLogger(const JournalLogger&) = delete;
  JournalLogger& operator=(const JournalLogger&) = delete;
  JournalLogger(JournalLogger&&) = delete;
  JournalLogger& operator=(JournalLogger&&) = delete;
  // Writes what is queued, then stops the thread.
  ~JournalLogger() override;

  void submit(LogRecord record) override;
  [[nodiscard]] LoggerStats stats() const;

 private:
  void run(const std::stop_token& stop);
  void write(const LogRecord& record);

  std::size_t capacity_;
  std::mutex mutex_;  // held only to add to or take the queue, never across I/O
  std::condition_variable_any wake_;
  std::vector<LogRecord> queue_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> to_stderr_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::jthread thread_;  // last: it stops before the rest goes
};

}  // namespace verdictd
