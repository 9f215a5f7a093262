#!/usr/bin/env bash
# BGP ingest benchmark (issue 3, performance item 12): one injector peer
# replays the same pre-encoded UPDATE stream (N IPv4 prefixes, 5,000 distinct
# AS paths, up to 4096-byte UPDATEs) into isthmusd, BIRD 2 and FRR bgpd, one
# receiver at a time, each in its own network namespace:
#
#   ns inj-<r>: injector 198.18.100.1/24  --veth--  ns rcv-<r>: receiver 198.18.100.2/24
#
# Every pair uses the same addresses so the stream (next hop 198.18.100.1) is
# byte-for-byte the same for all receivers. Per run and receiver, a fresh
# receiver process is started, the injector completes OPEN/KEEPALIVE, reads
# the receiver's VmRSS, starts the clock just before the first UPDATE byte,
# and polls until the receiver's RIB holds every prefix (isthmusd: also until
# its FIB does). Prints a table of medians with ratios to BIRD.
#
# Usage (root):
#   perf/bgp_ingest.sh [--prefixes N] [--paths P] [--runs R] [--poll S] [--receivers "isthmusd bird frr"]
# Environment: ISTHMUSD, ISTHMUSCTL (default build-bgpperf/...), RESULTS_FILE, IT_DRIVER (af_xdp).
set -uo pipefail
PERF_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "${PERF_DIR}/.." && pwd)"
# shellcheck source=tests/lib/netns.sh
source "${REPO}/tests/lib/netns.sh"
# shellcheck source=tests/lib/bgp.sh
source "${REPO}/tests/lib/bgp.sh"

PREFIXES=200000
PATHS=5000
RUNS=3
POLL_S=0.1
RECEIVERS="isthmusd bird frr"
while (($#)); do
  case "$1" in
    --prefixes) PREFIXES="$2"; shift 2 ;;
    --paths) PATHS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --poll) POLL_S="$2"; shift 2 ;;
    --receivers) RECEIVERS="$2"; shift 2 ;;
    *) echo "usage: $0 [--prefixes N] [--paths P] [--runs R] [--poll S] [--receivers LIST]" >&2; exit 2 ;;
  esac
done

readonly INJ_ADDR=198.18.100.1 RCV_ADDR=198.18.100.2 PLEN=24
readonly INJ_AS=65001 RCV_AS=65010
readonly START_TIMEOUT_S=60
readonly INJECT_TIMEOUT_S="${INJECT_TIMEOUT_S:-1200}"
# isthmusd's fib_routes gauge moves once per installed batch, and one batch
# can take minutes at 1M routes: only give up after this long without change.
readonly STALL_S="${STALL_S:-600}"
ISTHMUSD="${ISTHMUSD:-${REPO}/build-bgpperf/control/daemon/isthmusd}"
ISTHMUSCTL="${ISTHMUSCTL:-${REPO}/build-bgpperf/control/cli/isthmusctl}"
IT_DRIVER="${IT_DRIVER:-af_xdp}"
ISTHMUS_XDP_PROG="${ISTHMUS_XDP_PROG:-$(dirname "${ISTHMUSD}")/../../dataplane/xdp/isthmus_xdp.bpf.o}"
RESULTS_FILE="${RESULTS_FILE:-/tmp/bgp_ingest.$$.jsonl}"
STREAM="${TEST_TMP}/stream.bin"
# rte_lpm is sized once at start: room for every prefix plus the port routes.
FIB_MAX=$((PREFIXES + 65536))
((FIB_MAX < 1048576)) && FIB_MAX=1048576

[[ $EUID -eq 0 ]] || { echo "run as root (network namespaces)" >&2; exit 2; }

receiver_ns() { echo "rcv-$1"; }
injector_ns() { echo "inj-$1"; }

build_pair() {
  local r="$1"
  ns_create "$(injector_ns "$r")" "$(receiver_ns "$r")"
  veth_pair "$(injector_ns "$r")" "i-${r:0:4}" "$(receiver_ns "$r")" "r-${r:0:4}"
  addr "$(injector_ns "$r")" "i-${r:0:4}" "${INJ_ADDR}/${PLEN}"
  addr "$(receiver_ns "$r")" "r-${r:0:4}" "${RCV_ADDR}/${PLEN}"
  veth_no_offload "$(injector_ns "$r")" "i-${r:0:4}"
  veth_no_offload "$(receiver_ns "$r")" "r-${r:0:4}"
}

# ---------------------------------------------------------------- isthmusd

