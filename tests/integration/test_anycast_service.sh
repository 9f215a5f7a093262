#!/usr/bin/env bash
# tests/run: alone
# The anycast seed on one appliance (issue 5, item 7): clients reach a VIP
# through isthmusd, which DNATs to two real HTTP backends picked by Maglev,
# health-checks them and announces or withdraws the VIP /32 to an FRR peer.
#
#   ns cl:  client 198.18.1.2/24 and FRR bgpd (AS 65100, the on-premises
#           router); the VIPs route via the appliance
#   ns nva: isthmusd (AS 65010, 2 workers: west and east are received by
#           different workers, so every reply crosses workers),
#           west 198.18.1.1/24, east 198.18.2.1/24
#   ns be:  backends be1 198.18.2.11:8080 and be2 198.18.2.12:8080 (HTTP/1.1
#           keep-alive, each answers with its name and the client it saw),
#           default route via the appliance
#
# Services: "web" (VIP 203.0.113.10:80, no SNAT) and "web-snat" (VIP
# 203.0.113.11:80, SNAT to 198.51.100.50): the backend must see the SNAT
# address, and the client the VIP.
#
# Checks, in order:
#   1. nothing is announced before a backend is healthy; then both VIPs reach
#      FRR, and new connections spread over both backends;
#   2. a persistent connection keeps its backend while the other backend is
#      killed; new connections all avoid the dead one; show services says so;
#   3. both backends killed: FRR sees the withdraw within fall x interval +
#      100 ms of the kill (the time the UPDATE left, from a capture on the
#      peer's side); nothing is sent while nothing changes;
#   4. a backend back: the VIP is announced again and served;
#   5. `isthmusctl service drain web` withdraws web (web-snat stays);
#   6. metrics: service state, backend health, flows, SNAT ports; both
#      workers received packets;
#   7. SIGTERM: the VIP still announced is withdrawn, and the Cease follows
#      only after bgp.shutdown_drain_ms of forwarding.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/anycast.sh
source "$(dirname "$0")/../lib/anycast.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly CL_ADDR=198.18.1.2 WEST=198.18.1.1 EAST=198.18.2.1
readonly BE1=198.18.2.11 BE2=198.18.2.12 BE_PORT=8080
readonly VIP=203.0.113.10 VIP_SNAT=203.0.113.11 SNAT_ADDR=198.51.100.50
readonly NVA_AS=65010 ONPREM_AS=65100
# The defaults (docs/configuration.md, services.health): a dead backend is
# down after fall probes interval apart.
readonly PROBE_INTERVAL_MS=200 PROBE_FALL=3
readonly WITHDRAW_BOUND_MS=$((PROBE_FALL * PROBE_INTERVAL_MS + 100))
readonly NEW_CONNECTIONS=24
# Forwarding after the shutdown withdraw, before the Cease (not the default
# 1000 ms, so that the key is seen to be read).
readonly SHUTDOWN_DRAIN_MS=600
declare -A BE_PID=()

build() { anycast_build "${VIP}" "${VIP_SNAT}"; }

write_config() {
  cat >"$(nva_config a)" <<CONF
$(anycast_config_head)
punt:
  tcp_ports: [179]
bgp:
  asn: ${NVA_AS}
  router_id: ${WEST}
  shutdown_drain_ms: ${SHUTDOWN_DRAIN_MS}
  policies:
    - name: vips-only
      terms:
        - {name: vips, match: {origins: [service_vip]}, result: accept}
    - name: none
      terms:
        - {name: all, result: reject}
  peers:
    - {name: onprem, address: ${CL_ADDR}, remote_as: ${ONPREM_AS}, connect_retry: 1,
       import: [none], export: [vips-only]}
services:
  - name: web
    vip: ${VIP}
    protocol: tcp
    ports: [80]
    backends:
      - {address: ${BE1}, port: ${BE_PORT}}
      - {address: ${BE2}, port: ${BE_PORT}}
    health: {type: http, path: /healthz, expect_status: 200}
    min_up: 1
  - name: web-snat
    vip: ${VIP_SNAT}
    protocol: tcp
    ports: [80]
    backends:
      - {address: ${BE1}, port: ${BE_PORT}}
      - {address: ${BE2}, port: ${BE_PORT}}
    health: {type: tcp}
    snat: {pool: [${SNAT_ADDR}]}
CONF
}

