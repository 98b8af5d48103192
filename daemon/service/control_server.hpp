// The control socket: a unix stream socket that only root may use. Each
// connection carries one JSON request line, {"command": "status"|"list"|
// "reload"|"zero"|"conntrack", ...}, and gets one JSON response line,
// {"ok": true, "text": "..."} or {"ok": false, "error": "..."}. Every reply
// is valid JSON: bytes that are not UTF-8 are written \xNN (text/utf8_escape.hpp).
//
// A request may stream lines of its own before its response (trace:
// {"trace": {...}}, RequestProgress::send).
//
// A request with "progress": true gets, while its handler runs, a line
// {"progress": "what it is doing", "seconds": 2.0} every second before its
// response line, so that a client can wait for as long as a reload takes and
// tell a slow daemon from a stuck one. Other requests get one line, as before.
//
// Up to kMaxClients connections are served at once, each on a thread of its
// own, so a slow request (a reload of a big ruleset) or a client that sends
// nothing holds up no other. One more is answered {"ok": false, "error":
// "busy: ..."} at once and closed. A request must arrive whole, newline or
// end of stream included, within kRequestDeadline of the connection, and be
// at most kMaxRequest bytes; otherwise the client gets an error and is closed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kernel/wakeup.hpp"

namespace verdictd {

// What a request's handler is doing now, for the progress lines its client
// asked for. Written by the handler, read by the thread that sends them.
// A request that streams (trace) also writes its lines through it.
class RequestProgress {
 public:
  explicit RequestProgress(std::string stage = "", int connection = -1,
                           const std::atomic<bool>* stopping = nullptr)
      : stage_(std::move(stage)), connection_(connection), stopping_(stopping) {}
  void set(std::string stage);
  [[nodiscard]] std::string stage() const;

  // One line to the client before the response; false, now and from then
  // on, once the client has gone (or does not read for the send timeout),
  // and when there is no client.
  bool send(nlohmann::ordered_json line);
  // As send(), for a line already written as JSON text (valid UTF-8).
  bool send_text(const std::string& json_text);
  // The client closed its end, or the server is stopping: a streaming
  // handler should return.
  [[nodiscard]] bool ended();

 private:
  // Lock order: daemon/LOCKING.md.
  mutable std::mutex mutex_;
  std::string stage_;
  int connection_;
  const std::atomic<bool>* stopping_;
  std::mutex send_mutex_;  // lines from the handler and the progress sender
  std::atomic<bool> gone_{false};
};

using ControlHandler =
    std::function<nlohmann::ordered_json(const nlohmann::ordered_json&, RequestProgress&)>;

class ControlServer {
 public:
  static constexpr std::size_t kMaxClients = 16;
  // Room for an iptables-restore input of some 50,000 rules.
  static constexpr std::size_t kMaxRequest = std::size_t{8} << 20;
  static constexpr std::chrono::seconds kRequestDeadline{2};

  ControlServer(std::string path, ControlHandler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ControlServer(ControlServer&&) = delete;
  ControlServer& operator=(ControlServer&&) = delete;

  // Creates the socket (a missing directory 0700, the socket 0600) and
  // accepts connections on a thread. Throws std::runtime_error, also when
  // another process already serves the path.
  void start();
  // Stops accepting, ends the connections still sending their request,
  // waits for the requests being handled, and removes the socket.
  void stop();

 private:
  struct Client {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void run();
  // Joins the threads of connections that are over; returns how many remain.
  std::size_t reap_clients();
  void serve(int connection);
  // Runs the handler; sends progress lines meanwhile when the request asks.
  nlohmann::ordered_json respond(const nlohmann::ordered_json& request, int connection);

  std::string path_;
  ControlHandler handler_;
  int listener_ = -1;
  std::thread thread_;
  std::list<Client> clients_;  // only the accepting thread and stop() touch it
  std::atomic<bool> stopping_{false};
  Wakeup wake_;  // readable from stop() on: ends every wait for a connection or a request
};

}  // namespace verdictd
