# shellcheck shell=bash
# The reusable topology "host A <-> isthmusd <-> host B", sourced after (or
# instead of) netns.sh:
#
#   ns a                    ns nva (isthmusd)                      ns b
#   a-veth 198.18.1.2/24 -- nva-w 198.18.1.1/24  (port west)
#                           nva-e 198.18.2.1/24  (port east)  -- b-e  198.18.2.2/24
#                 [--ecmp]  nva-e2 198.18.3.1/24 (port east2) -- b-e2 198.18.3.2/24
#                                                                 lo   198.51.100.10/32
#
# A's default route points at 198.18.1.1; isthmusd routes 198.51.100.0/24 via
# 198.18.2.2 (and 198.18.3.2 with --ecmp); B returns to 198.18.1.0/24 via
# 198.18.2.1. isthmusd mirrors that route into the nva kernel (protocol 212)
# for the punt path, but the kernel does not forward (forwarding off on its
# interfaces): the data plane does.
#
# IT_DATAPLANE=kernel replaces isthmusd by kernel forwarding in nva (a
# stand-in used to check the library itself; daemon-only checks then skip).
# IT_DRIVER picks the port driver (af_xdp by default, af_packet, or pmd: the
# af_packet PMD given as free-form devargs, with a per-port exception TAP).

_TOPO_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lib/netns.sh
source "${_TOPO_LIB_DIR}/netns.sh"

_TOPO_REPO_ROOT="$(cd "${_TOPO_LIB_DIR}/../.." && pwd)"
# shellcheck disable=SC2034  # the constants are the tests' vocabulary
{
  readonly A_ADDR=198.18.1.2
  readonly NVA_WEST_ADDR=198.18.1.1
  readonly NVA_EAST_ADDR=198.18.2.1
  readonly NVA_EAST2_ADDR=198.18.3.1
  readonly B_EAST_ADDR=198.18.2.2
  readonly B_EAST2_ADDR=198.18.3.2
  readonly B_HOST=198.51.100.10
  readonly B_PREFIX=198.51.100.0/24
  readonly PREFIX_LEN=24
  readonly TOPO_METRICS_LISTEN=127.0.0.1:9470
  readonly TOPO_METRICS_URL="http://${TOPO_METRICS_LISTEN}/metrics"
  readonly TOPO_DAEMON_START_TIMEOUT_S=60
  readonly TOPO_WARMUP_TIMEOUT_S=20
}

ISTHMUS_BUILD_DIR="${ISTHMUS_BUILD_DIR:-${_TOPO_REPO_ROOT}/build}"
ISTHMUSD="${ISTHMUSD:-${ISTHMUS_BUILD_DIR}/control/daemon/isthmusd}"
ISTHMUSCTL="${ISTHMUSCTL:-${ISTHMUS_BUILD_DIR}/control/cli/isthmusctl}"
IT_DATAPLANE="${IT_DATAPLANE:-isthmusd}"
IT_DRIVER="${IT_DRIVER:-af_xdp}"

TOPO_CONFIG="${TEST_TMP}/isthmusd.yaml"
TOPO_SOCKET="${TEST_TMP}/isthmusd.sock"
TOPO_RUNTIME_DIR="${TEST_TMP}/runtime"
TOPO_LOG="${TEST_TMP}/isthmusd.log"
# Exception TAP name: at most 15 characters, unique per test run.
TOPO_PUNT_IF="ipt$(($$ % 1000000))"
TOPO_ECMP=0
ISTHMUSD_PID=""

topo_is_kernel() { [[ "${IT_DATAPLANE}" == "kernel" ]]; }

# topo_require_daemon: skip (stand-in) or fail (not built) when there is no
# isthmusd to test.
topo_require_daemon() {
  topo_is_kernel && skip "needs isthmusd (IT_DATAPLANE=kernel is the stand-in)"
  [[ -x "${ISTHMUSD}" ]] || fail "isthmusd not built: ${ISTHMUSD} (run deploy/deps/build)"
  [[ -x "${ISTHMUSCTL}" ]] || fail "isthmusctl not built: ${ISTHMUSCTL}"
}

# topo_nva_ports: "PORT IFNAME" lines of the data-plane ports.
topo_nva_ports() {
  printf '%s\n' "west nva-w" "east nva-e"
  ((TOPO_ECMP)) && printf '%s\n' "east2 nva-e2"
  return 0
}

