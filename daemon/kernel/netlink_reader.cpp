#include "kernel/netlink_reader.hpp"

#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>
#include <vector>

#include "kernel/wakeup.hpp"

namespace verdictd {

namespace {

// A dump part is at most 32 KiB; one link's notification can be larger on
// NICs with many virtual functions.
constexpr std::size_t kReceiveSize = std::size_t{64} << 10;
constexpr int kReceiveBuffer = 1 << 20;  // room for bursts of events
constexpr std::size_t kRequestSize = 64;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

struct NetlinkReader::Socket {
  mnl_socket* netlink = nullptr;
  int fd = -1;
  Wakeup stop;  // ends the thread's wait
  std::uint32_t port_id = 0;
  std::uint32_t dump_sequence = 0;
  bool dumping = false;
  // The first part of the dump has arrived: events read from now on are newer
  // than what it reports (the ones before may predate a lost event).
  bool dump_seen = false;
  bool dump_interrupted = false;  // the table changed while the dump ran (NLM_F_DUMP_INTR)
  bool dump_again = false;        // events were lost while a dump ran
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(kReceiveSize);

  explicit Socket(const NetlinkSubscription& subscription) {
    netlink = mnl_socket_open(subscription.protocol);
    if (netlink == nullptr) throw_errno("opening a netlink socket");
    fd = mnl_socket_get_fd(netlink);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
    // Subscribe before dumping so that no change between the two is missed.
    if (mnl_socket_bind(netlink, subscription.groups, MNL_SOCKET_AUTOPID) < 0) {
      const int error = errno;
      mnl_socket_close(netlink);
      throw std::system_error(error, std::generic_category(),
                              "subscribing to " + subscription.changes);
    }
    port_id = mnl_socket_get_portid(netlink);
  }
  ~Socket() { mnl_socket_close(netlink); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&&) = delete;
  Socket& operator=(Socket&&) = delete;
};

NetlinkReader::NetlinkReader(NetlinkSubscription subscription, NetlinkHandlers handlers)
    : subscription_(std::move(subscription)), handlers_(std::move(handlers)) {}

NetlinkReader::~NetlinkReader() { stop(); }

void NetlinkReader::start() {
  socket_ = std::make_unique<Socket>(subscription_);
  request_dump();
  while (socket_->dumping) receive(true);
  stopping_.store(false);
  thread_ = std::thread(&NetlinkReader::run, this);
}

void NetlinkReader::stop() {
  if (thread_.joinable()) {
    stopping_.store(true);
    socket_->stop.signal();
    thread_.join();
  }
  socket_.reset();
}

void NetlinkReader::run() {
  try {
    while (!stopping_.load()) {
      std::array<pollfd, 2> ready{{{socket_->fd, POLLIN, 0}, {socket_->stop.fd(), POLLIN, 0}}};
      if (poll(ready.data(), ready.size(), -1) < 0 && errno != EINTR) {
        throw_errno("poll on netlink");
      }
      if (ready[0].revents != 0) receive(false);  // messages, or an overrun (POLLERR)
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "verdictd: %s: %s\n", subscription_.followed.c_str(), e.what());
  }
}

void NetlinkReader::request_dump() {
  Socket& s = *socket_;
  std::array<char, kRequestSize> request{};
  nlmsghdr* message = mnl_nlmsg_put_header(request.data());
  message->nlmsg_type = subscription_.dump_type;
  message->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message->nlmsg_seq = ++s.dump_sequence;
  mnl_nlmsg_put_extra_header(message, subscription_.dump_header);
  if (mnl_socket_sendto(s.netlink, message, message->nlmsg_len) < 0) {
    throw_errno("asking for " + subscription_.table);
  }
  s.dumping = true;
  s.dump_seen = false;
  s.dump_interrupted = false;
  s.dump_again = false;
  handlers_.dump_begins();
}

void NetlinkReader::receive(bool wait) {
  Socket& s = *socket_;
  const ssize_t got =
      recv(s.fd, s.buffer.data(), s.buffer.size(), MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT));
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (errno != ENOBUFS) throw_errno("reading " + subscription_.changes);
  }
  if (got < 0 || static_cast<std::size_t>(got) > s.buffer.size()) {
    // Events were lost (overrun, or one too large to read): only a new dump
    // tells what changed.
    if (s.dumping) {
      s.dump_again = true;
    } else {
      request_dump();
    }
    return;
  }
  apply({s.buffer.data(), static_cast<std::size_t>(got)});
  if (handlers_.applied) handlers_.applied();
}

void NetlinkReader::apply(std::span<const std::uint8_t> datagram) {
  Socket& s = *socket_;
  const auto* message = reinterpret_cast<const nlmsghdr*>(datagram.data());
  int left = static_cast<int>(datagram.size());
  for (; mnl_nlmsg_ok(message, left); message = mnl_nlmsg_next(message, &left)) {
    const bool from_dump =
        s.dumping && message->nlmsg_seq == s.dump_sequence && message->nlmsg_pid == s.port_id;
    if (from_dump) s.dump_seen = true;
    if (from_dump && (message->nlmsg_flags & NLM_F_DUMP_INTR) != 0) s.dump_interrupted = true;
    if (from_dump && message->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
      throw std::system_error(-error->error, std::generic_category(),
                              "dumping " + subscription_.table);
    }
    if (from_dump && message->nlmsg_type == NLMSG_DONE) {
      s.dumping = false;
      if (s.dump_interrupted || s.dump_again) {
        request_dump();
      } else {
        handlers_.dump_complete();
      }
      continue;
    }
    handlers_.message(*message, from_dump, !from_dump && s.dumping && s.dump_seen);
  }
}

}  // namespace verdictd
