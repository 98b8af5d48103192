#!/usr/bin/env bash
# Installs, from Debian's archive, everything verdictd needs to build, run and test.
set -euo pipefail
packages=(
  build-essential cmake pkg-config ccache clang-format clang-tidy
  clang libclang-rt-14-dev
  libmnl-dev libnetfilter-queue-dev libnetfilter-conntrack-dev libsystemd-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  iptables iproute2 iputils-ping conntrack iperf3 socat
  python3 python3-jsonschema python3-scapy
  fail2ban python3-systemd
  ufw
  ipset
  systemd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# iptables-persistent cannot be installed beside ufw (ufw Breaks it), so
# its packages are only unpacked here; the import tests run its
# netfilter-persistent from there, in a mount namespace of their own.
debs=$(cd "$(dirname "$0")/.." && pwd)/.cache/iptables-persistent
if [[ ! -x $debs/usr/sbin/netfilter-persistent ]]; then
  mkdir -p "$debs/download"
  (cd "$debs/download" && apt-get download -qq netfilter-persistent iptables-persistent)
  for deb in "$debs"/download/*.deb; do dpkg-deb -x "$deb" "$debs"; done
fi