topo_port_ifname() {
  local port ifname
  while read -r port ifname; do
    [[ "${port}" == "$1" ]] && { echo "${ifname}"; return 0; }
  done < <(topo_nva_ports)
  return 1
}

# With IT_DRIVER=pmd the kernel's view of a port is the exception TAP that
# isthmusd creates (as with netvsc/MANA on Azure): the address goes there,
# from the config, and the veth itself stays address-less.
_topo_nva_addr() {
  [[ "${IT_DRIVER}" == "pmd" ]] && return 0
  addr nva "$1" "$2"
}

topo_port_addr() {
  case "$1" in
    west) echo "${NVA_WEST_ADDR}" ;;
    east) echo "${NVA_EAST_ADDR}" ;;
    east2) echo "${NVA_EAST2_ADDR}" ;;
  esac
}

# topo_build [--ecmp]: namespaces, links, addresses and host routes.
# shellcheck disable=SC2120
topo_build() {
  [[ "${1:-}" == "--ecmp" ]] && TOPO_ECMP=1
  ns_create a nva b
  veth_pair a a-veth nva nva-w
  veth_pair nva nva-e b b-e
  addr a a-veth "${A_ADDR}/${PREFIX_LEN}"
  _topo_nva_addr nva-w "${NVA_WEST_ADDR}/${PREFIX_LEN}"
  _topo_nva_addr nva-e "${NVA_EAST_ADDR}/${PREFIX_LEN}"
  addr b b-e "${B_EAST_ADDR}/${PREFIX_LEN}"
  if ((TOPO_ECMP)); then
    veth_pair nva nva-e2 b b-e2
    _topo_nva_addr nva-e2 "${NVA_EAST2_ADDR}/${PREFIX_LEN}"
    addr b b-e2 "${B_EAST2_ADDR}/${PREFIX_LEN}"
  fi
  local entry
  for entry in "a a-veth" "nva nva-w" "nva nva-e" "b b-e"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
  if ((TOPO_ECMP)); then
    veth_no_offload nva nva-e2
    veth_no_offload b b-e2
  fi
  ns_exec b ip addr add "${B_HOST}/32" dev lo
  route a default "${NVA_WEST_ADDR}"
  route b "198.18.1.0/${PREFIX_LEN}" "${NVA_EAST_ADDR}"
  # With two links into B, replies and requests may use different links:
  # B must not drop what arrives on the "wrong" one (RFC 3704 strict mode).
  ns_exec b sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  local ifname
  for ifname in b-e b-e2; do
    ns_exec b test -d "/proc/sys/net/ipv4/conf/${ifname}" &&
      ns_exec b sysctl -qw "net.ipv4.conf.${ifname}.rp_filter=0"
  done
  # The data plane forwards; the nva kernel only answers for itself.
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=0 net.ipv4.conf.default.forwarding=0
  return 0
}

# topo_build_between WEST_NS WEST_IF WEST_ADDR EAST_NS EAST_IF EAST_ADDR: ns
# nva between two peer namespaces instead of A and B, each link a /24 with
# offloads off: nva-w NVA_WEST_ADDR -- WEST_IF WEST_ADDR in WEST_NS, and
# nva-e NVA_EAST_ADDR -- EAST_IF EAST_ADDR in EAST_NS. The caller adds
# routes, more addresses and sysctls after it.
topo_build_between() {
  local west_ns="$1" west_if="$2" west_addr="$3" east_ns="$4" east_if="$5" east_addr="$6" entry
  ns_create nva "${west_ns}" "${east_ns}"
  veth_pair nva nva-w "${west_ns}" "${west_if}"
  veth_pair nva nva-e "${east_ns}" "${east_if}"
  addr nva nva-w "${NVA_WEST_ADDR}/24"
  addr nva nva-e "${NVA_EAST_ADDR}/24"
  addr "${west_ns}" "${west_if}" "${west_addr}/24"
  addr "${east_ns}" "${east_if}" "${east_addr}/24"
  for entry in "nva nva-w" "nva nva-e" "${west_ns} ${west_if}" "${east_ns} ${east_if}"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
}

# topo_vxlan_yaml NAME VNI OVERLAY: the first keys of a `tunnels:` entry for
# a VXLAN tunnel from the NVA's east address to B's; the caller adds the
# rest (interface, mss_clamp, ...) after it. Called as $(...) on a line of
# its own inside the caller's here-document.
topo_vxlan_yaml() {
  cat <<EOF
  - name: $1
    type: vxlan
    local: ${NVA_EAST_ADDR}
    remote: ${B_EAST_ADDR}
    vni: $2
    overlay: $3
EOF
}

