// The address cache against the kernel itself: each test runs in a child
// process inside a network namespace of its own, changes addresses with
// `ip`, and checks that the cache follows (the test binary's namespace is
// never touched). Needs root; skipped otherwise.
#include "kernel/address_cache.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace verdictd {
namespace {

constexpr int kSkipped = 77;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// What a child found wrong, one line each.
struct Failures {
  std::string text;
  void check(bool ok, const std::string& what) {
    if (!ok) text += what + "\n";
  }
};

void shell(Failures& failures, const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  failures.check(std::system(quiet.c_str()) == 0, "command failed: " + command);
}

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::vector<IpAddress> locals(const std::vector<InterfaceAddress>& list) {
  std::vector<IpAddress> out;
  out.reserve(list.size());
  for (const InterfaceAddress& a : list) out.push_back(a.local);
  return out;
}

std::string text(const std::vector<IpAddress>& list) {
  std::string out;
  for (const IpAddress& a : list) out += a.to_string() + " ";
  return out;
}

// A cache started now (from a dump alone) sees the same lists, in the same
// order, as the one that followed the events.
void check_matches_dump(Failures& failures, const AddressCache& followed, std::uint32_t ifindex,
                        const std::string& when) {
  AddressCache dumped;
  dumped.start();
  for (const Family family : {Family::kIPv4, Family::kIPv6}) {
    const auto expected = locals(dumped.addresses(ifindex, family));
    const bool same =
        eventually([&] { return locals(followed.addresses(ifindex, family)) == expected; });
    failures.check(same, when + ": followed " + text(locals(followed.addresses(ifindex, family))) +
                             "but a dump gives " + text(expected));
  }
  dumped.stop();
}

// The source the kernel itself picks for a UDP socket connected to `destination`.
std::optional<IpAddress> kernel_source_v6(const char* destination) {
  const int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_port = htons(9);
  inet_pton(AF_INET6, destination, &to.sin6_addr);
  sockaddr_in6 from{};
  socklen_t length = sizeof from;
  std::optional<IpAddress> source;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&from), &length) == 0) {
    source = IpAddress::from_v6(from.sin6_addr.s6_addr);
  }
  close(fd);
  return source;
}

struct Recorded {
  std::mutex mutex;
  std::vector<std::pair<std::uint32_t, IpAddress>> removed;
  std::vector<std::uint32_t> downed;
  bool was_removed(std::uint32_t ifindex, const IpAddress& a) {
    const std::lock_guard lock(mutex);
    return std::find(removed.begin(), removed.end(), std::pair{ifindex, a}) != removed.end();
  }
  bool went_down(std::uint32_t ifindex) {
    const std::lock_guard lock(mutex);
    return std::find(downed.begin(), downed.end(), ifindex) != downed.end();
  }
};

// Runs `scenario` in a forked child inside a new network namespace holding a
// veth pair ac0/ac1 (up); fails the test with what the child reports.
void in_new_namespace(
    const std::function<void(Failures&, std::uint32_t ac0, std::uint32_t ac1)>& scenario) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a network namespace";
  std::array<int, 2> pipe_ends{};
  ASSERT_EQ(pipe(pipe_ends.data()), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_ends[0]);
    if (unshare(CLONE_NEWNET) != 0) _exit(kSkipped);
    Failures failures;
    shell(failures, "ip link set lo up");
    shell(failures, "ip link add ac0 type veth peer name ac1");
    shell(failures, "ip link set ac0 up && ip link set ac1 up");
    if (failures.text.empty()) {
      try {
        scenario(failures, if_nametoindex("ac0"), if_nametoindex("ac1"));
      } catch (const std::exception& e) {
        failures.check(false, std::string("exception: ") + e.what());
      }
    }
    const ssize_t written = write(pipe_ends[1], failures.text.data(), failures.text.size());
    _exit(written == static_cast<ssize_t>(failures.text.size()) && failures.text.empty() ? 0 : 1);
  }
  close(pipe_ends[1]);
  std::string report;
  std::array<char, 512> chunk{};
  for (ssize_t got = 0; (got = read(pipe_ends[0], chunk.data(), chunk.size())) > 0;) {
    report.append(chunk.data(), static_cast<std::size_t>(got));
  }
  close(pipe_ends[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kSkipped) GTEST_SKIP() << "unshare(CLONE_NEWNET) is not permitted";
  EXPECT_EQ(WEXITSTATUS(status), 0) << report;
  EXPECT_EQ(report, "");
}

