#include "kernel/queue_worker.hpp"

// <arpa/inet.h> first: the kernel's <linux/in.h> then skips its own copies.
#include <arpa/inet.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
// clang-format off
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink_queue.h>
// clang-format on

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "kernel/wakeup.hpp"

namespace verdictd {

namespace {

using Clock = std::chrono::steady_clock;

// Room for a queued-packet message besides its payload: the attributes the
// kernel adds (ids, marks, interfaces, timestamp, hardware header, ...).
constexpr std::size_t kMetadataRoom = 4096;
// Memory for one recvmmsg call; with a full copy range that is ~15 packets.
constexpr std::size_t kReceiveMemory = std::size_t{1} << 20;
// Kernel memory one queued packet costs in the receive buffer (skb overhead included).
constexpr std::size_t kReceiveBytesPerPacket = 3072;
constexpr std::size_t kMinReceiveBuffer = std::size_t{4} << 20;
constexpr std::size_t kMaxReceiveBuffer = std::size_t{256} << 20;
// A verdict message: header, nfgenmsg, verdict header and mark attributes.
constexpr std::size_t kVerdictMessageSize = 64;
constexpr std::size_t kConfigMessageSize = 256;

std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

bool has_net_admin() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (syscall(SYS_capget, &header, data.data()) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1U << (CAP_NET_ADMIN % 32))) != 0;
}

// nfqnl_recv_config refuses to bind a queue that another socket holds with
// EPERM (EBUSY: this socket holds it); EPERM also says CAP_NET_ADMIN is missing.
bool in_use(int error) { return error == EBUSY || (error == EPERM && has_net_admin()); }

[[noreturn]] void throw_bind_failure(std::uint16_t queue, int error) {
  const std::string name = "queue " + std::to_string(queue);
  if (in_use(error)) {
    throw QueueInUse(name +
                     " is already in use by another process (another verdictd, or a program such "
                     "as suricata, is bound to it)");
  }
  if (error == EPERM) throw std::runtime_error("binding " + name + " needs CAP_NET_ADMIN");
  if (error == EOPNOTSUPP) {
    throw std::runtime_error("the kernel refuses the flags of " + name +
                             " (GSO, fail-open): " + std::strerror(error));
  }
  throw std::runtime_error("cannot bind " + name + ": " + std::strerror(error));
}

