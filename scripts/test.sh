#!/usr/bin/env bash
# The whole test suite: set up, build, run every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
MEMTRACK_CMAKE_FLAGS="-DMEMTRACK_WERROR=ON ${MEMTRACK_CMAKE_FLAGS:-}" scripts/setup.sh
ctest --test-dir build --output-on-failure -j2 "$@"
