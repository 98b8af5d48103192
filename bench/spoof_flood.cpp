// Spoofed floods for bench/run.sh's flood mode: TCP ACKs or UDP datagrams
// from random sources (10.64.0.0/10, random ports) to random ports of
// ADDRESS (10000 to 59999, clear of the benchmark's own), at PPS packets a
// second for SECONDS, through a raw socket (IP_HDRINCL) in sendmmsg batches.
// Checksums are right, so trackers take the packets for what they claim to
// be. Prints how many it sent. Usage: spoof_flood ack|udp ADDRESS PPS SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr unsigned kBatch = 64;
constexpr std::size_t kPacketBytes = 60;          // IPv4 header, then TCP or UDP with a payload
constexpr std::uint32_t kSourceNet = 0x0a400000;  // 10.64.0.0/10
constexpr std::uint32_t kSourceMask = 0x003fffff;
constexpr std::uint16_t kFirstPort = 10000;
constexpr std::uint16_t kPorts = 50000;

std::uint64_t random_state = 0x9e3779b97f4a7c15ULL;
std::uint32_t next_random() {  // xorshift64
  random_state ^= random_state << 13U;
  random_state ^= random_state >> 7U;
  random_state ^= random_state << 17U;
  return static_cast<std::uint32_t>(random_state >> 16U);
}

// The Internet checksum of the pseudo-header and `length` transport bytes.
std::uint16_t transport_checksum(const iphdr& ip, const std::uint8_t* transport,
                                 std::size_t length) {
  std::uint32_t sum = 0;
  const auto add16 = [&sum](std::uint32_t value) { sum += value & 0xffffU; };
  add16(ntohl(ip.saddr) >> 16U);
  add16(ntohl(ip.saddr));
  add16(ntohl(ip.daddr) >> 16U);
  add16(ntohl(ip.daddr));
  add16(ip.protocol);
  add16(static_cast<std::uint32_t>(length));
  for (std::size_t i = 0; i + 1 < length; i += 2) add16((transport[i] << 8U) | transport[i + 1]);
  if (length % 2 != 0) add16(transport[length - 1] << 8U);
  while ((sum >> 16U) != 0) sum = (sum & 0xffffU) + (sum >> 16U);
  const auto folded = static_cast<std::uint16_t>(~sum);
  return htons(folded == 0 && ip.protocol == IPPROTO_UDP ? 0xffff : folded);
}

// A packet from a new random source and port to a random port of `destination`.
void fill(std::array<std::uint8_t, kPacketBytes>& packet, bool tcp, in_addr_t destination) {
  packet.fill(0);
  iphdr ip{};
  ip.version = 4;
  ip.ihl = sizeof(iphdr) / 4;
  ip.tot_len = htons(kPacketBytes);
  ip.ttl = 64;
  ip.protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  ip.saddr = htonl(kSourceNet | (next_random() & kSourceMask));
  ip.daddr = destination;
  const auto source_port = htons(static_cast<std::uint16_t>(1024 + next_random() % 64000));
  const auto destination_port =
      htons(static_cast<std::uint16_t>(kFirstPort + next_random() % kPorts));
  std::uint8_t* transport = packet.data() + sizeof(iphdr);
  const std::size_t length = kPacketBytes - sizeof(iphdr);
  if (tcp) {
    tcphdr header{};
    header.source = source_port;
    header.dest = destination_port;
    header.seq = htonl(next_random());
    header.ack_seq = htonl(next_random());
    header.doff = sizeof(tcphdr) / 4;
    header.ack = 1;
    header.window = htons(512);
    std::memcpy(transport, &header, sizeof header);
    header.check = transport_checksum(ip, transport, length);
    std::memcpy(transport, &header, sizeof header);
  } else {
    udphdr header{};
    header.source = source_port;
    header.dest = destination_port;
    header.len = htons(static_cast<std::uint16_t>(length));
    std::memcpy(transport, &header, sizeof header);
    header.check = transport_checksum(ip, transport, length);
    std::memcpy(transport, &header, sizeof header);
  }
  std::memcpy(packet.data(), &ip, sizeof ip);  // the kernel fills in the IP checksum
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || (std::strcmp(argv[1], "ack") != 0 && std::strcmp(argv[1], "udp") != 0)) {
    std::fprintf(stderr, "usage: %s ack|udp ADDRESS PPS SECONDS\n", argv[0]);
    return 2;
  }
  const bool tcp = std::strcmp(argv[1], "ack") == 0;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
    std::fprintf(stderr, "spoof_flood: %s is not an IPv4 address\n", argv[2]);
    return 2;
  }
  const double pps = std::strtod(argv[3], nullptr);
  const double seconds = std::strtod(argv[4], nullptr);
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IPPROTO_RAW implies IP_HDRINCL
  if (fd < 0) {
    std::perror("spoof_flood: socket");
    return 1;
  }
  std::array<std::array<std::uint8_t, kPacketBytes>, kBatch> packets{};
  std::array<iovec, kBatch> vectors{};
  std::array<mmsghdr, kBatch> messages{};
  for (unsigned i = 0; i < kBatch; ++i) {
    vectors[i] = {packets[i].data(), kPacketBytes};
    messages[i].msg_hdr.msg_name = &to;
    messages[i].msg_hdr.msg_namelen = sizeof to;
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::uint64_t sent = 0;
  for (auto now = start; now < end; now = Clock::now()) {
    // Paced: a batch whenever the count falls behind PPS times the time elapsed.
    const auto due =
        static_cast<std::uint64_t>(std::chrono::duration<double>(now - start).count() * pps);
    if (sent >= due) {
      const timespec pause{0, static_cast<long>(1e9 * kBatch / pps / 4)};
      nanosleep(&pause, nullptr);
      continue;
    }
    for (auto& packet : packets) fill(packet, tcp, to.sin_addr.s_addr);
    const int n = sendmmsg(fd, messages.data(), kBatch, 0);
    if (n < 0) {
      std::perror("spoof_flood: sendmmsg");
      return 1;
    }
    sent += static_cast<std::uint64_t>(n);
  }
  std::printf("%llu\n", static_cast<unsigned long long>(sent));
  return 0;
}