// The kernel's drop counters of the queue bound by `port_id`; zero if not listed.
void read_kernel_counts(std::uint16_t queue, std::uint32_t port_id, QueueStats& stats) {
  std::ifstream table("/proc/net/netfilter/nfnetlink_queue");
  // queue_num peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
  unsigned number = 0;
  std::uint32_t peer = 0;
  std::uint64_t total = 0;
  unsigned mode = 0;
  std::uint64_t range = 0;
  std::uint64_t full = 0;
  std::uint64_t overrun = 0;
  std::string rest;
  while (table >> number >> peer >> total >> mode >> range >> full >> overrun &&
         std::getline(table, rest)) {
    if (number == queue && peer == port_id) {
      stats.kernel_full_drops = full;
      stats.kernel_overrun_drops = overrun;
      stats.kernel_waiting = total;
      return;
    }
  }
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

struct QueueWorker::Socket {
  mnl_socket* netlink = nullptr;
  int fd = -1;
  Wakeup stop;  // ends the worker's wait for packets
  std::uint32_t sequence = 0;
  std::size_t slot_size = 0;  // bytes for one received datagram
  std::vector<std::uint8_t> slots;
  std::vector<iovec> iovecs;
  std::vector<mmsghdr> headers;
  std::vector<char> verdicts;
  std::size_t verdicts_used = 0;
  std::size_t verdicts_pending = 0;  // packets answered in `verdicts` but not yet sent

  explicit Socket(const QueueOptions& options)
      : slot_size(MNL_ALIGN(options.copy_range) + kMetadataRoom),
        // Room for a batch of plain verdicts and for one carrying a whole packet.
        verdicts(std::max<std::size_t>(options.batch, 1) * kVerdictMessageSize +
                 MNL_ALIGN(options.copy_range) + kVerdictMessageSize) {
    const std::size_t count = std::clamp<std::size_t>(kReceiveMemory / slot_size, 1,
                                                      std::max<std::size_t>(options.batch, 1));
    slots.resize(count * slot_size);
    iovecs.resize(count);
    headers.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      iovecs[i] = {slots.data() + i * slot_size, slot_size};
      headers[i].msg_hdr.msg_iov = &iovecs[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
    netlink = mnl_socket_open(NETLINK_NETFILTER);
    if (netlink == nullptr) throw_errno("opening a netfilter netlink socket");
    fd = mnl_socket_get_fd(netlink);
    if (mnl_socket_bind(netlink, 0, MNL_SOCKET_AUTOPID) < 0) {
      const int error = errno;
      mnl_socket_close(netlink);
      throw std::system_error(error, std::generic_category(), "binding a netlink socket");
    }
  }
  ~Socket() { mnl_socket_close(netlink); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&&) = delete;
  Socket& operator=(Socket&&) = delete;

  // Receive buffer for the whole queue: what does not fit is lost (ENOBUFS).
  void size_receive_buffer(const QueueOptions& options) const {
    const std::size_t wanted =
        options.receive_buffer != 0
            ? options.receive_buffer
            : std::clamp(std::size_t{options.max_length} * kReceiveBytesPerPacket,
                         kMinReceiveBuffer, kMaxReceiveBuffer);
    const int size = static_cast<int>(std::min<std::size_t>(wanted, INT32_MAX / 2));
    // FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
};

QueueWorker::QueueWorker(QueueOptions options, Hook hook, PacketHandler handler,
                         std::unique_ptr<KernelLookup> kernel)
    : options_(options), hook_(hook), handler_(std::move(handler)), kernel_(std::move(kernel)) {
  if (kernel_ && handler_.question) {
    parked_ = std::make_unique<ParkingLot<ParkedPacket>>(*kernel_, options_.kernel_patience);
  }
}

QueueWorker::~QueueWorker() { stop(); }

void QueueWorker::start() {
  socket_ = std::make_unique<Socket>(options_);
  socket_->size_receive_buffer(options_);

  // Bind, copy parameters, queue length and every flag in one message: the
  // kernel checks the flags before binding and applies the rest right after,
  // so the queue never exists half-configured.
  std::array<char, kConfigMessageSize> request{};
  nlmsghdr* message = nfq_nlmsg_put(request.data(), NFQNL_MSG_CONFIG, options_.queue_number);
  message->nlmsg_flags |= NLM_F_ACK;
  message->nlmsg_seq = ++socket_->sequence;
  nfq_nlmsg_cfg_put_cmd(message, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  nfq_nlmsg_cfg_put_params(message, NFQNL_COPY_PACKET, static_cast<int>(options_.copy_range));
  nfq_nlmsg_cfg_put_qmaxlen(message, options_.max_length);
  // UID_GID: the owner of a packet's local socket, for LOG's --log-uid.
  const std::uint32_t flags =
      NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID | (options_.accept_when_full ? NFQA_CFG_F_FAIL_OPEN : 0U);
  mnl_attr_put_u32(message, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(message, NFQA_CFG_MASK,
                   htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID | NFQA_CFG_F_FAIL_OPEN));
  if (mnl_socket_sendto(socket_->netlink, message, message->nlmsg_len) < 0) {
    const int error = errno;
    socket_.reset();
    throw_bind_failure(options_.queue_number, error);
  }

  // Leftover steering may queue packets the moment the bind succeeds; they are
  // answered here like any other while we wait for the acknowledgement.
  std::optional<int> acknowledged;
  while (!acknowledged) {
    const ssize_t got = recv(socket_->fd, socket_->slots.data(), socket_->slot_size, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        enobufs_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const int error = errno;
      socket_.reset();
      throw_bind_failure(options_.queue_number, error);
    }
    acknowledged =
        dispatch({socket_->slots.data(), static_cast<std::size_t>(got)}, socket_->sequence);
    send_verdicts();
  }
  if (*acknowledged != 0) {
    socket_.reset();
    throw_bind_failure(options_.queue_number, *acknowledged);
  }
  port_id_.store(mnl_socket_get_portid(socket_->netlink));
  stopping_.store(false);
  thread_ = std::thread(&QueueWorker::run, this);
}

void QueueWorker::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_release);
  socket_->stop.signal();
  thread_.join();
  // Closing the socket would unbind too; saying it keeps the kernel's view exact.
  std::array<char, kConfigMessageSize> request{};
  nlmsghdr* message = nfq_nlmsg_put(request.data(), NFQNL_MSG_CONFIG, options_.queue_number);
  nfq_nlmsg_cfg_put_cmd(message, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
  mnl_socket_sendto(socket_->netlink, message, message->nlmsg_len);
  port_id_.store(0);
  socket_.reset();
}

QueueStats QueueWorker::stats() const {
  QueueStats s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.enobufs = enobufs_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.verdict_errors = verdict_errors_.load(std::memory_order_relaxed);
  if (const std::uint32_t port_id = port_id_.load(); port_id != 0) {
    read_kernel_counts(options_.queue_number, port_id, s);
  }
  return s;
}

bool QueueWorker::stalled(Clock::time_point now, std::chrono::milliseconds limit) const {
  if (broken_.load(std::memory_order_acquire)) return true;
  const std::int64_t since = busy_since_.load(std::memory_order_acquire);
  if (since != 0 && now - Clock::time_point(Clock::duration(since)) > limit) return true;
  return kernel_waits_in_vain(now, limit);
}

bool QueueWorker::kernel_waits_in_vain(Clock::time_point now,
                                       std::chrono::milliseconds limit) const {
  const std::uint32_t port_id = port_id_.load();
  if (port_id == 0) return false;
  QueueStats counts;
  read_kernel_counts(options_.queue_number, port_id, counts);
  const std::uint64_t answered = packets_.load(std::memory_order_relaxed);
  const std::lock_guard lock(waiting_mutex_);
  if (counts.kernel_waiting == 0) {
    waiting_since_.reset();
    return false;
  }
  if (!waiting_since_ || answered != waiting_answered_) {
    waiting_since_ = now;
    waiting_answered_ = answered;
    return false;
  }
  return now - *waiting_since_ > limit;
}

std::string QueueWorker::failure() const {
  return broken_.load(std::memory_order_acquire) ? failure_ : std::string();
}

void QueueWorker::run() {
  const std::string thread_name = "vd-queue-" + std::to_string(options_.queue_number);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  try {
    bool more_waiting = false;  // the last burst was full: read on without polling
    while (!stopping_.load(std::memory_order_acquire)) {
      if (!more_waiting) wait(/*for_packets=*/true);
      more_waiting = answer_burst();
      resume_parked();
    }
    // Nothing new reaches the queue any more (see stop()): what the socket
    // holds, and what waits for the kernel, is all that is left to answer.
    while (answer_burst()) {
      resume_parked();
    }
    while (parked_ && !parked_->empty()) {
      wait(/*for_packets=*/false);
      resume_parked();
    }
  } catch (const std::exception& e) {
    if (!broken_.load()) {
      failure_ = e.what();
      broken_.store(true, std::memory_order_release);
    }
  }
}

void QueueWorker::wait(bool for_packets) {
  // poll skips a negative fd. Answers matter only while packets wait for them.
  const int kernel_fd = parked_ && !parked_->empty() ? kernel_->fd() : -1;
  std::array<pollfd, 3> ready{{{for_packets ? socket_->fd : -1, POLLIN, 0},
                               {for_packets ? socket_->stop.fd() : -1, POLLIN, 0},
                               {kernel_fd, POLLIN, 0}}};
  int timeout = -1;
  if (const auto deadline = parked_ ? parked_->deadline() : std::nullopt) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*deadline - ConntrackClock::now());
    timeout = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
  }
  if (poll(ready.data(), ready.size(), timeout) < 0 && errno != EINTR) {
    throw_errno("poll on queue " + std::to_string(options_.queue_number));
  }
}

bool QueueWorker::answer_burst() {
  Socket& s = *socket_;
  std::size_t received = 0;
  const std::size_t batch = std::max<std::size_t>(options_.batch, 1);
  while (received < batch) {
    const auto room = static_cast<unsigned>(std::min(s.headers.size(), batch - received));
    const int got = recvmmsg(s.fd, s.headers.data(), room, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // the kernel could not queue a message to us: counted, not fatal
        enobufs_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      throw_errno("receiving from queue " + std::to_string(options_.queue_number));
    }
    for (int i = 0; i < got; ++i) {
      dispatch({s.slots.data() + static_cast<std::size_t>(i) * s.slot_size, s.headers[i].msg_len},
               0);
    }
    received += static_cast<std::size_t>(got);
    if (static_cast<unsigned>(got) < room) break;  // the socket is empty
  }
  send_verdicts();
  return received == batch;
}

void QueueWorker::mark_busy() {
  if (busy_since_.load(std::memory_order_relaxed) == 0) {
    busy_since_.store(ticks(Clock::now()), std::memory_order_release);
  }
}

std::optional<int> QueueWorker::dispatch(std::span<std::uint8_t> datagram,
                                         std::uint32_t ack_sequence) {
  std::optional<int> ack;
  auto* message = reinterpret_cast<nlmsghdr*>(datagram.data());
  int left = static_cast<int>(datagram.size());
  // A datagram cut short (metadata beyond kMetadataRoom) still starts with the
  // packet id: shorten the message to what arrived so the packet is answered.
  if (left >= static_cast<int>(sizeof(nlmsghdr)) &&
      message->nlmsg_len > static_cast<std::uint32_t>(left)) {
    message->nlmsg_len = static_cast<std::uint32_t>(left);
  }
  for (; mnl_nlmsg_ok(message, left); message = mnl_nlmsg_next(message, &left)) {
    if (message->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
      if (ack_sequence != 0 && message->nlmsg_seq == ack_sequence) {
        ack = -error->error;
      } else if (error->error != 0) {
        verdict_errors_.fetch_add(1, std::memory_order_relaxed);
      }
      continue;
    }
    if (NFNL_MSG_TYPE(message->nlmsg_type) != NFQNL_MSG_PACKET) continue;
    std::array<nlattr*, NFQA_MAX + 1> attributes{};
    if (nfq_nlmsg_parse(message, attributes.data()) < 0 || attributes[NFQA_PACKET_HDR] == nullptr) {
      continue;
    }
    mark_busy();
    const auto* header =
        static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attributes[NFQA_PACKET_HDR]));
    QueuedPacket packet;
    packet.id = ntohl(header->packet_id);
    if (const nlattr* payload = attributes[NFQA_PAYLOAD]) {
      packet.payload = {static_cast<const std::uint8_t*>(mnl_attr_get_payload(payload)),
                        mnl_attr_get_payload_len(payload)};
    }
    packet.original_length = attributes[NFQA_CAP_LEN] != nullptr
                                 ? ntohl(mnl_attr_get_u32(attributes[NFQA_CAP_LEN]))
                                 : static_cast<std::uint32_t>(packet.payload.size());
    if (attributes[NFQA_MARK] != nullptr) {
      packet.mark = ntohl(mnl_attr_get_u32(attributes[NFQA_MARK]));
    }
    if (attributes[NFQA_IFINDEX_INDEV] != nullptr) {
      packet.in_ifindex = ntohl(mnl_attr_get_u32(attributes[NFQA_IFINDEX_INDEV]));
    }
    if (attributes[NFQA_IFINDEX_OUTDEV] != nullptr) {
      packet.out_ifindex = ntohl(mnl_attr_get_u32(attributes[NFQA_IFINDEX_OUTDEV]));
    }
    if (attributes[NFQA_UID] != nullptr && attributes[NFQA_GID] != nullptr) {
      packet.socket_owner = SocketOwner{.uid = ntohl(mnl_attr_get_u32(attributes[NFQA_UID])),
                                        .gid = ntohl(mnl_attr_get_u32(attributes[NFQA_GID]))};
    }
    if (const nlattr* hardware = attributes[NFQA_HWADDR];
        hardware != nullptr && mnl_attr_get_payload_len(hardware) >= sizeof(nfqnl_msg_packet_hw)) {
      const auto* address = static_cast<const nfqnl_msg_packet_hw*>(mnl_attr_get_payload(hardware));
      MacAddress mac{};
      if (ntohs(address->hw_addrlen) == mac.size()) {
        std::memcpy(mac.data(), address->hw_addr, mac.size());
        packet.source_mac = mac;
      }
    }
    if (attributes[NFQA_SKB_INFO] != nullptr) {
      const std::uint32_t info = ntohl(mnl_attr_get_u32(attributes[NFQA_SKB_INFO]));
      packet.checksum_not_ready = (info & NFQA_SKB_CSUMNOTREADY) != 0;
      packet.checksum_unverified = (info & NFQA_SKB_CSUM_NOTVERIFIED) != 0;
    }

    if (!park(packet)) answer(packet);
  }
  return ack;
}

