#!/usr/bin/env bash
# Fails (listing the files) when any C source differs from what clang-format 14 makes of it.
set -u
cd "$(dirname "$0")/.." || exit 2
fmt=$(command -v clang-format-14 || command -v clang-format) || { echo "clang-format not found"; exit 2; }
bad=0
while IFS= read -r f; do
    if ! diff -q <("$fmt" --style=file "$f") "$f" >/dev/null; then
        echo "not formatted: $f (run: $fmt -i $f)"
        bad=1
    fi
done < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' '*.cpp' 2>/dev/null)
exit $bad
