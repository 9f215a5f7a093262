#!/usr/bin/env bash
# Fuzzes the tunnel decapsulation parsers (tests/fuzz/tunnel_decap_fuzz.cc)
# for 20 s over the seed corpus; fails on any crash, sanitizer report or
# broken invariant, keeping the input in tests/fuzz/regressions/tunnel_decap.
# Skips (77) without clang++. No networking.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly SECONDS_TO_RUN=20
if ! command -v clang++ >/dev/null 2>&1; then
  echo "SKIP: clang++ not installed"
  exit 77
fi
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}
"$root/tests/fuzz/build" >/dev/null
work="$out/corpus/tunnel_decap"
artifacts="$out/artifacts/tunnel_decap"
regressions="$root/tests/fuzz/regressions/tunnel_decap"
mkdir -p "$work" "$artifacts" "$regressions"
rm -f "$artifacts"/*
status=0
"$out/tunnel_decap_fuzz" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work" "$root/tests/fuzz/corpus/tunnel_decap" "$regressions" \
  >"$out/tunnel_decap_fuzz.log" 2>&1 || status=$?
runs=$(grep -m1 '^stat::number_of_executed_units' "$out/tunnel_decap_fuzz.log" | awk '{print $2}')
found=0
for f in "$artifacts"/*; do
  [[ -e "$f" ]] || continue
  cp "$f" "$regressions/"
  found=$((found + 1))
done
if ((status != 0 || found > 0)); then
  echo "FAIL tunnel_decap_fuzz: exit $status, $found new regression input(s) (log: $out/tunnel_decap_fuzz.log)"
  exit 1
fi
echo "PASS tunnel_decap_fuzz: ${runs:-unknown} executions in ${SECONDS_TO_RUN} s, no crash"
