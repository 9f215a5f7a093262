#!/usr/bin/env bash
# Real BGP peers for integration tests: FRR bgpd (standalone, no zebra) and
# BIRD 2, each started in a test namespace by PID and queried for the routes
# it holds as "PREFIX AS_PATH" lines, so tests compare peers of any
# implementation the same way. Sourced after netns.sh.

readonly FRR_BGPD=/usr/lib/frr/bgpd
readonly BGP_WAIT_S=60

# frr_start NS NAME ADDR ASN ROUTER_ID CONFIG_BODY: bgpd bound to ADDR with
# `router bgp ASN` followed by CONFIG_BODY (neighbours, networks, maps).
frr_start() {
  local ns="$1" name="$2" addr="$3" asn="$4" rid="$5" body="$6"
  local dir="${TEST_TMP}/frr-${name}"
  mkdir -p "${dir}"
  chmod 777 "${dir}"
  {
    printf 'frr defaults traditional\nhostname %s\nlog file %s/bgpd.log\n' "${name}" "${dir}"
    printf 'router bgp %s\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp network import-check\n' \
      "${asn}" "${rid}"
    printf '%s\n' "${body}"
  } >"${dir}/bgpd.conf"
  start_bg "${ns}" "${dir}/stdout.log" "${FRR_BGPD}" -Z -S -P 0 -l "${addr}" -f "${dir}/bgpd.conf" \
    --vty_socket "${dir}" -i "${dir}/bgpd.pid"
}

frr_vtysh() {
  local ns="$1" name="$2"
  shift 2
  local args=() c
  for c in "$@"; do args+=(-c "${c}"); done
  ns_exec "${ns}" vtysh --vty_socket "${TEST_TMP}/frr-${name}" -d bgpd "${args[@]}"
}

# frr_routes NS NAME: "PREFIX AS_PATH" for every valid path bgpd holds.
frr_routes() {
  frr_vtysh "$1" "$2" 'show bgp ipv4 unicast json' 2>/dev/null |
    jq -r '.routes // {} | to_entries[] | .key as $p | .value[] | select(.valid == true)
           | "\($p) \(.path // "")"' 2>/dev/null | sort -u
}

# frr_peer_state NS NAME PEER_ADDR: Established, Active, ...
frr_peer_state() {
  frr_vtysh "$1" "$2" "show bgp neighbors $3 json" 2>/dev/null | jq -r --arg a "$3" '.[$a].bgpState // "none"'
}

# routes_have FUNC NS NAME PREFIX PATH: FUNC's output has PREFIX with PATH.
routes_have() {
  local fn="$1" ns="$2" name="$3" prefix="$4" path="$5"
  "${fn}" "${ns}" "${name}" | grep -qx -- "${prefix} ${path}"
}
# routes_lack FUNC NS NAME PREFIX: FUNC's output has no path for PREFIX.
routes_lack() {
  local fn="$1" ns="$2" name="$3" prefix="$4"
  ! "${fn}" "${ns}" "${name}" | grep -q -- "^${prefix} "
}
