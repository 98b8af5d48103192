#include "service/log.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "text/utf8_escape.hpp"

namespace verdictd {

namespace {

// systemd sets JOURNAL_STREAM only when it connects stdout or stderr to the
// journal; stderr may have been redirected since, so its inode must match.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat status {};
  if (fstat(STDERR_FILENO, &status) != 0) return false;
  return std::to_string(status.st_dev) + ":" + std::to_string(status.st_ino) == stream;
}

void log_at(int priority, const std::string& line) {
  std::cerr << journal_prefix(priority) << "verdictd: " << escape_invalid_utf8(line) << std::endl;
}

}  // namespace

std::string journal_prefix(int priority) {
  static const bool journal = stderr_is_journal();
  return journal ? "<" + std::to_string(priority) + ">" : std::string();
}

// Unprefixed: the journal gives stderr lines priority info by default.
void log_info(const std::string& line) {
  std::cerr << "verdictd: " << escape_invalid_utf8(line) << std::endl;
}
void log_error(const std::string& line) { log_at(LOG_ERR, line); }
void log_warning(const std::string& line) { log_at(LOG_WARNING, line); }

}  // namespace verdictd
