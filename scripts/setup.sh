#!/usr/bin/env bash
# Installs the Debian packages memtrack needs (when missing) and builds everything into build/;
# `setup.sh --test` also installs what the tests need. Used by both quick-start commands and by
# CI. Run as root on Debian 12 (or with the packages already installed).
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for is listed in README.md ("Dependencies"). A package named with a
# command (package:command) is also satisfied by that command from elsewhere (Node.js from
# NodeSource, say, whose nodejs package conflicts with Debian's npm).
packages=(build-essential cmake:cmake pkg-config libunwind-dev libdw-dev libelf-dev
          libcmocka-dev python3:python3 libprotobuf-c-dev protobuf-c-compiler:protoc-c
          zlib1g-dev nodejs:node npm:npm ruby:ruby ruby-dev rake:rake)
if [ "${1:-}" = --test ]; then
    packages+=(valgrind:valgrind clang-format golang-go:go chromium:chromium ruby-minitest
               sqlite3:sqlite3 git:git perl:perl clang-14:clang-14 libclang-rt-14-dev
               heaptrack:heaptrack)
fi
missing=()
for entry in "${packages[@]}"; do
    p=${entry%%:*} cmd=${entry#*:}
    [ "$cmd" != "$entry" ] && command -v "$cmd" >/dev/null 2>&1 && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "memtrack setup: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "memtrack setup: missing packages (${missing[*]}); run as root or install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MEMTRACK_CMAKE_FLAGS:-} >/dev/null
cmake --build build -j"$(nproc)"