bool QueueWorker::park(const QueuedPacket& packet) {
  if (!parked_) return false;
  const auto question = handler_.question(packet);
  return question && parked_->park(*question, ConntrackClock::now(), [&packet] {
    return ParkedPacket{.packet = packet, .bytes = {packet.payload.begin(), packet.payload.end()}};
  });
}

void QueueWorker::resume_parked() {
  if (!parked_ || parked_->empty()) return;
  parked_->resume(ConntrackClock::now(), [this](ParkedPacket&& parked) {
    parked.packet.payload = parked.bytes;
    answer(parked.packet);
  });
  send_verdicts();
}

void QueueWorker::answer(const QueuedPacket& packet) {
  Socket& s = *socket_;
  const PacketDecision decision = handler_.decide(packet);
  packets_.fetch_add(1, std::memory_order_relaxed);
  (decision.accept ? accepted_ : dropped_).fetch_add(1, std::memory_order_relaxed);
  const std::size_t needed = kVerdictMessageSize + MNL_ALIGN(decision.payload.size());
  if (s.verdicts_used + needed > s.verdicts.size()) send_verdicts();

  nlmsghdr* verdict =
      nfq_nlmsg_put(s.verdicts.data() + s.verdicts_used, NFQNL_MSG_VERDICT, options_.queue_number);
  nfq_nlmsg_verdict_put(verdict, static_cast<int>(packet.id),
                        !decision.accept  ? NF_DROP
                        : decision.repeat ? NF_REPEAT
                                          : NF_ACCEPT);
  if (decision.set_mark) nfq_nlmsg_verdict_put_mark(verdict, decision.mark);
  if (!decision.payload.empty()) {
    nfq_nlmsg_verdict_put_pkt(verdict, decision.payload.data(),
                              static_cast<std::uint32_t>(decision.payload.size()));
  }
  s.verdicts_used += MNL_ALIGN(verdict->nlmsg_len);
  ++s.verdicts_pending;
}

void QueueWorker::send_verdicts() {
  Socket& s = *socket_;
  if (s.verdicts_pending == 0) return;
  // The kernel handles the messages of one datagram in turn; a refused verdict
  // comes back as an error message and is counted when read.
  ssize_t sent = -1;
  int error = 0;
  for (int attempt = 0; attempt < 3 && sent < 0; ++attempt) {
    sent = mnl_socket_sendto(s.netlink, s.verdicts.data(), s.verdicts_used);
    error = errno;
    if (sent < 0 && error != EINTR && error != ENOBUFS && error != ENOMEM && error != EAGAIN) break;
  }
  if (sent < 0) {
    // The kernel keeps these packets until the socket closes: the queue is stuck.
    verdict_errors_.fetch_add(s.verdicts_pending, std::memory_order_relaxed);
    if (!broken_.load()) {
      failure_ = "cannot send verdicts on queue " + std::to_string(options_.queue_number) + ": " +
                 std::strerror(error);
      broken_.store(true, std::memory_order_release);
    }
  } else {
    batches_.fetch_add(1, std::memory_order_relaxed);
    busy_since_.store(0, std::memory_order_release);
  }
  s.verdicts_used = 0;
  s.verdicts_pending = 0;
}

}  // namespace verdictd
