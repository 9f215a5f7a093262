#!/usr/bin/env bash
# Real BGP peers for integration tests: FRR bgpd (standalone, no zebra),
# BIRD 2 and GoBGP, each started in a test namespace by PID and queried for
# the routes it holds as "PREFIX AS_PATH" lines (a locally originated route
# has an empty path) and for a session's state as Established, Active, ...,
# so tests compare peers of any implementation the same way. Sourced after
# netns.sh.

readonly FRR_BGPD=/usr/lib/frr/bgpd
readonly BGP_WAIT_S=60

# bgp_yaml_accept_all ASN ROUTER_ID: the start of an isthmusd config's `bgp:`
# section: its ASN, its router id and the policy accept-all (one term that
# accepts every route). The caller goes on with more policies or `  peers:`;
# called as $(...) on a line of its own inside the caller's here-document.
bgp_yaml_accept_all() {
  cat <<CONF
bgp:
  asn: $1
  router_id: $2
  policies:
    - name: accept-all
      terms:
        - name: all
          result: accept
CONF
}

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

# ---------------------------------------------------- isthmusd's own view
# Through the test's `ctl` (topo.sh): isthmusd's neighbour PEER (its config
# name) as JSON, its FSM state, and how often it reached Established.

neighbor_json() { ctl show bgp neighbors "$1" --json | jq -c '.neighbors[0]'; }
peer_state() { neighbor_json "$1" | jq -r '.state'; }
peer_transitions() { neighbor_json "$1" | jq -r '.established_transitions'; }
peer_established() { [[ "$(peer_state "$1")" == "Established" ]]; }
peer_not_established() { ! peer_established "$1"; }

# ------------------------------------------------------------------ BIRD 2

readonly BIRD_BIN=/usr/sbin/bird
readonly BIRDC_BIN=/usr/sbin/birdc

_bird_dir() { printf '%s/bird-%s\n' "${TEST_TMP}" "$1"; }

# bird_start NS NAME ADDR ASN ROUTER_ID PEER_ADDR PEER_ASN [PREFIX...]: BIRD 2
# in the role of one Azure Route Server instance: an eBGP multihop session
# from ADDR to PEER_ADDR that originates each PREFIX (a static blackhole:
# only the announcement matters) and re-advertises what it learns. BIRD
# never sends a route back to the session it came from, as ARS does not
# reflect an NVA's routes to that NVA.
bird_start() {
  local ns="$1" name="$2" addr="$3" asn="$4" rid="$5" peer="$6" peer_as="$7"
  shift 7
  local dir prefix
  dir="$(_bird_dir "${name}")"
  mkdir -p "${dir}"
  {
    printf 'log "%s/bird.log" all;\nrouter id %s;\n' "${dir}" "${rid}"
    # The direct routes only resolve the multihop next hop (gateway
    # recursive): the export filter keeps them to ourselves.
    printf 'protocol device { scan time 2; }\n'
    printf 'protocol direct { ipv4; }\n'
    printf 'protocol static originated {\n  ipv4;\n'
    for prefix in "$@"; do printf '  route %s blackhole;\n' "${prefix}"; done
    printf '}\n'
    # strict bind: several instances share the namespace, each listening
    # on its own address only.
    cat <<CONF
protocol bgp ${name} {
  local ${addr} as ${asn};
  neighbor ${peer} as ${peer_as};
  multihop 2;
  strict bind yes;
  connect retry time 2;
  ipv4 {
    import all;
    export where source ~ [ RTS_STATIC, RTS_BGP ];
  };
}
CONF
  } >"${dir}/bird.conf"
  start_bg "${ns}" "${dir}/stdout.log" "${BIRD_BIN}" -f -c "${dir}/bird.conf" -s "${dir}/bird.ctl" \
    -P "${dir}/bird.pid"
}

bird_ctl() {
  local ns="$1" name="$2"
  shift 2
  ns_exec "${ns}" "${BIRDC_BIN}" -s "$(_bird_dir "${name}")/bird.ctl" "$@"
}

