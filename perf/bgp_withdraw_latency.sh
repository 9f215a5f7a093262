#!/usr/bin/env bash
# Route-server scale and withdrawal latency (issue 3, performance item 13):
# 8 feeding peers announce 4,000 routes each into isthmusd; a ninth session
# (the observer, like Azure Route Server) receives isthmusd's advertisements.
# Then, one at a time, a feeding peer withdraws one of its prefixes, and the
# injector times (one process, one monotonic clock) from just before the
# withdrawal is written to the socket until the observer has read isthmusd's
# withdrawal of that prefix. RFC 4271 9.2.1.1: withdrawals are not held back
# by the advertisement interval, so this should be a few ms (target <= 10 ms).
#
#   ns inj: feeders 198.18.200.11-18, observer 198.18.200.20 (one veth)
#   ns nva: isthmusd 198.18.200.1/24, AS 65010, af_xdp port on the veth
#
# Usage (root): perf/bgp_withdraw_latency.sh [--peers 8] [--routes 4000] [--withdrawals 40]
# Environment: ISTHMUSD, ISTHMUSCTL (default build-bgpperf/...), RESULTS_FILE, IT_DRIVER.
set -uo pipefail
PERF_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "${PERF_DIR}/.." && pwd)"
# shellcheck source=tests/lib/netns.sh
source "${REPO}/tests/lib/netns.sh"
# shellcheck source=tests/lib/bgp.sh
source "${REPO}/tests/lib/bgp.sh"

PEERS=8
ROUTES=4000
WITHDRAWALS=40
while (($#)); do
  case "$1" in
    --peers) PEERS="$2"; shift 2 ;;
    --routes) ROUTES="$2"; shift 2 ;;
    --withdrawals) WITHDRAWALS="$2"; shift 2 ;;
    *) echo "usage: $0 [--peers N] [--routes R] [--withdrawals W]" >&2; exit 2 ;;
  esac
done

readonly NVA_ADDR=198.18.200.1 PEER_BASE_HOST=11 OBSERVER=198.18.200.20 PLEN=24
readonly NVA_AS=65010 PEER_AS_BASE=65101 OBSERVER_AS=65200
readonly START_TIMEOUT_S=60
ISTHMUSD="${ISTHMUSD:-${REPO}/build-bgpperf/control/daemon/isthmusd}"
ISTHMUSCTL="${ISTHMUSCTL:-${REPO}/build-bgpperf/control/cli/isthmusctl}"
ISTHMUS_XDP_PROG="${ISTHMUS_XDP_PROG:-$(dirname "${ISTHMUSD}")/../../dataplane/xdp/isthmus_xdp.bpf.o}"
IT_DRIVER="${IT_DRIVER:-af_xdp}"
RESULTS_FILE="${RESULTS_FILE:-/tmp/bgp_withdraw_latency.$$.json}"
SOCK="${TEST_TMP}/isthmusd.sock"

[[ $EUID -eq 0 ]] || { echo "run as root (network namespaces)" >&2; exit 2; }
[[ -x "${ISTHMUSD}" && -x "${ISTHMUSCTL}" ]] || fail "isthmusd/isthmusctl not built: ${ISTHMUSD}"
((PEERS >= 1 && PEERS <= 8)) || fail "--peers must be 1-8 (addresses .11-.18)"

ns_create inj nva
veth_pair inj i-rs nva n-rs
addr nva n-rs "${NVA_ADDR}/${PLEN}"
for ((k = 0; k < PEERS; k++)); do addr inj i-rs "198.18.200.$((PEER_BASE_HOST + k))/${PLEN}"; done
addr inj i-rs "${OBSERVER}/${PLEN}"
veth_no_offload inj i-rs
veth_no_offload nva n-rs

peer_entry() {  # NAME ADDRESS AS
  printf '    - name: %s\n      address: %s\n      remote_as: %s\n      passive: true\n' "$1" "$2" "$3"
  printf '      import: [accept-all]\n      export: [accept-all]\n'
}

{
  cat <<EOF
dataplane:
  workers: 1
  idle_sleep_us: 1000
  hugepages: false
  punt_interface: ipw$(($$ % 1000000))
ports:
  - name: west
    driver: ${IT_DRIVER}
    interface: n-rs
punt:
  tcp_ports: [179]
  udp_ports: []
metrics:
  listen: 127.0.0.1:9472
admin:
  socket: ${SOCK}
log:
  level: info
$(bgp_yaml_accept_all "${NVA_AS}" "${NVA_ADDR}")
  peers:
EOF
  for ((k = 0; k < PEERS; k++)); do
    peer_entry "feeder$((k + 1))" "198.18.200.$((PEER_BASE_HOST + k))" "$((PEER_AS_BASE + k))"
  done
  peer_entry observer "${OBSERVER}" "${OBSERVER_AS}"
} >"${TEST_TMP}/isthmusd.yaml"

mkdir -p "${TEST_TMP}/runtime"
ns_exec nva ip link set dev n-rs xdp off 2>/dev/null
start_bg nva "${TEST_TMP}/isthmusd.log" env RUNTIME_DIRECTORY="${TEST_TMP}/runtime" \
  ISTHMUS_XDP_PROG="${ISTHMUS_XDP_PROG}" "${ISTHMUSD}" --config "${TEST_TMP}/isthmusd.yaml"
ready() { ns_exec nva "${ISTHMUSCTL}" --socket "${SOCK}" show bgp summary --json >/dev/null 2>&1; }
wait_until "${START_TIMEOUT_S}" ready || fail "isthmusd did not answer within ${START_TIMEOUT_S} s"
sleep 1

info "${PEERS} peers x ${ROUTES} routes, observer ${OBSERVER}, ${WITHDRAWALS} withdrawals"
ns_exec inj "${PY}" "${PERF_DIR}/bgp_injector.py" rs --connect "${NVA_ADDR}" --peers "${PEERS}" \
  --routes "${ROUTES}" --peer-base "198.18.200.${PEER_BASE_HOST}" --peer-as-base "${PEER_AS_BASE}" \
  --observer "${OBSERVER}" --observer-as "${OBSERVER_AS}" --withdrawals "${WITHDRAWALS}" \
  >"${RESULTS_FILE}" || fail "injector failed"
echo
jq -r '"route server: \(.peers) peers x \(.routes_per_peer) routes; the observer held all of them \(.load_s) s after the first announcement (\(.observer_routes) after the withdrawals)",
  "withdrawal -> observer: median \(.median_ms) ms, p99 \(.p99_ms) ms, min \(.min_ms) ms, max \(.max_ms) ms over \(.withdrawals) withdrawals (\(.missed) missed)"' \
  "${RESULTS_FILE}"
echo "(all samples in ${RESULTS_FILE})"
