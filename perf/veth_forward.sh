#!/usr/bin/env bash
# Forwarding rate of 64-byte UDP over veth, three forwarders in one run:
#
#   ns gen                     ns mid (forwarder)                      ns sink
#   G 198.18.1.2/24 ------- W 198.18.1.1/24      E 198.18.2.1/24 ------- S 198.18.2.2/24
#   dpdk-testpmd txonly        (a) dpdk-testpmd io, net_af_xdp x2        XDP drops UDP,
#   on net_af_xdp, to          (b) isthmusd, af_xdp ports                veth counts it
#   198.51.100.10              (c) Linux kernel forwarding (no XDP)      (lo 198.51.100.10)
#
# The rate is the sink veth's rx_packets delta over DURATION_S seconds once
# traffic flows; each forwarder runs RUNS times, interleaved (a b c a b c ...)
# so that drift in the shared machine hits all three alike, and the medians
# and the ratios to testpmd (the af_xdp I/O ceiling) are printed.
#
# The machine has 2 vCPUs: the generator is pinned to GEN_CPU, the
# forwarder's polling lcore to FWD_CPU. veth does its receive work in the
# sender's context, so the XDP copy into the forwarder's AF_XDP socket runs
# on the generator's CPU and the sink's receive on the forwarder's CPU: the
# figures are the veth/AF_XDP path's, not the pipeline's (see
# perf/forward_bench for that).
#
# Root only. Addresses are from 198.18.0.0/15 and 198.51.100.0/24; nothing
# leaves the three namespaces, which are deleted on exit.
set -euo pipefail

readonly RUNS="${RUNS:-5}"
readonly DURATION_S="${DURATION_S:-5}"
readonly WARMUP_S="${WARMUP_S:-2}"
readonly START_TIMEOUT_S="${START_TIMEOUT_S:-60}"
readonly GEN_CPU="${GEN_CPU:-0}"
readonly FWD_CPU="${FWD_CPU:-1}"
readonly FORWARDERS="${FORWARDERS:-testpmd isthmusd kernel}"
readonly FRAME_LEN=64
readonly EAL_MEMORY_MB=1024
readonly STOP_TIMEOUT_S=15
readonly RESULTS_FILE="${RESULTS_FILE:-}"
readonly LOG_DIR="${LOG_DIR:-}"   # keeps each run's generator/forwarder logs

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly ISTHMUSD="${ISTHMUSD:-${REPO}/build/control/daemon/isthmusd}"
readonly TESTPMD="${TESTPMD:-dpdk-testpmd}"

readonly SUFFIX=$(($$ % 100000))
readonly NS_GEN="fbgen${SUFFIX}" NS_MID="fbmid${SUFFIX}" NS_SINK="fbsnk${SUFFIX}"
readonly IF_GEN="fbg${SUFFIX}" IF_WEST="fbw${SUFFIX}" IF_EAST="fbe${SUFFIX}" IF_SINK="fbs${SUFFIX}"
readonly PUNT_IF="fbp${SUFFIX}"
readonly GEN_ADDR=198.18.1.2 WEST_ADDR=198.18.1.1 EAST_ADDR=198.18.2.1 SINK_ADDR=198.18.2.2
readonly PREFIX_LEN=24
readonly DST_HOST=198.51.100.10 DST_PREFIX=198.51.100.0/24

WORK="$(mktemp -d /tmp/veth_forward.XXXXXX)"
readonly WORK
NAMESPACES=()
PIDS=()

log() { printf '[veth_forward] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- processes we start, stopped by PID only --------------------------------

# start_bg NS LOG CMD...: runs CMD in NS in the background; sets BG_PID.
start_bg() {
  local ns="$1" out="$2"
  shift 2
  ip netns exec "${ns}" "$@" >"${out}" 2>&1 &
  BG_PID=$!
  PIDS+=("${BG_PID}")
}

# stop_pid PID: SIGTERM, then SIGKILL after STOP_TIMEOUT_S; reaps it and
# forgets it, so a recycled PID is never signalled later.
stop_pid() {
  local pid="$1" waited=0 kept=() p
  if kill -TERM "${pid}" 2>/dev/null; then
    while kill -0 "${pid}" 2>/dev/null && ((waited < STOP_TIMEOUT_S * 10)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  wait "${pid}" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ "${p}" == "${pid}" ]] || kept+=("${p}"); done
  PIDS=("${kept[@]}")
}

