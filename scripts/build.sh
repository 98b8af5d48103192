#!/usr/bin/env bash
# Configures and builds verdictd into build/ (or $VERDICTD_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICTD_BUILD_DIR:-$top/build}
# ccache: rebuilds and other checkouts of the tree (paths below $top are
# hashed relative to it) reuse objects already compiled.
export CCACHE_DIR=${CCACHE_DIR:-/tmp/verdictd-ccache} CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVERDICTD_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