# bird_routes NS NAME: "PREFIX AS_PATH" for every route in BIRD's table but
# the interface routes that only resolve next hops; a route of its own
# (static) has an empty path, as FRR shows for `network`.
bird_routes() {
  bird_ctl "$1" "$2" show route all where source != RTS_DEVICE 2>/dev/null | awk '
    function flush() { if (have) print prefix " " path; have = 0 }
    /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\/[0-9]+[ \t]/ { flush(); prefix = $1; path = ""; have = 1; next }
    /^[ ]+(unicast|unreachable|blackhole|prohibit) \[/ { flush(); path = ""; have = 1; next }
    /^[ \t]+BGP\.as_path:/ { sub(/^[ \t]+BGP\.as_path:[ ]*/, ""); path = $0; next }
    END { flush() }' | sort -u
}

# bird_peer_state NS NAME PEER_ADDR: Established, Active, Connect, ... (the
# BGP state of the session to PEER_ADDR, "none" if there is none).
bird_peer_state() {
  bird_ctl "$1" "$2" show protocols all 2>/dev/null | awk -v peer="$3" '
    /^[ \t]+BGP state:/ { state = $3 }
    /^[ \t]+Neighbor address:/ && $3 == peer { print state; found = 1; exit }
    END { if (!found) print "none" }'
}

# ------------------------------------------------------------------ GoBGP

readonly GOBGPD_BIN=/usr/bin/gobgpd
readonly GOBGP_BIN=/usr/bin/gobgp

_gobgp_dir() { printf '%s/gobgp-%s\n' "${TEST_TMP}" "$1"; }
_gobgp_port() { cat "$(_gobgp_dir "$1")/api.port"; }

# gobgp_start NS NAME ADDR ASN ROUTER_ID PEER_ADDR PEER_ASN [PREFIX...]:
# gobgpd (foreground, stopped by PID like every start_bg process) with one
# eBGP multihop neighbour, its gRPC API on a free loopback port of NS, then
# each PREFIX originated through the API (GoBGP's TOML cannot originate).
# Like ARS (and BIRD), GoBGP never sends a route back to its source peer.
gobgp_start() {
  local ns="$1" name="$2" addr="$3" asn="$4" rid="$5" peer="$6" peer_as="$7"
  shift 7
  local dir port prefix
  dir="$(_gobgp_dir "${name}")"
  mkdir -p "${dir}"
  port="$(free_port "${ns}")" || fail "no free API port for gobgpd ${name}"
  printf '%s\n' "${port}" >"${dir}/api.port"
  cat >"${dir}/gobgpd.toml" <<CONF
[global.config]
  as = ${asn}
  router-id = "${rid}"
  local-address-list = ["${addr}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${peer}"
    peer-as = ${peer_as}
  [neighbors.transport.config]
    local-address = "${addr}"
  [neighbors.ebgp-multihop.config]
    enabled = true
    multihop-ttl = 2
  [neighbors.timers.config]
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
CONF
  start_bg "${ns}" "${dir}/gobgpd.log" "${GOBGPD_BIN}" -f "${dir}/gobgpd.toml" -p \
    --api-hosts "127.0.0.1:${port}" --pprof-disable
  wait_until 20 gobgp_cli "${ns}" "${name}" global ||
    fail "gobgpd ${name}: API on 127.0.0.1:${port} did not answer"
  for prefix in "$@"; do
    gobgp_cli "${ns}" "${name}" global rib add "${prefix}" -a ipv4 >/dev/null ||
      fail "gobgpd ${name}: cannot originate ${prefix}"
  done
}

gobgp_cli() {
  local ns="$1" name="$2"
  shift 2
  ns_exec "${ns}" "${GOBGP_BIN}" -p "$(_gobgp_port "${name}")" "$@"
}

# _gobgp_paths_jq: "PREFIX AS_PATH" from `gobgp ... -j` RIB output (an
# object keyed by prefix, each a list of paths; AS_PATH is attribute type 2).
_gobgp_paths_jq() {
  jq -r 'to_entries[] | .key as $p | .value[]
         | ([.attrs[]? | select(.type == 2) | .as_paths[]? | .asns[]?] | map(tostring) | join(" ")) as $path
         | "\($p) \($path)"' 2>/dev/null | sort -u
}

# gobgp_routes NS NAME: "PREFIX AS_PATH" for every path in the global RIB.
gobgp_routes() {
  gobgp_cli "$1" "$2" global rib -a ipv4 -j 2>/dev/null | _gobgp_paths_jq
}

# gobgp_adj_in NS NAME PEER_ADDR: "PREFIX AS_PATH" for what PEER_ADDR sent
# and GoBGP holds for it, before import policy.
gobgp_adj_in() {
  gobgp_cli "$1" "$2" neighbor "$3" adj-in -a ipv4 -j 2>/dev/null | _gobgp_paths_jq
}

# gobgp_peer_state NS NAME PEER_ADDR: Established, Active, ... (named like
# FRR and BIRD print them; the JSON API gives apipb's SessionState number).
gobgp_peer_state() {
  gobgp_cli "$1" "$2" neighbor -j 2>/dev/null | jq -r --arg a "$3" '
    ["Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"] as $names
    | first((.[] | select(.state.neighbor_address == $a) | $names[.state.session_state // 0]), "none")' \
    2>/dev/null || echo none
}
