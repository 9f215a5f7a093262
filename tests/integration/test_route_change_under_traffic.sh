#!/usr/bin/env bash
# tests/run: alone
# Route updates must not disturb traffic they do not concern: a steady UDP
# flow A -> B (198.51.100.0/24) loses nothing while other routes are added
# and removed by 20+ config reloads (SIGHUP with a rewritten config). One of
# them, 198.51.100.128/25, sits inside the flow's own /24, which makes the FIB
# split and merge the /24's entry under the flow.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly SINK_PORT=9001
readonly RATE_PPS=500
readonly MAX_PACKETS=100000   # the sender is stopped long before this
readonly RELOADS=24
readonly RELOAD_APPLY_TIMEOUT_S=5
readonly SIBLING_PREFIX=198.51.100.128/25

# routes_for ITERATION: the extra routes of that iteration, one per line.
routes_for() {
  local i="$1"
  echo "203.0.113.$((i % 250 + 1))/32 ${B_EAST_ADDR}"
  echo "192.0.2.$(((i % 32) * 8))/29 ${B_EAST_ADDR}"
  ((i % 2)) && echo "${SIBLING_PREFIX} ${B_EAST_ADDR}"
  return 0
}

# shellcheck disable=SC2317  # called through wait_until
routes_json_has() {
  local json="$1" prefix="$2"
  jq -e --arg p "${prefix}" '[.. | strings] | index($p) != null' <<<"${json}" >/dev/null
}

# The daemon shows exactly this iteration's extra routes (and the base one).
# shellcheck disable=SC2317  # called through wait_until
routes_applied() {
  local i="$1" json prev_host
  json="$(ctl show routes --json)" || return 1
  routes_json_has "${json}" "${B_PREFIX}" || return 1
  local prefix _via
  while read -r prefix _via; do
    routes_json_has "${json}" "${prefix}" || return 1
  done < <(routes_for "${i}")
  prev_host="203.0.113.$(((i - 1) % 250 + 1))/32"
  ! routes_json_has "${json}" "${prev_host}" || return 1
  if ! ((i % 2)); then
    ! routes_json_has "${json}" "${SIBLING_PREFIX}" || return 1
  fi
  return 0
}

apply_routes_kernel() {
  local i="$1" prefix via
  ns_exec nva ip route flush proto static 2>/dev/null
  while read -r prefix via; do
    ns_exec nva ip route replace "${prefix}" via "${via}" proto static
  done < <(routes_for "${i}")
}

# reload ITERATION: rewrite the config, SIGHUP, wait until it is in effect.
reload() {
  local i="$1"
  if topo_is_kernel; then
    apply_routes_kernel "${i}"
    return 0
  fi
  local -a routes
  mapfile -t routes < <(routes_for "${i}")
  topo_write_config "${TOPO_CONFIG}.new" "${routes[@]}"
  mv "${TOPO_CONFIG}.new" "${TOPO_CONFIG}"  # atomic: never a half-written file
  topo_reload_signal || fail "SIGHUP: isthmusd is gone"
  wait_until "${RELOAD_APPLY_TIMEOUT_S}" routes_applied "${i}" ||
    fail "reload ${i}: routes not applied within ${RELOAD_APPLY_TIMEOUT_S} s"
}

topo_up

sink_log="${TEST_TMP}/sink.log"
start_bg b "${sink_log}" "${PY}" "${IT_LIB_DIR}/traffic.py" recv --bind "${B_HOST}" \
  --port "${SINK_PORT}" --idle-timeout 3 --max-time 120
sink_pid=${BG_PID}
wait_until 10 grep -q ready "${sink_log}" || fail "UDP sink in B did not start"

send_log="${TEST_TMP}/send.log"
start_bg a "${send_log}" "${PY}" "${IT_LIB_DIR}/traffic.py" send --src "${A_ADDR}" \
  --dst "${B_HOST}" --dport "${SINK_PORT}" --count "${MAX_PACKETS}" --rate "${RATE_PPS}"
send_pid=${BG_PID}
sleep 1

reload_start=${SECONDS}
for ((i = 1; i <= RELOADS; i++)); do
  is_running "${send_pid}" || fail "the sender ended before reload ${i}"
  reload "${i}"
  sleep 0.1
done
how="SIGHUP, each checked in show routes"
topo_is_kernel && how="stand-in: ip route"
check "${RELOADS} reloads applied in $((SECONDS - reload_start)) s (${how})"
sleep 1

stop_bg "${send_pid}" INT 10 || fail "traffic.py send did not stop cleanly"
wait_until 15 _it_not_running "${sink_pid}" || fail "UDP sink did not finish"
sent="$(grep '^{' "${send_log}" | jq -r .sent)"
received="$(grep '^{' "${sink_log}" | jq -r .unique)"
assert_ge "${sent}" "$((RATE_PPS * 3))" "datagrams sent while reloading"
assert_eq "${sent}" "${received}" "datagrams received by B (zero loss on the unaffected prefix)"

if ! topo_is_kernel; then
  is_running "${ISTHMUSD_PID}" || fail "isthmusd died"
  ctl show ports >/dev/null || fail "isthmusd no longer answers"
  check "isthmusd alive and answering after ${RELOADS} reloads"
fi
pass "${RELOADS} reloads under ${RATE_PPS} pps, ${received}/${sent} datagrams delivered"
