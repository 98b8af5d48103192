#include "kernel/reply_sender.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <optional>
#include <system_error>

namespace verdictd {

namespace {

int raw_socket(int domain) {
  const int fd = ::socket(domain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot open a raw socket for REJECT");
  }
  return fd;
}

std::uint8_t read_hop_limit(const char* path) {
  std::ifstream in(path);
  int value = 0;
  if (in >> value && value > 0 && value < 256) return static_cast<std::uint8_t>(value);
  return HopLimits{}.ipv4;
}

// `address` with port `port` as the sockets take it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

SocketAddress socket_address(const IpAddress& address, std::uint16_t port) {
  SocketAddress out;
  if (address.family == Family::kIPv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::copy_n(address.bytes.begin(), 4, reinterpret_cast<std::uint8_t*>(&in->sin_addr));
    out.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::copy_n(address.bytes.begin(), 16, reinterpret_cast<std::uint8_t*>(&in6->sin6_addr));
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

// The address the kernel would send from to `destination`: a connected UDP
// socket holds the route's choice. Nothing is sent.
std::optional<IpAddress> route_source(const IpAddress& destination) {
  const int domain = destination.family == Family::kIPv4 ? AF_INET : AF_INET6;
  const int fd = ::socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  constexpr std::uint16_t kAnyPort = 9;  // connect() needs one; nothing is sent to it
  const SocketAddress to = socket_address(destination, kAnyPort);
  SocketAddress local;
  local.length = sizeof(local.storage);
  std::optional<IpAddress> source;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to.storage), to.length) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length) == 0) {
    if (destination.family == Family::kIPv4) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&local.storage);
      source = IpAddress::from_v4(reinterpret_cast<const std::uint8_t*>(&in->sin_addr));
    } else {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&local.storage);
      source = IpAddress::from_v6(reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr));
    }
  }
  ::close(fd);
  return source;
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

ReplySender::ReplySender() : ipv4_(raw_socket(AF_INET)) {
  try {
    ipv6_ = raw_socket(AF_INET6);
  } catch (...) {
    ::close(ipv4_);
    throw;
  }
  hop_limits_.ipv4 = read_hop_limit("/proc/sys/net/ipv4/ip_default_ttl");
  hop_limits_.ipv6 = read_hop_limit("/proc/sys/net/ipv6/conf/default/hop_limit");
}

ReplySender::~ReplySender() {
  ::close(ipv4_);
  ::close(ipv6_);
}

void ReplySender::send(std::span<std::uint8_t> reply) const {
  if (reply.empty()) return;
  const IpAddress destination = reply_destination(reply);
  if (is_unspecified(reply_source(reply))) {
    const std::optional<IpAddress> source = route_source(destination);
    if (!source) return;
    set_reply_source(reply, *source);
  }
  const SocketAddress to = socket_address(destination, 0);
  const int fd = destination.family == Family::kIPv4 ? ipv4_ : ipv6_;
  static_cast<void>(::sendto(fd, reply.data(), reply.size(), MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&to.storage), to.length));
}

}  // namespace verdictd
