#!/usr/bin/env bash
# Anycast failover time (issue 5, performance item 9): from the moment a
# service's last backend dies to the moment the BGP UPDATE that withdraws
# the VIP leaves the speaker's socket, with the health checker's DEFAULT
# timing, for isthmusd and, as the baseline in the same run, ExaBGP driven
# by its own healthcheck program (exabgp-healthcheck, ExaBGP 4.2).
#
#   ns rtr: FRR bgpd 198.18.1.2/24, AS 65100 (the on-premises router)
#   ns nva: the speaker, west 198.18.1.1/24 (BGP link), east 198.18.2.1/24;
#           first isthmusd (AS 65010, af_xdp ports on west and east), then,
#           after isthmusd has stopped, ExaBGP (AS 65010, kernel interfaces)
#   ns be:  one HTTP backend 198.18.2.11:8080 (tests/lib/traffic.py
#           http-serve; /healthz answers 200)
#
# Both speakers announce VIP 203.0.113.10/32 to the same FRR while the
# backend is healthy and withdraw it when it is not:
#   isthmusd: one service, `health: {type: http, path: /healthz}`, every
#     timing key at its default (interval 200 ms, timeout 150 ms, rise 2,
#     fall 3; docs/configuration.md);
#   ExaBGP:   `exabgp-healthcheck --cmd "curl -sf http://BACKEND/healthz"`
#     with its default timing (interval 5 s, fast-interval 1 s, timeout 5 s,
#     rise 3, fall 3). Two non-timing options are needed to run it here:
#     --withdraw-on-down (by default a down service is re-announced with
#     MED 1000 rather than withdrawn; the UPDATE goes out at the same moment
#     either way) and --no-syslog (no /dev/log in these namespaces); plus
#     --no-ip-setup (it would add the VIP to lo, which changes nothing here).
#
# Each run: start the backend if needed, wait until the VIP is at FRR, wait
# 0.5 s plus a random part of the checker's probe interval (so the death
# falls at a random phase of the probe schedule, as a real one does), take
# the time T0 (EPOCHREALTIME), then make the backend fail:
#   refused: SIGKILL the backend (connections are refused at once);
#   silent:  a blackhole route for the prober's address in the backend's
#            namespace (the backend's SYN-ACKs vanish; every probe runs into
#            its timeout, as with a hung host or a lost path);
# and wait until FRR no longer has the VIP. A capture (dumpcap, running in
# nva on west, the speaker's side of the BGP link) gives the time the
# withdraw left: the first frame after T0 from the speaker with a BGP UPDATE
# withdrawing the VIP. Both timestamps come from this host's realtime clock.
#
# Usage (root): perf/failover.sh [--runs 5] [--baseline-runs 3]
#                 [--variants "refused silent"] [--json FILE] [--no-baseline]
# Environment: ISTHMUS_BUILD_DIR (default the repository's build-bgpperf),
# or ISTHMUSD / ISTHMUSCTL; IT_DRIVER (isthmusd port driver, default af_xdp).
# Prints one line per run, then a table of medians, min and max per
# scenario with the ratio exabgp/isthmusd of the medians.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
PERF_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "${PERF_DIR}/.." && pwd)"
ISTHMUS_BUILD_DIR="${ISTHMUS_BUILD_DIR:-${REPO}/build-bgpperf}"
# shellcheck source=tests/lib/topo.sh
source "${REPO}/tests/lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "${REPO}/tests/lib/bgp.sh"
# shellcheck source=tests/lib/exabgp.sh
source "${REPO}/tests/lib/exabgp.sh"

RUNS=5
BASELINE_RUNS=3
VARIANTS="refused silent"
JSON_FILE=""
BASELINE=1
usage() {
  echo "usage: $0 [--runs N] [--baseline-runs N] [--variants \"refused silent\"] [--json FILE] [--no-baseline]" >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --runs) RUNS="${2:-}"; shift 2 || usage ;;
    --baseline-runs) BASELINE_RUNS="${2:-}"; shift 2 || usage ;;
    --variants) VARIANTS="${2:-}"; shift 2 || usage ;;
    --json) JSON_FILE="${2:-}"; shift 2 || usage ;;
    --no-baseline) BASELINE=0; shift ;;
    *) usage ;;
  esac
done
[[ "${RUNS}" =~ ^[1-9][0-9]*$ && "${BASELINE_RUNS}" =~ ^[1-9][0-9]*$ ]] || usage
VARIANTS="$(xargs <<<"${VARIANTS}")"
for v in ${VARIANTS}; do [[ "${v}" == refused || "${v}" == silent ]] || usage; done

