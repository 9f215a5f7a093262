#!/usr/bin/env bash
# TCP MD5 signatures (RFC 2385) and GTSM (RFC 5082) against FRR:
#
#   ns md5:   m-w  198.18.1.2, FRR AS 65020, `neighbor 198.18.1.1 password ...`
#   ns nva:   isthmusd AS 65010, west 198.18.1.1/24, east 198.18.2.1/24
#   ns gtsm:  g-e  198.18.2.2, FRR AS 65030, `neighbor 198.18.2.1 ttl-security hops 1`
#
# 1. Same password on both sides (isthmusd's from a 0600 tcp_md5_key_file):
#    Established, and no MD5 failure counted by the nva kernel.
# 2. FRR switches to another password: the session goes down and stays
#    down; the nva kernel counts TcpExtTCPMD5Failure for FRR's segments.
# 3. isthmusd's key file gets FRR's new password and `isthmusctl reload`:
#    Established again (a new password resets the session by design).
# 4. The key file becomes mode 0644: the reload is refused naming the file,
#    its mode and what is accepted, and the session is left alone.
# 5. GTSM: Established with FRR's ttl-security; once FRR sends with TTL 1
#    the session does not come back and TcpExtTCPMinTTLDrop rises.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly MD5_ADDR=198.18.1.2 GTSM_ADDR=198.18.2.2
readonly MD5_AS=65020 GTSM_AS=65030 NVA_AS=65010
readonly PASSWORD_1='Md5-Pass-1.x' PASSWORD_2='Md5-Pass-2.y'
readonly DOWN_OBSERVE_S=12
readonly KEY_FILE="${TEST_TMP}/keys/md5peer.key"

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"

build() {
  topo_build_between md5 m-w "${MD5_ADDR}" gtsm g-e "${GTSM_ADDR}"
}

write_key() {
  mkdir -p "$(dirname "${KEY_FILE}")"
  chmod 0700 "$(dirname "${KEY_FILE}")"
  (umask 077 && printf '%s\n' "$1" >"${KEY_FILE}")
}

write_config() {
  cat >"${TOPO_CONFIG}" <<CONF
dataplane:
  workers: 1
  punt_interface: ${TOPO_PUNT_IF}
ports:
  - {name: west, driver: ${IT_DRIVER}, interface: nva-w}
  - {name: east, driver: ${IT_DRIVER}, interface: nva-e}
metrics:
  listen: ${TOPO_METRICS_LISTEN}
admin:
  socket: ${TOPO_SOCKET}
bgp:
  asn: ${NVA_AS}
  router_id: ${NVA_WEST_ADDR}
  peers:
    - name: md5peer
      address: ${MD5_ADDR}
      remote_as: ${MD5_AS}
      connect_retry: 2
      tcp_md5_key_file: ${KEY_FILE}
    - name: gtsmpeer
      address: ${GTSM_ADDR}
      remote_as: ${GTSM_AS}
      connect_retry: 2
      gtsm: true
CONF
}

frr_body() {  # NVA_ADDR NVA_AS EXTRA_LINE
  printf ' neighbor %s remote-as %s\n neighbor %s timers connect 2\n neighbor %s %s\n' \
    "$1" "$2" "$1" "$1" "$3"
}


# tcpext NS NAME: a TcpExt counter of the namespace's kernel (/proc/net/netstat
# is per network namespace; what `nstat` shows as TcpExtNAME).
tcpext() {
  ns_exec "$1" cat /proc/net/netstat | awk -v n="$2" '
    $1 == "TcpExt:" && !names { for (i = 2; i <= NF; i++) col[$i] = i; names = 1; next }
    $1 == "TcpExt:" && names { print (n in col) ? $col[n] : "missing"; exit }'
}

# stays_down PEER FRR_NS FRR_NAME FRR_SEES: neither side reaches Established
# for DOWN_OBSERVE_S seconds.
stays_down() {
  local deadline=$((SECONDS + DOWN_OBSERVE_S))
  while ((SECONDS < deadline)); do
    peer_established "$1" && return 1
    [[ "$(frr_peer_state "$2" "$3" "$4")" == "Established" ]] && return 1
    sleep 0.5
  done
  return 0
}