TEST(NatAddressCache, FollowsIpv4PrimariesSecondariesAndPromotion) {
  in_new_namespace([](Failures& f, std::uint32_t ac0, std::uint32_t ac1) {
    Recorded recorded;
    AddressCache cache;
    cache.on_address_removed([&](std::uint32_t ifindex, const IpAddress& a) {
      const std::lock_guard lock(recorded.mutex);
      recorded.removed.emplace_back(ifindex, a);
    });
    cache.on_interface_down([&](std::uint32_t ifindex) {
      const std::lock_guard lock(recorded.mutex);
      recorded.downed.push_back(ifindex);
    });
    cache.start();
    const auto masquerade = [&](const char* next_hop) {
      return cache.masquerade_address(ac0, Family::kIPv4, ip(next_hop));
    };
    f.check(masquerade("10.1.0.99") == std::nullopt, "an address before any was added");

    shell(f, "ip addr add 10.1.0.1/24 dev ac0");
    f.check(eventually([&] { return masquerade("10.1.0.99") == ip("10.1.0.1"); }),
            "the first address is not the masquerade address");
    f.check(cache.redirect_address(ac0, Family::kIPv4, ip("10.1.0.1")) == ip("10.1.0.1"),
            "the first address is not the redirect address");

    shell(f, "ip addr add 10.1.0.2/24 dev ac0");  // a secondary: same subnet
    shell(f, "ip addr add 10.2.0.1/24 dev ac0");  // a second primary, placed before the secondary
    const std::vector<IpAddress> expected{ip("10.1.0.1"), ip("10.2.0.1"), ip("10.1.0.2")};
    f.check(eventually([&] { return locals(cache.addresses(ac0, Family::kIPv4)) == expected; }),
            "order: " + text(locals(cache.addresses(ac0, Family::kIPv4))));
    const auto list = cache.addresses(ac0, Family::kIPv4);
    f.check(list.size() == 3 && (list[2].flags & IFA_F_SECONDARY) != 0 &&
                (list[0].flags & IFA_F_SECONDARY) == 0,
            "secondary flags");
    f.check(masquerade("10.2.0.50") == ip("10.2.0.1"), "the next hop's subnet decides");
    f.check(masquerade("192.0.2.1") == ip("10.1.0.1"), "off-subnet: the first primary");
    f.check(masquerade("0.0.0.0") == ip("10.1.0.1"), "no next hop: the first primary");
    check_matches_dump(f, cache, ac0, "after adding");

    // Promotion: the secondary becomes a primary, placed after the last primary.
    shell(f, "sysctl -qw net.ipv4.conf.ac0.promote_secondaries=1");
    shell(f, "ip addr del 10.1.0.1/24 dev ac0");
    f.check(eventually([&] { return recorded.was_removed(ac0, ip("10.1.0.1")); }),
            "no removal reported for 10.1.0.1");
    f.check(eventually([&] { return masquerade("10.1.0.7") == ip("10.1.0.2"); }),
            "the promoted secondary is not used");
    f.check(!recorded.was_removed(ac0, ip("10.1.0.2")),
            "the promoted secondary was reported removed");
    check_matches_dump(f, cache, ac0, "after a promotion");

    // Without promotion, deleting a primary takes its secondaries with it.
    shell(f, "sysctl -qw net.ipv4.conf.ac0.promote_secondaries=0");
    shell(f, "ip addr add 10.3.0.1/24 dev ac0 && ip addr add 10.3.0.2/24 dev ac0");
    shell(f, "ip addr del 10.3.0.1/24 dev ac0");
    f.check(eventually([&] { return recorded.was_removed(ac0, ip("10.3.0.2")); }),
            "the secondary deleted with its primary was not reported");
    check_matches_dump(f, cache, ac0, "after deleting a primary with a secondary");

    // An interface without a usable address: the kernel takes another one's.
    shell(f, "ip addr flush dev ac0");
    shell(f, "ip addr add 127.0.0.5/8 dev ac0 scope host");
    shell(f, "ip addr add 10.9.0.1/24 dev ac1");
    f.check(eventually([&] { return masquerade("10.1.0.7") == ip("10.9.0.1"); }),
            "no fallback to another interface's address");
    f.check(cache.redirect_address(ac1, Family::kIPv4, ip("10.9.0.1")) == ip("10.9.0.1"),
            "REDIRECT on the other interface");
    f.check(cache.redirect_address(ac0, Family::kIPv4, ip("10.1.0.1")) == ip("127.0.0.5"),
            "REDIRECT takes the first address whatever its scope");

    shell(f, "ip link set ac0 down");
    f.check(eventually([&] { return recorded.went_down(ac0); }), "the interface going down");
    cache.stop();
  });
}

