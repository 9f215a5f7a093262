#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/targets: BGP messages, tunnel
# decapsulation, the IPv4 receive checks, NAT, ESP decapsulation, the config
# loader, the admin request parser) for a bounded time each over its seed
# corpus, after replaying its kept regression inputs; fails on any crash,
# sanitizer report or broken invariant, keeping the input in
# tests/fuzz/regressions/NAME/. Skips (77) without clang++. No networking:
# the targets call the parsers in-process (the ESP one runs an EAL with
# --no-huge --no-pci). Budget: FUZZ_SECONDS (default 12) per target, one
# target at a time, so about 90 s plus what the build has to redo.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly SECONDS_PER_TARGET=${FUZZ_SECONDS:-12}
if ! command -v clang++ >/dev/null 2>&1; then
  echo "SKIP: clang++ not installed"
  exit 77
fi
exec "$root/tests/fuzz/run" --seconds "$SECONDS_PER_TARGET"