readonly RTR_ADDR=198.18.1.2 WEST=198.18.1.1 EAST=198.18.2.1
readonly BE_ADDR=198.18.2.11 BE_PORT=8080 HEALTH_PATH=/healthz
readonly VIP=203.0.113.10
readonly NVA_AS=65010 RTR_AS=65100
# The checkers' default probe intervals: the random part of the wait
# before each failure spans one of them.
readonly ISTHMUS_INTERVAL_MS=200 EXABGP_INTERVAL_MS=5000
readonly SETTLE_MS=500
# The longest a run may take to be announced / withdrawn (ExaBGP's worst
# case is about 22 s for a silent backend; 7 s to come up).
readonly UP_TIMEOUT_S=60 DOWN_TIMEOUT_S=60
ISTHMUS_XDP_PROG="${ISTHMUS_XDP_PROG:-${ISTHMUS_BUILD_DIR}/dataplane/xdp/isthmus_xdp.bpf.o}"
export ISTHMUS_XDP_PROG

RESULTS="${TEST_TMP}/runs.jsonl"
: >"${RESULTS}"
BE_PID=""
SILENCED=0

build() {
  ns_create rtr nva be
  veth_pair rtr r0 nva west
  veth_pair nva east be be0
  addr rtr r0 "${RTR_ADDR}/24"
  addr nva west "${WEST}/24"
  addr nva east "${EAST}/24"
  addr be be0 "${BE_ADDR}/24"
  local entry
  for entry in "rtr r0" "nva west" "nva east" "be be0"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
  route be default "${EAST}"
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=0
}

start_frr() {
  frr_start rtr onprem "${RTR_ADDR}" "${RTR_AS}" "${RTR_ADDR}" \
    " neighbor ${WEST} remote-as ${NVA_AS}
 neighbor ${WEST} timers connect 1"
}

vip_at_frr() { frr_routes rtr onprem | grep -q "^${VIP}/32 "; }
vip_gone() { ! vip_at_frr; }

backend_up() {
  [[ -n "${BE_PID}" ]] && is_running "${BE_PID}" && return 0
  local log="${TEST_TMP}/backend.log"
  start_bg be "${log}" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
    --bind "${BE_ADDR}" --port "${BE_PORT}" --name be1
  BE_PID=${BG_PID}
  wait_until 10 grep -q ready "${log}" || fail "backend did not start: $(cat "${log}")"
}

# The prober's source (the nva's east address) becomes unroutable from the
# backend: SYNs still arrive, nothing comes back, not even a RST.
silence_backend() {
  ns_exec be ip route add blackhole "${EAST}/32" || fail "cannot add the blackhole route"
  SILENCED=1
}

unsilence_backend() {
  ((SILENCED)) || return 0
  ns_exec be ip route del blackhole "${EAST}/32" || fail "cannot remove the blackhole route"
  SILENCED=0
}

kill_backend() {
  { kill -KILL "${BE_PID}" && wait "${BE_PID}"; } 2>/dev/null
  BE_PID=""
}

# start_capture NAME: dumpcap on west in nva (BGP only); its PID in CAP_PID.
start_capture() {
  CAP_PCAP="${TEST_TMP}/$1.pcap"
  start_bg nva "${TEST_TMP}/$1.dumpcap.log" dumpcap -i west -f "tcp port 179" -w "${CAP_PCAP}"
  CAP_PID=${BG_PID}
  wait_until 15 grep -q "Capturing on" "${TEST_TMP}/$1.dumpcap.log" ||
    fail "dumpcap did not start: $(cat "${TEST_TMP}/$1.dumpcap.log")"
}

# withdraw_times PCAP: epoch microseconds of every frame from the speaker
# carrying an UPDATE that withdraws the VIP, in capture order.
withdraw_times() {
  local t
  tshark -r "$1" -Y "ip.src == ${WEST} && bgp.type == 2 && bgp.withdrawn_prefix == ${VIP}" \
    -T fields -e frame.time_epoch 2>/dev/null |
    while read -r t; do
      local frac="${t#*.}000000"
      echo "$((${t%.*} * 1000000 + 10#${frac:0:6}))"
    done
}

