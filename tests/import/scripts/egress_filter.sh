#!/bin/bash
# egress_filter.sh -- the box itself may only talk to the outside world for
# DNS, NTP, web and ping (and ssh into the LAN). Anything else it tries to
# send is dropped: a compromised service cannot phone home on odd ports.
# Incoming connections and forwarded traffic are left alone.

LAN_NET=10.1.0.0/24
RESOLVER=10.2.0.2
RESOLVER6=fd02::2

echo "egress filter: starting"

iptables -F OUTPUT
iptables -P OUTPUT DROP

iptables -A OUTPUT -o lo -j ACCEPT
# Replies to connections others opened to us.
iptables -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT

# Name resolution, only to our resolver.
iptables -A OUTPUT -p udp -d $RESOLVER --dport 53 -j ACCEPT
iptables -A OUTPUT -p tcp -d $RESOLVER --dport 53 -j ACCEPT
# Time.
iptables -A OUTPUT -p udp --dport 123 -j ACCEPT
# Package updates and the like.
iptables -A OUTPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
# Administration of the LAN machines.
iptables -A OUTPUT -p tcp -d $LAN_NET --dport 22 -j ACCEPT
# Ping out.
iptables -A OUTPUT -p icmp --icmp-type echo-request -j ACCEPT

ip6tables -F OUTPUT
ip6tables -P OUTPUT DROP
ip6tables -A OUTPUT -o lo -j ACCEPT
ip6tables -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip6tables -A OUTPUT -p ipv6-icmp -j ACCEPT
ip6tables -A OUTPUT -p udp -d $RESOLVER6 --dport 53 -j ACCEPT
ip6tables -A OUTPUT -p tcp -m multiport --dports 80,443 -j ACCEPT

echo "egress filter: done"
