#include "service/control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <future>
#include <stdexcept>
#include <system_error>

#include "service/private_directory.hpp"
#include "text/utf8_escape.hpp"

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_un socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error("control socket path is too long: " + path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// True when a process accepts connections at `address`.
bool someone_listens(const sockaddr_un& address) {
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const bool connected =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  return connected;
}

// A socket left by an earlier run is replaced; anything else at the path is not ours.
void clear_path(const std::string& path, const sockaddr_un& address) {
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) != 0) return;
  if (!S_ISSOCK(existing.st_mode)) {
    throw std::runtime_error(path + " exists and is not a socket; not replacing it");
  }
  if (someone_listens(address)) {
    throw std::runtime_error("another process (a running verdictd?) already serves " + path);
  }
  ::unlink(path.c_str());
}

// A reply the client does not take for this long ends its connection.
constexpr timeval kSendTimeout{5, 0};
constexpr std::chrono::seconds kProgressPeriod{1};

// False when the client went away or stopped reading; there is nothing to tell it.
bool send_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// One line of JSON. The escape makes dump() safe from nlohmann's UTF-8 check.
bool send_line(int fd, Json line) {
  escape_invalid_utf8(line);
  return send_all(fd, line.dump() + "\n");
}

Json error_reply(const std::string& error) { return {{"ok", false}, {"error", error}}; }

enum class RequestEnd { kComplete, kTooLong, kTimedOut, kStopping };

struct Request {
  std::string line;
  RequestEnd end = RequestEnd::kComplete;
};

// Reads up to the first newline, or to the end of the stream, until
// `deadline`; `stop_fd` readable ends the wait.
Request read_request(int fd, int stop_fd, std::chrono::steady_clock::time_point deadline) {
  Request request;
  std::array<char, 4096> buffer{};
  while (true) {
    if (const auto newline = request.line.find('\n'); newline != std::string::npos) {
      if (newline > ControlServer::kMaxRequest) {
        request.end = RequestEnd::kTooLong;
        return request;
      }
      request.line.resize(newline);
      return request;
    }
    if (request.line.size() > ControlServer::kMaxRequest) {
      request.end = RequestEnd::kTooLong;
      return request;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      request.end = RequestEnd::kTimedOut;
      return request;
    }
    std::array<pollfd, 2> ready{{{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}}};
    if (::poll(ready.data(), ready.size(), static_cast<int>(left.count())) <= 0) continue;
    if (ready[1].revents != 0) {
      request.end = RequestEnd::kStopping;
      return request;
    }
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return request;  // the end of the stream ends the request
    request.line.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

// Takes what the client already sent, so that closing does not reset the
// connection before it reads the answer.
void drain(int fd) {
  std::array<char, 4096> buffer{};
  while (::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT) > 0) {
  }
}

bool from_root(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.uid == 0;
}

}  // namespace

void RequestProgress::set(std::string stage) {
  const std::lock_guard lock(mutex_);
  stage_ = std::move(stage);
}

std::string RequestProgress::stage() const {
  const std::lock_guard lock(mutex_);
  return stage_;
}

bool RequestProgress::send(Json line) {
  escape_invalid_utf8(line);
  return send_text(line.dump());
}

bool RequestProgress::send_text(const std::string& json_text) {
  if (connection_ < 0 || gone_) return false;
  const std::lock_guard lock(send_mutex_);
  if (!send_all(connection_, json_text + "\n")) gone_ = true;
  return !gone_;
}

bool RequestProgress::ended() {
  if (gone_ || connection_ < 0 || (stopping_ != nullptr && *stopping_)) return true;
  // The client sends nothing after its request: the end of its stream means it has gone.
  char byte = 0;
  if (::recv(connection_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) gone_ = true;
  return gone_;
}

ControlServer::ControlServer(std::string path, ControlHandler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  const sockaddr_un address = socket_address(path_);
  make_private_directory(std::filesystem::path(path_).parent_path());
  clear_path(path_, address);
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw system_error("control socket");
  // The socket is created 0600 (no thread creates files while this runs).
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::umask(old_mask);
  if (bound < 0) throw system_error("cannot bind the control socket " + path_);
  if (::listen(listener_, 16) < 0) throw system_error("cannot listen on " + path_);
  thread_ = std::thread([this] { run(); });
}

void ControlServer::stop() {
  stopping_ = true;
  wake_.signal();
  if (thread_.joinable()) thread_.join();
  for (Client& client : clients_) client.thread.join();
  clients_.clear();
  if (listener_ >= 0) {
    ::close(listener_);
    ::unlink(path_.c_str());
    listener_ = -1;
  }
}

std::size_t ControlServer::reap_clients() {
  clients_.remove_if([](Client& client) {
    if (!*client.done) return false;
    client.thread.join();
    return true;
  });
  return clients_.size();
}

void ControlServer::run() {
  while (!stopping_) {
    std::array<pollfd, 2> ready{{{listener_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}}};
    if (::poll(ready.data(), ready.size(), -1) <= 0 || ready[0].revents == 0) continue;
    const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    if (reap_clients() >= kMaxClients) {
      // A fresh connection's buffer takes this short line without blocking.
      drain(connection);
      send_line(connection, error_reply("busy: " + std::to_string(kMaxClients) +
                                        " clients are being served; try again"));
      ::close(connection);
      continue;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    try {
      clients_.push_back({std::thread([this, connection, done] {
                            serve(connection);
                            ::close(connection);
                            *done = true;
                          }),
                          done});
    } catch (const std::system_error&) {
      ::close(connection);  // no thread for it: as if the client had gone
    }
  }
}

void ControlServer::serve(int connection) {
  ::setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof kSendTimeout);
  // Nothing a client sends may end the daemon: every failure becomes its reply.
  try {
    // Read the request even from a client that will be refused: closing with
    // its line unread would reset the connection before it reads the refusal.
    const Request request =
        read_request(connection, wake_.fd(), std::chrono::steady_clock::now() + kRequestDeadline);
    switch (request.end) {
      case RequestEnd::kStopping:
        return;
      case RequestEnd::kTooLong:
        drain(connection);
        send_line(connection, error_reply("request too long: more than " +
                                          std::to_string(kMaxRequest) + " bytes"));
        return;
      case RequestEnd::kTimedOut:
        drain(connection);
        send_line(connection, error_reply("request not complete within " +
                                          std::to_string(kRequestDeadline.count()) + " s"));
        return;
      case RequestEnd::kComplete:
        break;
    }
    if (!from_root(connection)) {
      send_line(connection, error_reply("permission denied: only root may control verdictd"));
      return;
    }
    Json response;
    try {
      response = respond(Json::parse(request.line), connection);
    } catch (const std::exception& e) {  // also a handler's failure, as before
      response = error_reply(std::string("bad request: ") + e.what());
    }
    send_line(connection, std::move(response));
  } catch (const std::exception&) {
    // Out of memory even for the reply: the client sees the connection close.
  }
}

Json ControlServer::respond(const Json& request, int connection) {
  RequestProgress progress(request.value("command", ""), connection, &stopping_);
  if (!request.value("progress", false)) return handler_(request, progress);
  const auto started = std::chrono::steady_clock::now();
  auto response = std::async(std::launch::async, [&] { return handler_(request, progress); });
  while (response.wait_for(kProgressPeriod) != std::future_status::ready) {
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
    progress.send(
        {{"progress", progress.stage()}, {"seconds", std::round(seconds.count() * 10) / 10}});
  }
  return response.get();
}

}  // namespace verdictd
