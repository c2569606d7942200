#!/usr/bin/env bash
# The whole test suite: set up, build, run every test through CTest; then the engine, the
# reader, the reports and the CLI again under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the engine's concurrency tests under ThreadSanitizer (the injected library is never
# sanitized: it runs inside other programs). MEMTRACK_SANITIZE=0 skips the second part.
# Last, scripts/fuzz.sh fuzzes each target of tests/fuzz for MEMTRACK_FUZZ_SECONDS (default
# 20; 0 skips it, and so does MEMTRACK_SANITIZE=0).
set -euo pipefail
cd "$(dirname "$0")/.."
MEMTRACK_CMAKE_FLAGS="-DMEMTRACK_WERROR=ON ${MEMTRACK_CMAKE_FLAGS:-}" scripts/setup.sh --test
ctest --test-dir build --output-on-failure -j2 "$@"

if [ "${MEMTRACK_SANITIZE:-1}" != 0 ]; then
    echo "memtrack tests: again under ASan+UBSan (build-asan) and TSan (build-tsan)"
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMEMTRACK_WERROR=ON \
        -DMEMTRACK_ASAN=ON -DMEMTRACK_UBSAN=ON >/dev/null
    cmake --build build-asan -j"$(nproc)" >/dev/null
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DMEMTRACK_WERROR=ON \
        -DMEMTRACK_TSAN=ON >/dev/null
    cmake --build build-tsan -j"$(nproc)" --target test_engine >/dev/null
    ctest --test-dir build-tsan --output-on-failure \
        -R 'unit.test_engine'
    ctest --test-dir build-asan --output-on-failure -j2 \
        -R 'unit|fuzz|integration.test_(bad_input|cli|diff|leaks|peaks)'
    if [ "${MEMTRACK_FUZZ_SECONDS:-20}" != 0 ]; then
        scripts/fuzz.sh "${MEMTRACK_FUZZ_SECONDS:-20}"
    fi
fi
