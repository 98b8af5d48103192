#!/usr/bin/env bash
# clang-format and clang-tidy over every C++ file of the project; fails on any finding.
# $1: a configured build directory (for compile_commands.json).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
cd "$top"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find daemon tests bench -name '*.[ch]pp')
clang-format --dry-run -Werror "${files[@]}"
"$top/scripts/check_layers.sh"
mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cpp$' | grep -v '^tests/fuzz/')
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>&1 |
  grep -v 'warnings generated' | tee /tmp/verdictd-lint.$$ || true
# The fuzz targets compile only in the fuzz build (clang): its compile commands.
mapfile -t fuzz_sources < <(printf '%s\n' "${files[@]}" | grep '^tests/fuzz/.*\.cpp$')
if ((${#fuzz_sources[@]})); then
  cmake -S "$top" -B "$build/fuzz-lint" -DVERDICTD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  clang-tidy -p "$build/fuzz-lint" --quiet "${fuzz_sources[@]}" 2>&1 |
    grep -v 'warnings generated' | tee -a /tmp/verdictd-lint.$$ || true
fi
if grep -q 'warning:\|error:' /tmp/verdictd-lint.$$; then rm -f /tmp/verdictd-lint.$$; exit 1; fi
rm -f /tmp/verdictd-lint.$$
echo "lint: ${#files[@]} files clean"