start_backend() {
  anycast_start_backend "$1" "$2"
  BE_PID[$1]=${BG_PID}
}

# kill_backend NAME: SIGKILL, as a crash (no goodbye to open connections).
kill_backend() {
  { kill -KILL "${BE_PID[$1]}" && wait "${BE_PID[$1]}"; } 2>/dev/null
  unset "BE_PID[$1]"
}

updates_sent() { nva_ctl a show bgp neighbors onprem --json | jq -r 'first(.neighbors[]) | .messages.sent.update'; }
onprem_established() { [[ "$(frr_peer_state cl onprem "${WEST}")" == Established ]]; }
onprem_has() { frr_routes cl onprem | grep -q "^$1/32 "; }
onprem_lacks() { ! onprem_has "$1"; }
service_q() { anycast_service_q "$@"; }
service_is() { anycast_service_is "$@"; }
get() { anycast_get "$@"; }

start_all() {
  build
  nva_prepare a nva
  write_config
  start_frr
  nva_start a west east
  nva_wait_ready a west east
}

start_frr() {
  frr_start cl onprem "${CL_ADDR}" "${ONPREM_AS}" "${CL_ADDR}" \
    " neighbor ${WEST} remote-as ${NVA_AS}
 neighbor ${WEST} timers connect 1"
}

check_nothing_before_healthy() {
  wait_until "${BGP_WAIT_S}" onprem_established ||
    fail "FRR session to isthmusd not Established: $(frr_peer_state cl onprem "${WEST}")"
  check "BGP session with the on-premises FRR Established"
  sleep 1
  onprem_lacks "${VIP}" || fail "VIP ${VIP} announced while no backend runs"
  assert_eq "down" "$(service_q web .state)" "web: service state with no backend running"
  check "no VIP announced while no backend is healthy"
}

check_up_and_spread() {
  start_backend be1 "${BE1}"
  start_backend be2 "${BE2}"
  wait_until 10 onprem_has "${VIP}" || fail "VIP ${VIP} not announced to FRR: $(frr_routes cl onprem)"
  wait_until 10 onprem_has "${VIP_SNAT}" || fail "VIP ${VIP_SNAT} not announced to FRR"
  check "both VIPs announced once the backends are healthy"
  wait_until 5 service_is web '"\(.state) \(.backends_up)"' "up 2" ||
    fail "web: not up with both backends: $(nva_ctl a show services)"
  check "web: up, both backends healthy"
  local i answer seen=""
  for ((i = 0; i < NEW_CONNECTIONS; i++)); do
    answer="$(get "${VIP}")" || fail "GET http://${VIP}/ failed (connection ${i})"
    [[ "${answer}" == "be1 ${CL_ADDR}:"* || "${answer}" == "be2 ${CL_ADDR}:"* ]] ||
      fail "unexpected answer through ${VIP}: '${answer}' (the backend must see the client's own address)"
    seen+="${answer%% *}"$'\n'
  done
  assert_eq "be1 be2" "$(sort -u <<<"${seen}" | xargs)" "backends answering ${NEW_CONNECTIONS} new connections to ${VIP}"
  answer="$(get "${VIP_SNAT}")" || fail "GET http://${VIP_SNAT}/ failed"
  assert_contains "${answer}" " ${SNAT_ADDR}:" "web-snat: the backend sees the SNAT address"
}

