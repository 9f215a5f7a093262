# shellcheck shell=bash
# Hostile-peer tests: driving tests/lib/raw_bgp_peer.py through its command
# and result files, and isthmusd's view of one peer (`show bgp neighbors`,
# `show bgp routes`, `show fib`). Sourced after topo.sh and bgp.sh; the raw
# peers run in namespace RAW_NS (default "hostile") and talk to
# NVA_WEST_ADDR.

readonly RAW_PEER="${IT_LIB_DIR}/raw_bgp_peer.py"
RAW_NS="${RAW_NS:-hostile}"
# How long raw_cmd waits for an answer; the peer's own barrier gives up
# after 10 s, so this only catches a peer that hangs.
RAW_ANSWER_TIMEOUT_S="${RAW_ANSWER_TIMEOUT_S:-30}"
RAW_SEQ=0
RAW_RESULT=""

# raw_start NAME LOCAL_ADDR ASN [ARGS...]: a raw peer (not connected yet).
raw_start() {
  local name="$1" local_addr="$2" asn="$3"
  shift 3
  : >"${TEST_TMP}/raw-${name}.cmd"
  : >"${TEST_TMP}/raw-${name}.res"
  start_bg "${RAW_NS}" "${TEST_TMP}/raw-${name}.log" "${PY}" "${RAW_PEER}" --local "${local_addr}" \
    --remote "${NVA_WEST_ADDR}" --asn "${asn}" --commands "${TEST_TMP}/raw-${name}.cmd" \
    --results "${TEST_TMP}/raw-${name}.res" "$@"
}

_raw_answered() { grep -q "^$1 " "$2"; }

# raw_post NAME COMMAND...: hands a command over and returns at once; its
# sequence number is left in RAW_SEQ for raw_wait.
raw_post() {
  local name="$1"
  shift
  RAW_SEQ=$((RAW_SEQ + 1))
  printf '%s %s\n' "${RAW_SEQ}" "$*" >>"${TEST_TMP}/raw-${name}.cmd"
}

# raw_wait NAME SEQ [TIMEOUT_S]: waits for the answer to SEQ, leaves it in RAW_RESULT.
raw_wait() {
  local name="$1" seq="$2" timeout="${3:-${RAW_ANSWER_TIMEOUT_S}}"
  local res="${TEST_TMP}/raw-${name}.res"
  # Polled faster than wait_until: commands often run back to back.
  local deadline=$((SECONDS + timeout))
  until _raw_answered "${seq}" "${res}"; do
    ((SECONDS < deadline)) || fail "raw peer ${name} did not answer command ${seq}"
    sleep 0.02
  done
  RAW_RESULT="$(sed -n "s/^${seq} //p" "${res}")"
}

# raw_cmd NAME COMMAND...: runs one command, leaves the answer in RAW_RESULT.
raw_cmd() {
  local name="$1"
  shift
  raw_post "${name}" "$@"
  raw_wait "${name}" "${RAW_SEQ}"
}

# raw_expect NAME ANSWER COMMAND...: raw_cmd that must answer ANSWER.
raw_expect() {
  local name="$1" want="$2"
  shift 2
  raw_cmd "${name}" "$@"
  [[ "${RAW_RESULT}" == "${want}" ]] || fail "raw peer ${name} '$*': expected '${want}', got '${RAW_RESULT}'"
}

# ------------------------------------------------------- isthmusd's view

# neighbor_json, peer_state, peer_transitions, peer_established and
# peer_not_established come from bgp.sh (sourced before this file).
# notifications_sent PEER CODE SUBCODE: how many isthmusd sent with that code.
notifications_sent() {
  neighbor_json "$1" | jq -r --argjson c "$2" --argjson s "$3" \
    '[.notifications.sent[] | select(.code == $c and .subcode == $s) | .count] | add // 0'
}
# path_json PEER PREFIX: the path isthmusd holds for PREFIX from PEER ("" if none).
path_json() {
  ctl show bgp routes --json |
    jq -c --arg p "$2" --arg n "$1" 'first(.routes[] | select(.prefix == $p) | .paths[] | select(.peer == $n)) // empty'
}
has_route() { [[ -n "$(path_json "$1" "$2")" ]]; }
lacks_route() { [[ -z "$(path_json "$1" "$2")" ]]; }
# in_fib PREFIX VIA: the data-plane FIB forwards PREFIX to VIA.
in_fib() {
  ctl show fib --json |
    jq -e --arg p "$1" --arg v "$2" 'any(.entries[]; .prefix == $p and any(.nexthops[]; .via == $v))' >/dev/null
}
not_in_fib() {
  ctl show fib --json | jq -e --arg p "$1" 'all(.entries[]; .prefix != $p)' >/dev/null
}

# hostile_config_head NVA_AS: isthmusd's config up to `bgp.peers:` for the
# hostile-peer topology (ports west nva-w and east nva-e, router id
# NVA_WEST_ADDR, one policy accept-all); the test prints the peers after it.
hostile_config_head() {
  cat <<CONF
dataplane:
  workers: 1
  punt_interface: ${TOPO_PUNT_IF}
ports:
  - name: west
    driver: ${IT_DRIVER}
    interface: nva-w
  - name: east
    driver: ${IT_DRIVER}
    interface: nva-e
metrics:
  listen: ${TOPO_METRICS_LISTEN}
admin:
  socket: ${TOPO_SOCKET}
$(bgp_yaml_accept_all "$1" "${NVA_WEST_ADDR}")
  peers:
CONF
}

# hostile_build GOOD_ADDR HOSTILE_ADDR...: the namespaces and links:
#   ns hostile: h-w with every HOSTILE_ADDR/24 -- ns nva: nva-w NVA_WEST_ADDR/24
#   ns good:    g-e GOOD_ADDR/24               -- ns nva: nva-e NVA_EAST_ADDR/24
hostile_build() {
  local good_addr="$1" address
  shift
  topo_build_between hostile h-w "$1" good g-e "${good_addr}"
  for address in "${@:2}"; do addr hostile h-w "${address}/24"; done
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=0
}
