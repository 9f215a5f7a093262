# shellcheck shell=bash
# Network-namespace test library, sourced by tests/integration/test_*.sh and
# the testbed scripts.
#
# Everything a test creates is recorded and undone by one cleanup that runs on
# EXIT, INT and TERM, whether the test passed or failed:
#   background processes (stopped by the PID we started, never by name),
#   XDP programs on interfaces we created, namespaces, temp directories.
#
# Namespaces get a per-run prefix (IT_PREFIX, default "it<pid>") so parallel
# runs and leftovers of a killed run never collide: `ns_create a` makes
# "it1234-a"; every other function takes the short name "a".
#
# Only documentation/benchmark address ranges are used by tests:
# 198.18.0.0/15 (RFC 2544), 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
# (RFC 5737).
#
# Result convention (what tests/run understands): exit 0 pass, 1 fail, 77 skip.

[[ -n "${_ISTHMUS_NETNS_SH:-}" ]] && return 0
_ISTHMUS_NETNS_SH=1

readonly IT_EXIT_PASS=0
readonly IT_EXIT_FAIL=1
readonly IT_EXIT_SKIP=77
readonly IT_POLL_INTERVAL_S=0.2
readonly IT_STOP_GRACE_S=5
readonly IT_LOG_TAIL_LINES=25

# scapy lives in Debian's python, not in a pyenv shim that may shadow it.
readonly PY=/usr/bin/python3
IT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034  # used by topo.sh and the tests
readonly IT_LIB_DIR

IT_PREFIX="${IT_PREFIX:-it$$}"
IT_NAME="$(basename "${0}" .sh)"

_IT_NAMESPACES=()   # full names, in creation order
_IT_PIDS=()         # background processes started by start_bg
_IT_LINKS=()        # "SHORT_NS IFNAME" of every interface veth_pair made
_IT_TMPDIRS=()
_IT_LOGS=()         # logs of background processes, shown when a test fails
_IT_CLEANUP_HOOKS=()
_IT_CLEANED=0

# ---------------------------------------------------------------- reporting

info() { printf '  ..   %s\n' "$*"; }
check() { printf '  ok   %s\n' "$*"; }

# Prints the end of every background log, then exits with "fail".
fail() {
  printf '  FAIL %s\n' "$*"
  _it_dump_logs
  exit "${IT_EXIT_FAIL}"
}

pass() {
  printf 'PASS %s%s\n' "${IT_NAME}" "${1:+: $*}"
  exit "${IT_EXIT_PASS}"
}

skip() {
  printf 'SKIP %s: %s\n' "${IT_NAME}" "$*"
  exit "${IT_EXIT_SKIP}"
}

_it_dump_logs() {
  local log
  for log in "${_IT_LOGS[@]}"; do
    [[ -s "${log}" ]] || continue
    printf '  ---- last lines of %s\n' "${log}"
    tail -n "${IT_LOG_TAIL_LINES}" "${log}" | sed 's/^/  | /'
  done
}