check_affinity_and_failover() {
  local hold_log="${TEST_TMP}/hold.log" hold mine other i answer
  start_bg cl "${hold_log}" "${PY}" "${IT_LIB_DIR}/traffic.py" http-hold --dst "${VIP}" --port 80 \
    --duration 6 --interval 0.1
  hold=${BG_PID}
  wait_until 5 grep -q answer "${hold_log}" || fail "persistent connection got no answer: $(cat "${hold_log}")"
  mine="$(jq -r 'select(.answer) | .answer | split(" ")[0]' "${hold_log}" | head -1)"
  [[ "${mine}" == be1 ]] && other=be2 || other=be1
  info "persistent connection on ${mine}; killing ${other}"
  kill_backend "${other}"
  wait_until 5 service_is web .backends_up 1 ||
    fail "web: ${other} not marked down: $(nva_ctl a show services)"
  check "web: ${other} marked down"
  for ((i = 0; i < NEW_CONNECTIONS; i++)); do
    answer="$(get "${VIP}")" || fail "new connection ${i} to ${VIP} failed with ${other} down"
    [[ "${answer}" == "${mine} "* ]] || fail "new connection ${i} went to '${answer}', not ${mine}"
  done
  check "${NEW_CONNECTIONS} new connections all avoid the dead backend"
  anycast_hold_end "${hold}" "${hold_log}" 15
  assert_eq "${mine}" "${HOLD_BACKENDS}" "every answer on the persistent connection came from its backend"
  assert_ge "${HOLD_ANSWERS}" 30 "answers on the persistent connection across the failure"
  onprem_has "${VIP}" || fail "VIP withdrawn with one backend still up (min_up 1)"
}

# The withdraw, timed from the kill to the UPDATE's arrival on the peer's
# interface (tshark timestamps; both clocks are this host's).
check_withdraw_time() {
  local pcap="${TEST_TMP}/withdraw.pcap" cap kill_us update_us
  start_bg cl "${TEST_TMP}/tshark.log" tshark -i cl0 -f "tcp port 179" -w "${pcap}"
  cap=${BG_PID}
  wait_until 10 grep -q "Capturing on" "${TEST_TMP}/tshark.log" || fail "tshark did not start"
  local remaining
  remaining="$(printf '%s\n' "${!BE_PID[@]}")"
  kill_us="$(_it_now_us)"
  for name in ${remaining}; do kill_backend "${name}"; done
  wait_until 10 onprem_lacks "${VIP}" || fail "VIP ${VIP} not withdrawn with every backend dead"
  sleep 0.5
  stop_bg "${cap}" INT 5
  update_us="$(tshark -r "${pcap}" -Y "bgp.type == 2 && bgp.update.withdrawn_routes" -T fields \
    -e frame.time_epoch 2>/dev/null | head -1 | tr -d '.' | cut -c1-16)"
  [[ -n "${update_us}" ]] || fail "no UPDATE with withdrawn routes captured"
  local ms=$(((update_us - kill_us) / 1000))
  info "withdraw UPDATE at the peer ${ms} ms after the kill (bound ${WITHDRAW_BOUND_MS} ms)"
  assert_lt "${ms}" "$((WITHDRAW_BOUND_MS + 1))" "ms from killing the backends to the withdraw at FRR"
  onprem_lacks "${VIP_SNAT}" || fail "web-snat still announced with every backend dead"
  assert_eq "down" "$(service_q web .state)" "web: service state"
  # Nothing changes now: no further UPDATE may be sent.
  local before after
  before="$(updates_sent)"
  sleep 2
  after="$(updates_sent)"
  [[ -n "${before}" && "${before}" != null ]] || fail "no UPDATE count in show bgp neighbors onprem --json"
  assert_eq "${before}" "${after}" "UPDATEs sent to FRR while nothing changed"
}

check_back() {
  start_backend be2 "${BE2}"
  wait_until 10 onprem_has "${VIP}" || fail "VIP not announced again with be2 back"
  check "VIP announced again with be2 back"
  local answer
  answer="$(get "${VIP}")" || fail "GET ${VIP} after recovery failed"
  assert_contains "${answer}" "be2 " "answer after recovery"
}

