#!/bin/bash
# port_knock.sh - ssh stays closed until the client knocks on two ports, in
# order: first KNOCK1, then KNOCK2 within KNOCK_WINDOW seconds. The knocks
# themselves are dropped, so a scanner sees nothing.
#
# Each stage is a chain of its own, with one recent match per rule:
#   KNOCK2_CHECK  a knock on KNOCK2 counts only after KNOCK1
#   KNOCK2_PASS   remember the address as having knocked twice
#   SSH_GATE      ssh from an address that knocked twice

KNOCK1=7000
KNOCK2=8000
KNOCK_WINDOW=15
SSH_PORT=22

modprobe xt_recent

iptables -F
iptables -X
iptables -P INPUT DROP
iptables -P OUTPUT ACCEPT

iptables -N KNOCK2_PASS
iptables -N KNOCK2_CHECK
iptables -N SSH_GATE

iptables -A INPUT -i lo -j ACCEPT
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -p icmp -j ACCEPT

# Stage 1: anybody may knock first.
iptables -A INPUT -p tcp --dport $KNOCK1 -m recent --name knock1 --set -j DROP

# Stage 2: only counts after stage 1.
iptables -A INPUT -p tcp --dport $KNOCK2 -j KNOCK2_CHECK
iptables -A KNOCK2_CHECK -m recent --name knock1 --rcheck --seconds $KNOCK_WINDOW \
    -j KNOCK2_PASS
iptables -A KNOCK2_CHECK -j DROP
iptables -A KNOCK2_PASS -m recent --name knock2 --set -j DROP

# The door.
iptables -A INPUT -p tcp --dport $SSH_PORT --syn -j SSH_GATE
iptables -A SSH_GATE -m recent --name knock2 --rcheck --seconds $KNOCK_WINDOW -j ACCEPT
iptables -A SSH_GATE -j DROP

# No knocking over IPv6: ssh is simply closed there.
ip6tables -F
ip6tables -P INPUT DROP
ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip6tables -A INPUT -p ipv6-icmp -j ACCEPT
