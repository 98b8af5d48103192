#include "service/journal_logger.hpp"

#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <iostream>

#include "packet/protocol_names.hpp"

namespace verdictd {

namespace {

// Where sd_journal_sendv sends (libsystemd's journal-send.c).
constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// As the line's MARK=: "0x" and lower-case hex.
std::string hex_mark(std::uint32_t mark) {
  std::array<char, 11> text{};
  std::snprintf(text.data(), text.size(), "0x%x", mark);
  return text.data();
}

}  // namespace

std::vector<std::string> journal_fields(const LogRecord& record) {
  std::vector<std::string> fields = {
      "MESSAGE=" + record.message,
      "PRIORITY=" + std::to_string(record.priority),
      "SYSLOG_IDENTIFIER=verdictd",
      "VERDICTD_TABLE=" + std::string(table_name(record.table)),
      "VERDICTD_CHAIN=" + record.chain,
      "VERDICTD_RULE=" + std::to_string(record.rule),
      "VERDICTD_HOOK=" + std::string(hook_name(record.hook)),
      // LOG lets the packet go on to the next rule.
      "VERDICTD_VERDICT_SO_FAR=continue",
      "VERDICTD_MARK=" + hex_mark(record.mark),
  };
  if (!record.accepted_at.empty()) {
    std::string hooks;
    for (const Hook hook : record.accepted_at) {
      if (!hooks.empty()) hooks += ' ';
      hooks += hook_name(hook);
    }
    fields.push_back("VERDICTD_ACCEPTED_AT=" + hooks);
  }
  if (!record.comment.empty()) fields.push_back("VERDICTD_COMMENT=" + record.comment);
  if (record.has_network) {
    fields.push_back("VERDICTD_SRC=" + record.source.to_string());
    fields.push_back("VERDICTD_DST=" + record.destination.to_string());
    fields.push_back("VERDICTD_PROTO=" + protocol_name(record.protocol));
  }
  if (record.has_ports) {
    fields.push_back("VERDICTD_SPT=" + std::to_string(record.source_port));
    fields.push_back("VERDICTD_DPT=" + std::to_string(record.destination_port));
  }
  return fields;
}

JournalLogger::JournalLogger(std::size_t capacity)
    : capacity_(capacity), thread_([this](const std::stop_token& stop) { run(stop); }) {}

JournalLogger::~JournalLogger() {
  thread_.request_stop();
  thread_.join();
}

void JournalLogger::submit(LogRecord record) {
  {
    const std::lock_guard lock(mutex_);
    if (queue_.size() >= capacity_) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(record));
  }
  wake_.notify_one();
}

LoggerStats JournalLogger::stats() const {
  return {.written = written_.load(std::memory_order_relaxed),
          .to_stderr = to_stderr_.load(std::memory_order_relaxed),
          .lost = lost_.load(std::memory_order_relaxed)};
}

void JournalLogger::run(const std::stop_token& stop) {
  std::vector<LogRecord> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [this] { return !queue_.empty(); });
      // On stop, what is queued is still written.
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    for (const LogRecord& record : batch) write(record);
    batch.clear();
  }
}

void JournalLogger::write(const LogRecord& record) {
  const std::vector<std::string> fields = journal_fields(record);
  std::vector<iovec> parts;
  parts.reserve(fields.size());
  for (const std::string& field : fields) {
    // sd_journal_sendv does not write through the pointers it is given.
    parts.push_back({.iov_base = const_cast<char*>(field.data()), .iov_len = field.size()});
  }
  // sd_journal_sendv drops a line without a word when the journal's socket
  // does not exist (ENOENT): no journal then, and the line goes to stderr.
  if (access(kJournalSocket, W_OK) == 0 &&
      sd_journal_sendv(parts.data(), static_cast<int>(parts.size())) >= 0) {
    written_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::cerr << record.message << '\n' << std::flush;
  to_stderr_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace verdictd
