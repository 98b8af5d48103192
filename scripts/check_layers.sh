#!/bin/bash
# Folders are layers: a file may include headers of its own folder and of the
# folders listed before it, never of a folder listed after it. The pure code
# (up to pipeline) therefore never includes kernel-facing code.
set -euo pipefail
cd "$(dirname "$0")/../daemon"
layers=(text packet conntrack nat extension set match target ruleset iptables pipeline kernel service ctl)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done
status=0
while IFS= read -r file; do
  folder=${file%%/*}
  [[ -v rank[$folder] ]] || { echo "$file: folder $folder is not in the layer list" >&2; status=1; continue; }
  while IFS= read -r included; do
    target=${included%%/*}
    [[ -v rank[$target] ]] || continue
    if ((rank[$target] > rank[$folder])); then
      echo "$file includes $included: $target is above $folder" >&2
      status=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(find . -name '*.[ch]pp' -printf '%P\n' | sort)
exit $status
