// Sends 64-byte UDP datagrams to ADDRESS:PORT for SECONDS as fast as one core
// can, then prints how many it sent. The benchmark counts what arrives.
// Usage: udp_flood ADDRESS PORT SECONDS
//
// The sender must be faster than every configuration bench/run.sh measures,
// on one core that also runs the lab's veth receive path. So, for IPv4, it
// writes whole Ethernet frames, batches of kBatch by sendmmsg, on a packet
// socket that bypasses the qdisc (PACKET_QDISC_BYPASS): no UDP, routing,
// neighbour or queueing work per datagram. The frames are those the kernel's
// UDP socket would send: its source address and port (a connected socket,
// kept open to hold the port), the route's interface and next hop
// (/proc/net/route) and the next hop's MAC address (/proc/net/arp). IPv6, or
// a next hop with no neighbour entry yet: the connected UDP socket itself,
// by sendmmsg.
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "packet/byte_order.hpp"
#include "packet/checksum.hpp"

namespace {

constexpr std::size_t kPayload = 64;
constexpr unsigned kBatch = 256;
constexpr std::size_t kIpHeader = 20;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint8_t kTtl = 64;
constexpr unsigned kRouteUp = 0x1;       // RTF_UP
constexpr unsigned kRouteGateway = 0x2;  // RTF_GATEWAY
constexpr unsigned kArpComplete = 0x2;   // ATF_COM

using Frame = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, ETH_ALEN>;

struct NextHop {
  std::string interface;
  in_addr address{};
};

// The interface and next hop of the most specific route to `to`, as
// /proc/net/route lists the main table (addresses in network byte order).
std::optional<NextHop> route_to(in_addr to) {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // the column names
  std::optional<NextHop> best;
  int best_length = -1;
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string interface;
    std::string destination;
    std::string gateway;
    std::string flags;
    std::string ignored;
    std::string mask;
    fields >> interface >> destination >> gateway >> flags >> ignored >> ignored >> ignored >> mask;
    const auto hex = [](const std::string& text) {
      return static_cast<std::uint32_t>(std::strtoul(text.c_str(), nullptr, 16));
    };
    const std::uint32_t mask_bits = hex(mask);
    const unsigned route_flags = hex(flags);
    const int length = std::popcount(mask_bits);
    if ((route_flags & kRouteUp) == 0 || (to.s_addr & mask_bits) != hex(destination) ||
        length <= best_length) {
      continue;
    }
    best_length = length;
    best = NextHop{interface, {}};
    best->address.s_addr = (route_flags & kRouteGateway) != 0 ? hex(gateway) : to.s_addr;
  }
  return best;
}

// The next hop's MAC address from the neighbour table, when it is resolved.
std::optional<Mac> neighbour_mac(const NextHop& hop) {
  std::ifstream arp("/proc/net/arp");
  std::string line;
  std::getline(arp, line);  // the column names
  while (std::getline(arp, line)) {
    std::istringstream fields(line);
    std::string address;
    std::string type;
    std::string flags;
    std::string mac;
    std::string mask;
    std::string interface;
    fields >> address >> type >> flags >> mac >> mask >> interface;
    in_addr parsed{};
    if (interface != hop.interface || inet_pton(AF_INET, address.c_str(), &parsed) != 1 ||
        parsed.s_addr != hop.address.s_addr ||
        (std::strtoul(flags.c_str(), nullptr, 16) & kArpComplete) == 0) {
      continue;
    }
    Mac bytes{};
    if (std::sscanf(mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &bytes[0], &bytes[1], &bytes[2],
                    &bytes[3], &bytes[4], &bytes[5]) == ETH_ALEN) {
      return bytes;
    }
  }
  return std::nullopt;
}

