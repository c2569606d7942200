#!/usr/bin/env bash
# Fuzzes everything memtrack reads from untrusted hands: builds tests/fuzz with clang and
# libFuzzer (ASan+UBSan) into build-fuzz/, then runs each target for SECONDS (the argument,
# else $MEMTRACK_FUZZ_SECONDS, else 20) over its corpus: tests/fuzz/corpus/TARGET (kept in git,
# never written) and build-fuzz/fuzz-corpus/TARGET (what the runs found, kept between runs).
# Fails on the first crash, leak, timeout or out-of-memory, leaving the input that caused it
# in build-fuzz/fuzz-crashes/TARGET/. `scripts/fuzz.sh SECONDS TARGET...` runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${MEMTRACK_FUZZ_SECONDS:-20}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reader report args env)
case "$seconds" in '' | *[!0-9]*) echo "memtrack fuzz: SECONDS must be a number" >&2; exit 2 ;; esac

cc=$(command -v clang-14 || command -v clang) || { echo "memtrack fuzz: clang not found (scripts/setup.sh --test)" >&2; exit 2; }
cxx=$(command -v clang++-14 || command -v clang++)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMTRACK_WERROR=ON \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DMEMTRACK_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

for t in "${targets[@]}"; do
    work=build-fuzz/fuzz-corpus/$t crashes=build-fuzz/fuzz-crashes/$t
    mkdir -p "$work" "$crashes"
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    echo "memtrack fuzz: $t for ${seconds}s"
    # -close_fd_mask=3: the targets' own messages (usage errors, warnings) are not shown;
    # libFuzzer and the sanitizers still report on a stderr of their own.
    if ! build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" 2>build-fuzz/fuzz-$t.log; then
        grep -v -E "^#[0-9]+" build-fuzz/fuzz-$t.log | tail -n 40 >&2
        echo "memtrack fuzz: $t failed; the input is in $crashes/ (fix it, then keep it as a" \
            "regression test: copy it into tests/fuzz/corpus/$t/)" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done ' build-fuzz/fuzz-$t.log | tr '\n' ' ' || true
    echo
done
