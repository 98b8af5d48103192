#include "extension/system_names.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <array>
#include <memory>

namespace verdictd {

namespace {

// Big enough for any entry of /etc/protocols (the name and a few aliases).
constexpr std::size_t kEntryBuffer = 1024;

}  // namespace

std::optional<std::uint8_t> protocol_from_database(const std::string& name) {
  std::array<char, kEntryBuffer> buffer{};
  protoent entry{};
  protoent* found = nullptr;
  if (getprotobyname_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr || found->p_proto < 0 || found->p_proto > 0xff) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(found->p_proto);
}

std::optional<std::string> protocol_name_from_database(std::uint8_t number) {
  std::array<char, kEntryBuffer> buffer{};
  protoent entry{};
  protoent* found = nullptr;
  if (getprotobynumber_r(number, &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return std::string(found->p_name);
}

std::optional<std::uint16_t> service_port(const std::string& name) {
  addrinfo* found = nullptr;
  if (name.empty() || getaddrinfo(nullptr, name.c_str(), nullptr, &found) != 0) {
    return std::nullopt;
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> results(found, freeaddrinfo);
  for (const addrinfo* p = found; p != nullptr; p = p->ai_next) {
    // The first IPv4 or IPv6 answer holds the port, in network order.
    if (p->ai_family == AF_INET6) {
      return ntohs(reinterpret_cast<const sockaddr_in6*>(p->ai_addr)->sin6_port);
    }
    if (p->ai_family == AF_INET) {
      return ntohs(reinterpret_cast<const sockaddr_in*>(p->ai_addr)->sin_port);
    }
  }
  return std::nullopt;
}

}  // namespace verdictd
