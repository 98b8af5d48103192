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

# The lab of the integration tests (tests/integration/lab.py): client --
# router -- server, with LAB_CLIENT, LAB_ROUTER, LAB_SERVER (the namespaces)
# and LAB_TMP (a directory removed with the lab).
pids=()
LAB_ID=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "$LAB_ID" ] || /usr/bin/python3 "$top/tests/integration/lab.py" down "$LAB_ID"
}
trap cleanup EXIT
lab=$(/usr/bin/python3 "$top/tests/integration/lab.py" up)
eval "$lab"
client=$LAB_CLIENT router=$LAB_ROUTER server=$LAB_SERVER
sock="$LAB_TMP/verdictd.sock"
data="$LAB_TMP/data"
ns() { ip netns exec "$@"; }

# Both services echo what they get: a check passes only when the data went
# there and came back whole.
for port in 80 22; do
  ip netns exec "$server" socat -t5 TCP-LISTEN:$port,fork,reuseaddr PIPE &
  pids+=($!)
done

ip netns exec "$router" "$build/daemon/service/verdictd" --ruleset "$top/rules/examples/lab-gateway.json" \
  --control-socket "$sock" --runtime-directory "$LAB_TMP/run" --last-good "$LAB_TMP/last-good.json" &
pids+=($!)
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
sleep 0.5

try() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "  $what: passes"; else echo "  $what: blocked"; fi
}
echo "verdictd is filtering the router's FORWARD hook, statefully, with rules/examples/lab-gateway.json:"
# 1 MB to the server and back, compared byte for byte. socat waits up to 5 s
# (-t5, not its default 0.5 s) for the echo once it has sent the last byte,
# and so does the server: the first burst of a new lab can lose segments
# while the router resolves its neighbours, and their retransmission takes
# longer than 0.5 s.
head -c 1000000 /dev/urandom >"$data"
echoed() {
  ns "$client" socat -T2 -t5 - "TCP:10.2.0.2:$1,connect-timeout=2" <"$data" |
    cmp -s - "$data"
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
echo "The last packets verdictd dropped, and the rule or policy that dropped each (verdictctl drops):"
ns "$router" "$build/daemon/ctl/verdictctl" --socket "$sock" drops -n 4
echo
echo "Why ssh is blocked, asked of the ruleset file alone (verdictctl simulate, no daemon):"
"$build/daemon/ctl/verdictctl" simulate --ruleset "$top/rules/examples/lab-gateway.json" \
  --hook PREROUTING,FORWARD,POSTROUTING -i lan0 -o wan0 -p tcp -s 10.1.0.2 -d 10.2.0.2 \
  --dport 22 || echo "(exit status $?: DROP)"
echo
ns "$router" "$build/daemon/ctl/verdictctl" --socket "$sock" status
