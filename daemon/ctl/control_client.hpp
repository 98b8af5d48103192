// verdictctl's side of the control socket: one request line, one response line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verdictd {

// Sends `request` and returns the daemon's response. Throws
// std::runtime_error with one clear line when the daemon cannot be reached or
// does not answer.
nlohmann::ordered_json control_request(const std::string& socket_path,
                                       const nlohmann::ordered_json& request);

// Runs `request` and prints its text (and its note, if any, on stderr); prints the error and
// returns 1 when the daemon refused it or could not be reached.
int run_control_command(const std::string& socket_path, const nlohmann::ordered_json& request);

}  // namespace verdictd
