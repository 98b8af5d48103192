#include "kernel/conntrack_questions.hpp"

// <arpa/inet.h> first: the kernel's <linux/in.h> then skips its own copies.
#include <arpa/inet.h>
#include <sys/socket.h>
// clang-format off
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
// clang-format on

#include <array>
#include <cerrno>
#include <system_error>

#include "kernel/kernel_flow.hpp"

namespace verdictd {

namespace {

// Room for a get: headers and an original tuple with IPv6 addresses.
constexpr std::size_t kRequestSize = 512;
// Answers are a few hundred bytes each; a read takes many of them.
constexpr std::size_t kReceiveSize = std::size_t{64} << 10;

constexpr std::uint16_t message_type(std::uint8_t ctnetlink_message) {
  return static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | ctnetlink_message);
}

}  // namespace

ConntrackQuestions::ConntrackQuestions(ConntrackMirror& mirror)
    : mirror_(&mirror), socket_(mnl_socket_open(NETLINK_NETFILTER)), buffer_(kReceiveSize) {
  if (socket_ == nullptr) {
    throw std::system_error(errno, std::generic_category(), "opening a ctnetlink socket");
  }
  fd_ = mnl_socket_get_fd(socket_);
  if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    mnl_socket_close(socket_);
    throw std::system_error(error, std::generic_category(), "binding a ctnetlink socket");
  }
}

ConntrackQuestions::~ConntrackQuestions() { mnl_socket_close(socket_); }

std::optional<KernelLookup::Ticket> ConntrackQuestions::ask(const Tuple& tuple) {
  const auto now = ConntrackClock::now();
  if (!mirror_->should_ask(now)) return std::nullopt;
  // What nfct_query(NFCT_Q_GET) sends, without waiting for the answer
  // (ctnetlink_get_conntrack answers with the connection, or an error).
  std::array<char, kRequestSize> request{};
  nlmsghdr* message = mnl_nlmsg_put_header(request.data());
  message->nlmsg_type = message_type(IPCTNL_MSG_CT_GET);
  message->nlmsg_flags = NLM_F_REQUEST;
  if (++last_sequence_ == 0) ++last_sequence_;  // 0 answers nothing
  message->nlmsg_seq = last_sequence_;
  auto* header = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(message, sizeof(nfgenmsg)));
  header->nfgen_family = tuple.family == Family::kIPv4 ? AF_INET : AF_INET6;
  header->version = NFNETLINK_V0;
  if (nfct_nlmsg_build(message, kernel_conntrack(tuple).get()) < 0 ||
      sendto(fd_, message, message->nlmsg_len, MSG_DONTWAIT, nullptr, 0) < 0) {
    return std::nullopt;  // decided from the table, as when the budget is spent
  }
  awaited_.insert(last_sequence_);
  return last_sequence_;
}

void ConntrackQuestions::collect(std::vector<Ticket>& answered) {
  while (true) {
    const ssize_t got = recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (got < 0) {
      // Answers lost to an overrun (ENOBUFS): their packets wait for the patience.
      if (errno == EINTR || errno == ENOBUFS) continue;
      return;
    }
    if (got == 0) return;
    const auto now = ConntrackClock::now();
    const auto* message = reinterpret_cast<const nlmsghdr*>(buffer_.data());
    int left = static_cast<int>(got);
    for (; mnl_nlmsg_ok(message, left); message = mnl_nlmsg_next(message, &left)) {
      if (message->nlmsg_type != NLMSG_ERROR &&
          message->nlmsg_type != message_type(IPCTNL_MSG_CT_NEW)) {
        continue;
      }
      // A late answer is dropped: abandoned.
      if (awaited_.erase(message->nlmsg_seq) == 0) continue;
      std::optional<Flow> flow;
      if (message->nlmsg_type == message_type(IPCTNL_MSG_CT_NEW)) {
        const KernelConntrack conntrack(nfct_new());
        if (conntrack && nfct_nlmsg_parse(message, conntrack.get()) >= 0) {
          flow = flow_from_kernel(*message, *conntrack, now);
        }
      }
      // An error (ENOENT: no such connection) answers too.
      mirror_->answered(flow, now);
      answered.push_back(message->nlmsg_seq);
    }
  }
}

void ConntrackQuestions::abandon(Ticket ticket) {
  if (awaited_.erase(ticket) != 0) mirror_->abandoned();
}

}  // namespace verdictd