# topo_write_config FILE [ROUTE...]: the isthmusd YAML config. Each ROUTE is
# "PREFIX VIA[,VIA...]", added after the base route to B.
topo_write_config() {
  local file="$1"
  shift
  local base_via="${B_EAST_ADDR}"
  ((TOPO_ECMP)) && base_via="${B_EAST_ADDR}, ${B_EAST2_ADDR}"
  {
    cat <<EOF
# written by tests/lib/topo.sh for ${IT_NAME}
dataplane:
  workers: 1
  idle_sleep_us: 100
  burst: 32
  mbufs: 16383
  hugepages: false
  punt_interface: ${TOPO_PUNT_IF}
ports:
EOF
    local port ifname
    while read -r port ifname; do
      if [[ "${IT_DRIVER}" == "pmd" ]]; then
        # Free-form devargs (here the af_packet PMD on the veth) plus an
        # exception TAP named PORT-x that carries the port's address.
        printf '  - name: %s\n    driver: pmd\n    devargs: "net_af_packet_%s,iface=%s"\n' \
          "${port}" "${port}" "${ifname}"
        printf '    interface: %s-x\n    address: %s/%s\n' "${port}" "$(topo_port_addr "${port}")" "${PREFIX_LEN}"
      else
        printf '  - name: %s\n    driver: %s\n    interface: %s\n' "${port}" "${IT_DRIVER}" "${ifname}"
      fi
    done < <(topo_nva_ports)
    cat <<EOF
punt:
  tcp_ports: [179, 22]
  udp_ports: []
routes:
  - prefix: ${B_PREFIX}
    via: [${base_via}]
EOF
    local extra prefix via
    for extra in "$@"; do
      read -r prefix via <<<"${extra}"
      printf '  - prefix: %s\n    via: [%s]\n' "${prefix}" "${via//,/, }"
    done
    cat <<EOF
metrics:
  listen: ${TOPO_METRICS_LISTEN}
admin:
  socket: ${TOPO_SOCKET}
log:
  level: info
EOF
  } >"${file}"
}

# ctl ARGS...: isthmusctl against this test's daemon.
ctl() { ns_exec nva "${ISTHMUSCTL}" --socket "${TOPO_SOCKET}" "$@"; }

# port_stat PORT FIELD: a counter of a data-plane port (rx_packets,
# tx_packets, rx_bytes, tx_bytes, ...) from `show ports --json`; with the
# kernel stand-in, the nva interface's kernel counter.
port_stat() {
  local port="$1" field="$2"
  if topo_is_kernel; then
    link_stat nva "$(topo_port_ifname "${port}")" "${field}"
    return
  fi
  ctl show ports --json | jq -er --arg p "${port}" --arg f "${field}" \
    'first(.. | objects | select(.name? == $p and has($f))) | .[$f]'
}

# topo_ports_up: every configured port is reported with its link up.
topo_ports_up() {
  local json port
  json="$(ctl show ports --json 2>/dev/null)" || return 1
  while read -r port _; do
    jq -e --arg p "${port}" \
      'first(.. | objects | select(.name? == $p)) | (.link_up // .up // (.state == "up")) == true' \
      <<<"${json}" >/dev/null || return 1
  done < <(topo_nva_ports)
}

# topo_metric NAME [LABELS]: a metric of this test's daemon.
topo_metric() { metric nva "${TOPO_METRICS_URL}" "$@"; }

_topo_start_kernel_standin() {
  # isthmusd mirrors its routes into the nva kernel itself (protocol 212);
  # the stand-in gets the same route by hand.
  if ((TOPO_ECMP)); then
    ns_exec nva ip route replace "${B_PREFIX}" \
      nexthop via "${B_EAST_ADDR}" nexthop via "${B_EAST2_ADDR}" ||
      fail "cannot add the ECMP route to ${B_PREFIX} in nva"
  else
    route nva "${B_PREFIX}" "${B_EAST_ADDR}"
  fi
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=1
  # Hash on the 5-tuple like the data plane does (the route is in place).
  ns_exec nva sysctl -qw net.ipv4.fib_multipath_hash_policy=1
  info "stand-in: kernel forwarding in nva (IT_DATAPLANE=kernel)"
}

