// verdictctl's side of the control socket: one request, one response.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace verdictd {

// Sends `request` and returns the daemon's response. Throws
// std::runtime_error with one clear line when the daemon cannot be reached.
nlohmann::ordered_json control_request(const std::string& socket_path,
                                       const nlohmann::ordered_json& request);

}  // namespace verdictd
