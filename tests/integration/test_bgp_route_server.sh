#!/usr/bin/env bash
# The multi-region seed against real Route Server stand-ins: two instances
# of one BGP implementation as Azure Route Server (AS 65515, eBGP multihop,
# behind a gateway like RouteServerSubnet) and an FRR "remote region NVA"
# (AS 65020) whose routes carry 65515 (its own region's Route Server).
#
# ARS_IMPL=frr|bird|gobgp picks the Route Server stand-in (FRR bgpd, BIRD 2,
# GoBGP); without it the scenario runs once per implementation, each in a
# fresh topology of its own (a child run of this script), and passes only
# if every installed one passes (issue 3: "the same scenario passes with
# BIRD 2 and with GoBGP in the ARS role").
#
#   ns rs: 198.18.1.2/24 on rs-w, ARS instances 198.18.10.4 and .5 on lo
#   ns nva: isthmusd AS 65010, west 198.18.1.1/24, east 198.18.2.1/24,
#           static 198.18.10.0/24 via 198.18.1.2 (the BGP next hop resolves through it)
#   ns remote: 198.18.2.2/24, AS 65020, originates 203.0.113.0/24 with path "65020 65515"
#
# Checks: both Route Server sessions and the remote session reach
# Established; both instances hold the remote route as "65010 65020" (65515
# stripped) and identical advertisements; without the strip it never gets
# there (loop); Route Server routes (192.0.2.0/24, "65515") reach the
# remote NVA but are never echoed back to the Route Servers; the FIB holds
# both, with the recursive next hop; a withdrawal at the remote side
# reaches both ARS.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly ARS1=198.18.10.4 ARS2=198.18.10.5 RS_GW=198.18.1.2 REMOTE=198.18.2.2
readonly VNET_PREFIX=192.0.2.0/24 REMOTE_PREFIX=203.0.113.0/24
readonly ARS_IMPLS=(frr bird gobgp)

# run_every_impl: this script once per ARS implementation; fails if any
# failed, skips only if all skipped.
run_every_impl() {
  local impl status passed=0 failed=()
  for impl in "${ARS_IMPLS[@]}"; do
    info "ARS role played by ${impl}"
    ARS_IMPL="${impl}" IT_ARTIFACTS="${IT_ARTIFACTS:+${IT_ARTIFACTS}/${impl}}" "${BASH}" "$0" 2>&1 |
      sed "s/^/  [${impl}] /"
    status="${PIPESTATUS[0]}"
    case "${status}" in
      "${IT_EXIT_PASS}") passed=$((passed + 1)) ;;
      "${IT_EXIT_SKIP}") ;;
      *) failed+=("${impl}") ;;
    esac
  done
  ((${#failed[@]} == 0)) || fail "failed with ARS played by: ${failed[*]}"
  ((passed > 0)) || skip "no Route Server implementation could run"
  pass "Route Server scenario passes with ARS played by each installed implementation (${passed}/${#ARS_IMPLS[@]})"
}
[[ -n "${ARS_IMPL:-}" ]] || run_every_impl

topo_require_daemon
# The remote region NVA is FRR whichever implementation plays ARS.
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
case "${ARS_IMPL}" in
  frr) ;;
  bird) [[ -x "${BIRD_BIN}" && -x "${BIRDC_BIN}" ]] || skip "BIRD 2 not installed" ;;
  gobgp) [[ -x "${GOBGPD_BIN}" && -x "${GOBGP_BIN}" ]] || skip "GoBGP not installed" ;;
  *) fail "ARS_IMPL='${ARS_IMPL}': expected one of ${ARS_IMPLS[*]}" ;;
esac
IT_NAME="${IT_NAME}[${ARS_IMPL}]"

build() {
  topo_build_between rs rs-w "${RS_GW}" remote remote-e "${REMOTE}"
  ns_exec rs ip addr add "${ARS1}/32" dev lo
  ns_exec rs ip addr add "${ARS2}/32" dev lo
  ns_exec rs ip route add 198.18.1.0/24 dev rs-w 2>/dev/null || true
  ns_exec nva sysctl -qw net.ipv4.conf.all.forwarding=0
}

