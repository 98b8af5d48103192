// Protocol and service names from the system's databases (/etc/protocols and
// /etc/services through NSS), read as iptables reads them when a rule is
// written and printed as iptables-save prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace verdictd {

// getprotobyname: "vrrp" is 112.
std::optional<std::uint8_t> protocol_from_database(const std::string& name);
// getprotobynumber: the name iptables-save prints after -p.
std::optional<std::string> protocol_name_from_database(std::uint8_t number);
// A service's port as libxtables' xtables_getportbyname finds it for
// --sport and --dport: getaddrinfo of the service alone, whatever protocol
// (the first of tcp, udp, ... that has it).
std::optional<std::uint16_t> service_port(const std::string& name);

}  // namespace verdictd
