#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan and UBSan, in a
# build directory of their own: only the pure code and the targets) and runs
# each: first every input of tests/fuzz/regressions/<target>/, then fresh
# fuzzing for the given seconds, keeping its corpus. An input that crashes is
# copied to tests/fuzz/regressions/<target>/ (commit it with the fix), and the
# script fails.
#   scripts/fuzz.sh [seconds-per-target] [target...]   (default 60 s, every target)
# Targets: packet_path ruleset_loader nat_rewrite kernel_flow.
# Environment: VERDICTD_FUZZ_BUILD_DIR (default build-fuzz), VERDICTD_FUZZ_CORPUS
# (default /tmp/verdictd-fuzz-corpus), VERDICTD_FUZZ_BUILD_JOBS (default nproc).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(packet_path ruleset_loader nat_rewrite kernel_flow)
build=${VERDICTD_FUZZ_BUILD_DIR:-$top/build-fuzz}
corpus=${VERDICTD_FUZZ_CORPUS:-/tmp/verdictd-fuzz-corpus}
fuzz_dir=$top/tests/fuzz

# Per target: libFuzzer options, and read-only seed directories.
declare -A options=(
  [packet_path]="-max_len=4096"
  [ruleset_loader]="-max_len=4096 -dict=$fuzz_dir/ruleset.dict"
  [nat_rewrite]="-max_len=2048"
  [kernel_flow]="-max_len=2048"
)
declare -A seeds=(
  [packet_path]="$fuzz_dir/seeds/packet_path"
  [ruleset_loader]="$top/tests/rulesets"
  [nat_rewrite]="$fuzz_dir/seeds/nat_rewrite"
  [kernel_flow]=""
)
for target in "${targets[@]}"; do
  [[ -v "options[$target]" ]] || { echo "fuzz: no target $target" >&2; exit 2; }
done

export CCACHE_DIR=${CCACHE_DIR:-/tmp/verdictd-ccache} CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
started=$SECONDS
cmake -S "$top" -B "$build" -DVERDICTD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVERDICTD_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j "${VERDICTD_FUZZ_BUILD_JOBS:-$(nproc)}" \
  --target "${targets[@]/#/fuzz_}" >/dev/null
echo "fuzz: build took $((SECONDS - started)) s"

failed=0
for target in "${targets[@]}"; do
  binary=$build/tests/fuzz/fuzz_$target
  regressions=$fuzz_dir/regressions/$target
  work=$corpus/$target
  artifacts=$corpus/$target.artifacts
  mkdir -p "$work" "$artifacts"
  read -ra target_options <<<"${options[$target]}"
  common=("${target_options[@]}" -timeout=10 -artifact_prefix="$artifacts/")
  mapfile -t known < <(find "$regressions" -type f 2>/dev/null | sort)
  if ((${#known[@]})) && ! "$binary" "${common[@]}" "${known[@]}" >"$corpus/$target.replay.log" 2>&1; then
    echo "fuzz: $target: a regression input crashes again (log: $corpus/$target.replay.log)"
    failed=1
    continue
  fi
  read -ra seed_dirs <<<"${seeds[$target]}"
  existing=()
  for dir in "${seed_dirs[@]}"; do [[ -d $dir ]] && existing+=("$dir"); done
  log=$corpus/$target.log
  if "$binary" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    "$work" "${existing[@]}" >"$log" 2>&1; then
    summary=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed -E 's/^#[0-9]+[[:space:]]+DONE[[:space:]]+//')
    runs=$(sed -nE 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -nE 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $target: ${#known[@]} regression inputs pass; ${seconds} s: $runs runs, $rate exec/s, $summary"
  else
    mkdir -p "$regressions"
    for artifact in "$artifacts"/*; do
      [[ -f $artifact ]] || continue
      cp "$artifact" "$regressions/"
      echo "fuzz: $target: new regression input $regressions/$(basename "$artifact")"
      rm -f "$artifact"
    done
    echo "fuzz: $target: FAILED (log: $log)"
    grep -m3 -E 'ERROR|runtime error|fuzz invariant' "$log" || true
    failed=1
  fi
done
exit "$failed"
