#!/usr/bin/env bash
# /metrics is valid Prometheus exposition (promtool check metrics) and a real
# Prometheus server scrapes it: the target is up and
# isthmus_port_rx_packets_total is above zero after traffic.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly SCRAPE_INTERVAL=1s
readonly PROMETHEUS_START_TIMEOUT_S=30
readonly TARGET_UP_TIMEOUT_S=30
readonly QUERY_TIMEOUT_S=20
readonly EXPECTED_METRICS=(isthmus_port_rx_packets_total isthmus_port_tx_packets_total
  isthmus_dataplane_drops_total isthmus_fib_routes isthmus_worker_polls_total)

# prom_query EXPR: the value of an instant query (sum of all series).
prom_query() {
  ns_exec nva curl -sf --max-time 5 "${PROM_URL}/api/v1/query" -G --data-urlencode "query=$1" |
    jq -er '[.data.result[].value[1] | tonumber] | if length == 0 then error("no series") else add end'
}

# shellcheck disable=SC2317  # called through wait_until
prom_value_above_zero() {
  local v
  v="$(prom_query "$1")" || return 1
  awk -v v="${v}" 'BEGIN { exit !(v > 0) }'
}

check_promtool() {
  local page
  page="$(ns_exec nva curl -sf --max-time 5 "${TOPO_METRICS_URL}")" || fail "GET /metrics failed"
  printf '%s\n' "${page}" >"${TEST_TMP}/metrics.txt"
  local problems status=0
  problems="$(promtool check metrics <<<"${page}" 2>&1)" || status=$?
  [[ ${status} -eq 0 ]] || fail "promtool check metrics: ${problems}"
  check "promtool check metrics passes ($(grep -c '^# TYPE' <<<"${page}") metric families)"
  local name
  for name in "${EXPECTED_METRICS[@]}"; do
    grep -q "^# TYPE ${name} " <<<"${page}" || fail "/metrics has no ${name}"
  done
  check "/metrics exports ${EXPECTED_METRICS[*]}"
}

start_prometheus() {
  local port data config="${TEST_TMP}/prometheus.yml"
  port="$(free_port nva)"
  make_tmpdir data
  PROM_URL="http://127.0.0.1:${port}"
  cat >"${config}" <<EOF
global:
  scrape_interval: ${SCRAPE_INTERVAL}
  scrape_timeout: ${SCRAPE_INTERVAL}
scrape_configs:
  - job_name: isthmus
    static_configs:
      - targets: ['${TOPO_METRICS_LISTEN}']
EOF
  promtool check config "${config}" >/dev/null || fail "promtool rejects ${config}"
  start_bg nva "${TEST_TMP}/prometheus.log" prometheus --config.file="${config}" \
    --storage.tsdb.path="${data}" --web.listen-address="127.0.0.1:${port}"
  wait_until "${PROMETHEUS_START_TIMEOUT_S}" ns_exec nva curl -sf --max-time 2 "${PROM_URL}/-/ready" ||
    fail "Prometheus not ready within ${PROMETHEUS_START_TIMEOUT_S} s"
  info "Prometheus listening on 127.0.0.1:${port} in nva"
}

topo_require_daemon
topo_up
ns_exec a ping -c 20 -i 0.05 -W 1 "${B_HOST}" >/dev/null || fail "ping A -> B failed"
check_promtool
start_prometheus
wait_until "${TARGET_UP_TIMEOUT_S}" prom_value_above_zero 'up{job="isthmus"}' ||
  fail "Prometheus target isthmus not up within ${TARGET_UP_TIMEOUT_S} s"
check "Prometheus scrapes isthmusd (up{job=\"isthmus\"} == 1)"
wait_until "${QUERY_TIMEOUT_S}" prom_value_above_zero 'isthmus_port_rx_packets_total{port="west"}' ||
  fail "isthmus_port_rx_packets_total{port=\"west\"} not > 0 in Prometheus"
value="$(prom_query 'isthmus_port_rx_packets_total{port="west"}')"
assert_ge "${value}" 20 "isthmus_port_rx_packets_total{port=\"west\"} queried from Prometheus"
value="$(prom_query 'isthmus_fib_routes')" || fail "isthmus_fib_routes not in Prometheus"
assert_ge "${value}" 1 "isthmus_fib_routes queried from Prometheus"
pass "promtool-clean /metrics, scraped by Prometheus, rx counter > 0"
