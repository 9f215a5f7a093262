#!/usr/bin/env bash
# ECMP: 198.51.100.0/24 via 198.18.2.2 (port east) and 198.18.3.2 (port
# east2). Many flows use both ports; each single flow (fixed 5-tuple) always
# leaves by the same port, so its packets are never reordered (RFC 2992).
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly SINK_PORT=9000
readonly FLOWS=64
readonly FIRST_SPORT=41000
readonly PACKETS_PER_FLOW=10
readonly SINGLE_FLOW_PACKETS=100
readonly SINGLE_FLOW_SPORTS=(42001 42002 42003)
readonly RATE_PPS=2000
# With 64 flows hashed evenly, fewer than 8 on one port has a probability
# below 1e-10: a port under this many packets means ECMP is not spreading.
readonly MIN_PACKETS_PER_PORT=$((8 * PACKETS_PER_FLOW))

send_udp() {
  local sports="$1" count="$2"
  ns_exec a "${PY}" "${IT_LIB_DIR}/traffic.py" send --src "${A_ADDR}" --dst "${B_HOST}" \
    --dport "${SINK_PORT}" --sports "${sports}" --count "${count}" --rate "${RATE_PPS}" \
    >>"${TEST_TMP}/send.log" || fail "traffic.py send failed"
}

# Snapshot of the tx counters of both egress ports and of the rx counters
# of B's two links (the kernel's view, independent of isthmusd).
snapshot() {
  echo "$(port_stat east tx_packets) $(port_stat east2 tx_packets)" \
    "$(link_stat b b-e rx_packets) $(link_stat b b-e2 rx_packets)"
}

check_many_flows() {
  local log="${TEST_TMP}/sink.log"
  start_bg b "${log}" "${PY}" "${IT_LIB_DIR}/traffic.py" recv --bind "${B_HOST}" \
    --port "${SINK_PORT}" --idle-timeout 2 --max-time 60
  local sink=${BG_PID}
  wait_until 10 grep -q ready "${log}" || fail "UDP sink in B did not start"
  local e0 e20 b0 b20 e1 e21 b1 b21
  read -r e0 e20 b0 b20 <<<"$(snapshot)"
  send_udp "${FIRST_SPORT}-$((FIRST_SPORT + FLOWS - 1))" "${PACKETS_PER_FLOW}"
  wait_until 20 _it_not_running "${sink}" || fail "UDP sink did not finish"
  read -r e1 e21 b1 b21 <<<"$(snapshot)"
  local result total=$((FLOWS * PACKETS_PER_FLOW))
  result="$(grep '^{' "${log}")"
  assert_eq "${FLOWS}" "$(jq -r .flows <<<"${result}")" "flows that reached B"
  assert_ge "$(jq -r .unique <<<"${result}")" "$((total * 95 / 100))" \
    "datagrams received by B (of ${total})"
  info "${FLOWS} flows: port east +$((e1 - e0)), east2 +$((e21 - e20)); B b-e +$((b1 - b0)), b-e2 +$((b21 - b20))"
  assert_ge "$((e1 - e0))" "${MIN_PACKETS_PER_PORT}" "tx on port east"
  assert_ge "$((e21 - e20))" "${MIN_PACKETS_PER_PORT}" "tx on port east2"
  assert_ge "$((b1 - b0))" "${MIN_PACKETS_PER_PORT}" "rx on B's link b-e (kernel counter)"
  assert_ge "$((b21 - b20))" "${MIN_PACKETS_PER_PORT}" "rx on B's link b-e2 (kernel counter)"
}

check_single_flow() {
  local sport="$1"
  local e0 e20 b0 b20 e1 e21 b1 b21
  read -r e0 e20 b0 b20 <<<"$(snapshot)"
  send_udp "${sport}" "${SINGLE_FLOW_PACKETS}"
  sleep 0.5  # let the last packets drain before reading counters
  read -r e1 e21 b1 b21 <<<"$(snapshot)"
  local east=$((e1 - e0)) east2=$((e21 - e20)) used other
  if ((east >= SINGLE_FLOW_PACKETS)); then
    used="east"
    other=${east2}
  elif ((east2 >= SINGLE_FLOW_PACKETS)); then
    used="east2"
    other=${east}
  else
    fail "flow sport ${sport}: neither port sent ${SINGLE_FLOW_PACKETS} (east +${east}, east2 +${east2})"
  fi
  assert_lt "${other}" "${SINGLE_FLOW_PACKETS}" \
    "flow sport ${sport} all on port ${used}: packets on the other port"
  local b_used=$((b1 - b0)) b_other=$((b21 - b20))
  [[ "${used}" == east2 ]] && { b_used=$((b21 - b20)); b_other=$((b1 - b0)); }
  assert_ge "${b_used}" "${SINGLE_FLOW_PACKETS}" "flow sport ${sport}: B's kernel saw it on that link"
  assert_lt "${b_other}" "${SINGLE_FLOW_PACKETS}" "flow sport ${sport}: and not on the other link"
}

topo_up --ecmp
check_many_flows
for sport in "${SINGLE_FLOW_SPORTS[@]}"; do
  check_single_flow "${sport}"
done
pass "${FLOWS} flows spread over both ports; each single flow stays on one port"
