#!/bin/bash
# syn_limits.sh: keep SYN floods and ping floods off the box.
# New TCP connections to the box: a burst of 3, then 10 a minute.
# Echo requests: a burst of 2, then 6 a minute. Both families.

SYN_RATE=10/minute
SYN_BURST=3
PING_RATE=6/minute
PING_BURST=2

# Kernel-side help against floods.
sysctl -w net.ipv4.tcp_syncookies=1

iptables -F
iptables -X
iptables -N SYN_FLOOD
iptables -N PING_FLOOD

# Echo requests are counted before the conntrack rule: a ping keeps its id,
# so all but its first request would pass as ESTABLISHED.
iptables -A INPUT -p icmp --icmp-type echo-request -j PING_FLOOD

iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT

# Every connection attempt goes through the flood check.
iptables -A INPUT -p tcp --syn -j SYN_FLOOD
iptables -A SYN_FLOOD -m limit --limit $SYN_RATE --limit-burst $SYN_BURST -j RETURN
iptables -A SYN_FLOOD -j DROP

iptables -A PING_FLOOD -m limit --limit $PING_RATE --limit-burst $PING_BURST -j ACCEPT
iptables -A PING_FLOOD -j DROP

# IPv6 pings get the same treatment (a rule of their own, no chain).
ip6tables -F
ip6tables -A INPUT -p ipv6-icmp --icmpv6-type echo-request \
    -m limit --limit $PING_RATE --limit-burst $PING_BURST -j ACCEPT
ip6tables -A INPUT -p ipv6-icmp --icmpv6-type echo-request -j DROP
