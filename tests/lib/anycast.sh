#!/usr/bin/env bash
# The anycast seed on one appliance, shared by test_anycast_service.sh and
# test_syn_flood_vip.sh: a client, the appliance and two HTTP backends.
#
#   ns cl:  client CL_ADDR/24 on cl0, each VIP routed via WEST
#   ns nva: the appliance, west WEST/24 and east EAST/24 (kernel forwarding
#           off: only isthmusd forwards)
#   ns be:  backends BE1 and BE2 on be0 (one /24), default route via EAST
#
# The sourcing test defines CL_ADDR, WEST, EAST, BE1, BE2 and BE_PORT.
# shellcheck source=tests/lib/topo.sh
source "$(dirname "${BASH_SOURCE[0]}")/topo.sh"

# anycast_build VIP...: the namespaces, links, addresses and routes above.
anycast_build() {
  ns_create cl nva be
  veth_pair cl cl0 nva west
  veth_pair nva east be be0
  addr cl cl0 "${CL_ADDR}/24"
  addr nva west "${WEST}/24"
  addr nva east "${EAST}/24"
  addr be be0 "${BE1}/24"
  ns_exec be ip addr add "${BE2}/24" dev be0 || fail "cannot add ${BE2}"
  local entry vip
  for entry in "cl cl0" "nva west" "nva east" "be be0"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
  for vip in "$@"; do route cl "${vip}/32" "${WEST}"; done
  route be default "${EAST}"
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=0
}

# anycast_config_head: the start of instance a's config: two workers (west
# and east are received by different workers, so every reply crosses
# workers), the two ports, metrics and the admin socket.
anycast_config_head() {
  printf 'dataplane:\n  workers: 2\n  idle_sleep_us: 50\n  hugepages: false\n'
  printf 'ports:\n  - {name: west, driver: %s, interface: west}\n  - {name: east, driver: %s, interface: east}\n' \
    "${IT_DRIVER}" "${IT_DRIVER}"
  printf 'metrics:\n  listen: %s\nadmin:\n  socket: %s\n' "${TOPO_METRICS_LISTEN}" "$(nva_socket a)"
}

# anycast_start_backend NAME ADDRESS: an HTTP keep-alive backend (traffic.py
# http-serve) on ADDRESS:BE_PORT in ns be answering with NAME; its PID is
# left in BG_PID.
anycast_start_backend() {
  local name="$1" address="$2"
  start_bg be "${TEST_TMP}/${name}.log" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
    --bind "${address}" --port "${BE_PORT}" --name "${name}"
  wait_until 10 grep -q ready "${TEST_TMP}/${name}.log" ||
    fail "backend ${name} did not start: $(cat "${TEST_TMP}/${name}.log"; is_running "${BG_PID}" || echo "(exited)")"
}

# anycast_hold_end PID LOG TIMEOUT_S: waits (TIMEOUT_S) for a traffic.py
# http-hold started with start_bg to end and fails if its connection broke;
# leaves the number of answers in HOLD_ANSWERS and the backends that gave
# them (distinct names, space-separated) in HOLD_BACKENDS.
# shellcheck disable=SC2034  # HOLD_* are read by the sourcing test
anycast_hold_end() {
  local pid="$1" log="$2" summary
  wait_until "$3" _it_not_running "${pid}" || fail "persistent connection did not end"
  wait "${pid}" 2>/dev/null
  summary="$(tail -1 "${log}")"
  [[ "$(jq -r '.error // empty' <<<"${summary}")" == "" ]] || fail "persistent connection broke: ${summary}"
  HOLD_ANSWERS="$(jq -r .answers <<<"${summary}")"
  HOLD_BACKENDS="$(jq -r 'select(.answer) | .answer | split(" ")[0]' "${log}" | sort -u | xargs)"
}

# anycast_service_q NAME JQ: JQ applied to service NAME in `show services`
# of instance a.
anycast_service_q() { nva_ctl a show services --json | jq -r --arg n "$1" "first(.[] | select(.name == \$n)) | $2"; }
# anycast_service_is NAME JQ VALUE: anycast_service_q NAME JQ is VALUE (for wait_until).
anycast_service_is() { [[ "$(anycast_service_q "$1" "$2")" == "$3" ]]; }
# anycast_get VIP: one new connection from the client; prints the answer.
anycast_get() { ns_exec cl curl -s --max-time 3 "http://$1/"; }