# topo_start_daemon: starts isthmusd in nva and waits until isthmusctl
# answers and every port is up.
topo_start_daemon() {
  if topo_is_kernel; then
    _topo_start_kernel_standin
    return 0
  fi
  topo_require_daemon
  mkdir -p "${TOPO_RUNTIME_DIR}"
  local port ifname
  while read -r port ifname; do
    # A program left behind by a killed run would make the AF_XDP start fail.
    ns_exec nva ip link set dev "${ifname}" xdp off 2>/dev/null
  done < <(topo_nva_ports)
  # STATE_DIRECTORY: ESP sequence reservations, kept across restarts in one test.
  start_bg nva "${TOPO_LOG}" env RUNTIME_DIRECTORY="${TOPO_RUNTIME_DIR}" STATE_DIRECTORY="${TEST_TMP}/state" \
    "${ISTHMUSD}" --config "${TOPO_CONFIG}"
  ISTHMUSD_PID="${BG_PID}"
  local deadline=$((SECONDS + TOPO_DAEMON_START_TIMEOUT_S))
  until topo_ports_up; do
    is_running "${ISTHMUSD_PID}" || fail "isthmusd exited during start-up"
    ((SECONDS < deadline)) ||
      fail "isthmusd: ports not up within ${TOPO_DAEMON_START_TIMEOUT_S} s"
    sleep "${IT_POLL_INTERVAL_S}"
  done
  info "isthmusd running (pid ${ISTHMUSD_PID}, ${IT_DRIVER}), ports up"
}

# topo_warmup: the first packets towards a next hop may be dropped while its
# MAC is resolved; resolve every next hop and wait until A reaches B.
topo_warmup() {
  ns_exec nva ping -c 1 -W 1 "${B_EAST_ADDR}" >/dev/null 2>&1
  ((TOPO_ECMP)) && ns_exec nva ping -c 1 -W 1 "${B_EAST2_ADDR}" >/dev/null 2>&1
  ns_exec b ping -c 1 -W 1 "${NVA_EAST_ADDR}" >/dev/null 2>&1
  wait_until "${TOPO_WARMUP_TIMEOUT_S}" ns_exec a ping -c 1 -W 1 "${B_HOST}" ||
    fail "A cannot reach B (${B_HOST}) through the NVA within ${TOPO_WARMUP_TIMEOUT_S} s"
  info "A reaches B through the NVA"
}

# topo_up [--ecmp]: build, configure, start and warm up.
# shellcheck disable=SC2120  # the option is optional
topo_up() {
  topo_is_kernel || topo_require_daemon
  topo_build "$@"
  topo_write_config "${TOPO_CONFIG}"
  topo_start_daemon
  topo_warmup
}

# topo_stop_daemon [TIMEOUT_S]: SIGTERM, wait, return the exit status.
topo_stop_daemon() {
  local status=0
  stop_bg "${ISTHMUSD_PID}" TERM "${1:-10}" || status=$?
  return "${status}"
}

# topo_reload_signal: SIGHUP to the daemon (re-reads TOPO_CONFIG).
topo_reload_signal() { kill -s HUP "${ISTHMUSD_PID}"; }

# ------------------------------------------- several isthmusd in one test
# For scenarios with more than one appliance (two regions joined by a
# tunnel, ...). Each instance has a short NAME, runs in a namespace of its
# own and keeps its config, admin socket, runtime directory and log under
# ${TEST_TMP}/NAME/ (config and log carry NAME in their file names, so the
# artifacts tests/run collects into one directory do not overwrite each
# other). The test writes "$(nva_config NAME)" itself, with
# "admin: socket: $(nva_socket NAME)"; fail() shows the end of every
# instance's log (start_bg records it).

declare -gA _NVA_NS=() _NVA_PID=()

nva_dir() { printf '%s/%s\n' "${TEST_TMP}" "$1"; }
nva_config() { printf '%s/%s/isthmusd-%s.yaml\n' "${TEST_TMP}" "$1" "$1"; }
nva_socket() { printf '%s/%s/isthmusd.sock\n' "${TEST_TMP}" "$1"; }
nva_log() { printf '%s/%s/isthmusd-%s.log\n' "${TEST_TMP}" "$1" "$1"; }
nva_pid() { printf '%s\n' "${_NVA_PID[$1]:-}"; }

# nva_prepare NAME NS: the instance's directory, before its config is written.
nva_prepare() {
  local name="$1" short="$2"
  _it_require_ns "${short}"
  mkdir -p "$(nva_dir "${name}")/runtime" || fail "cannot create $(nva_dir "${name}")"
  _NVA_NS[${name}]="${short}"
}

