#include "kernel/link_cache.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>

#include <cstring>
#include <mutex>

namespace verdictd {

namespace {

// mnl_attr_parse callback: copies IFLA_IFNAME, IFLA_MTU and a six-byte
// IFLA_ADDRESS into the link at `data`.
int copy_link(const nlattr* attribute, void* data) {
  auto& link = *static_cast<LinkCache::Link*>(data);
  switch (mnl_attr_get_type(attribute)) {
    case IFLA_IFNAME: {
      if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) < 0) return MNL_CB_ERROR;
      const char* text = mnl_attr_get_str(attribute);
      std::memcpy(link.name.data(), text, strnlen(text, link.name.size() - 1));
      break;
    }
    case IFLA_MTU:
      if (mnl_attr_validate(attribute, MNL_TYPE_U32) < 0) return MNL_CB_ERROR;
      link.mtu = mnl_attr_get_u32(attribute);
      break;
    case IFLA_ADDRESS:
      if (mnl_attr_get_payload_len(attribute) == link.device.address.size()) {
        std::memcpy(link.device.address.data(), mnl_attr_get_payload(attribute),
                    link.device.address.size());
      }
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

}  // namespace

LinkCache::LinkCache()
    : reader_({.protocol = NETLINK_ROUTE,
               .groups = RTMGRP_LINK,
               .dump_types = {RTM_GETLINK},
               .dump_header = sizeof(ifinfomsg),
               .changes = "link changes",
               .table = "the links",
               .followed = "interface names are no longer followed"},
              {.dump_begins = [this] { dumped_.clear(); },
               .message = [this](const nlmsghdr& message, bool from_dump,
                                 bool also_dumped) { apply(message, from_dump, also_dumped); },
               .dump_complete =
                   [this] {
                     const std::unique_lock lock(mutex_);
                     names_.swap(dumped_);
                   },
               .applied = {},
               .events_lost = {},
               .failed = {},
               .tick = {}}) {}

LinkCache::~LinkCache() { stop(); }

void LinkCache::start() { reader_.start(); }

void LinkCache::stop() { reader_.stop(); }

bool LinkCache::link_of(std::uint32_t ifindex, Link& out) const {
  {
    const std::shared_lock lock(mutex_);
    const auto found = names_.find(ifindex);
    if (found != names_.end()) {
      out = found->second;
      return true;
    }
  }
  // A link created an instant ago can carry a packet before its event is
  // read; the kernel knows the name already.
  out = Link{};
  if (ifindex != 0 && if_indextoname(ifindex, out.name.data()) != nullptr) return true;
  out.name.fill('\0');
  return false;
}

std::uint32_t LinkCache::mtu_of(std::uint32_t ifindex) const {
  const std::shared_lock lock(mutex_);
  const auto found = names_.find(ifindex);
  return found == names_.end() ? 0 : found->second.mtu;
}

void LinkCache::apply(const nlmsghdr& message, bool from_dump, bool also_dumped) {
  if (message.nlmsg_type != RTM_NEWLINK && message.nlmsg_type != RTM_DELLINK) return;
  if (message.nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return;
  const auto& info = *static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&message));
  const auto index = static_cast<std::uint32_t>(info.ifi_index);
  if (message.nlmsg_type == RTM_DELLINK) {
    const std::unique_lock lock(mutex_);
    names_.erase(index);
    dumped_.erase(index);
    return;
  }
  Link link;
  switch (info.ifi_type) {
    case ARPHRD_ETHER:
      link.device.kind = LinkKind::kEthernet;
      break;
    case ARPHRD_LOOPBACK:
      link.device.kind = LinkKind::kLoopback;
      break;
    default:
      break;
  }
  mnl_attr_parse(&message, sizeof(ifinfomsg), copy_link, &link);
  if (link.name[0] == '\0') return;
  // A rename or an MTU change is a NEWLINK carrying the new values.
  const std::unique_lock lock(mutex_);
  names_[index] = link;
  if (from_dump || also_dumped) dumped_[index] = link;
}

}  // namespace verdictd
