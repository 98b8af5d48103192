#include "service/control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace verdictd {

namespace {

constexpr std::size_t kMaxRequest = 64 * 1024;

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

ControlServer::ControlServer(std::string path, ControlHandler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error("control socket path is too long: " + path_);
  }
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw system_error("control socket");
  ::unlink(path_.c_str());
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(listener_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::umask(old_mask);
  if (bound < 0) throw system_error("cannot bind the control socket " + path_);
  if (::listen(listener_, 16) < 0) throw system_error("cannot listen on " + path_);
  thread_ = std::thread([this] { run(); });
}

void ControlServer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) {
    ::close(listener_);
    ::unlink(path_.c_str());
    listener_ = -1;
  }
}

void ControlServer::run() {
  while (!stopping_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    serve(connection);
    ::close(connection);
  }
}

void ControlServer::serve(int connection) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &length) < 0 || peer.uid != 0) {
    write_all(connection, nlohmann::ordered_json{{"ok", false},
                                                 {"error", "only root may control verdictd"}}
                                  .dump() +
                              "\n");
    return;
  }
  // A client that never finishes its line must not hold the socket forever.
  timeval timeout{2, 0};
  ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buffer[4096];
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequest) {
    const ssize_t n = ::read(connection, buffer, sizeof buffer);
    if (n <= 0) break;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  nlohmann::ordered_json response;
  try {
    response = handler_(nlohmann::ordered_json::parse(request.substr(0, request.find('\n'))));
  } catch (const std::exception& e) {
    response = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
  }
  write_all(connection, response.dump() + "\n");
}

}  // namespace verdictd
