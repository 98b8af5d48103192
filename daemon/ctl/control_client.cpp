#include "ctl/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace verdictd {

namespace {

using Json = nlohmann::ordered_json;

// verdictd sends a progress line each second while it works on a request
// that asks for them; this long without a line means it is stuck.
constexpr timeval kSilenceLimit{30, 0};
// Progress is shown once a request has taken this long.
constexpr double kShowProgressAfter = 1.0;

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
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &kSilenceLimit, sizeof kSilenceLimit);
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

  // The next line, without its newline; at the end of the stream, what is
  // left ("" when nothing is).
  [[nodiscard]] std::string receive_line() {
    std::array<char, 65536> buffer{};
    while (true) {
      if (const auto newline = unread_.find('\n'); newline != std::string::npos) {
        std::string line = unread_.substr(0, newline);
        unread_.erase(0, newline + 1);
        return line;
      }
      const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        throw std::runtime_error("verdictd sent nothing for " +
                                 std::to_string(kSilenceLimit.tv_sec) + " s");
      }
      if (n <= 0) return std::exchange(unread_, {});
      unread_.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string unread_;  // received after the line last returned
};

// Shows {"progress": ..., "seconds": ...} lines on stderr: on a terminal one
// line rewritten in place, elsewhere a line each.
class ProgressDisplay {
 public:
  ProgressDisplay() : terminal_(::isatty(STDERR_FILENO) == 1) {}
  ~ProgressDisplay() {
    if (terminal_ && shown_) std::cerr << "\n";
  }
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;
  ProgressDisplay(ProgressDisplay&&) = delete;
  ProgressDisplay& operator=(ProgressDisplay&&) = delete;

  void show(const Json& line) {
    const double seconds = line.value("seconds", 0.0);
    if (seconds < kShowProgressAfter) return;
    std::ostringstream text;
    text << "verdictctl: " << line.value("progress", "working") << "\u2026 " << std::fixed
         << std::setprecision(1) << seconds << " s";
    if (terminal_) {
      std::cerr << "\r" << text.str() << "\033[K" << std::flush;
    } else {
      std::cerr << text.str() << std::endl;
    }
    shown_ = true;
  }

 private:
  bool terminal_;
  bool shown_ = false;
};

}  // namespace

Json control_request(const std::string& socket_path, Json request,
                     const std::function<void(const Json&)>& on_line) {
  Connection connection(socket_path);
  request["progress"] = true;
  connection.send(request.dump() + "\n");
  ProgressDisplay progress;
  while (true) {
    const std::string line = connection.receive_line();
    if (line.empty()) throw std::runtime_error("verdictd closed the connection without an answer");
    Json answer;
    try {
      answer = Json::parse(line);
    } catch (const Json::parse_error&) {
      throw std::runtime_error("verdictd's answer is not JSON: " + line.substr(0, 200));
    }
    if (!answer.is_object() || answer.contains("ok")) return answer;
    if (answer.contains("progress")) {
      if (!on_line) progress.show(answer);
    } else if (on_line) {
      on_line(answer);
    }
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
