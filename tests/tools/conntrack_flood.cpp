// conntrack_flood create|delete COUNT [FIRST]: creates or deletes COUNT UDP
// entries in the kernel's conntrack table over ctnetlink, as fast as the
// kernel takes them, to overrun an event listener. Entry i is
// 10.200.(i/65536).(i/256%256):(1024 + i%256) -> 10.201.0.1:53.
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace {

struct HandleCloser {
  void operator()(nfct_handle* handle) const { nfct_close(handle); }
};
struct ConntrackDeleter {
  void operator()(nf_conntrack* conntrack) const { nfct_destroy(conntrack); }
};

constexpr std::uint32_t kSourceBase = 0x0ac80000;   // 10.200.0.0
constexpr std::uint32_t kDestination = 0x0ac90001;  // 10.201.0.1
constexpr std::uint16_t kFirstPort = 1024;
constexpr std::uint32_t kTimeoutSeconds = 600;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "create") != 0 && std::strcmp(argv[1], "delete") != 0)) {
    std::fprintf(stderr, "usage: conntrack_flood create|delete COUNT [FIRST]\n");
    return 2;
  }
  const bool create = std::strcmp(argv[1], "create") == 0;
  const long count = std::strtol(argv[2], nullptr, 10);
  const long first = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 0;
  const std::unique_ptr<nfct_handle, HandleCloser> handle(nfct_open(CONNTRACK, 0));
  if (!handle) {
    std::perror("nfct_open");
    return 1;
  }
  long failed = 0;
  for (long i = first; i < first + count; ++i) {
    const std::unique_ptr<nf_conntrack, ConntrackDeleter> entry(nfct_new());
    nfct_set_attr_u8(entry.get(), ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(entry.get(), ATTR_IPV4_SRC,
                      htonl(kSourceBase + static_cast<std::uint32_t>(i >> 8)));
    nfct_set_attr_u32(entry.get(), ATTR_IPV4_DST, htonl(kDestination));
    nfct_set_attr_u8(entry.get(), ATTR_L4PROTO, IPPROTO_UDP);
    nfct_set_attr_u16(entry.get(), ATTR_PORT_SRC,
                      htons(static_cast<std::uint16_t>(kFirstPort + (i & 0xff))));
    nfct_set_attr_u16(entry.get(), ATTR_PORT_DST, htons(53));
    nfct_setobjopt(entry.get(), NFCT_SOPT_SETUP_REPLY);
    nfct_set_attr_u32(entry.get(), ATTR_TIMEOUT, kTimeoutSeconds);
    if (nfct_query(handle.get(), create ? NFCT_Q_CREATE : NFCT_Q_DESTROY, entry.get()) < 0) {
      ++failed;
    }
  }
  std::printf("%s %ld failed %ld\n", argv[1], count, failed);
  return failed == 0 ? 0 : 1;
}