ISTH_DIR="${TEST_TMP}/isthmusd"
ISTH_SOCK="${ISTH_DIR}/isthmusd.sock"
isth_ctl() { ns_exec "$(receiver_ns isthmusd)" "${ISTHMUSCTL}" --socket "${ISTH_SOCK}" "$@"; }

isthmusd_config() {
  cat <<EOF
dataplane:
  workers: 1
  idle_sleep_us: 1000
  hugepages: false
  punt_interface: ipb$(($$ % 1000000))
  fib_max_routes: ${FIB_MAX}
ports:
  - name: west
    driver: ${IT_DRIVER}
    interface: r-isth
punt:
  tcp_ports: [179]
  udp_ports: []
metrics:
  listen: ${ISTH_METRICS}
admin:
  socket: ${ISTH_SOCK}
log:
  level: info
$(bgp_yaml_accept_all "${RCV_AS}" "${RCV_ADDR}")
  peers:
    - name: injector
      address: ${INJ_ADDR}
      remote_as: ${INJ_AS}
      passive: true
      import: [accept-all]
EOF
}

readonly ISTH_METRICS=127.0.0.1:9471
# isth_metric_cmd NAME OFFSET: a shell command printing NAME - OFFSET.
isth_metric_cmd() {
  printf "ip netns exec %s curl -s http://%s/metrics | awk '\$1 == \"%s\" {printf \"%%d\\\\n\", \$2 - %s}'" \
    "$(ns "$(receiver_ns isthmusd)")" "${ISTH_METRICS}" "$1" "$2"
}
isth_metric() { bash -c "$(isth_metric_cmd "$1" 0)"; }
isthmusd_ready() { isth_ctl show bgp summary --json >/dev/null 2>&1; }

start_isthmusd() {
  mkdir -p "${ISTH_DIR}/runtime"
  isthmusd_config >"${ISTH_DIR}/isthmusd.yaml"
  ns_exec "$(receiver_ns isthmusd)" ip link set dev r-isth xdp off 2>/dev/null
  start_bg "$(receiver_ns isthmusd)" "${ISTH_DIR}/isthmusd-$1.log" env RUNTIME_DIRECTORY="${ISTH_DIR}/runtime" \
    ISTHMUS_XDP_PROG="${ISTHMUS_XDP_PROG}" "${ISTHMUSD}" --config "${ISTH_DIR}/isthmusd.yaml"
  RCV_PID="${BG_PID}"
  wait_until "${START_TIMEOUT_S}" isthmusd_ready || fail "isthmusd did not answer within ${START_TIMEOUT_S} s"
  # Polled through /metrics (the exporter's own thread), not isthmusctl: the
  # admin socket is served by the control thread, which does not answer while
  # it installs a large batch into rte_lpm, so isthmusctl would report the
  # Loc-RIB late. Same values as `show bgp summary` loc_rib_prefixes and
  # `show stats` fib_routes.
  local base
  base="$(isth_metric isthmus_fib_routes)"
  RIB_CMD="$(isth_metric_cmd isthmus_bgp_loc_rib_prefixes 0)"
  FIB_CMD="$(isth_metric_cmd isthmus_fib_routes "${base:-0}")"
}

# ------------------------------------------------------------------- BIRD

BIRD_DIR="${TEST_TMP}/bird"
bird_ready() { ns_exec "$(receiver_ns bird)" birdc -s "${BIRD_DIR}/bird.ctl" show status >/dev/null 2>&1; }

start_bird() {
  mkdir -p "${BIRD_DIR}"
  cat >"${BIRD_DIR}/bird.conf" <<EOF
router id ${RCV_ADDR};
protocol device { }
protocol bgp injector {
  local ${RCV_ADDR} as ${RCV_AS};
  neighbor ${INJ_ADDR} as ${INJ_AS};
  passive on;
  ipv4 { import all; export none; };
}
EOF
  start_bg "$(receiver_ns bird)" "${BIRD_DIR}/bird-$1.log" bird -f -c "${BIRD_DIR}/bird.conf" -s "${BIRD_DIR}/bird.ctl"
  RCV_PID="${BG_PID}"
  wait_until "${START_TIMEOUT_S}" bird_ready || fail "BIRD did not answer within ${START_TIMEOUT_S} s"
  RIB_CMD="ip netns exec $(ns "$(receiver_ns bird)") birdc -s ${BIRD_DIR}/bird.ctl show route count | awk '/routes for/ {print \$1}'"
  FIB_CMD=""
}

# -------------------------------------------------------------------- FRR

FRR_DIR="${TEST_TMP}/frr"
frr_ready() {
  ns_exec "$(receiver_ns frr)" vtysh --vty_socket "${FRR_DIR}" -d bgpd -c 'show bgp summary json' >/dev/null 2>&1
}