check_drain() {
  local out
  out="$(nva_ctl a service drain web 2>&1)" || fail "isthmusctl service drain web failed: ${out}"
  onprem_lacks "${VIP}" || fail "VIP still at FRR once drain returned"
  check "drain returned after the withdraw reached the peer"
  assert_eq "drained" "$(service_q web .state)" "web: state after drain"
  onprem_has "${VIP_SNAT}" || fail "draining web withdrew web-snat too"
}

# Each port is polled by its own worker: client packets arrive on one,
# backend replies on the other, and replies still find their flow.
check_workers() {
  local busy
  busy="$(nva_ctl a show stats --json | jq '[.workers[] | select(.rx_packets > 0)] | length')"
  assert_eq "2" "${busy}" "workers that received packets (replies crossed workers)"
}

# SIGTERM: the VIP still announced (web-snat) is withdrawn, and that UPDATE
# reaches the peer before the session's Cease.
check_sigterm_withdraws_first() {
  local pcap="${TEST_TMP}/sigterm.pcap" cap withdraw cease drained_ms
  start_bg cl "${TEST_TMP}/tshark-term.log" tshark -i cl0 -f "tcp port 179" -w "${pcap}"
  cap=${BG_PID}
  wait_until 10 grep -q "Capturing on" "${TEST_TMP}/tshark-term.log" || fail "tshark did not start"
  nva_stop a 20 || fail "isthmusd did not exit cleanly on SIGTERM"
  sleep 0.5
  stop_bg "${cap}" INT 5
  withdraw="$(tshark -r "${pcap}" -Y "bgp.type == 2 && bgp.update.withdrawn_routes" -T fields -e frame.number \
    2>/dev/null | head -1)"
  cease="$(tshark -r "${pcap}" -Y "bgp.type == 3" -T fields -e frame.number 2>/dev/null | head -1)"
  [[ -n "${withdraw}" ]] || fail "no withdraw UPDATE on SIGTERM"
  [[ -n "${cease}" ]] || fail "no NOTIFICATION (Cease) on SIGTERM"
  assert_lt "${withdraw}" "${cease}" "frame of the withdraw UPDATE before the Cease's frame"
  drained_ms="$(tshark -r "${pcap}" -Y "frame.number == ${withdraw} || frame.number == ${cease}" \
    -T fields -e frame.time_relative 2>/dev/null | awk 'NR == 1 { a = $1 } NR == 2 { printf "%d", ($1 - a) * 1000 }')"
  assert_ge "${drained_ms}" "${SHUTDOWN_DRAIN_MS}" "ms from the withdraw to the Cease (bgp.shutdown_drain_ms)"
}

check_metrics() {
  local url="http://${TOPO_METRICS_LISTEN}/metrics"
  assert_eq "1" "$(metric nva "${url}" isthmus_service_up 'service=web-snat')" "isthmus_service_up{web-snat}"
  assert_eq "1" "$(metric nva "${url}" isthmus_service_backend_up "service=web-snat,backend=${BE2}:${BE_PORT}")" \
    "isthmus_service_backend_up{web-snat,be2}"
  assert_ge "$(metric nva "${url}" isthmus_nat_flows_created_total)" "$((2 * NEW_CONNECTIONS))" \
    "isthmus_nat_flows_created_total"
}

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
command -v tshark >/dev/null || skip "tshark not installed"
T0=${SECONDS}
start_all
check_nothing_before_healthy
check_up_and_spread
check_affinity_and_failover
check_withdraw_time
check_back
check_drain
check_metrics
check_workers
check_sigterm_withdraws_first
pass "anycast: VIPs announced only while healthy, DNAT/SNAT to real HTTP backends over 2 workers, affinity across a backend failure, withdraw within ${WITHDRAW_BOUND_MS} ms, drain ($((SECONDS - T0)) s)"
