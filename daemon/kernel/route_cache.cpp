#include "kernel/route_cache.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <mutex>
#include <optional>

namespace verdictd {

namespace {

struct RouteAttributes {
  const nlattr* destination = nullptr;
  const nlattr* multipath = nullptr;
  std::optional<std::uint32_t> table;
  std::optional<std::uint32_t> oif;
  std::uint32_t metric = 0;
  bool gateway = false;
};

// mnl_attr_parse callback: picks what a Route needs.
int collect_attribute(const nlattr* attribute, void* data) {
  auto& found = *static_cast<RouteAttributes*>(data);
  switch (mnl_attr_get_type(attribute)) {
    case RTA_DST:
      found.destination = attribute;
      break;
    case RTA_MULTIPATH:
      found.multipath = attribute;
      break;
    case RTA_GATEWAY:
    case RTA_VIA:
      found.gateway = true;
      break;
    case RTA_TABLE:
    case RTA_OIF:
    case RTA_PRIORITY: {
      if (mnl_attr_validate(attribute, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
      const std::uint32_t value = mnl_attr_get_u32(attribute);
      const auto type = mnl_attr_get_type(attribute);
      if (type == RTA_TABLE) found.table = value;
      if (type == RTA_OIF) found.oif = value;
      if (type == RTA_PRIORITY) found.metric = value;
      break;
    }
    default:
      break;
  }
  return MNL_CB_OK;
}

// The live devices of RTA_MULTIPATH's nexthops, and whether one has a gateway.
void read_nexthops(const nlattr* multipath, Route& route) {
  const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(multipath));
  std::size_t left = mnl_attr_get_payload_len(multipath);
  while (left >= sizeof(rtnexthop)) {
    const auto* hop = reinterpret_cast<const rtnexthop*>(bytes);  // NOLINT: netlink layout
    if (hop->rtnh_len < sizeof(rtnexthop) || hop->rtnh_len > left) break;
    if ((hop->rtnh_flags & RTNH_F_DEAD) == 0) {
      route.devices.push_back(static_cast<std::uint32_t>(hop->rtnh_ifindex));
    }
    // Its own attributes follow it: a gateway is all we look for.
    const auto* attribute = reinterpret_cast<const nlattr*>(bytes + RTNH_LENGTH(0));  // NOLINT
    std::size_t attributes_left = hop->rtnh_len - RTNH_LENGTH(0);
    while (mnl_attr_ok(attribute, static_cast<int>(attributes_left))) {
      const auto type = mnl_attr_get_type(attribute);
      if (type == RTA_GATEWAY || type == RTA_VIA) route.has_gateway = true;
      attributes_left -= MNL_ALIGN(attribute->nla_len);
      attribute = mnl_attr_next(attribute);
    }
    const std::size_t step = RTNH_ALIGN(hop->rtnh_len);
    if (step >= left) break;
    bytes += step;
    left -= step;
  }
}

std::optional<Route> parse_route(const nlmsghdr& message) {
  if (message.nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return std::nullopt;
  const auto* header = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&message));
  Family family = Family::kIPv4;
  if (header->rtm_family == AF_INET6) {
    family = Family::kIPv6;
  } else if (header->rtm_family != AF_INET) {
    return std::nullopt;  // IPMR and the other families' routes
  }
  // IPv6's cached exceptions (PMTU, redirects) are not routes of a table.
  if ((header->rtm_flags & RTM_F_CLONED) != 0) return std::nullopt;
  RouteAttributes found;
  if (mnl_attr_parse(&message, sizeof(rtmsg), collect_attribute, &found) < 0) return std::nullopt;
  Route route;
  route.destination.address.family = family;
  route.destination.length = header->rtm_dst_len;
  if (found.destination != nullptr) {
    const auto* payload = static_cast<const std::uint8_t*>(mnl_attr_get_payload(found.destination));
    const std::size_t length = mnl_attr_get_payload_len(found.destination);
    if (length != route.destination.address.size()) return std::nullopt;
    route.destination.address =
        family == Family::kIPv4 ? IpAddress::from_v4(payload) : IpAddress::from_v6(payload);
  }
  route.type = header->rtm_type;
  route.table = found.table.value_or(header->rtm_table);
  route.metric = found.metric;
  route.tos = header->rtm_tos;
  route.has_gateway = found.gateway;
  if (found.multipath != nullptr) {
    read_nexthops(found.multipath, route);
  } else if (found.oif && (header->rtm_flags & RTNH_F_DEAD) == 0) {
    route.devices.push_back(*found.oif);
  }
  return route;
}

}  // namespace

RouteCache::RouteCache()
    : reader_({.protocol = NETLINK_ROUTE,
               .groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
               .dump_types = {RTM_GETROUTE},
               .dump_header = sizeof(rtmsg),
               .changes = "route changes",
               .table = "the routes",
               .followed = "routes are no longer followed (addrtype, rpfilter)"},
              {.dump_begins = [this] { dumped_->clear(); },
               .message = [this](const nlmsghdr& message, bool from_dump,
                                 bool also_dumped) { apply(message, from_dump, also_dumped); },
               .dump_complete =
                   [this] {
                     const std::unique_lock lock(mutex_);
                     std::swap(routes_, dumped_);
                     dumped_->clear();
                   },
               .applied = {},
               .events_lost = {},
               .failed = {},
               .tick = {}}) {}

RouteCache::~RouteCache() { stop(); }

void RouteCache::start() { reader_.start(); }

void RouteCache::stop() { reader_.stop(); }

RouteResult RouteCache::lookup(const RouteQuery& query) const {
  const std::shared_lock lock(mutex_);
  return routes_->lookup(query);
}

RouteResult RouteCache::lookup_local_table(const IpAddress& destination) const {
  const std::shared_lock lock(mutex_);
  return routes_->lookup_local_table(destination);
}

bool RouteCache::is_address_of(std::uint32_t ifindex, const IpAddress& address) const {
  const std::shared_lock lock(mutex_);
  return routes_->is_address_of(ifindex, address);
}

std::size_t RouteCache::size() const {
  const std::shared_lock lock(mutex_);
  return routes_->size();
}

void RouteCache::apply(const nlmsghdr& message, bool from_dump, bool also_dumped) {
  if (message.nlmsg_type == RTM_NEWLINK || message.nlmsg_type == RTM_DELLINK) {
    // An interface going down or away takes its IPv4 routes with it without
    // a notification of each (fib_flush), and marks IPv6 nexthops: dump again.
    reader_.dump_again();
    return;
  }
  if (message.nlmsg_type != RTM_NEWROUTE && message.nlmsg_type != RTM_DELROUTE) return;
  const auto route = parse_route(message);
  if (!route) return;
  if (from_dump) {
    dumped_->add(*route);
    return;
  }
  const bool added = message.nlmsg_type == RTM_NEWROUTE;
  {
    const std::unique_lock lock(mutex_);
    if (added) {
      routes_->add(*route);
    } else {
      routes_->remove(*route);
    }
  }
  if (also_dumped && added) dumped_->add(*route);
  if (also_dumped && !added) dumped_->remove(*route);
}

}  // namespace verdictd