# nva_dataplane_yaml NAME ROLE: the head of a small appliance's config up to
# `ports:` (one worker that sleeps when idle, no hugepages, a punt TAP
# unique to NAME and this run); ROLE names it in the comment line.
nva_dataplane_yaml() {
  cat <<EOF
# written by ${IT_NAME}: $2 $1
dataplane:
  workers: 1
  idle_sleep_us: 100
  hugepages: false
  punt_interface: ip$1$(($$ % 100000))
ports:
EOF
}

# nva_admin_yaml NAME [METRICS_LISTEN]: the config's metrics, admin and log
# sections for instance NAME (metrics on its namespace's loopback unless
# given, its own admin socket).
nva_admin_yaml() {
  printf 'metrics:\n  listen: %s\nadmin:\n  socket: %s\nlog:\n  level: info\n' \
    "${2:-${TOPO_METRICS_LISTEN}}" "$(nva_socket "$1")"
}

# nva_ctl NAME ARGS...: isthmusctl against instance NAME.
nva_ctl() {
  local name="$1"
  shift
  ns_exec "${_NVA_NS[${name}]}" "${ISTHMUSCTL}" --socket "$(nva_socket "${name}")" "$@"
}

# nva_start NAME IFNAME...: starts instance NAME (nva_prepare'd, config
# written) in its namespace and returns at once; IFNAMEs are the veths its
# ports attach to (an XDP program left by a killed run would make an AF_XDP
# start fail, so it is detached first). Wait with nva_wait_ready.
nva_start() {
  local name="$1" ifname
  shift
  topo_require_daemon
  [[ -n "${_NVA_NS[${name}]:-}" ]] || fail "nva_start ${name}: call nva_prepare first"
  [[ -s "$(nva_config "${name}")" ]] || fail "nva_start ${name}: no config at $(nva_config "${name}")"
  for ifname in "$@"; do
    ns_exec "${_NVA_NS[${name}]}" ip link set dev "${ifname}" xdp off 2>/dev/null
  done
  start_bg "${_NVA_NS[${name}]}" "$(nva_log "${name}")" env RUNTIME_DIRECTORY="$(nva_dir "${name}")/runtime" \
    STATE_DIRECTORY="$(nva_dir "${name}")/state" "${ISTHMUSD}" --config "$(nva_config "${name}")"
  _NVA_PID[${name}]="${BG_PID}"
}

# nva_ports_up NAME PORT...: isthmusctl answers and each PORT's link is up.
nva_ports_up() {
  local name="$1" json port
  shift
  json="$(nva_ctl "${name}" show ports --json 2>/dev/null)" || return 1
  for port in "$@"; do
    jq -e --arg p "${port}" 'first(.[] | select(.name == $p)) | .link_up == true' <<<"${json}" >/dev/null ||
      return 1
  done
}

# nva_wait_ready NAME PORT...: waits (TOPO_DAEMON_START_TIMEOUT_S) until
# nva_ports_up; fails if the daemon exits or never gets there.
nva_wait_ready() {
  local name="$1" deadline=$((SECONDS + TOPO_DAEMON_START_TIMEOUT_S))
  until nva_ports_up "$@"; do
    is_running "${_NVA_PID[${name}]}" || fail "isthmusd ${name} exited during start-up"
    ((SECONDS < deadline)) || fail "isthmusd ${name}: ports not up within ${TOPO_DAEMON_START_TIMEOUT_S} s"
    sleep "${IT_POLL_INTERVAL_S}"
  done
  info "isthmusd ${name} running (pid ${_NVA_PID[${name}]}, ${IT_DRIVER}), ports up"
}

# nva_stop NAME [TIMEOUT_S]: SIGTERM, wait, return the exit status.
nva_stop() {
  local status=0
  stop_bg "${_NVA_PID[$1]}" TERM "${2:-10}" || status=$?
  return "${status}"
}

# nva_diag NAME [SHOW...]: prints the daemon's view for a failure report
# (default: tunnels, bgp summary, fib), never failing itself.
nva_diag() {
  local name="$1" what
  shift
  [[ $# -gt 0 ]] || set -- "tunnels" "bgp summary" "fib"
  for what in "$@"; do
    printf '  ---- %s: isthmusctl show %s\n' "${name}" "${what}"
    # shellcheck disable=SC2086  # "bgp summary" is two words
    nva_ctl "${name}" show ${what} 2>&1 | sed 's/^/  | /'
  done
}