# write_config STRIP(0|1)
write_config() {
  local strip="$1" from_remote
  if ((strip)); then
    from_remote='        - name: strip-ars
          match: { as_path_contains: [65515] }
          actions: { as_path_exclude: [65515] }
          result: accept'
  else
    from_remote='        - name: keep
          result: accept'
  fi
  cat >"${TOPO_CONFIG}" <<CONF
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
routes:
  - prefix: 198.18.10.0/24
    via: [${RS_GW}]
metrics:
  listen: ${TOPO_METRICS_LISTEN}
admin:
  socket: ${TOPO_SOCKET}
$(bgp_yaml_accept_all "65010" "${NVA_WEST_ADDR}")
    - name: from-remote
      terms:
${from_remote}
  peers:
    - name: ars1
      address: ${ARS1}
      remote_as: 65515
      role: route_server
      group: ars
      multihop: 2
      connect_retry: 2
      import: [accept-all]
      export: [accept-all]
    - name: ars2
      address: ${ARS2}
      remote_as: 65515
      role: route_server
      group: ars
      multihop: 2
      connect_retry: 2
      import: [accept-all]
      export: [accept-all]
    - name: remote
      address: ${REMOTE}
      remote_as: 65020
      connect_retry: 2
      import: [from-remote]
      export: [accept-all]
CONF
}

ars_body() {
  local self="$1"
  printf ' neighbor %s remote-as 65010\n neighbor %s ebgp-multihop 2\n neighbor %s update-source %s\n neighbor %s timers connect 2\n address-family ipv4 unicast\n  network %s\n exit-address-family\n' \
    "${NVA_WEST_ADDR}" "${NVA_WEST_ADDR}" "${NVA_WEST_ADDR}" "${self}" "${NVA_WEST_ADDR}" "${VNET_PREFIX}"
}

remote_body() {
  printf ' neighbor %s remote-as 65010\n neighbor %s timers connect 2\n address-family ipv4 unicast\n  network %s\n  neighbor %s route-map REGION out\n exit-address-family\nroute-map REGION permit 10\n set as-path prepend 65515\n' \
    "${NVA_EAST_ADDR}" "${NVA_EAST_ADDR}" "${REMOTE_PREFIX}" "${NVA_EAST_ADDR}"
}

# ars_start NAME ADDR: one Route Server instance (AS 65515, multihop to the
# NVA's west address, originating the VNet prefix) of ARS_IMPL.
ars_start() {
  local name="$1" self="$2"
  case "${ARS_IMPL}" in
    frr) frr_start rs "${name}" "${self}" 65515 "${self}" "$(ars_body "${self}")" ;;
    bird) bird_start rs "${name}" "${self}" 65515 "${self}" "${NVA_WEST_ADDR}" 65010 "${VNET_PREFIX}" ;;
    gobgp) gobgp_start rs "${name}" "${self}" 65515 "${self}" "${NVA_WEST_ADDR}" 65010 "${VNET_PREFIX}" ;;
  esac
}

# ars_routes NS NAME: "PREFIX AS_PATH" lines of a Route Server instance.
ars_routes() { "${ARS_IMPL}_routes" "$@"; }

# ars_not_echoed NAME: the NVA never sent the Route Server's own prefix back
# to it. Every implementation drops a path holding its own AS on receipt,
# so for FRR and BIRD this only checks that no such path got in. GoBGP's
# Adj-RIB-In shows what the NVA sent, which makes it a direct oracle there:
# it must hold the remote route (so the query works) and nothing for the
# VNet prefix.
ars_not_echoed() {
  local name="$1"
  case "${ARS_IMPL}" in
    frr)
      frr_vtysh rs "${name}" "show bgp ipv4 unicast ${VNET_PREFIX} json" |
        jq -e '[.paths[] | select(.aspath.string | test("65010"))] | length == 0' >/dev/null
      ;;
    bird) ! bird_routes rs "${name}" | grep -q -- "^${VNET_PREFIX} 65010" ;;
    gobgp)
      local adj_in
      adj_in="$(gobgp_adj_in rs "${name}" "${NVA_WEST_ADDR}")"
      grep -qx -- "${REMOTE_PREFIX} 65010 65020" <<<"${adj_in}" &&
        ! grep -q -- "^${VNET_PREFIX} " <<<"${adj_in}"
      ;;
  esac
}

# remote_withdraw: the remote NVA stops announcing its region's prefix.
remote_withdraw() {
  frr_vtysh remote remote 'configure terminal' 'router bgp 65020' 'address-family ipv4 unicast' \
    "no network ${REMOTE_PREFIX}" >/dev/null
}

# shellcheck disable=SC2317  # called through wait_until
established() { [[ "$("${4:-frr}_peer_state" "$1" "$2" "$3")" == "Established" ]]; }

build
write_config 0
topo_start_daemon
ars_start ars1 "${ARS1}"
ars_start ars2 "${ARS2}"
frr_start remote remote "${REMOTE}" 65020 "${REMOTE}" "$(remote_body)"