_it_is_number() {
  [[ "$1" =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
  local expected="$1" actual="$2" what="$3"
  [[ "${actual}" == "${expected}" ]] || fail "${what}: expected '${expected}', got '${actual}'"
  check "${what}: ${actual}"
}

# _assert_compare ACTUAL OP BOUND WHAT: OP is ">=" or "<" (numbers; floats
# and 1e3 notation accepted).
_assert_compare() {
  local actual="$1" op="$2" bound="$3" what="$4"
  _it_is_number "${actual}" || fail "${what}: '${actual}' is not a number (wanted ${op} ${bound})"
  awk -v a="${actual}" -v b="${bound}" -v op="${op}" \
    'BEGIN { exit !(op == ">=" ? a + 0 >= b + 0 : a + 0 < b + 0) }' ||
    fail "${what}: ${actual} is not ${op} ${bound}"
  check "${what}: ${actual} ${op} ${bound}"
}

# assert_ge ACTUAL MINIMUM WHAT
assert_ge() { _assert_compare "$1" ">=" "$2" "$3"; }

# assert_lt ACTUAL LIMIT WHAT
assert_lt() { _assert_compare "$1" "<" "$2" "$3"; }

# assert_contains TEXT NEEDLE WHAT
assert_contains() {
  local text="$1" needle="$2" what="$3"
  [[ "${text}" == *"${needle}"* ]] || fail "${what}: '${needle}' not found in: ${text}"
  check "${what}: contains '${needle}'"
}

# ------------------------------------------------------------------ polling

_it_now_us() { echo "${EPOCHREALTIME/./}"; }

# wait_until TIMEOUT_S CMD...: runs CMD (output discarded) until it succeeds;
# returns 1 if it never did within TIMEOUT_S seconds.
wait_until() {
  local timeout_s="$1"
  shift
  local deadline=$(($(_it_now_us) + timeout_s * 1000000))
  while true; do
    "$@" >/dev/null 2>&1 && return 0
    (($(_it_now_us) >= deadline)) && return 1
    sleep "${IT_POLL_INTERVAL_S}"
  done
}

# ---------------------------------------------------------------- namespaces

# ns NAME: the full namespace name of a short name.
ns() { printf '%s-%s\n' "${IT_PREFIX}" "$1"; }

_it_require_ns() {
  local short
  for short in "$@"; do
    [[ " ${_IT_NAMESPACES[*]} " == *" $(ns "${short}") "* ]] ||
      fail "namespace '${short}' was not created by ns_create"
  done
}

# ns_create NAME...: new namespaces with loopback up and IPv6 off (router
# solicitations and MLD would otherwise show up in data-plane counters).
ns_create() {
  local short full
  for short in "$@"; do
    full="$(ns "${short}")"
    ip netns add "${full}" || fail "cannot create namespace ${full}"
    _IT_NAMESPACES+=("${full}")
    ip -n "${full}" link set lo up
    ip netns exec "${full}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 >/dev/null
  done
}

# ns_exec NAME CMD...
ns_exec() {
  local short="$1"
  shift
  _it_require_ns "${short}"
  ip netns exec "$(ns "${short}")" "$@"
}

# veth_pair NS1 IF1 NS2 IF2: a veth between two namespaces, both ends up.
veth_pair() {
  local ns1="$1" if1="$2" ns2="$3" if2="$4"
  _it_require_ns "${ns1}" "${ns2}"
  ip link add "${if1}" netns "$(ns "${ns1}")" type veth peer name "${if2}" netns "$(ns "${ns2}")" ||
    fail "cannot create veth ${ns1}/${if1} <-> ${ns2}/${if2}"
  _IT_LINKS+=("${ns1} ${if1}" "${ns2} ${if2}")
  ip -n "$(ns "${ns1}")" link set "${if1}" up
  ip -n "$(ns "${ns2}")" link set "${if2}" up
}

# veth_no_offload NS IF: the kernel fills TCP/UDP checksums and segments
# lazily on veth (CHECKSUM_PARTIAL, GSO). A user-space data plane reading the
# raw frame would forward unfinished checksums and 64 KB super-frames, so
# every end facing it sends finished, MTU-sized frames.
veth_no_offload() {
  local short="$1" ifname="$2"
  ns_exec "${short}" ethtool -K "${ifname}" tx off tso off gso off gro off >/dev/null 2>&1 ||
    fail "ethtool -K ${ifname} (in ${short}) failed"
}

# addr NS IF CIDR
addr() {
  ns_exec "$1" ip addr add "$3" dev "$2" || fail "cannot add $3 to $1/$2"
}

# route NS PREFIX VIA  (PREFIX may be "default")
route() {
  ns_exec "$1" ip route replace "$2" via "$3" || fail "cannot add route $2 via $3 in $1"
}

# link_stat NS IF rx_packets|tx_packets|...: the kernel's own counter of an
# interface, an oracle independent of the data plane.
link_stat() {
  ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# free_port NS: a TCP port nobody listens on in that namespace.
free_port() {
  ns_exec "$1" "${PY}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# tcp_listening NS PORT / udp_listening NS PORT: a socket is bound there.
tcp_listening() { [[ -n "$(ns_exec "$1" ss -Hltn "sport = :$2")" ]]; }
udp_listening() { [[ -n "$(ns_exec "$1" ss -Hlun "sport = :$2")" ]]; }

# ------------------------------------------------------------ processes

# start_bg NS LOGFILE CMD...: runs CMD in namespace NS ("-" = this one) in the
# background; its PID is left in BG_PID and stopped by cleanup.
start_bg() {
  local short="$1" log="$2"
  shift 2
  # IT_DETACH=1 (deploy/testbed/up): a session of its own, so the process
  # outlives the script and the terminal's SIGHUP/SIGINT. setsid execs
  # without forking here (a background job is no group leader): same PID.
  [[ "${IT_DETACH:-0}" == 1 ]] && set -- setsid "$@"
  if [[ "${short}" == "-" ]]; then
    "$@" >"${log}" 2>&1 </dev/null &
  else
    _it_require_ns "${short}"
    # `ip netns exec` execs CMD, so $! is CMD's own PID.
    ip netns exec "$(ns "${short}")" "$@" >"${log}" 2>&1 </dev/null &
  fi
  BG_PID=$!
  _IT_PIDS+=("${BG_PID}")
  _IT_LOGS+=("${log}")
}

is_running() { kill -0 "$1" 2>/dev/null; }

# stop_bg PID [SIGNAL] [TIMEOUT_S]: signals a process start_bg started, waits
# for it (KILL after TIMEOUT_S) and returns its exit status.
stop_bg() {
  local pid="$1" sig="${2:-TERM}" timeout_s="${3:-${IT_STOP_GRACE_S}}"
  kill -s "${sig}" "${pid}" 2>/dev/null
  if ! wait_until "${timeout_s}" _it_not_running "${pid}"; then
    kill -s KILL "${pid}" 2>/dev/null
  fi
  local status=0
  wait "${pid}" 2>/dev/null || status=$?
  return "${status}"
}

_it_not_running() { ! kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------- metrics

# metric [NS] URL NAME [LABELS]: the value of a metric in a Prometheus text
# page, summed over every series whose labels include LABELS
# ("port=west,result=busy"). Prints nothing and returns 1 if no series matched.
metric() {
  local short=""
  [[ "$1" == http* ]] || { short="$1"; shift; }
  local url="$1" name="$2" labels="${3:-}" page
  if [[ -n "${short}" ]]; then
    page="$(ns_exec "${short}" curl -sf --max-time 5 "${url}")" || return 1
  else
    page="$(curl -sf --max-time 5 "${url}")" || return 1
  fi
  awk -v name="${name}" -v labels="${labels}" '
    BEGIN {
      n = split(labels, parts, ",")
      for (i = 1; i <= n; i++) {
        gsub(/"/, "", parts[i])
        eq = index(parts[i], "=")
        want[i] = "," substr(parts[i], 1, eq - 1) "=\"" substr(parts[i], eq + 1) "\","
      }
    }
    /^#/ || NF == 0 { next }
    {
      match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)
      if (substr($0, 1, RLENGTH) != name) next
      rest = substr($0, RLENGTH + 1)
      series = ",,"
      if (substr(rest, 1, 1) == "{") {
        close_at = index(rest, "}")
        series = "," substr(rest, 2, close_at - 2) ","
        rest = substr(rest, close_at + 1)
      }
      for (i = 1; i <= n; i++) if (index(series, want[i]) == 0) next
      split(rest, fields, " ")
      sum += fields[1]
      found = 1
    }
    END {
      if (!found) exit 1
      printf "%.15g\n", sum
    }' <<<"${page}"
}

# ---------------------------------------------------------------- cleanup

# on_cleanup FUNCTION: runs FUNCTION first during cleanup (e.g. a graceful
# daemon stop); hooks run newest first.
on_cleanup() { _IT_CLEANUP_HOOKS=("$1" "${_IT_CLEANUP_HOOKS[@]}"); }

_it_stop_recorded_pids() {
  local pid alive=()
  for pid in "${_IT_PIDS[@]}"; do
    is_running "${pid}" && kill -s TERM "${pid}" 2>/dev/null && alive+=("${pid}")
  done
  [[ ${#alive[@]} -eq 0 ]] && return 0
  wait_until "${IT_STOP_GRACE_S}" _it_none_running "${alive[@]}" ||
    for pid in "${alive[@]}"; do kill -s KILL "${pid}" 2>/dev/null; done
  for pid in "${alive[@]}"; do wait "${pid}" 2>/dev/null; done
}

_it_none_running() {
  local pid
  for pid in "$@"; do kill -0 "${pid}" 2>/dev/null && return 1; done
  return 0
}

# Processes still inside our namespaces were started by this test (the
# namespaces are private to it); a namespace with members cannot go away.
_it_kill_namespace_members() {
  local full pid
  for full in "${_IT_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "${full}" 2>/dev/null); do
      kill -s KILL "${pid}" 2>/dev/null
    done
  done
}

_it_detach_xdp() {
  local entry short ifname
  for entry in "${_IT_LINKS[@]}"; do
    read -r short ifname <<<"${entry}"
    ip -n "$(ns "${short}")" link show dev "${ifname}" >/dev/null 2>&1 || continue
    ip -n "$(ns "${short}")" link set dev "${ifname}" xdp off 2>/dev/null
  done
}

_it_save_artifacts() {
  [[ -n "${IT_ARTIFACTS:-}" ]] || return 0
  mkdir -p "${IT_ARTIFACTS}" || return 0
  local dir
  for dir in "${_IT_TMPDIRS[@]}"; do
    [[ -d "${dir}" ]] || continue
    find "${dir}" -maxdepth 2 -type f \( -name '*.log' -o -name '*.yaml' -o -name '*.json' \
      -o -name '*.txt' \) -exec cp -t "${IT_ARTIFACTS}" {} + 2>/dev/null
  done
}

cleanup() {
  ((_IT_CLEANED)) && return 0
  _IT_CLEANED=1
  set +e  # a failing step must not stop the rest of the cleanup
  local hook full dir i
  for hook in "${_IT_CLEANUP_HOOKS[@]}"; do "${hook}" || true; done
  _it_stop_recorded_pids
  _it_kill_namespace_members
  _it_detach_xdp
  for ((i = ${#_IT_NAMESPACES[@]} - 1; i >= 0; i--)); do
    full="${_IT_NAMESPACES[i]}"
    ip netns del "${full}" 2>/dev/null
  done
  _it_save_artifacts
  for dir in "${_IT_TMPDIRS[@]}"; do
    [[ -d "${dir}" ]] && rm -rf -- "${dir}"
  done
  return 0
}

_it_on_exit() {
  local status=$?
  cleanup
  exit "${status}"
}

_it_on_signal() {
  printf '  ..   interrupted (signal %s), cleaning up\n' "$1"
  exit "$((128 + $1))"  # the EXIT trap does the cleanup
}

# ------------------------------------------------ keeping things running

_it_start_time() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

# it_save_state FILE: disarms cleanup and writes down everything it would
# have undone, for a later it_adopt_state (deploy/testbed/up, then down).
# Each PID is stored with its start time, so a PID reused by an unrelated
# process is never signalled.
it_save_state() {
  local file="$1" pid
  {
    printf 'IT_PREFIX=%q\n' "${IT_PREFIX}"
    declare -p _IT_NAMESPACES _IT_LINKS _IT_TMPDIRS _IT_LOGS
    printf '_IT_SAVED_PIDS=('
    for pid in "${_IT_PIDS[@]}"; do
      is_running "${pid}" && printf '%q ' "${pid}:$(_it_start_time "${pid}")"
    done
    printf ')\n'
  } >"${file}" || fail "cannot write ${file}"
  _IT_CLEANED=1
}

# it_adopt_state FILE: takes over what it_save_state recorded, so this
# script's cleanup undoes it. Call at top level (not inside a function).
it_adopt_state() {
  local file="$1" own_tmp=("${_IT_TMPDIRS[@]}") entry pid start
  # declare -p output re-declares the arrays; -g keeps them global.
  eval "$(sed -e 's/^declare -a /declare -ga /' "${file}")" || fail "cannot read ${file}"
  _IT_TMPDIRS+=("${own_tmp[@]}")
  for entry in "${_IT_SAVED_PIDS[@]}"; do
    pid="${entry%%:*}"
    start="${entry#*:}"
    [[ -n "${start}" && "$(_it_start_time "${pid}")" == "${start}" ]] && _IT_PIDS+=("${pid}")
  done
}

# make_tmpdir VAR: a new temp directory, removed by cleanup, its path put in
# VAR (not printed: a command substitution would lose the record).
make_tmpdir() {
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/isthmus-${IT_NAME}.XXXXXX")" || fail "mktemp failed"
  _IT_TMPDIRS+=("${dir}")
  printf -v "$1" '%s' "${dir}"
}

trap _it_on_exit EXIT
trap '_it_on_signal 2' INT
trap '_it_on_signal 15' TERM

# Every test gets one temp directory for configs, logs, sockets and DPDK's
# runtime files.
TEST_TMP="$(mktemp -d "${TMPDIR:-/tmp}/isthmus-${IT_NAME}.XXXXXX")" || {
  echo "mktemp failed" >&2
  exit "${IT_EXIT_FAIL}"
}
_IT_TMPDIRS+=("${TEST_TMP}")
