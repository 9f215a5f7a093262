#!/usr/bin/env bash
# Fuzzes the BGP message parser for 30 s over the seed corpus; fails on any
# crash, sanitizer report or broken invariant. Skips (77) without clang++.
# No networking: the fuzzer only calls the codec in-process.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v clang++ >/dev/null 2>&1; then
  echo "SKIP: clang++ not installed"
  exit 77
fi
exec "$root/tests/fuzz/run" --seconds 30
