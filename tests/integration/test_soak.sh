#!/usr/bin/env bash
# The soak (tests/soak) for 3 minutes: the two-region seed topology with an
# ESP tunnel under traffic while Route Server instances restart, backends
# flap, configs reload and SAs rekey; then mempools back to the baseline,
# memory growth < 5 %, no stale route or flow, no worker stall, no UDP
# datagram lost (see tests/soak for what is checked and counted).
# tests/run: alone
# tests/run: timeout 330
#
# About 4 minutes in all: set-up and warm-up (~30 s), 3 minutes of soak,
# the flow timeouts and the checks (~30 s). tests/soak tears its topology
# down itself (namespaces under IT_PREFIX, which tests/run also sweeps).
set -uo pipefail
exec "$(dirname "$0")/../soak" --minutes 3
