#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test (unit and integration).
# Integration tests create their own network namespaces and need root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICTD_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
cd "$build"
ctest --output-on-failure "$@"
