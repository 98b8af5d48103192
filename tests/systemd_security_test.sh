#!/usr/bin/env bash
# systemd's own measure of the unit's sandbox: `systemd-analyze security`
# exposure, from 0 (locked down) to 10, must stay at or below the bound.
set -euo pipefail
unit=$1
bound=${2:-2.0}
report=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$report")
[ -n "$exposure" ] || { echo "no exposure level in:"; echo "$report"; exit 1; }
grep '✗' <<<"$report" || true
echo "systemd-analyze security: exposure $exposure (bound $bound)"
awk -v e="$exposure" -v b="$bound" 'BEGIN { exit !(e <= b) }' ||
  { echo "the unit's exposure $exposure is above $bound"; exit 1; }