wait_until "${BGP_WAIT_S}" established rs ars1 "${NVA_WEST_ADDR}" "${ARS_IMPL}" || fail "ars1 session not Established"
wait_until "${BGP_WAIT_S}" established rs ars2 "${NVA_WEST_ADDR}" "${ARS_IMPL}" || fail "ars2 session not Established"
wait_until "${BGP_WAIT_S}" established remote remote "${NVA_EAST_ADDR}" || fail "remote session not Established"
check "sessions Established: ars1, ars2 (${ARS_IMPL}, multihop, AS 65515), remote (AS 65020)"

# Without the strip the path holds the Route Servers' own AS: it must not reach them.
wait_until 20 routes_have frr_routes remote remote "${VNET_PREFIX}" "65010 65515" ||
  fail "remote NVA did not get ${VNET_PREFIX} with path 65010 65515: $(frr_routes remote remote)"
check "Route Server route reaches the remote NVA as '65010 65515'"
# The path holds 65515: the NVA holds it back (sender-side loop check,
# RFC 4271 9.1.2 run on the peer's behalf) and ARS would drop it anyway.
# Nothing announces "not sent", so give it time to arrive.
sleep 3
routes_lack ars_routes rs ars1 "${REMOTE_PREFIX}" ||
  fail "ars1 accepted ${REMOTE_PREFIX} although its path holds 65515: $(ars_routes rs ars1)"
check "without as_path_exclude, ARS does not hold ${REMOTE_PREFIX} (65515 in its path)"

# Reload with the strip: sessions stay up, the routes appear at both ARS.
write_config 1
ctl reload >/dev/null || fail "reload with the strip policy failed"
for ars in ars1 ars2; do
  wait_until 20 routes_have ars_routes rs "${ars}" "${REMOTE_PREFIX}" "65010 65020" ||
    fail "${ars} does not hold ${REMOTE_PREFIX} as '65010 65020': $(ars_routes rs "${ars}")"
done
check "after reload with as_path_exclude 65515: both ARS hold ${REMOTE_PREFIX} as '65010 65020'"
# A policy change re-evaluates Adj-RIB-In; no session was reset by the reload.
transitions="$(ctl show bgp neighbors --json | jq -c '[.neighbors[] | .established_transitions] | unique')"
assert_eq "[1]" "${transitions}" "sessions established exactly once across the reload (no reset)"
assert_eq "$(ars_routes rs ars1)" "$(ars_routes rs ars2)" "both Route Server instances received identical routes"
for ars in ars1 ars2; do
  ars_not_echoed "${ars}" || fail "the NVA echoed the Route Server's own route back to ${ars}"
done
check "the Route Server's own routes are not echoed back to it"

# The data plane FIB follows: the remote route directly, the VNet route
# recursively through the static route to the Route Server subnet.
fib="$(ctl show fib --json)"
jq -e --arg p "${REMOTE_PREFIX}" '.entries[] | select(.prefix == $p) | .nexthops[0].via == "198.18.2.2"' <<<"${fib}" >/dev/null ||
  fail "FIB has no ${REMOTE_PREFIX} via ${REMOTE}: ${fib}"
jq -e --arg p "${VNET_PREFIX}" '.entries[] | select(.prefix == $p) | .nexthops[0].via == "198.18.1.2"' <<<"${fib}" >/dev/null ||
  fail "FIB has no ${VNET_PREFIX} via ${RS_GW} (recursive through the static route): ${fib}"
check "FIB: ${REMOTE_PREFIX} via ${REMOTE}, ${VNET_PREFIX} via ${RS_GW} (next hop ${ARS1} resolved recursively)"
summary="$(ctl show bgp summary --json)" || fail "show bgp summary failed"
assert_eq 3 "$(jq '[.peers[] | select(.state == "Established")] | length' <<<"${summary}")" "peers Established in show bgp summary"

# Withdrawal at the remote side reaches both Route Servers.
remote_withdraw
for ars in ars1 ars2; do
  wait_until 20 routes_lack ars_routes rs "${ars}" "${REMOTE_PREFIX}" || fail "${ars} still holds ${REMOTE_PREFIX}"
done
check "withdrawal of ${REMOTE_PREFIX} propagated to both Route Server instances"
wait_until 10 bash -c "! ip netns exec $(ns nva) ip route show proto 212 | grep -q '^${REMOTE_PREFIX%/*}'" ||
  fail "kernel still has the mirrored ${REMOTE_PREFIX}"
pass "${ARS_IMPL} as Route Server pair + remote region: 65515 stripped only where configured, identical ARS feeds, withdrawals propagate"
