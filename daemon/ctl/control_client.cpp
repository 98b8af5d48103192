#include "ctl/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// A reload runs iptables-restore; anything slower means the daemon is stuck.
constexpr timeval kAnswerTimeout{30, 0};

std::string unreachable_hint(int error) {
  if (error == ENOENT || error == ECONNREFUSED) return " (is verdictd running?)";
  if (error == EACCES || error == EPERM) return " (only root may control verdictd)";
  return "";
}

int connect_to(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error("socket path is too long: " + path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("cannot reach verdictd at " + path + ": " + std::strerror(error) +
                             unreachable_hint(error));
  }
  return fd;
}

class Connection {
 public:
  explicit Connection(const std::string& path) : fd_(connect_to(path)) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &kAnswerTimeout, sizeof kAnswerTimeout);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;

  // A daemon that refuses us may close before reading all; its answer still counts.
  void send(const std::string& text) const {
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  [[nodiscard]] std::string receive_all() const {
    std::string text;
    std::array<char, 65536> buffer{};
    while (true) {
      const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        throw std::runtime_error("verdictd did not answer within " +
                                 std::to_string(kAnswerTimeout.tv_sec) + " s");
      }
      if (n <= 0) break;
      text.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return text;
  }

 private:
  int fd_;
};

}  // namespace

Json control_request(const std::string& socket_path, const Json& request) {
  const Connection connection(socket_path);
  connection.send(request.dump() + "\n");
  const std::string response = connection.receive_all();
  if (response.empty()) {
    throw std::runtime_error("verdictd closed the connection without an answer");
  }
  try {
    return Json::parse(response);
  } catch (const Json::parse_error&) {
    throw std::runtime_error("verdictd's answer is not JSON: " + response.substr(0, 200));
  }
}

int run_control_command(const std::string& socket_path, const Json& request) {
  try {
    const Json response = control_request(socket_path, request);
    if (!response.value("ok", false)) {
      std::cerr << "verdictctl: " << response.value("error", "the request failed") << "\n";
      return 1;
    }
    std::cout << response.value("text", "");
    // A summary beside the output, as conntrack -L prints its count.
    std::cerr << response.value("note", "");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "verdictctl: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace verdictd