# frr_breaks_session PEER FRR_NAME NVA_ADDR FRR_AS COUNTER WHAT CONFIG_LINE:
# FRR (namespace and instance FRR_NAME) applies CONFIG_LINE to its neighbour
# NVA_ADDR and resets the session; it must go down, stay down, and the nva
# kernel must count at least one TcpExt COUNTER drop.
frr_breaks_session() {
  local peer="$1" frr="$2" nva_addr="$3" frr_as="$4" counter="$5" what="$6" line="$7" before after
  before="$(tcpext nva "${counter}")"
  [[ "${before}" =~ ^[0-9]+$ ]] || fail "no TcpExt${counter} in /proc/net/netstat (${before})"
  frr_vtysh "${frr}" "${frr}" 'configure terminal' "router bgp ${frr_as}" "${line}" >/dev/null ||
    fail "FRR refused: ${line}"
  frr_vtysh "${frr}" "${frr}" "clear bgp ${nva_addr}" >/dev/null 2>&1
  wait_until 20 peer_not_established "${peer}" || fail "${peer}: the session survived '${line}'"
  stays_down "${peer}" "${frr}" "${frr}" "${nva_addr}" || fail "${peer}: Established although ${what}"
  after="$(tcpext nva "${counter}")"
  assert_ge "$((after - before))" 1 "nva kernel counted TcpExt${counter} (${what})"
  check "${what}: no session for ${DOWN_OBSERVE_S} s, TcpExt${counter} +$((after - before))"
}

build
write_key "${PASSWORD_1}"
write_config
topo_start_daemon
frr_start md5 md5 "${MD5_ADDR}" "${MD5_AS}" "${MD5_ADDR}" \
  "$(frr_body "${NVA_WEST_ADDR}" "${NVA_AS}" "password ${PASSWORD_1}")"
frr_start gtsm gtsm "${GTSM_ADDR}" "${GTSM_AS}" "${GTSM_ADDR}" \
  "$(frr_body "${NVA_EAST_ADDR}" "${NVA_AS}" "ttl-security hops 1")"

# ------------------------------------------------------------- 1. MD5 ok
failures_before="$(tcpext nva TCPMD5Failure)"
wait_until "${BGP_WAIT_S}" peer_established md5peer || fail "MD5 session not Established: $(peer_state md5peer)"
[[ "$(frr_peer_state md5 md5 "${NVA_WEST_ADDR}")" == "Established" ]] || fail "FRR does not see the MD5 session Established"
assert_eq "${failures_before}" "$(tcpext nva TCPMD5Failure)" "no MD5 failures with the same password"
check "same password: Established on both sides"

# ------------------------------------------------------ 2. other password
frr_breaks_session md5peer md5 "${NVA_WEST_ADDR}" "${MD5_AS}" TCPMD5Failure "the passwords differ" \
  "neighbor ${NVA_WEST_ADDR} password ${PASSWORD_2}"

# --------------------------------------------- 3. reload with the new key
write_key "${PASSWORD_2}"
out="$(ctl reload 2>&1)" || fail "reload with the new password failed: ${out}"
wait_until "${BGP_WAIT_S}" peer_established md5peer || fail "not Established after the key reload: $(peer_state md5peer)"
# A new password resets the session: the peer is replaced (new counters).
grep -q "peer md5peer removed: Other Configuration Change" "${TOPO_LOG}" ||
  fail "the password change did not reset the session"
check "reloaded key file with FRR's new password: Established again"

# -------------------------------------------- 4. unsafe mode is refused
transitions="$(peer_transitions md5peer)"
chmod 0644 "${KEY_FILE}"
status=0
out="$(ctl reload 2>&1)" || status=$?
printf '%s\n' "${out}" >"${TEST_TMP}/reload-0644.txt"
[[ ${status} -ne 0 ]] || fail "reload accepted a key file of mode 0644: ${out}"
assert_contains "${out}" "${KEY_FILE}" "the refusal names the key file"
assert_contains "${out}" "0644" "the refusal gives its mode"
assert_contains "${out}" "0600 or 0400" "the refusal says what is accepted"
assert_contains "${out}" "peers[0].tcp_md5_key_file" "the refusal names the key"
grep -qF -- "${PASSWORD_2}" <<<"${out}" && fail "the refusal contains the password"
sleep 2
peer_established md5peer || fail "the refused reload disturbed the session"
assert_eq "${transitions}" "$(peer_transitions md5peer)" "the session was not reset by the refused reload"
chmod 0600 "${KEY_FILE}"
check "key file of mode 0644: reload refused, session untouched"

# -------------------------------------------------------------- 5. GTSM
wait_until "${BGP_WAIT_S}" peer_established gtsmpeer || fail "GTSM session not Established: $(peer_state gtsmpeer)"
check "GTSM with FRR ttl-security hops 1: Established"
frr_breaks_session gtsmpeer gtsm "${NVA_EAST_ADDR}" "${GTSM_AS}" TCPMinTTLDrop "FRR sends with TTL 1" \
  "no neighbor ${NVA_EAST_ADDR} ttl-security hops 1"

pass "TCP-MD5 and GTSM interoperate with FRR; wrong password, unsafe key file and TTL 1 are refused"