cleanup() {
  local pid ns
  for pid in "${PIDS[@]}"; do stop_pid "${pid}"; done
  for ns in "${NAMESPACES[@]}"; do ip netns del "${ns}" 2>/dev/null || true; done
  rm -rf "${WORK}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- topology ----------------------------------------------------------------

in_ns() { ip netns exec "$@"; }
mac_of() { in_ns "$1" cat "/sys/class/net/$2/address"; }
counter() { in_ns "$1" cat "/sys/class/net/$2/statistics/$3"; }

build_topology() {
  local ns
  for ns in "${NS_GEN}" "${NS_MID}" "${NS_SINK}"; do
    ip netns add "${ns}"
    NAMESPACES+=("${ns}")
    ip -n "${ns}" link set lo up
  done
  ip link add name "${IF_GEN}" netns "${NS_GEN}" type veth peer name "${IF_WEST}" netns "${NS_MID}"
  ip link add name "${IF_EAST}" netns "${NS_MID}" type veth peer name "${IF_SINK}" netns "${NS_SINK}"
  ip -n "${NS_GEN}" addr add "${GEN_ADDR}/${PREFIX_LEN}" dev "${IF_GEN}"
  ip -n "${NS_MID}" addr add "${WEST_ADDR}/${PREFIX_LEN}" dev "${IF_WEST}"
  ip -n "${NS_MID}" addr add "${EAST_ADDR}/${PREFIX_LEN}" dev "${IF_EAST}"
  ip -n "${NS_SINK}" addr add "${SINK_ADDR}/${PREFIX_LEN}" dev "${IF_SINK}"
  ip -n "${NS_SINK}" addr add "${DST_HOST}/32" dev lo
  ip -n "${NS_GEN}" link set "${IF_GEN}" up
  ip -n "${NS_MID}" link set "${IF_WEST}" up
  ip -n "${NS_MID}" link set "${IF_EAST}" up
  ip -n "${NS_SINK}" link set "${IF_SINK}" up
  # The next hop is known up front: no ARP race in any forwarder.
  ip -n "${NS_MID}" neigh replace "${SINK_ADDR}" lladdr "$(mac_of "${NS_SINK}" "${IF_SINK}")" \
    dev "${IF_EAST}" nud permanent
  ip -n "${NS_MID}" route add "${DST_PREFIX}" via "${SINK_ADDR}"
  in_ns "${NS_MID}" sysctl -qw net.ipv4.conf.all.forwarding=0 net.ipv4.conf.default.forwarding=0
  attach_sink_drop
}

attach_sink_drop() {
  clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c "${REPO}/perf/sink_drop.bpf.c" \
    -o "${WORK}/sink_drop.o" || die "cannot compile perf/sink_drop.bpf.c"
  ip -n "${NS_SINK}" link set dev "${IF_SINK}" xdp obj "${WORK}/sink_drop.o" sec xdp
}

# --- DPDK testpmd (generator and forwarder) ----------------------------------

# testpmd_eal NAME CPU IFACE...: EAL arguments, both lcores on CPU.
testpmd_eal() {
  local name="$1" cpu="$2" i=0 iface
  shift 2
  printf '%s\n' --no-huge -m "${EAL_MEMORY_MB}" --no-pci --no-shconf --no-telemetry \
    "--file-prefix=${name}${SUFFIX}" "--lcores=0@${cpu},1@${cpu}" '--log-level=*:error'
  for iface in "$@"; do
    printf '%s\n' --vdev "net_af_xdp${i},iface=${iface}"
    i=$((i + 1))
  done
}

start_generator() {
  local -a eal
  mapfile -t eal < <(testpmd_eal gen "${GEN_CPU}" "${IF_GEN}")
  in_ns "${NS_GEN}" ip link set dev "${IF_GEN}" xdp off 2>/dev/null || true
  start_bg "${NS_GEN}" "${WORK}/gen.log" "${TESTPMD}" "${eal[@]}" -- --nb-cores=1 \
    --forward-mode=txonly "--txpkts=${FRAME_LEN}" "--tx-ip=${GEN_ADDR},${DST_HOST}" \
    "--eth-peer=0,$(mac_of "${NS_MID}" "${IF_WEST}")" --auto-start --stats-period=1
  GEN_PID="${BG_PID}"
}

start_testpmd_forwarder() {
  local -a eal
  mapfile -t eal < <(testpmd_eal fwd "${FWD_CPU}" "${IF_WEST}" "${IF_EAST}")
  start_bg "${NS_MID}" "${WORK}/fwd.log" "${TESTPMD}" "${eal[@]}" -- --nb-cores=1 \
    --forward-mode=io --auto-start --stats-period=1
  FWD_PID="${BG_PID}"
}

# --- isthmusd -------------------------------------------------------------

write_isthmusd_config() {
  cat >"${WORK}/isthmusd.yaml" <<EOF
# written by perf/veth_forward.sh
dataplane:
  workers: 1
  worker_cpus: [${FWD_CPU}]
  idle_sleep_us: 0
  burst: 32
  hugepages: false
  punt_interface: ${PUNT_IF}
ports:
  - {name: west, driver: af_xdp, interface: ${IF_WEST}}
  - {name: east, driver: af_xdp, interface: ${IF_EAST}}
routes:
  - prefix: ${DST_PREFIX}
    via: ${SINK_ADDR}
    port: east
metrics:
  listen: ""
admin:
  socket: ${WORK}/isthmusd.sock
log:
  level: warn
EOF
}

start_isthmusd_forwarder() {
  mkdir -p "${WORK}/runtime"
  write_isthmusd_config
  start_bg "${NS_MID}" "${WORK}/fwd.log" env RUNTIME_DIRECTORY="${WORK}/runtime" \
    "${ISTHMUSD}" --config "${WORK}/isthmusd.yaml"
  FWD_PID="${BG_PID}"
}

# --- Linux kernel ------------------------------------------------------------

# Receive packet steering puts the forwarding softirq on FWD_CPU, as the
# DPDK forwarders are pinned there; otherwise it would run on the
# generator's CPU (veth receives in the sender's context).
set_kernel_forwarding() {
  local on="$1" rps_mask=0
  ((on)) && rps_mask="$(printf '%x' $((1 << FWD_CPU)))"
  in_ns "${NS_MID}" sysctl -qw "net.ipv4.conf.all.forwarding=${on}"
  in_ns "${NS_MID}" sh -c "echo ${rps_mask} > /sys/class/net/${IF_WEST}/queues/rx-0/rps_cpus"
}

# --- one measurement ----------------------------------------------------------

start_forwarder() {
  FWD_PID=""
  local port
  for port in "${IF_WEST}" "${IF_EAST}"; do
    # A program left by a killed run would make the AF_XDP start fail.
    in_ns "${NS_MID}" ip link set dev "${port}" xdp off 2>/dev/null || true
  done
  case "$1" in
    testpmd) start_testpmd_forwarder ;;
    isthmusd) start_isthmusd_forwarder ;;
    kernel) set_kernel_forwarding 1 ;;
    *) die "unknown forwarder $1" ;;
  esac
}

