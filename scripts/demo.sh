#!/usr/bin/env bash
# Installs what is needed, builds, and shows verdictd doing its job in a
# throwaway lab: client -- router -- server network namespaces joined by veth
# pairs, verdictd in the router enforcing rules/examples/lab-gateway.json on
# real traffic. Everything it creates is removed again on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICTD_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"

id="vd-demo-$$"
client="$id-c" router="$id-r" server="$id-s"
sock="/tmp/$id.sock"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "$client" "$router" "$server"; do ip netns del "$n" 2>/dev/null || true; done
  rm -f "$sock"
  rm -rf "/tmp/$id.run" "/tmp/$id.last-good.json" "/tmp/$id.data"
}
trap cleanup EXIT

ns() { ip netns exec "$@"; }
for n in "$client" "$router" "$server"; do ip netns add "$n"; ns "$n" ip link set lo up; done
ip link add c0 netns "$client" type veth peer name r0 netns "$router"
ip link add s0 netns "$server" type veth peer name r1 netns "$router"
ns "$client" ip addr add 10.1.0.2/24 dev c0
ns "$client" ip -6 addr add fd01::2/64 dev c0 nodad
ns "$router" ip addr add 10.1.0.1/24 dev r0
ns "$router" ip -6 addr add fd01::1/64 dev r0 nodad
ns "$router" ip addr add 10.2.0.1/24 dev r1
ns "$router" ip -6 addr add fd02::1/64 dev r1 nodad
ns "$server" ip addr add 10.2.0.2/24 dev s0
ns "$server" ip -6 addr add fd02::2/64 dev s0 nodad
ns "$client" ip link set c0 up; ns "$router" ip link set r0 up
ns "$router" ip link set r1 up; ns "$server" ip link set s0 up
ns "$client" ip route add default via 10.1.0.1
ns "$client" ip -6 route add default via fd01::1
ns "$server" ip route add default via 10.2.0.1
ns "$server" ip -6 route add default via fd02::1
ns "$router" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

# Both services echo what they get: a check passes only when the data went
# there and came back whole.
for port in 80 22; do
  ip netns exec "$server" socat TCP-LISTEN:$port,fork,reuseaddr PIPE &
  pids+=($!)
done

ip netns exec "$router" "$build/daemon/service/verdictd" --ruleset "$top/rules/examples/lab-gateway.json" \
  --control-socket "$sock" --runtime-directory "/tmp/$id.run" --last-good "/tmp/$id.last-good.json" &
pids+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
sleep 0.5

try() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "  $what: passes"; else echo "  $what: blocked"; fi
}
echo "verdictd is filtering the router's FORWARD hook, statefully, with rules/examples/lab-gateway.json:"
# 1 MB to the server and back, compared byte for byte.
head -c 1000000 /dev/urandom >"/tmp/$id.data"
echoed() {
  ns "$client" socat -T2 - "TCP:10.2.0.2:$1,connect-timeout=2" <"/tmp/$id.data" |
    cmp -s - "/tmp/$id.data"
}
try "client -> server tcp/80 (web), 1 MB echoed" echoed 80
try "client -> server tcp/22 (ssh), 1 MB echoed" echoed 22
try "client -> server ping" ns "$client" ping -c 3 -i 0.2 -W 1 10.2.0.2
try "client -> server ping over IPv6" ns "$client" ping -6 -c 3 -i 0.2 -W 1 fd02::2
try "client -> server udp/53" ns "$client" sh -c 'echo q | socat -T1 - UDP:10.2.0.2:53 | grep -q .'
try "server -> client ping (not asked for)" ns "$server" ping -c 2 -i 0.2 -W 1 10.1.0.2
echo
ns "$router" "$build/daemon/ctl/verdictctl" --socket "$sock" list -v --line-numbers
echo
echo "verdictd's connection table (verdictctl conntrack), as conntrack -L shows it:"
ns "$router" "$build/daemon/ctl/verdictctl" --socket "$sock" conntrack
echo
ns "$router" "$build/daemon/ctl/verdictctl" --socket "$sock" status