# one_run ENGINE VARIANT INTERVAL_MS INDEX: the failure, timed; appends
# "ENGINE VARIANT INDEX T0_US" to RUN_STARTS (the capture is read later).
one_run() {
  local engine="$1" variant="$2" interval_ms="$3" index="$4"
  unsilence_backend
  backend_up
  wait_until "${UP_TIMEOUT_S}" vip_at_frr || fail "${engine}: VIP not at FRR within ${UP_TIMEOUT_S} s"
  local settle_ms=$((SETTLE_MS + (RANDOM * 32768 + RANDOM) % interval_ms))
  sleep "$(printf '%d.%03d' $((settle_ms / 1000)) $((settle_ms % 1000)))"
  vip_at_frr || fail "${engine}: VIP left FRR before the failure (flap?)"
  # T0 is the moment the backend stops answering. refused: just before the
  # SIGKILL (`kill` is a builtin; the listening socket closes as the process
  # dies). silent: just after `ip route add` returns (starting it takes a
  # few ms, which must not count).
  local t0
  case "${variant}" in
    refused) t0="$(_it_now_us)"; kill_backend ;;
    silent) silence_backend; t0="$(_it_now_us)" ;;
  esac
  wait_until "${DOWN_TIMEOUT_S}" vip_gone ||
    fail "${engine} ${variant}: VIP still at FRR ${DOWN_TIMEOUT_S} s after the failure"
  local seen_ms=$((($(_it_now_us) - t0) / 1000))
  info "${engine} ${variant} run ${index}: withdrawn at FRR (polled) after ~${seen_ms} ms"
  RUN_STARTS+=("${engine} ${variant} ${index} ${t0}")
}

# measure ENGINE INTERVAL_MS RUNS: every variant RUNS times, interleaved
# (refused, silent, refused, ...), then the capture is read.
measure() {
  local engine="$1" interval_ms="$2" runs="$3" i variant
  RUN_STARTS=()
  start_capture "${engine}"
  for ((i = 1; i <= runs; i++)); do
    for variant in ${VARIANTS}; do one_run "${engine}" "${variant}" "${interval_ms}" "${i}"; done
  done
  sleep 0.5
  stop_bg "${CAP_PID}" INT 10
  local times entry t0 w found
  times="$(withdraw_times "${CAP_PCAP}")"
  for entry in "${RUN_STARTS[@]}"; do
    read -r engine variant i t0 <<<"${entry}"
    found=""
    for w in ${times}; do
      ((w > t0)) && { found="${w}"; break; }
    done
    [[ -n "${found}" ]] || fail "${engine} ${variant} run ${i}: no withdraw of ${VIP} captured after the failure"
    jq -nc --arg e "${engine}" --arg v "${variant}" --argjson r "${i}" --argjson us "$((found - t0))" \
      '{engine: $e, variant: $v, run: $r, ms: ($us / 1000)}' >>"${RESULTS}"
    printf '  %-9s %-8s run %d: death -> withdraw on the wire %9.1f ms\n' "${engine}" "${variant}" "${i}" \
      "$(awk -v us="$((found - t0))" 'BEGIN { print us / 1000 }')"
  done
}

# ------------------------------------------------------------------ isthmusd

write_isthmus_config() {
  cat >"$(nva_config a)" <<CONF
dataplane:
  workers: 1
  idle_sleep_us: 50
  hugepages: false
ports:
  - {name: west, driver: ${IT_DRIVER}, interface: west}
  - {name: east, driver: ${IT_DRIVER}, interface: east}
punt:
  tcp_ports: [179]
metrics:
  listen: ${TOPO_METRICS_LISTEN}
admin:
  socket: $(nva_socket a)
bgp:
  asn: ${NVA_AS}
  router_id: ${WEST}
  policies:
    - name: vips-only
      terms:
        - {name: vips, match: {origins: [service_vip]}, result: accept}
    - name: none
      terms:
        - {name: all, result: reject}
  peers:
    - {name: onprem, address: ${RTR_ADDR}, remote_as: ${RTR_AS}, connect_retry: 1,
       import: [none], export: [vips-only]}
services:
  - name: web
    vip: ${VIP}
    protocol: tcp
    ports: [80]
    backends:
      - {address: ${BE_ADDR}, port: ${BE_PORT}}
    health: {type: http, path: ${HEALTH_PATH}}
CONF
}

run_isthmusd() {
  nva_prepare a nva
  write_isthmus_config
  nva_start a west east
  nva_wait_ready a west east
  measure isthmusd "${ISTHMUS_INTERVAL_MS}" "${RUNS}"
  nva_stop a || info "isthmusd exited with status $?"
  # The kernel takes both interfaces back for ExaBGP.
  ns_exec nva ip link set dev west xdp off 2>/dev/null
  ns_exec nva ip link set dev east xdp off 2>/dev/null
  wait_until 10 vip_gone || fail "VIP still at FRR after isthmusd stopped"
}

# -------------------------------------------------------- ExaBGP (baseline)