stop_forwarder() {
  [[ "$1" == kernel ]] && set_kernel_forwarding 0
  [[ -n "${FWD_PID}" ]] && stop_pid "${FWD_PID}"
  FWD_PID=""
}

# wait_for_traffic: until the sink sees frames (the forwarder is ready).
wait_for_traffic() {
  local before deadline=$((SECONDS + START_TIMEOUT_S))
  before="$(counter "${NS_SINK}" "${IF_SINK}" rx_packets)"
  while (($(counter "${NS_SINK}" "${IF_SINK}" rx_packets) - before < 1000)); do
    ((SECONDS < deadline)) || return 1
    [[ -z "${FWD_PID}" ]] || kill -0 "${FWD_PID}" 2>/dev/null || return 1
    kill -0 "${GEN_PID}" 2>/dev/null || { log "generator exited: $(tail -2 "${WORK}/gen.log")"; return 1; }
    sleep 0.2
  done
}

keep_logs() {
  [[ -n "${LOG_DIR}" ]] || return 0
  mkdir -p "${LOG_DIR}"
  cp "${WORK}/gen.log" "${LOG_DIR}/$1-gen.log" 2>/dev/null || true
  cp "${WORK}/fwd.log" "${LOG_DIR}/$1-fwd.log" 2>/dev/null || true
}

