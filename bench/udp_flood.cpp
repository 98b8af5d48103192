// Sends 64-byte UDP datagrams as fast as one core can (sendmmsg batches) for a
// number of seconds, then prints how many it sent. The benchmark counts what
// arrives at the server. Usage: udp_flood ADDRESS PORT SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr std::size_t kPayload = 64;
constexpr unsigned kBatch = 64;

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
  const int fd = socket(to.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) < 0) {
    std::perror("udp_flood");
    return 1;
  }

  std::array<char, kPayload> payload{};
  std::array<iovec, kBatch> iovs{};
  std::array<mmsghdr, kBatch> msgs{};
  for (unsigned i = 0; i < kBatch; ++i) {
    iovs[i] = {payload.data(), payload.size()};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  std::uint64_t sent = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    const int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) sent += static_cast<std::uint64_t>(n);  // ENOBUFS and the like: try again
  }
  close(fd);
  std::printf("%llu\n", static_cast<unsigned long long>(sent));
  return 0;
}
