#!/usr/bin/env bash
# Host A reaches host B through isthmusd: ICMP, TCP (iperf3, HTTP), a bounded
# UDP flood; the port counters move; TTL is decremented by exactly one
# (RFC 1812 5.3.1), seen from both ends.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly PING_COUNT=10
readonly IPERF_PORT=5201
readonly IPERF_SECONDS=3
readonly IPERF_TIMEOUT_S=20
readonly UDP_RATE=50M
readonly HTTP_PORT=8080
readonly SENT_TTL=37

check_ping() {
  local out
  out="$(ns_exec a ping -c "${PING_COUNT}" -i 0.2 -W 1 "${B_HOST}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" \
    "ping A -> B ${PING_COUNT}/${PING_COUNT}"
  # B's kernel answers with TTL 64; crossing the NVA once leaves 63.
  assert_contains "${out}" "ttl=63" "echo reply TTL at A decremented once"
}

check_ttl_at_b() {
  local log="${TEST_TMP}/sniff.log"
  start_bg b "${log}" "${PY}" "${IT_LIB_DIR}/traffic.py" sniff-ttl --iface b-e \
    --src "${A_ADDR}" --count 3 --timeout 10
  local sniffer=${BG_PID}
  wait_until 15 grep -q ready "${log}" || fail "scapy sniffer in B did not start"
  ns_exec a ping -c 3 -i 0.2 -W 1 -t "${SENT_TTL}" "${B_HOST}" >/dev/null
  stop_bg "${sniffer}" INT 15 >/dev/null
  local ttls
  ttls="$(grep '^{' "${log}" | jq -c '.ttls')"
  [[ -n "${ttls}" && "${ttls}" != "[]" ]] || fail "no echo request from A seen on B's interface"
  assert_eq "[$((SENT_TTL - 1))]" "$(jq -c 'unique' <<<"${ttls}")" \
    "TTL on arrival at B (sent with ${SENT_TTL}), seen by scapy on b-e"
}

check_tcp() {
  start_bg b "${TEST_TMP}/iperf3-server.log" iperf3 -s -B "${B_HOST}" -p "${IPERF_PORT}"
  wait_until 10 tcp_listening b "${IPERF_PORT}" || fail "iperf3 server did not start"
  local json
  json="$(ns_exec a timeout "${IPERF_TIMEOUT_S}" iperf3 -c "${B_HOST}" -p "${IPERF_PORT}" \
    -t "${IPERF_SECONDS}" -J)" || fail "iperf3 TCP failed: $(jq -r '.error // empty' <<<"${json}")"
  local bps
  bps="$(jq -r '.end.sum_received.bits_per_second' <<<"${json}")"
  assert_ge "${bps}" 1000000 "iperf3 TCP A -> B throughput (bit/s)"
  TCP_MBPS="$(awk -v b="${bps}" 'BEGIN { printf "%.0f", b / 1e6 }')"

  json="$(ns_exec a timeout "${IPERF_TIMEOUT_S}" iperf3 -c "${B_HOST}" -p "${IPERF_PORT}" \
    -u -b "${UDP_RATE}" -t "${IPERF_SECONDS}" -J)" || fail "iperf3 UDP failed"
  local udp_packets udp_lost
  udp_packets="$(jq -r '.end.sum.packets' <<<"${json}")"
  udp_lost="$(jq -r '.end.sum.lost_packets' <<<"${json}")"
  assert_ge "$((udp_packets - udp_lost))" 1000 "UDP flood (${UDP_RATE}, ${IPERF_SECONDS} s) datagrams received by B"
  info "UDP flood: ${udp_packets} sent, ${udp_lost} lost"
}

check_http() {
  local www token
  make_tmpdir www
  token="isthmus-${RANDOM}-${RANDOM}"
  echo "${token}" >"${www}/index.txt"
  start_bg b "${TEST_TMP}/http.log" "${PY}" -m http.server "${HTTP_PORT}" --bind "${B_HOST}" \
    --directory "${www}"
  wait_until 10 ns_exec b curl -sf --max-time 2 "http://${B_HOST}:${HTTP_PORT}/index.txt" ||
    fail "HTTP server in B did not start"
  local body
  body="$(ns_exec a curl -sf --max-time 5 "http://${B_HOST}:${HTTP_PORT}/index.txt")" ||
    fail "curl A -> B failed"
  assert_eq "${token}" "${body}" "HTTP GET A -> B body"
}

check_counters() {
  local west_rx east_tx east_rx west_tx
  west_rx="$(port_stat west rx_packets)" || fail "no rx_packets for port west"
  east_tx="$(port_stat east tx_packets)" || fail "no tx_packets for port east"
  east_rx="$(port_stat east rx_packets)" || fail "no rx_packets for port east"
  west_tx="$(port_stat west tx_packets)" || fail "no tx_packets for port west"
  # The UDP flood alone is thousands of packets each way it went.
  assert_ge "$((west_rx - BASE_WEST_RX))" 1000 "west rx_packets moved (show ports)"
  assert_ge "$((east_tx - BASE_EAST_TX))" 1000 "east tx_packets moved (show ports)"
  assert_ge "$((east_rx - BASE_EAST_RX))" "${PING_COUNT}" "east rx_packets moved (replies)"
  assert_ge "$((west_tx - BASE_WEST_TX))" "${PING_COUNT}" "west tx_packets moved (replies)"
  topo_is_kernel && return 0
  local from_metrics
  from_metrics="$(topo_metric isthmus_port_rx_packets_total port=west)" ||
    fail "isthmus_port_rx_packets_total{port=\"west\"} missing from /metrics"
  assert_ge "${from_metrics}" "$((west_rx - BASE_WEST_RX))" \
    "/metrics isthmus_port_rx_packets_total{port=\"west\"}"
}

topo_up
BASE_WEST_RX="$(port_stat west rx_packets)"
BASE_EAST_TX="$(port_stat east tx_packets)"
BASE_EAST_RX="$(port_stat east rx_packets)"
BASE_WEST_TX="$(port_stat west tx_packets)"
check_ping
check_ttl_at_b
check_tcp
check_http
check_counters
pass "ping, TCP ${TCP_MBPS} Mbit/s, HTTP, UDP flood, TTL -1, counters"