# measure FORWARDER: sets OFFERED and FORWARDED (Mpps), "nan" on failure.
# Runs in the main shell (not $(...)) so that cleanup knows every PID.
measure() {
  local fwd="$1" sink0 sink1 gen0 gen1
  OFFERED=nan FORWARDED=nan
  start_forwarder "${fwd}"
  start_generator
  if ! wait_for_traffic; then
    log "${fwd}: no traffic at the sink within ${START_TIMEOUT_S} s; log tail:"
    tail -5 "${WORK}/fwd.log" >&2 2>/dev/null || true
    stop_pid "${GEN_PID}"
    stop_forwarder "${fwd}"
    return 0
  fi
  sleep "${WARMUP_S}"
  gen0="$(counter "${NS_GEN}" "${IF_GEN}" tx_packets)"
  sink0="$(counter "${NS_SINK}" "${IF_SINK}" rx_packets)"
  sleep "${DURATION_S}"
  gen1="$(counter "${NS_GEN}" "${IF_GEN}" tx_packets)"
  sink1="$(counter "${NS_SINK}" "${IF_SINK}" rx_packets)"
  stop_pid "${GEN_PID}"
  stop_forwarder "${fwd}"
  keep_logs "${fwd}"
  OFFERED="$(awk -v n=$((gen1 - gen0)) -v t="${DURATION_S}" 'BEGIN { printf "%.3f", n / t / 1e6 }')"
  FORWARDED="$(awk -v n=$((sink1 - sink0)) -v t="${DURATION_S}" 'BEGIN { printf "%.3f", n / t / 1e6 }')"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f\n", a / b }'; }

# --- main -------------------------------------------------------------------

check_prerequisites() {
  ((EUID == 0)) || die "run as root (network namespaces, AF_XDP)"
  command -v "${TESTPMD}" >/dev/null || die "${TESTPMD} not found (apt-get install dpdk)"
  command -v clang >/dev/null || die "clang not found"
  if [[ " ${FORWARDERS} " == *" isthmusd "* && ! -x "${ISTHMUSD}" ]]; then
    die "isthmusd not built at ${ISTHMUSD} (set ISTHMUSD=..., or FORWARDERS without isthmusd)"
  fi
}

report() {
  local fwd med base cpu
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  printf '\n64-byte UDP over veth, %s runs x %s s, %s, %s vCPU, %s\n' "${RUNS}" "${DURATION_S}" \
    "${cpu}" "$(nproc)" "$(date -u +%Y-%m-%d)"
  printf '%-10s %14s %16s %14s\n' forwarder "offered Mpps" "forwarded Mpps" "vs testpmd"
  base=nan
  [[ -f "${WORK}/testpmd.fwd" ]] && base="$(median <"${WORK}/testpmd.fwd")"
  for fwd in ${FORWARDERS}; do
    med="$(median <"${WORK}/${fwd}.fwd")"
    printf '%-10s %14s %16s %14s\n' "${fwd}" "$(median <"${WORK}/${fwd}.gen")" "${med}" "$(ratio "${med}" "${base}")"
  done
}

main() {
  check_prerequisites
  build_topology
  log "namespaces ${NS_GEN} ${NS_MID} ${NS_SINK}; generator on CPU ${GEN_CPU}, forwarder on CPU ${FWD_CPU}"
  local run fwd
  for ((run = 1; run <= RUNS; run++)); do
    for fwd in ${FORWARDERS}; do
      measure "${fwd}"
      log "run ${run}/${RUNS} ${fwd}: offered ${OFFERED} Mpps, forwarded ${FORWARDED} Mpps"
      echo "${OFFERED}" >>"${WORK}/${fwd}.gen"
      echo "${FORWARDED}" >>"${WORK}/${fwd}.fwd"
    done
  done
  if [[ -n "${RESULTS_FILE}" ]]; then report | tee "${RESULTS_FILE}"; else report; fi
}

main "$@"
