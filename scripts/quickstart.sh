#!/usr/bin/env bash
# Quick start: set up, build, run the leaky example under memtrack and print its report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=$(mktemp -d)/leaky.mtc
build/memtrack run -o "$out" -- build/examples/leaky
build/memtrack report "$out"
