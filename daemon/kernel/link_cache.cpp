#include "kernel/link_cache.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "kernel/wakeup.hpp"

namespace verdictd {

namespace {

// A dump part is at most 32 KiB; one link's notification can be larger on
// NICs with many virtual functions.
constexpr std::size_t kReceiveSize = std::size_t{64} << 10;
constexpr int kReceiveBuffer = 1 << 20;  // room for bursts of link events

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// mnl_attr_parse callback: copies IFLA_IFNAME into the InterfaceName at `data`.
int copy_name(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) != IFLA_IFNAME) return MNL_CB_OK;
  if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) < 0) return MNL_CB_ERROR;
  auto& name = *static_cast<InterfaceName*>(data);
  const char* text = mnl_attr_get_str(attribute);
  std::memcpy(name.data(), text, strnlen(text, name.size() - 1));
  return MNL_CB_STOP;
}

}  // namespace

struct LinkCache::Socket {
  mnl_socket* netlink = nullptr;
  int fd = -1;
  Wakeup stop;  // ends the thread's wait
  std::uint32_t port_id = 0;
  std::uint32_t dump_sequence = 0;
  bool dumping = false;
  // The first part of the dump has arrived: events read from now on are newer
  // than what it reports (the ones before may predate a lost event).
  bool dump_seen = false;
  bool dump_interrupted = false;  // the links changed while the dump ran (NLM_F_DUMP_INTR)
  bool dump_again = false;        // events were lost while a dump ran
  NameMap dumped;                 // what the running dump has seen so far
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(kReceiveSize);

  Socket() {
    netlink = mnl_socket_open(NETLINK_ROUTE);
    if (netlink == nullptr) throw_errno("opening an rtnetlink socket");
    fd = mnl_socket_get_fd(netlink);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
    // Subscribe before dumping so that no change between the two is missed.
    if (mnl_socket_bind(netlink, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
      const int error = errno;
      mnl_socket_close(netlink);
      throw std::system_error(error, std::generic_category(), "subscribing to link changes");
    }
    port_id = mnl_socket_get_portid(netlink);
  }
  ~Socket() { mnl_socket_close(netlink); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&&) = delete;
  Socket& operator=(Socket&&) = delete;
};

LinkCache::LinkCache() = default;

LinkCache::~LinkCache() { stop(); }

void LinkCache::start() {
  socket_ = std::make_unique<Socket>();
  request_dump();
  while (socket_->dumping) receive(true);
  stopping_.store(false);
  thread_ = std::thread(&LinkCache::run, this);
}

void LinkCache::stop() {
  if (thread_.joinable()) {
    stopping_.store(true);
    socket_->stop.signal();
    thread_.join();
  }
  socket_.reset();
}

bool LinkCache::name_of(std::uint32_t ifindex, InterfaceName& out) const {
  {
    const std::shared_lock lock(mutex_);
    const auto found = names_.find(ifindex);
    if (found != names_.end()) {
      out = found->second;
      return true;
    }
  }
  // A link created an instant ago can carry a packet before its event is
  // read; the kernel knows the name already.
  out.fill('\0');
  if (ifindex != 0 && if_indextoname(ifindex, out.data()) != nullptr) return true;
  out.fill('\0');
  return false;
}

void LinkCache::run() {
  try {
    while (!stopping_.load()) {
      std::array<pollfd, 2> ready{{{socket_->fd, POLLIN, 0}, {socket_->stop.fd(), POLLIN, 0}}};
      if (poll(ready.data(), ready.size(), -1) < 0 && errno != EINTR) {
        throw_errno("poll on rtnetlink");
      }
      if (ready[0].revents != 0) receive(false);  // messages, or an overrun (POLLERR)
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "verdictd: interface names are no longer followed: %s\n", e.what());
  }
}

void LinkCache::request_dump() {
  Socket& s = *socket_;
  std::array<char, 64> request{};
  nlmsghdr* message = mnl_nlmsg_put_header(request.data());
  message->nlmsg_type = RTM_GETLINK;
  message->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message->nlmsg_seq = ++s.dump_sequence;
  auto* link = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(message, sizeof(ifinfomsg)));
  link->ifi_family = AF_UNSPEC;
  if (mnl_socket_sendto(s.netlink, message, message->nlmsg_len) < 0) {
    throw_errno("asking rtnetlink for the links");
  }
  s.dumping = true;
  s.dump_seen = false;
  s.dump_interrupted = false;
  s.dump_again = false;
  s.dumped.clear();
}

void LinkCache::receive(bool wait) {
  Socket& s = *socket_;
  const ssize_t got =
      recv(s.fd, s.buffer.data(), s.buffer.size(), MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT));
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (errno != ENOBUFS) throw_errno("reading rtnetlink");
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
}

void LinkCache::apply(std::span<const std::uint8_t> datagram) {
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
      throw std::system_error(-error->error, std::generic_category(), "dumping the links");
    }
    if (from_dump && message->nlmsg_type == NLMSG_DONE) {
      s.dumping = false;
      if (s.dump_interrupted || s.dump_again) {
        request_dump();
      } else {
        const std::unique_lock lock(mutex_);
        names_.swap(s.dumped);
      }
      continue;
    }
    if (message->nlmsg_type != RTM_NEWLINK && message->nlmsg_type != RTM_DELLINK) continue;
    if (message->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) continue;
    const auto index = static_cast<std::uint32_t>(
        static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(message))->ifi_index);
    if (message->nlmsg_type == RTM_DELLINK) {
      const std::unique_lock lock(mutex_);
      names_.erase(index);
      s.dumped.erase(index);
      continue;
    }
    InterfaceName name{};
    mnl_attr_parse(message, sizeof(ifinfomsg), copy_name, &name);
    if (name[0] == '\0') continue;
    // A rename is a NEWLINK carrying the new name.
    const std::unique_lock lock(mutex_);
    names_[index] = name;
    if (s.dumping && s.dump_seen) s.dumped[index] = name;
  }
}

}  // namespace verdictd
