#!/bin/bash
#
# host_firewall.sh - stand-alone firewall for the router box itself.
#
# Policy: nothing reaches the box unless listed below. The LAN may log in
# with ssh, everybody may use the web server, ping is answered. Forwarded
# traffic is not this script's business (see nat_gateway.sh).

LAN_IF=lan0
WAN_IF=wan0
LAN_NET=10.1.0.0/24
LAN_NET6=fd01::/64
SSH_PORT=22
WEB_PORTS=80,443

echo "Loading host firewall..."
modprobe ip_tables
modprobe nf_conntrack

# ---- IPv4 ----------------------------------------------------------------

# Start from a clean slate.
iptables -F
iptables -X
iptables -Z

# Default policies: closed on the way in, open on the way out.
iptables -P INPUT DROP
iptables -P FORWARD ACCEPT
iptables -P OUTPUT ACCEPT

# Loopback is always trusted.
iptables -A INPUT -i lo -j ACCEPT

# Replies to what we started (and ICMP errors about it).
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP

# ssh, from the LAN side only.
iptables -A INPUT -i $LAN_IF -s $LAN_NET -p tcp --dport $SSH_PORT \
         -m conntrack --ctstate NEW -j ACCEPT

# The web server, from anywhere.
iptables -A INPUT -p tcp -m multiport --dports $WEB_PORTS \
         -m conntrack --ctstate NEW -j ACCEPT

# Answer pings, but nothing else ICMP that is not related to a connection.
iptables -A INPUT -p icmp --icmp-type echo-request -j ACCEPT

# Be polite to the LAN (a quick "connection refused"), silent to the WAN.
iptables -A INPUT -i $LAN_IF -p tcp -j REJECT --reject-with tcp-reset
iptables -A INPUT -i $LAN_IF -p udp -j REJECT --reject-with icmp-port-unreachable

# ---- IPv6 ----------------------------------------------------------------

ip6tables -F
ip6tables -X
ip6tables -P INPUT DROP
ip6tables -P FORWARD ACCEPT
ip6tables -P OUTPUT ACCEPT

ip6tables -A INPUT -i lo -j ACCEPT
ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT

# ICMPv6 is needed for IPv6 to work at all (neighbour discovery, PMTU).
ip6tables -A INPUT -p ipv6-icmp -j ACCEPT

ip6tables -A INPUT -i $LAN_IF -s $LAN_NET6 -p tcp --dport $SSH_PORT -j ACCEPT
ip6tables -A INPUT -p tcp -m multiport --dports $WEB_PORTS -j ACCEPT
ip6tables -A INPUT -i $LAN_IF -p tcp -j REJECT --reject-with tcp-reset

echo "Host firewall loaded."
