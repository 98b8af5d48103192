// Conversion between libnetfilter_conntrack's objects, as ctnetlink reports
// the kernel's connections and expectations, and the flow table's.
#pragma once

#include <memory>
#include <optional>

#include "conntrack/expectations.hpp"
#include "conntrack/flow.hpp"

struct nf_conntrack;
struct nf_expect;
struct nlmsghdr;

namespace verdictd {

struct KernelConntrackDeleter {
  void operator()(nf_conntrack* conntrack) const;
};
using KernelConntrack = std::unique_ptr<nf_conntrack, KernelConntrackDeleter>;

// The connection one ctnetlink message (an event, a dump part, the answer to
// a get) reports, which the library parsed into `conntrack`. The message is
// read too: for ICMP the library keeps only the original direction's id and
// type, while NAT may have given the reply another id. The flow is
// unobserved, expires `now` plus the kernel's timeout, and has counters only
// when the kernel counts (nf_conntrack_acct). Its TCP state is kNone when the
// message carries none: an event tells it only when it changed
// (ctnetlink_conntrack_event, IPCT_PROTOINFO). nullopt for a family other
// than IPv4 and IPv6.
std::optional<Flow> flow_from_kernel(const nlmsghdr& message, const nf_conntrack& conntrack,
                                     ConntrackTime now);

// The original tuple of the connection that expected this one (the
// message's CTA_TUPLE_MASTER), nullopt when none did. Helpers expect TCP and
// UDP connections, so the ports are read as such.
std::optional<Tuple> master_from_kernel(const nf_conntrack& conntrack, Family family);

// A conntrack object carrying `tuple` as its original tuple. The kernel finds
// a connection by either of its tuples, so this addresses a get or an update
// of the connection holding `tuple` in either direction.
KernelConntrack kernel_conntrack(const Tuple& tuple);

// The expectation one ctnetlink message reports (parsed into `expectation`);
// its id is read from the message, which the library does not expose.
// nullopt for a family other than IPv4 and IPv6.
std::optional<Expectation> expectation_from_kernel(const nlmsghdr& message,
                                                   const nf_expect& expectation, ConntrackTime now);

}  // namespace verdictd
