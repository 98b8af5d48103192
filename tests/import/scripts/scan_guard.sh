#!/bin/bash
# scan_guard.sh - drop malformed and stealth-scan TCP packets, to the box
# and through it, and packets conntrack cannot place (INVALID).
#
# The usual suspects:
#   NULL scan      no flags at all
#   XMAS scan      FIN, PSH and URG
#   SYN+FIN, SYN+RST: never legitimate
#   a "new" connection that does not start with a SYN

LAN_IF=lan0
WAN_IF=wan0

modprobe nf_conntrack
modprobe xt_conntrack

iptables -F
iptables -X
iptables -N SCANS

# Both directions of both paths go through the same checks.
iptables -A INPUT -p tcp -j SCANS
iptables -A FORWARD -p tcp -j SCANS

iptables -A SCANS -p tcp --tcp-flags ALL NONE -j DROP
iptables -A SCANS -p tcp --tcp-flags ALL FIN,PSH,URG -j DROP
iptables -A SCANS -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP
iptables -A SCANS -p tcp --tcp-flags SYN,RST SYN,RST -j DROP
iptables -A SCANS -p tcp ! --syn -m conntrack --ctstate NEW -j DROP
iptables -A SCANS -m conntrack --ctstate INVALID -j DROP

# The same for IPv6, written out without a chain.
ip6tables -F
ip6tables -A INPUT -p tcp --tcp-flags ALL NONE -j DROP
ip6tables -A INPUT -p tcp --tcp-flags ALL FIN,PSH,URG -j DROP
ip6tables -A INPUT -m conntrack --ctstate INVALID -j DROP
ip6tables -A FORWARD -p tcp --tcp-flags ALL NONE -j DROP
ip6tables -A FORWARD -m conntrack --ctstate INVALID -j DROP
