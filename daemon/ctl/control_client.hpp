// verdictctl's side of the control socket: one request line, then progress
// lines while verdictd works on it (shown on stderr once it takes over a
// second), then one response line (service/control_server.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <string>

namespace verdictd {

// Sends `request`, asking for progress lines, and returns the daemon's
// response, waiting as long as progress lines keep coming. Throws
// std::runtime_error with one clear line when the daemon cannot be reached or
// does not answer.
// A request that streams (trace) hands each of its lines before the
// response to `on_line`; progress lines are then not shown.
nlohmann::ordered_json control_request(
    const std::string& socket_path, nlohmann::ordered_json request,
    const std::function<void(const nlohmann::ordered_json&)>& on_line = {});

// Runs `request` and prints its text (and its note, if any, on stderr); prints the error and
// returns 1 when the daemon refused it or could not be reached.
int run_control_command(const std::string& socket_path, const nlohmann::ordered_json& request);

}  // namespace verdictd
