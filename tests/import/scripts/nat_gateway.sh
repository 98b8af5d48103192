#!/bin/sh
# nat_gateway.sh -- share the uplink with the LAN and publish one LAN service.
#
#   LAN (lan0, 10.1.0.0/24) --- this box --- WAN (wan0)
#
# The LAN is masqueraded behind wan0's address. Port 8080 on the WAN side is
# forwarded to the web server on the LAN host WEB_HOST, port 80, and port
# 2222 to ssh on SSH_HOST.

WAN_IF="wan0"
LAN_IF="lan0"
LAN_NET="10.1.0.0/24"
WEB_HOST="10.1.0.2"
WEB_PORT="80"
PUBLIC_PORT="8080"
SSH_HOST="10.1.0.2"

# Routing has to be on for any of this to work.
echo 1 > /proc/sys/net/ipv4/ip_forward
modprobe iptable_nat

# Flush everything, both tables.
iptables -F
iptables -t nat -F
iptables -X
iptables -t nat -X

iptables -P FORWARD DROP

# Let replies back in.
iptables -A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT

# The LAN may go out.
iptables -A FORWARD -i $LAN_IF -o $WAN_IF -s $LAN_NET -j ACCEPT

# Port forward: rewrite the destination on the way in...
iptables -t nat -A PREROUTING -i $WAN_IF -p tcp --dport $PUBLIC_PORT \
    -j DNAT --to-destination $WEB_HOST:$WEB_PORT
# ...and let the rewritten packets through.
iptables -A FORWARD -i $WAN_IF -o $LAN_IF -p tcp -d $WEB_HOST --dport $WEB_PORT \
    -m state --state NEW -j ACCEPT
# ssh to the LAN box, the same way.
iptables -t nat -A PREROUTING -i $WAN_IF -p tcp --dport 2222 \
    -j DNAT --to-destination $SSH_HOST:22
iptables -A FORWARD -i $WAN_IF -o $LAN_IF -p tcp -d $SSH_HOST --dport 22 \
    -m state --state NEW -j ACCEPT

# Hide the LAN behind the uplink's address.
iptables -t nat -A POSTROUTING -o $WAN_IF -s $LAN_NET -j MASQUERADE

# IPv6: no NAT, but the same direction rule.
ip6tables -F
ip6tables -P FORWARD DROP
ip6tables -A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT
ip6tables -A FORWARD -i $LAN_IF -o $WAN_IF -j ACCEPT
ip6tables -A FORWARD -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT

echo "NAT gateway up: $LAN_NET -> $WAN_IF, :$PUBLIC_PORT -> $WEB_HOST:$WEB_PORT"
