// The benchmark's baseline: the leanest NFQUEUE reader that still does what any
// real filter must (bind, copy the headers, answer every packet). It accepts
// everything, so the distance between it and verdictd is the cost of
// verdictd's own work. Usage: minimal_reader QUEUE [MAXLEN]
// <arpa/inet.h> before the kernel headers: <linux/in.h> then skips its own copies.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

// Packets taken per recvmmsg and answered per sendmsg.
constexpr unsigned kBatch = 64;
// Enough of each packet for IPv6 with extension headers plus a TCP header.
constexpr int kCopyRange = 256;
// Room for one queued-packet message carrying kCopyRange bytes.
constexpr std::size_t kMessageSize = 2048;

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int /*signal*/) { stop_requested = 1; }

[[noreturn]] void fail(const char* what) {
  std::perror(what);
  std::exit(1);
}

void configure(mnl_socket* nl, std::uint16_t queue, std::uint32_t maxlen) {
  std::array<char, 8192> buf{};
  nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, queue);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, kCopyRange);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) fail("sendto");
  const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) fail("recvfrom");
  if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), 0, mnl_socket_get_portid(nl), nullptr,
                 nullptr) < 0) {
    fail("binding the queue");
  }
}

int collect_id(const nlmsghdr* nlh, void* data) {
  std::array<nlattr*, NFQA_MAX + 1> attr{};
  if (nfq_nlmsg_parse(nlh, attr.data()) < 0 || attr[NFQA_PACKET_HDR] == nullptr) return MNL_CB_OK;
  const auto* hdr =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  static_cast<std::vector<std::uint32_t>*>(data)->push_back(ntohl(hdr->packet_id));
  return MNL_CB_OK;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s QUEUE [MAXLEN]\n", argv[0]);
    return 2;
  }
  const auto queue = static_cast<std::uint16_t>(std::strtoul(argv[1], nullptr, 10));
  const auto maxlen =
      static_cast<std::uint32_t>(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4096);

  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) fail("mnl_socket_open");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) fail("mnl_socket_bind");
  const int fd = mnl_socket_get_fd(nl);
  // A receive buffer that holds the whole queue; overruns are counted, not fatal.
  const int rcvbuf = static_cast<int>(maxlen * kMessageSize);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  const int on = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on);
  configure(nl, queue, maxlen);

  struct sigaction action {};
  action.sa_handler = request_stop;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  std::vector<char> in(kBatch * kMessageSize);
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  for (unsigned i = 0; i < kBatch; ++i) {
    iovs[i] = {in.data() + i * kMessageSize, kMessageSize};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  std::vector<char> out(kBatch * MNL_ALIGN(sizeof(nlmsghdr) + 64));
  std::vector<std::uint32_t> ids;
  ids.reserve(kBatch);
  const unsigned portid = mnl_socket_get_portid(nl);
  std::uint64_t packets = 0;

  while (stop_requested == 0) {
    const int got = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (got < 0) continue;  // EINTR on stop
    ids.clear();
    for (int i = 0; i < got; ++i) {
      mnl_cb_run(in.data() + static_cast<std::size_t>(i) * kMessageSize, msgs[i].msg_len, 0, portid,
                 collect_id, &ids);
    }
    // All verdicts of the batch in one datagram: the kernel walks the messages in turn.
    std::size_t used = 0;
    for (const std::uint32_t id : ids) {
      nlmsghdr* nlh = nfq_nlmsg_put(out.data() + used, NFQNL_MSG_VERDICT, queue);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), NF_ACCEPT);
      used += MNL_ALIGN(nlh->nlmsg_len);
    }
    if (used > 0 && mnl_socket_sendto(nl, out.data(), used) < 0) fail("sending verdicts");
    packets += ids.size();
  }
  std::printf("minimal_reader: queue %u answered %llu packets\n", queue,
              static_cast<unsigned long long>(packets));
  mnl_socket_close(nl);
  return 0;
}
