// The control socket: a unix stream socket that only root may use. Each
// connection carries one JSON request line, {"command": "status"|"list"|
// "reload"|"zero", ...}, and gets one JSON response line, {"ok": true,
// "text": "..."} or {"ok": false, "error": "..."}.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "queue/wakeup.hpp"

namespace verdictd {

using ControlHandler = std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>;

class ControlServer {
 public:
  ControlServer(std::string path, ControlHandler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ControlServer(ControlServer&&) = delete;
  ControlServer& operator=(ControlServer&&) = delete;

  // Creates the socket (a missing directory 0700, the socket 0600) and serves
  // requests one at a time on a thread. Throws std::runtime_error, also when
  // another process already serves the path.
  void start();
  // Stops serving and removes the socket.
  void stop();

 private:
  void run();
  void serve(int connection);

  std::string path_;
  ControlHandler handler_;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  Wakeup wake_;  // ends the thread's wait for a connection when stopping
};

}  // namespace verdictd
