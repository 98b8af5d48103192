#include "service/control_server.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxRequest = std::size_t{64} * 1024;
// A client that never finishes its line must not hold the socket for long.
constexpr timeval kRequestTimeout{2, 0};

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

void send_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away; nothing to tell it
    done += static_cast<std::size_t>(n);
  }
}

std::string read_line(int fd) {
  std::string request;
  std::array<char, 4096> buffer{};
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequest) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return request.substr(0, request.find('\n'));
}

}  // namespace

ControlServer::ControlServer(std::string path, ControlHandler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  const sockaddr_un address = socket_address(path_);
  const std::filesystem::path directory = std::filesystem::path(path_).parent_path();
  if (!directory.empty() && !std::filesystem::exists(directory)) {
    std::filesystem::create_directories(directory);
    std::filesystem::permissions(directory, std::filesystem::perms::owner_all);
  }
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
  if (listener_ >= 0) {
    ::close(listener_);
    ::unlink(path_.c_str());
    listener_ = -1;
  }
}

void ControlServer::run() {
  while (!stopping_) {
    std::array<pollfd, 2> ready{{{listener_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}}};
    if (::poll(ready.data(), ready.size(), -1) <= 0 || ready[0].revents == 0) continue;
    const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    serve(connection);
    ::close(connection);
  }
}

void ControlServer::serve(int connection) {
  ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &kRequestTimeout, sizeof kRequestTimeout);
  // Read the request even from a client that will be refused: closing with
  // its line unread would reset the connection before it reads the refusal.
  const std::string request = read_line(connection);
  ucred peer{};
  socklen_t length = sizeof peer;
  Json response;
  if (::getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 || peer.uid != 0) {
    response = {{"ok", false}, {"error", "permission denied: only root may control verdictd"}};
  } else {
    try {
      response = handler_(Json::parse(request));
    } catch (const std::exception& e) {
      response = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
    }
  }
  send_all(connection, response.dump() + "\n");
}

}  // namespace verdictd