start_frr() {
  mkdir -p "${FRR_DIR}"
  chmod 777 "${FRR_DIR}"
  cat >"${FRR_DIR}/bgpd.conf" <<EOF
frr defaults traditional
hostname rcv-frr
log file ${FRR_DIR}/bgpd.log
${FRR_DEBUG:+debug bgp updates in}
! defined before use: a route-map missing at load time denies everything
route-map ALL permit 10
exit
router bgp ${RCV_AS}
 bgp router-id ${RCV_ADDR}
 bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${INJ_ADDR} remote-as ${INJ_AS}
 neighbor ${INJ_ADDR} passive
 address-family ipv4 unicast
  neighbor ${INJ_ADDR} route-map ALL in
 exit-address-family
EOF
  start_bg "$(receiver_ns frr)" "${FRR_DIR}/bgpd-$1.log" "${FRR_BGPD}" -Z -S -P 0 -l "${RCV_ADDR}" \
    -f "${FRR_DIR}/bgpd.conf" --vty_socket "${FRR_DIR}" -i "${FRR_DIR}/bgpd.pid"
  RCV_PID="${BG_PID}"
  wait_until "${START_TIMEOUT_S}" frr_ready || fail "FRR bgpd did not answer within ${START_TIMEOUT_S} s"
  RIB_CMD="ip netns exec $(ns "$(receiver_ns frr)") vtysh --vty_socket ${FRR_DIR} -d bgpd -c 'show bgp ipv4 unicast summary json' | jq -r '[(.peers // .ipv4Unicast.peers // {})[] | .pfxRcd] | add // 0'"
  FIB_CMD=""
}

# ------------------------------------------------------------------- runs

run_one() {
  local r="$1" run="$2" out
  "start_${r}" "${run}"
  sleep 1
  out="$(ns_exec "$(injector_ns "$r")" "${PY}" "${PERF_DIR}/bgp_injector.py" ingest \
    --stream "${STREAM}" --prefixes "${PREFIXES}" --connect "${RCV_ADDR}" --source "${INJ_ADDR}" \
    --local-as "${INJ_AS}" --router-id "${INJ_ADDR}" --pid "${RCV_PID}" \
    --rib-cmd "${RIB_CMD}" --fib-cmd "${FIB_CMD}" --timeout "${INJECT_TIMEOUT_S}" --stall "${STALL_S}" --poll "${POLL_S}")" ||
    fail "injector into ${r} failed (run ${run})"
  jq -c --arg r "${r}" --argjson n "${run}" '. + {receiver: $r, run: $n}' <<<"${out}" | tee -a "${RESULTS_FILE}"
  stop_bg "${RCV_PID}" TERM 30 || true
}

for r in ${RECEIVERS}; do
  case "$r" in
    isthmusd) [[ -x "${ISTHMUSD}" && -x "${ISTHMUSCTL}" ]] || fail "isthmusd/isthmusctl not built: ${ISTHMUSD}" ;;
    bird) command -v bird >/dev/null || fail "bird not installed" ;;
    frr) [[ -x "${FRR_BGPD}" ]] || fail "FRR bgpd not installed" ;;
    *) fail "unknown receiver $r (isthmusd, bird, frr)" ;;
  esac
  build_pair "$r"
done

info "encoding ${PREFIXES} prefixes over ${PATHS} AS paths"
"${PY}" "${PERF_DIR}/bgp_injector.py" gen --prefixes "${PREFIXES}" --paths "${PATHS}" \
  --local-as "${INJ_AS}" --next-hop "${INJ_ADDR}" --out "${STREAM}" || fail "stream generation failed"
: >"${RESULTS_FILE}"
for ((run = 1; run <= RUNS; run++)); do
  # Rotate the order so no receiver always runs first (page cache, CPU boost).
  read -r -a order <<<"${RECEIVERS}"
  shift_by=$(((run - 1) % ${#order[@]}))
  order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
  for r in "${order[@]}"; do
    info "run ${run}/${RUNS}: ${r}"
    run_one "$r" "${run}"
  done
done
echo
echo "BGP ingest: ${PREFIXES} prefixes, ${PATHS} AS paths, $(jq -r '.updates' "${STREAM}.json") UPDATEs," \
  "$(jq -r '.bytes' "${STREAM}.json") bytes; medians of ${RUNS} runs (results: ${RESULTS_FILE})"
"${PY}" "${PERF_DIR}/bgp/ingest_table.py" "${RESULTS_FILE}"