run_exabgp() {
  local dir="${TEST_TMP}/exabgp"
  mkdir -p "${dir}"
  # exabgp-healthcheck reads long options from this file, one a line
  # (`key = value`); every timing option is left at its default.
  cat >"${dir}/healthcheck.conf" <<CONF
no-syslog
no-ip-setup
withdraw-on-down
ip = ${VIP}/32
command = curl -sf http://${BE_ADDR}:${BE_PORT}${HEALTH_PATH}
CONF
  cat >"${dir}/exabgp.conf" <<CONF
process healthcheck {
  run /usr/bin/exabgp-healthcheck --config ${dir}/healthcheck.conf;
  encoder text;
}
neighbor ${RTR_ADDR} {
  router-id ${WEST};
  local-address ${WEST};
  local-as ${NVA_AS};
  peer-as ${RTR_AS};
  api {
    processes [ healthcheck ];
  }
}
CONF
  start_bg nva "${dir}/exabgp.log" env exabgp_daemon_user=root exabgp_api_cli=false \
    exabgp_tcp_bind="${WEST}" exabgp_daemon_daemonize=false exabgp_log_destination=stdout \
    "$(_exabgp_bin)" "${dir}/exabgp.conf"
  local exa=${BG_PID}
  measure exabgp "${EXABGP_INTERVAL_MS}" "${BASELINE_RUNS}"
  stop_bg "${exa}" TERM 10
}

# ------------------------------------------------------------------ report

report() {
  local summary
  summary="$(jq -s '
    def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                       else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def r1: . * 10 | round / 10;
    (group_by([.engine, .variant]) | map({engine: .[0].engine, variant: .[0].variant, runs: length,
        median_ms: (map(.ms) | median | r1), min_ms: (map(.ms) | min | r1),
        max_ms: (map(.ms) | max | r1), samples_ms: map(.ms | r1)})) as $s
    | {summary: $s,
       ratio_exabgp_over_isthmusd: ([$s[] | select(.engine == "exabgp") | . as $e
         | ($s[] | select(.engine == "isthmusd" and .variant == $e.variant)) as $i
         | {key: $e.variant, value: ($e.median_ms / $i.median_ms * 100 | round / 100)}] | from_entries),
       runs: .}' "${RESULTS}")" || fail "cannot summarize ${RESULTS}"
  echo
  printf '%-18s %5s %11s %9s %9s %16s\n' scenario runs median_ms min_ms max_ms exabgp/isthmusd
  jq -r '.ratio_exabgp_over_isthmusd as $r | .summary
    | sort_by(.variant, (.engine != "isthmusd")) | .[]
    | [.engine + " " + .variant, .runs, .median_ms, .min_ms, .max_ms,
       (if .engine == "exabgp" then ($r[.variant] // "-") else "1" end)] | @tsv' <<<"${summary}" |
    while IFS=$'\t' read -r name n med lo hi ratio; do
      printf '%-18s %5s %11s %9s %9s %16s\n' "${name}" "${n}" "${med}" "${lo}" "${hi}" "${ratio}"
    done
  if [[ -n "${JSON_FILE}" ]]; then
    jq --arg date "$(date -u +%FT%TZ)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
      --arg isthmusd "${ISTHMUSD}" --arg driver "${IT_DRIVER}" \
      --argjson runs "${RUNS}" --argjson baseline_runs "${BASELINE_RUNS}" --arg variants "${VARIANTS}" \
      '{date: $date, loadavg: $load, isthmusd: $isthmusd, driver: $driver,
        runs_per_variant: {isthmusd: $runs, exabgp: $baseline_runs}, variants: ($variants | split(" ")),
        health: {isthmusd: "type http, defaults: interval 200 ms, timeout 150 ms, rise 2, fall 3",
                 exabgp: "exabgp-healthcheck defaults: interval 5 s, fast-interval 1 s, timeout 5 s, rise 3, fall 3; --withdraw-on-down"},
        settle: "0.5 s + uniform(0, probe interval) after the VIP is at FRR"} + .' \
      <<<"${summary}" >"${JSON_FILE}" || fail "cannot write ${JSON_FILE}"
    echo "(JSON in ${JSON_FILE})"
  fi
}

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || fail "FRR bgpd not installed (${FRR_BGPD})"
{ command -v dumpcap && command -v tshark; } >/dev/null || fail "tshark/dumpcap not installed"
if ((BASELINE)); then
  exabgp_available || fail "ExaBGP not installed"
  [[ -x /usr/bin/exabgp-healthcheck ]] || fail "exabgp-healthcheck not installed (python3-exabgp)"
fi
T0=${SECONDS}
info "isthmusd ${ISTHMUSD}; runs: isthmusd ${RUNS}, exabgp $( ((BASELINE)) && echo "${BASELINE_RUNS}" || echo 0); variants: ${VARIANTS}"
build
start_frr
run_isthmusd
((BASELINE)) && run_exabgp
report
info "done in $((SECONDS - T0)) s"
