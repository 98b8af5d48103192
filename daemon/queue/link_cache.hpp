// Interface names by ifindex, kept current through rtnetlink (links created,
// renamed and removed while the daemon runs).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace verdictd {

using InterfaceName = std::array<char, 16>;  // NUL-terminated, IFNAMSIZ

class LinkCache {
 public:
  LinkCache();
  ~LinkCache();
  LinkCache(const LinkCache&) = delete;
  LinkCache& operator=(const LinkCache&) = delete;
  LinkCache(LinkCache&&) = delete;
  LinkCache& operator=(LinkCache&&) = delete;

  // Dumps the links, subscribes to changes and follows them on a thread.
  void start();
  void stop();
  // Copies the name of `ifindex` into `out`; false (and an empty name) if unknown.
  bool name_of(std::uint32_t ifindex, InterfaceName& out) const;

 private:
  void run();
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::uint32_t, InterfaceName> names_;
  struct Socket;
  std::unique_ptr<Socket> socket_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace verdictd
