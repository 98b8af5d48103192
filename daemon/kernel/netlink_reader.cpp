#include "kernel/netlink_reader.hpp"

#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>
#include <vector>

#include "kernel/wakeup.hpp"

namespace verdictd {

namespace {

using std::chrono::milliseconds;

// A dump part is at most 32 KiB; one link's notification can be larger on
// NICs with many virtual functions.
constexpr std::size_t kReceiveSize = std::size_t{64} << 10;
constexpr std::size_t kRequestSize = 64;
// Datagrams read one after another before the owner's tick runs again (an
// event is one datagram; a burst is read without a poll for each).
constexpr int kReadBatch = 256;

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
  std::size_t dump_table = 0;  // which of dump_types the running dump is at
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
    const int size = subscription.receive_buffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // up to rmem_max
    }
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
  dumping_.store(true);
  if (thread_.joinable()) {
    stopping_.store(true);
    socket_->stop.signal();
    thread_.join();
  }
  socket_.reset();
}

void NetlinkReader::run() {
  try {
    std::chrono::milliseconds wait = handlers_.tick ? handlers_.tick(false) : milliseconds(-1);
    while (!stopping_.load()) {
      std::array<pollfd, 3> ready{
          {{socket_->fd, POLLIN, 0}, {socket_->stop.fd(), POLLIN, 0}, {woken_.fd(), POLLIN, 0}}};
      const int timeout = static_cast<int>(std::max<long>(wait.count(), -1));
      if (poll(ready.data(), ready.size(), timeout) < 0 && errno != EINTR) {
        throw_errno("poll on netlink");
      }
      // Messages, or an overrun (POLLERR): a batch of datagrams per poll.
      if (ready[0].revents != 0) {
        for (int read = 0; read < kReadBatch && receive(false); ++read) {
        }
      }
      const bool woken = ready[2].revents != 0;
      if (woken) woken_.clear();
      if (handlers_.tick) wait = handlers_.tick(woken);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "verdictd: %s: %s\n", subscription_.followed.c_str(), e.what());
    dumping_.store(true);  // never caught up again
    if (handlers_.failed) handlers_.failed();
  }
}

void NetlinkReader::request_dump() {
  Socket& s = *socket_;
  s.dumping = true;
  dumping_.store(true);
  s.dump_seen = false;
  s.dump_interrupted = false;
  s.dump_again = false;
  handlers_.dump_begins();
  request_table(0);
}

void NetlinkReader::request_table(std::size_t table_index) {
  Socket& s = *socket_;
  s.dump_table = table_index;
  std::array<char, kRequestSize> request{};
  nlmsghdr* message = mnl_nlmsg_put_header(request.data());
  message->nlmsg_type = subscription_.dump_types.at(table_index);
  message->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message->nlmsg_seq = ++s.dump_sequence;
  mnl_nlmsg_put_extra_header(message, subscription_.dump_header);
  if (mnl_socket_sendto(s.netlink, message, message->nlmsg_len) < 0) {
    throw_errno("asking for " + subscription_.table);
  }
}

void NetlinkReader::dump_again() {
  if (!socket_->dumping) request_dump();
}

bool NetlinkReader::caught_up() const {
  const std::uint64_t before = reading_.load();
  if (before % 2 != 0 || dumping_.load()) return false;
  // Anything ready, an error (ENOBUFS) or a failed poll: not known applied.
  pollfd events{socket_->fd, POLLIN, 0};
  if (poll(&events, 1, 0) != 0) return false;
  // Nothing was taken from the socket meanwhile, still to be applied.
  return reading_.load() == before;
}

bool NetlinkReader::receive(bool wait) {
  Socket& s = *socket_;
  ++reading_;
  const ssize_t got =
      recv(s.fd, s.buffer.data(), s.buffer.size(), MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT));
  const int error = errno;
  if (got < 0 && error != ENOBUFS) {
    ++reading_;
    if (error == EAGAIN || error == EINTR) return false;
    errno = error;
    throw_errno("reading " + subscription_.changes);
  }
  if (got < 0 || static_cast<std::size_t>(got) > s.buffer.size()) {
    // Events were lost (overrun, or one too large to read): only a new dump
    // tells what changed.
    if (handlers_.events_lost) handlers_.events_lost();
    if (s.dumping) {
      s.dump_again = true;
    } else {
      request_dump();
    }
    ++reading_;
    return true;
  }
  apply({s.buffer.data(), static_cast<std::size_t>(got)});
  ++reading_;
  if (handlers_.applied) handlers_.applied();
  return true;
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
      if (s.dump_interrupted || s.dump_again) {
        request_dump();
      } else if (s.dump_table + 1 < subscription_.dump_types.size()) {
        request_table(s.dump_table + 1);
      } else {
        s.dumping = false;
        handlers_.dump_complete();
        dumping_.store(false);
      }
      continue;
    }
    handlers_.message(*message, from_dump, !from_dump && s.dumping && s.dump_seen);
  }
}

}  // namespace verdictd
