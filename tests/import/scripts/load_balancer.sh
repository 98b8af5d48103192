#!/bin/bash
# load_balancer.sh: spread new connections to the public service over two
# backends, round robin, with the statistic match. Each new connection goes
# through the nat table once; every second one goes to the first backend,
# the others fall through to the second.

set -e

PUBLIC_IP=10.2.0.1
PUBLIC_PORT=8080
BACKEND1=10.1.0.2:8001
BACKEND2=10.1.0.2:8002
WAN_IF=wan0
LAN_IF=lan0

sysctl -w net.ipv4.ip_forward=1 >/dev/null

iptables -t nat -F PREROUTING
iptables -F FORWARD

# Round robin: connection 1, 3, 5... to backend 1; 2, 4, 6... to backend 2.
iptables -t nat -A PREROUTING -i $WAN_IF -d $PUBLIC_IP -p tcp --dport $PUBLIC_PORT \
  -m statistic --mode nth --every 2 --packet 0 \
  -j DNAT --to-destination $BACKEND1
iptables -t nat -A PREROUTING -i $WAN_IF -d $PUBLIC_IP -p tcp --dport $PUBLIC_PORT \
  -j DNAT --to-destination $BACKEND2

# Only balanced connections may cross from the WAN to the LAN.
iptables -P FORWARD DROP
iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i $WAN_IF -o $LAN_IF -m conntrack --ctstate DNAT -j ACCEPT
iptables -A FORWARD -i $LAN_IF -o $WAN_IF -j ACCEPT

echo "balancing $PUBLIC_IP:$PUBLIC_PORT over $BACKEND1 and $BACKEND2"
exit 0
