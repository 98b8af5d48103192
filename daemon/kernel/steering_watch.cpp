#include "kernel/steering_watch.hpp"

// <arpa/inet.h> first: the kernel's <linux/in.h> then skips its own copies.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
// clang-format off
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <system_error>
#include <vector>

namespace verdictd {

namespace {

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// FNV-1a, enough to tell one table content from another.
struct Hash {
  std::uint64_t value = 0xcbf29ce484222325ULL;
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      value ^= bytes[i];
      value *= 0x100000001b3ULL;
    }
  }
};

// The kernel's structures of one family (ip_tables or ip6_tables).
template <typename Info, typename Entries, typename Entry, int Level, int GetInfo, int GetEntries>
struct Xtables {
  // Adds table `name`'s layout and entries, counters zeroed, to `hash`; a
  // table that is not there (or changed while read) adds its error.
  static void add(int fd, std::string_view name, Hash& hash) {
    Info info{};
    name.copy(info.name, sizeof info.name - 1);
    socklen_t length = sizeof info;
    if (getsockopt(fd, Level, GetInfo, &info, &length) != 0) {
      const int error = errno;
      hash.add(&error, sizeof error);
      return;
    }
    hash.add(&info, sizeof info);
    std::vector<unsigned char> buffer(sizeof(Entries) + info.size);
    auto* entries = reinterpret_cast<Entries*>(buffer.data());
    name.copy(entries->name, sizeof entries->name - 1);
    entries->size = info.size;
    length = static_cast<socklen_t>(buffer.size());
    if (getsockopt(fd, Level, GetEntries, entries, &length) != 0) {
      const int error = errno;
      hash.add(&error, sizeof error);
      return;
    }
    unsigned char* table = buffer.data() + offsetof(Entries, entrytable);
    // Packets change the counters of every entry; nothing else changes
    // without a table replacement.
    for (std::size_t at = 0; at + sizeof(Entry) <= info.size;) {
      auto* entry = reinterpret_cast<Entry*>(table + at);
      std::memset(&entry->counters, 0, sizeof entry->counters);
      if (entry->next_offset == 0) break;
      at += entry->next_offset;
    }
    hash.add(table, info.size);
  }
};

using Ipv4Tables = Xtables<ipt_getinfo, ipt_get_entries, ipt_entry, IPPROTO_IP, IPT_SO_GET_INFO,
                           IPT_SO_GET_ENTRIES>;
using Ipv6Tables = Xtables<ip6t_getinfo, ip6t_get_entries, ip6t_entry, IPPROTO_IPV6,
                           IP6T_SO_GET_INFO, IP6T_SO_GET_ENTRIES>;

}  // namespace

SteeringWatch::SteeringWatch(SteeringBackend backend, std::chrono::milliseconds period)
    : backend_(backend), period_(period) {
  if (backend_ == SteeringBackend::kNft) {
    events_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (events_ == nullptr) throw_errno("opening a netfilter netlink socket");
    if (mnl_socket_bind(events_, 1U << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
      const int error = errno;
      mnl_socket_close(events_);
      throw std::system_error(error, std::generic_category(), "subscribing to nf_tables changes");
    }
    return;
  }
  raw_[0] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (raw_[0] < 0) throw_errno("opening a raw socket to read the iptables tables");
  raw_[1] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);  // -1 without IPv6
  last_ = legacy_fingerprints();
}

SteeringWatch::~SteeringWatch() {
  if (events_ != nullptr) mnl_socket_close(events_);
  for (const int fd : raw_) {
    if (fd >= 0) close(fd);
  }
}

std::array<std::uint64_t, kFamilyCount> SteeringWatch::legacy_fingerprints() const {
  Hash ipv4;
  Hash ipv6;
  for (const std::string_view table : {"raw", "mangle"}) {
    Ipv4Tables::add(raw_[0], table, ipv4);
    if (raw_[1] >= 0) Ipv6Tables::add(raw_[1], table, ipv6);
  }
  return {ipv4.value, ipv6.value};
}

FamilyMask SteeringWatch::wait_for_change() {
  while (!stopping_.load()) {
    const int timeout = events_ != nullptr && !again_ ? -1 : static_cast<int>(period_.count());
    std::array<pollfd, 2> watched{
        {{wakeup_.fd(), POLLIN, 0},
         {events_ != nullptr ? mnl_socket_get_fd(events_) : -1, POLLIN, 0}}};
    if (poll(watched.data(), watched.size(), timeout) < 0 && errno != EINTR) {
      throw_errno("waiting for table changes");
    }
    if (stopping_.load()) break;
    if (again_) {
      again_ = false;
      return kBothFamilies;
    }
    if (events_ != nullptr) {
      if (watched[1].revents == 0) continue;
      // Drain what came; an overrun (ENOBUFS) means changes as well.
      std::array<char, 8192> message{};
      while (mnl_socket_recvfrom(events_, message.data(), message.size()) > 0 || errno == ENOBUFS) {
      }
      return kBothFamilies;
    }
    const auto now = legacy_fingerprints();
    FamilyMask changed = 0;
    for (Family f : kAllFamilies) {
      if (now[family_index(f)] != last_[family_index(f)]) changed |= family_bit(f);
    }
    last_ = now;
    if (changed != 0) return changed;
  }
  return 0;
}

void SteeringWatch::stop() {
  stopping_ = true;
  wakeup_.signal();
}

}  // namespace verdictd