std::optional<Mac> interface_mac(int fd, const std::string& interface) {
  ifreq request{};
  std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &request) < 0) return std::nullopt;
  Mac mac{};
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// The Ethernet frame of one datagram from `from` to `to` (both connected,
// so with ports), checksums filled in, DF set as Linux sets it.
Frame udp_frame(const Mac& source_mac, const Mac& destination_mac, const sockaddr_in& from,
                const sockaddr_in& to) {
  using verdictd::write16;
  Frame frame(ETH_HLEN + kIpHeader + kUdpHeader + kPayload, 0);
  std::memcpy(&frame[0], destination_mac.data(), ETH_ALEN);
  std::memcpy(&frame[ETH_ALEN], source_mac.data(), ETH_ALEN);
  write16(frame, std::size_t{2} * ETH_ALEN, ETH_P_IP);  // after the two addresses
  const std::span<std::uint8_t> ip = std::span(frame).subspan(ETH_HLEN);
  ip[0] = 0x45;
  write16(ip, 2, static_cast<std::uint16_t>(ip.size()));
  write16(ip, 6, IP_DF);
  ip[8] = kTtl;
  ip[9] = IPPROTO_UDP;
  std::memcpy(&ip[12], &from.sin_addr, 4);
  std::memcpy(&ip[16], &to.sin_addr, 4);
  write16(ip, 10, static_cast<std::uint16_t>(~verdictd::checksum::ones_sum(ip.first(kIpHeader))));
  const std::span<std::uint8_t> udp = ip.subspan(kIpHeader);
  std::memcpy(&udp[0], &from.sin_port, 2);
  std::memcpy(&udp[2], &to.sin_port, 2);
  write16(udp, 4, static_cast<std::uint16_t>(udp.size()));
  const auto source = verdictd::IpAddress::from_v4(&ip[12]);
  const auto destination = verdictd::IpAddress::from_v4(&ip[16]);
  const std::uint16_t sum = verdictd::checksum::ones_sum(
      udp, verdictd::checksum::pseudo_header_sum(source, destination, IPPROTO_UDP,
                                                 static_cast<std::uint32_t>(udp.size())));
  write16(udp, 6, sum == 0xffff ? sum : static_cast<std::uint16_t>(~sum));
  return frame;
}

// A packet socket writing `frame` on the interface of `hop`, or -1 when the
// frame cannot be built (no neighbour entry, no such interface).
int packet_socket(const NextHop& hop, const sockaddr_in& from, const sockaddr_in& to, Frame& frame,
                  sockaddr_ll& link) {
  const std::optional<Mac> next_hop_mac = neighbour_mac(hop);
  if (!next_hop_mac) return -1;
  // Protocol 0: the socket sends only, and receives (copies) nothing.
  const int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) return -1;
  const std::optional<Mac> own_mac = interface_mac(fd, hop.interface);
  const int bypass = 1;
  link = sockaddr_ll{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(ETH_P_IP);
  link.sll_ifindex = static_cast<int>(if_nametoindex(hop.interface.c_str()));
  if (!own_mac || link.sll_ifindex == 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &bypass, sizeof bypass) < 0) {
    close(fd);
    return -1;
  }
  frame = udp_frame(*own_mac, *next_hop_mac, from, to);
  return fd;
}

std::uint64_t flood(int fd, std::span<std::uint8_t> message, sockaddr_ll* link, double seconds) {
  std::array<iovec, kBatch> iovs{};
  std::array<mmsghdr, kBatch> msgs{};
  for (unsigned i = 0; i < kBatch; ++i) {
    iovs[i] = {message.data(), message.size()};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = link;
    msgs[i].msg_hdr.msg_namelen = link != nullptr ? sizeof *link : 0;
  }
  std::uint64_t sent = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    const int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) sent += static_cast<std::uint64_t>(n);  // ENOBUFS and the like: try again
  }
  return sent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT SECONDS\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10));
  const double seconds = std::strtod(argv[3], nullptr);

  sockaddr_storage to{};
  socklen_t to_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&to);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&to);
  if (inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    to_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    to_len = sizeof *v6;
  } else {
    std::fprintf(stderr, "udp_flood: bad address %s\n", argv[1]);
    return 2;
  }
  const int udp = socket(to.ss_family, SOCK_DGRAM, 0);
  if (udp < 0 || connect(udp, reinterpret_cast<sockaddr*>(&to), to_len) < 0) {
    std::perror("udp_flood");
    return 1;
  }

  std::array<std::uint8_t, kPayload> payload{};
  std::uint64_t sent = 0;
  sockaddr_in from{};
  socklen_t from_len = sizeof from;
  std::optional<NextHop> hop;
  int raw = -1;
  Frame frame;
  sockaddr_ll link{};
  if (to.ss_family == AF_INET &&
      getsockname(udp, reinterpret_cast<sockaddr*>(&from), &from_len) == 0 &&
      (hop = route_to(v4->sin_addr))) {
    raw = packet_socket(*hop, from, *v4, frame, link);
  }
  if (raw >= 0) {
    sent = flood(raw, frame, &link, seconds);
    close(raw);
  } else {
    sent = flood(udp, payload, nullptr, seconds);
  }
  close(udp);
  std::printf("%llu\n", static_cast<unsigned long long>(sent));
  return 0;
}