TEST(NatAddressCache, FollowsIpv6AddressesAndSourceSelection) {
  in_new_namespace([](Failures& f, std::uint32_t ac0, std::uint32_t /*ac1*/) {
    Recorded recorded;
    AddressCache cache;
    cache.on_address_removed([&](std::uint32_t ifindex, const IpAddress& a) {
      const std::lock_guard lock(recorded.mutex);
      recorded.removed.emplace_back(ifindex, a);
    });
    cache.on_interface_down([&](std::uint32_t ifindex) {
      const std::lock_guard lock(recorded.mutex);
      recorded.downed.push_back(ifindex);
    });
    cache.start();
    shell(f, "ip -6 addr add 2001:db8::1/64 dev ac0 nodad");
    shell(f, "ip -6 addr add 2001:db8::2/64 dev ac0 nodad");
    const IpAddress far = ip("2001:db8::99");
    // The newest of a scope comes first.
    f.check(eventually([&] {
              const auto list = locals(cache.addresses(ac0, Family::kIPv6));
              return list.size() >= 2 && list[0] == ip("2001:db8::2") &&
                     list[1] == ip("2001:db8::1");
            }),
            "order: " + text(locals(cache.addresses(ac0, Family::kIPv6))));
    f.check(cache.redirect_address(ac0, Family::kIPv6, far) == ip("2001:db8::2"),
            "REDIRECT: the first address");
    f.check(cache.masquerade_address(ac0, Family::kIPv6, far) == kernel_source_v6("2001:db8::99"),
            "MASQUERADE differs from the kernel's source selection");

    // A deprecated address is avoided as a source but REDIRECT still takes it.
    shell(f, "ip -6 addr add 2001:db8::3/64 dev ac0 nodad preferred_lft 0");
    f.check(eventually([&] {
              return cache.redirect_address(ac0, Family::kIPv6, far) == ip("2001:db8::3");
            }),
            "REDIRECT does not take the newest address");
    f.check(cache.masquerade_address(ac0, Family::kIPv6, far) == kernel_source_v6("2001:db8::99"),
            "MASQUERADE differs from the kernel's source selection with a deprecated address");
    f.check(cache.masquerade_address(ac0, Family::kIPv6, far) != ip("2001:db8::3"),
            "MASQUERADE took a deprecated address");

    // A longer matching prefix wins.
    shell(f, "ip -6 addr add 2001:db8:0:1::1/64 dev ac0 nodad");
    const IpAddress other = ip("2001:db8:0:1::99");
    f.check(eventually([&] {
              return cache.masquerade_address(ac0, Family::kIPv6, other) == ip("2001:db8:0:1::1");
            }),
            "the longest matching prefix does not win");
    f.check(
        cache.masquerade_address(ac0, Family::kIPv6, other) == kernel_source_v6("2001:db8:0:1::99"),
        "MASQUERADE differs from the kernel's source selection (prefix)");

    // A link-local destination asks for a link-local address (once DAD is done).
    f.check(eventually([&] {
              const auto a = cache.redirect_address(ac0, Family::kIPv6, ip("fe80::99"));
              return a && a->bytes[0] == 0xfe && a->bytes[1] == 0x80;
            }),
            "REDIRECT of a link-local destination");
    check_matches_dump(f, cache, ac0, "IPv6");

    shell(f, "ip -6 addr del 2001:db8::3/64 dev ac0");
    f.check(eventually([&] { return recorded.was_removed(ac0, ip("2001:db8::3")); }),
            "no removal reported for 2001:db8::3");
    shell(f, "ip link set ac0 down");
    f.check(eventually([&] { return recorded.went_down(ac0); }), "the interface going down");
    f.check(eventually([&] { return recorded.was_removed(ac0, ip("2001:db8::1")); }),
            "addresses removed with the link going down");
    cache.stop();
  });
}

}  // namespace
}  // namespace verdictd
