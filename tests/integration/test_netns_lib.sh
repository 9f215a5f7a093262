#!/usr/bin/env bash
# The test library itself, without isthmusd: the A <-> nva <-> B topology
# with kernel forwarding as the stand-in data plane, the metric parser, and
# the promise every other test relies on: cleanup removes namespaces,
# processes and temp directories even when a test fails or is killed.
set -uo pipefail
IT_DATAPLANE=kernel
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly CHILD_WAIT_S=15

check_topology() {
  topo_up --ecmp
  local out
  out="$(ns_exec a ping -c 3 -i 0.2 -W 1 "${B_HOST}")" || fail "ping A -> B: ${out}"
  assert_contains "${out}" "3 received" "stand-in forwards A -> B"
  # B answers with TTL 64; one router on the way back leaves 63.
  assert_contains "${out}" "ttl=63" "reply TTL decremented once"
  local before after
  before="$(port_stat west rx_packets)"
  ns_exec a ping -c 5 -i 0.2 -W 1 "${B_HOST}" >/dev/null
  after="$(port_stat west rx_packets)"
  assert_ge "$((after - before))" 5 "port_stat west rx_packets grew"
}

check_metric_parser() {
  local www
  make_tmpdir www
  cat >"${www}/metrics" <<'EOF'
# HELP isthmus_port_rx_packets_total Packets received.
# TYPE isthmus_port_rx_packets_total counter
isthmus_port_rx_packets_total{port="west"} 1.5e+03
isthmus_port_rx_packets_total{port="west2"} 7
isthmus_port_rx_packets_total{port="east"} 20
isthmus_worker_polls_total{worker="0",result="busy"} 3
isthmus_worker_polls_total{worker="1",result="busy"} 4
isthmus_worker_polls_total{worker="1",result="idle"} 100
isthmus_fib_routes 2
EOF
  local port
  port="$(free_port b)"
  start_bg b "${TEST_TMP}/http.log" "${PY}" -m http.server "${port}" --bind 127.0.0.1 \
    --directory "${www}"
  local url="http://127.0.0.1:${port}/metrics"
  wait_until 10 ns_exec b curl -sf "${url}" || fail "test HTTP server did not start"
  assert_eq 1500 "$(metric b "${url}" isthmus_port_rx_packets_total port=west)" \
    "metric: one series, exponent notation, label value not a prefix match"
  assert_eq 1527 "$(metric b "${url}" isthmus_port_rx_packets_total)" "metric: sum of all series"
  assert_eq 4 "$(metric b "${url}" isthmus_worker_polls_total 'worker="1",result="busy"')" \
    "metric: two labels, quoted"
  assert_eq 2 "$(metric b "${url}" isthmus_fib_routes)" "metric: no labels"
  if metric b "${url}" isthmus_nonexistent_total >/dev/null; then
    fail "metric: a missing metric must return non-zero"
  fi
  check "metric: a missing metric returns non-zero"
}

check_wait_until_bounded() {
  local start=${SECONDS}
  wait_until 1 false && fail "wait_until succeeded on 'false'"
  assert_lt "$((SECONDS - start))" 3 "wait_until 1 false gives up in time"
  wait_until 5 true || fail "wait_until failed on 'true'"
  check "wait_until returns at once on success"
}

# Runs a child test that builds namespaces and a background process, then
# ends as MODE says (fail | signal); checks nothing of it survives.
check_cleanup() {
  local mode="$1"
  local child="${TEST_TMP}/child.sh" prefix="${IT_PREFIX}c${mode}"
  cat >"${child}" <<EOF
#!/usr/bin/env bash
source "${IT_LIB_DIR}/netns.sh"
ns_create x y
veth_pair x x0 y y0
start_bg x "\${TEST_TMP}/sleep.log" sleep 300
echo "\${BG_PID} \${TEST_TMP}" >"${TEST_TMP}/child.state"
[[ "${mode}" == fail ]] && fail "on purpose"
wait_until 300 false  # a test busy polling when the signal comes
EOF
  IT_PREFIX="${prefix}" bash "${child}" >"${TEST_TMP}/child.out" 2>&1 &
  local child_pid=$!
  wait_until 10 test -s "${TEST_TMP}/child.state" || fail "child (${mode}) did not start"
  if [[ "${mode}" == signal ]]; then
    kill -s TERM "${child_pid}"
  fi
  wait_until "${CHILD_WAIT_S}" _it_not_running "${child_pid}" ||
    fail "child (${mode}) still running after ${CHILD_WAIT_S} s"
  local status=0
  wait "${child_pid}" || status=$?
  local sleep_pid child_tmp
  read -r sleep_pid child_tmp <"${TEST_TMP}/child.state"
  rm -f "${TEST_TMP}/child.state"
  [[ "${status}" -ne 0 ]] || fail "child (${mode}) exited 0"
  if ip netns list | grep -q "^${prefix}-"; then
    fail "child (${mode}) left namespaces: $(ip netns list | grep "^${prefix}-" | tr '\n' ' ')"
  fi
  is_running "${sleep_pid}" && fail "child (${mode}) left its background process ${sleep_pid}"
  [[ -e "${child_tmp}" ]] && fail "child (${mode}) left ${child_tmp}"
  check "cleanup after ${mode} (exit ${status}): no namespace, process or temp dir left"
}

check_wait_until_bounded
check_topology
check_metric_parser
check_cleanup fail
check_cleanup signal
pass "library checked with the kernel stand-in"
