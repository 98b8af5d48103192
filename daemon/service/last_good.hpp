// The last ruleset that loaded, kept on disk so that a ruleset missing or bad
// at start does not leave the host unfiltered: verdictd enforces this copy
// instead (README, "Never open by accident").
//
// The file is a small JSON envelope around the ruleset's bytes, unchanged,
// with the file they came from and when they loaded. Loaded from it, a
// ruleset's errors still name the lines and columns of the original.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace verdictd {

struct LastGoodCopy {
  std::string source;  // the ruleset file it was loaded from
  std::string saved;   // when it loaded, "2026-12-05 14:10:00 UTC"
  std::string text;    // the file's bytes
};

std::string last_good_envelope(const LastGoodCopy& copy);
// Throws std::runtime_error when `bytes` is not an envelope last_good_envelope wrote.
LastGoodCopy parse_last_good_envelope(const std::string& bytes);

// "2026-12-05 14:10:00 UTC"
std::string utc_time_text(std::chrono::system_clock::time_point when);

// Replaces `path` with `bytes` so that a crash at any point leaves either the
// old file or the new one whole: a temporary file beside it, fsync, rename,
// fsync of the directory. Creates the directory (0700) if missing. Throws
// std::system_error naming the step that failed.
void write_file_atomically(const std::string& path, const std::string& bytes);

// nullopt when there is no such file; throws std::runtime_error when it
// cannot be read or is no envelope.
std::optional<LastGoodCopy> read_last_good(const std::string& path);

// How the copy in `path` is named in errors and in the status:
// "/var/lib/verdictd/last-good.json (copy of /etc/verdictd/ruleset.json)".
std::string last_good_name(const std::string& path, const LastGoodCopy& copy);

}  // namespace verdictd
