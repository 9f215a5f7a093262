#!/usr/bin/env bash
# Traffic for the appliance itself reaches its kernel: ping to both NVA
# addresses, a TCP/179 listener in the nva namespace, and ICMP time exceeded
# for TTL-expired packets (RFC 1812 5.3.1), seen as traceroute's first hop.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly BGP_PORT=179
readonly TRACEROUTE_MAX_HOPS=5
readonly TRACEROUTE_TIMEOUT_S=30
readonly TRACEROUTE_ATTEMPTS=3

check_ping_nva() {
  local target out
  for target in "${NVA_WEST_ADDR}" "${NVA_EAST_ADDR}"; do
    wait_until 10 ns_exec a ping -c 1 -W 1 "${target}" || fail "A cannot ping the NVA at ${target}"
    out="$(ns_exec a ping -c 5 -i 0.2 -W 1 "${target}")"
    assert_contains "${out}" "5 packets transmitted, 5 received" "ping A -> NVA ${target} 5/5"
  done
}

check_tcp_to_kernel() {
  local banner="isthmus-punt-${RANDOM}"
  start_bg nva "${TEST_TMP}/listener.log" "${PY}" -c '
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(4)
server.settimeout(60)
while True:
    conn, _ = server.accept()
    conn.sendall(sys.argv[3].encode() + b"\n")
    conn.close()
' "${NVA_WEST_ADDR}" "${BGP_PORT}" "${banner}"
  wait_until 10 tcp_listening nva "${BGP_PORT}" || fail "TCP listener in nva did not start"
  local got
  got="$(ns_exec a timeout 10 "${PY}" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(s.recv(200).decode().strip())
' "${NVA_WEST_ADDR}" "${BGP_PORT}")" || fail "A cannot connect to TCP ${NVA_WEST_ADDR}:${BGP_PORT}"
  assert_eq "${banner}" "${got}" "TCP ${BGP_PORT} from A reaches the nva kernel's listener"
}

# traceroute_hops MODE: "hop address" lines; retried because a probe may meet
# ICMP rate limiting in the NVA's kernel.
traceroute_hops() {
  local mode="$1" out attempt
  for ((attempt = 1; attempt <= TRACEROUTE_ATTEMPTS; attempt++)); do
    # shellcheck disable=SC2086  # MODE is empty or one option
    out="$(ns_exec a timeout "${TRACEROUTE_TIMEOUT_S}" traceroute -n ${mode} -q 1 -w 2 \
      -m "${TRACEROUTE_MAX_HOPS}" "${B_HOST}" 2>/dev/null)"
    printf '%s\n' "${out}" >>"${TEST_TMP}/traceroute.txt"
    out="$(awk 'NR > 1 { printf "%s%s %s", sep, $1, $2; sep = ", " }' <<<"${out}")"
    [[ "${out}" == "1 ${NVA_WEST_ADDR}, 2 ${B_HOST}" ]] && break
  done
  printf '%s\n' "${out}"
}

check_traceroute() {
  local mode label hops
  for mode in -I ""; do
    label="${mode:+ICMP}"
    label="${label:-UDP}"
    hops="$(traceroute_hops "${mode}")"
    assert_eq "1 ${NVA_WEST_ADDR}, 2 ${B_HOST}" "${hops}" \
      "traceroute (${label}) A -> B: hop 1 is the NVA, hop 2 is B"
  done
}

check_punt_counters() {
  topo_is_kernel && return 0
  local ttl_expired
  ttl_expired="$(topo_metric isthmus_dataplane_punts_total reason=ttl_expired)" ||
    fail "isthmus_dataplane_punts_total{reason=\"ttl_expired\"} missing from /metrics"
  assert_ge "${ttl_expired}" 2 "punts with reason ttl_expired (traceroute probes)"
}

# isthmusd mirrors its routes into the nva kernel (protocol 212), which is
# what lets the kernel answer a punted TTL expiry with "time exceeded".
check_kernel_route_mirror() {
  topo_is_kernel && return 0
  local mirrored
  mirrored="$(ns_exec nva ip -4 route show proto 212)"
  assert_contains "${mirrored}" "${B_PREFIX} via ${B_EAST_ADDR}" "route to B mirrored into the nva kernel"
}

topo_up
check_kernel_route_mirror
check_ping_nva
check_tcp_to_kernel
check_traceroute
check_punt_counters
pass "NVA answers ping on both ports, TCP/${BGP_PORT} reaches its kernel, TTL expiry punted"
