#!/usr/bin/env bash
# Installs into a scratch prefix and checks what lands there: the binaries,
# the unit (which systemd-analyze must accept), schema, examples, man pages.
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/vd-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in sbin/verdictd bin/verdictctl lib/systemd/system/verdictd.service \
         sbin/iptables-verdictd sbin/ip6tables-verdictd sbin/iptables-verdictd-save \
         sbin/iptables-verdictd-restore sbin/ip6tables-verdictd-save \
         sbin/ip6tables-verdictd-restore share/verdictd/iptables-alternatives \
         share/verdictd/ruleset.schema.json share/verdictd/default.json \
         share/verdictd/verdictd.json share/verdictd/examples/host-firewall.json \
         share/verdictd/examples/fail2ban/jail.d/verdictd.conf \
         share/verdictd/examples/fail2ban/filter.d/verdictd.conf \
         share/man/man8/verdictd.8 share/man/man8/verdictctl.8 share/man/man5/verdictd.json.5; do
  [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
"$prefix/bin/verdictctl" check "$prefix"/share/verdictd/examples/*.json "$prefix/share/verdictd/default.json"
sed "s|/usr/sbin/verdictd|$prefix/sbin/verdictd|" "$prefix/lib/systemd/system/verdictd.service" \
  > "$prefix/verdictd.service"
systemd-analyze verify --man=no "$prefix/verdictd.service"
for page in "$prefix"/share/man/man*/*; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || { echo "$page: $warnings"; exit 1; }
done
echo "packaging: installed files, unit and man pages check out"
