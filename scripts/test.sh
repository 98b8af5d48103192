#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (unit and integration).
# Integration tests create their own network namespaces and need root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICTD_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
cd "$build"
# Three at a time: an integration test (one at a time, tests/integration),
# beside lint and the fuzz run (at nice 19) and the unit tests.
ctest --output-on-failure -j3 "$@"
