// The directories verdictd writes into (the control socket's, the runtime
// directory of the NAT binding store, the last good ruleset's).
#pragma once

#include <filesystem>

namespace verdictd {

// Creates `directory` and its missing parents when it does not exist, the
// directory itself owner-only (0700): what it holds is root's alone. An
// existing directory is left as it is (systemd's RuntimeDirectory= and
// StateDirectory= make theirs). Throws std::filesystem::filesystem_error.
void make_private_directory(const std::filesystem::path& directory);

}  // namespace verdictd
