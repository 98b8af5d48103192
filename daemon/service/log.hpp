// Lines of the log that need a priority: verdictd logs to stderr, which
// systemd hands to the journal. There a "<3>" in front of a line makes it
// priority err (syslog's LOG_ERR, sd-daemon.h's SD_ERR), shown by `journalctl -p err` and in
// red; elsewhere (a terminal, a file) the prefix is left out. Bytes that are
// not UTF-8 are written \xNN: journalctl shows such a line as "[blob data]",
// and a failed reload's error may quote any byte of the file.
#pragma once

#include <string>

namespace verdictd {

// "verdictd: LINE" at the default priority (info).
void log_info(const std::string& line);
// "verdictd: LINE" at priority err.
void log_error(const std::string& line);
// "verdictd: LINE" at priority warning.
void log_warning(const std::string& line);

// The prefix for `priority` when stderr is the journal stream systemd names
// in $JOURNAL_STREAM ("DEVICE:INODE"), else "".
std::string journal_prefix(int priority);

}  // namespace verdictd
