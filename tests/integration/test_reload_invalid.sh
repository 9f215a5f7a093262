#!/usr/bin/env bash
# A broken config is refused as a whole and leaves the running state alone
# (issue 7 item 6). For one bad file of every class of mistake that can
# reach a running daemon (docs/operations.md, "Configuration errors"),
# `isthmusctl reload` exits 1 with a message naming the file, the key path
# and what would be accepted, and afterwards:
#   - the BGP session to FRR was not reset (same established transitions and
#     since-time on our side, same connection count on FRR's side),
#   - `show routes` and `show fib` are unchanged,
#   - `show services` and the NAT flow table are unchanged.
# SIGHUP with a bad file and `isthmusd --check-config` are refused the same
# way (the latter lists every error). A good reload works afterwards, keeps
# the session and the flows, and traffic still flows.
#
#   ns a: client 198.18.1.2        ns nva: isthmusd AS 65010        ns b: FRR AS 65020 on 198.18.2.2,
#                                  service web 203.0.113.10:80            HTTP backend 198.51.100.10:8080
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly NVA_AS=65010 PEER_AS=65020 PEER_NAME=rs
readonly VIP=203.0.113.10 VIP_PORT=80 BACKEND_PORT=8080
readonly NEW_PREFIX=203.0.113.128/25
readonly RUN_BUDGET_S=60
readonly READY_TIMEOUT_S=20
readonly FRR_NAME=rs-b

# write_good_config: the topology's config plus BGP (one peer, FRR in b) and
# one service whose backend is B's host address.
write_good_config() {
  topo_write_config "${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<EOF
bgp:
  asn: ${NVA_AS}
  router_id: ${NVA_EAST_ADDR}
  policies:
    - name: vips-only
      terms:
        - {name: vips, match: {origins: [service_vip]}, result: accept}
      default: reject
  peers:
    - {name: ${PEER_NAME}, address: ${B_EAST_ADDR}, remote_as: ${PEER_AS}, connect_retry: 1, export: [vips-only]}
services:
  - {name: web, vip: ${VIP}, ports: [${VIP_PORT}], backends: [{address: ${B_HOST}, port: ${BACKEND_PORT}}]}
EOF
}

# state: what a refused reload must not change, one JSON line per view.
state() {
  ctl show routes --json | jq -S -c . || return 1
  ctl show fib --json | jq -S -c . || return 1
  ctl show bgp neighbors "${PEER_NAME}" --json |
    jq -c '.neighbors[0] | {state, established_transitions, established_since}' || return 1
  ctl show services --json |
    jq -S -c '[.[] | {name, vip, state, backends_up, announced, backends: [.backends[] | {backend, weight, health}]}]' ||
    return 1
  ctl show flows --json | jq -S -c '{created, flows: [.flows[] | {service, protocol, client, vip, backend, snat}]}' ||
    return 1
  frr_vtysh b "${FRR_NAME}" "show bgp neighbors ${NVA_EAST_ADDR} json" |
    jq -c --arg a "${NVA_EAST_ADDR}" '.[$a] | {bgpState, connectionsEstablished, connectionsDropped}'
}

peer_established() {
  ctl show bgp neighbors "${PEER_NAME}" --json | jq -e '.neighbors[0].state == "Established"'
}
web_up() { ctl show services --json | jq -e '.[] | select(.name == "web") | .state == "up"'; }
get_vip() { ns_exec a curl -s --max-time 3 "http://${VIP}:${VIP_PORT}/"; }

# refused WHAT NEEDLE...: `isthmusctl reload` of the file now in place exits
# 1, its message contains every NEEDLE, and the state is unchanged.
refused() {
  local what="$1" status=0 out needle
  shift
  out="$(ctl reload 2>&1)" || status=$?
  printf '== %s\n%s\n' "${what}" "${out}" >>"${TEST_TMP}/reload-output.txt"
  [[ ${status} -eq 1 ]] || fail "${what}: isthmusctl reload exited ${status}: ${out}"
  for needle in "$@"; do
    [[ "${out}" == *"${needle}"* ]] || fail "${what}: '${needle}' missing from the reload message: ${out}"
  done
  local now
  now="$(state)" || fail "${what}: cannot read the state after the refused reload"
  [[ "${now}" == "${STATE_BEFORE}" ]] ||
    fail "${what}: state changed by a refused reload:$(diff <(echo "${STATE_BEFORE}") <(echo "${now}"))"
  check "${what}: refused (exit 1, message names it), BGP/routes/FIB/services/flows unchanged"
}

# bad_sed WHAT SED_EXPR...: the good file edited by sed; fails if sed changed nothing.
bad_sed() {
  local what="$1"
  shift
  local args=() expr
  for expr in "$@"; do args+=(-e "${expr}"); done
  sed "${args[@]}" "${TEST_TMP}/good.yaml" >"${TOPO_CONFIG}"
  ! cmp -s "${TEST_TMP}/good.yaml" "${TOPO_CONFIG}" || fail "${what}: the edit did not apply"
}

# bad_append TEXT: the good file with TEXT appended.
bad_append() {
  cp "${TEST_TMP}/good.yaml" "${TOPO_CONFIG}"
  printf '%s\n' "$1" >>"${TOPO_CONFIG}"
}

topo_require_daemon
started=${SECONDS}
topo_build
frr_start b "${FRR_NAME}" "${B_EAST_ADDR}" "${PEER_AS}" "${B_EAST_ADDR}" \
  " neighbor ${NVA_EAST_ADDR} remote-as ${NVA_AS}
 neighbor ${NVA_EAST_ADDR} timers connect 1"
start_bg b "${TEST_TMP}/backend.log" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
  --bind "${B_HOST}" --port "${BACKEND_PORT}" --name backend
wait_until 10 grep -q ready "${TEST_TMP}/backend.log" || fail "the HTTP backend did not start"
write_good_config
cp "${TOPO_CONFIG}" "${TEST_TMP}/good.yaml"
topo_start_daemon
topo_warmup
wait_until "${READY_TIMEOUT_S}" peer_established || fail "BGP session to FRR not Established"
wait_until "${READY_TIMEOUT_S}" web_up || fail "service web not up"
[[ "$(get_vip)" == *backend* ]] || fail "A cannot reach the VIP ${VIP}"
check "BGP Established, service web up, a flow through the VIP"
STATE_BEFORE="$(state)" || fail "cannot read the state"
[[ "$(jq -s '.[4].flows | length' <<<"${STATE_BEFORE}")" -ge 1 ]] || fail "no NAT flow in: ${STATE_BEFORE}"
: >"${TEST_TMP}/reload-output.txt"

# ---------------------------------------------------------- one per class
bad_append "log: {level: info"
refused "YAML syntax" "${TOPO_CONFIG}:" "is not valid YAML (accepted: YAML 1.2"

mv "${TOPO_CONFIG}" "${TEST_TMP}/moved.yaml"
refused "file missing" "${TOPO_CONFIG}: cannot open: No such file or directory"
mv "${TEST_TMP}/moved.yaml" "${TOPO_CONFIG}"

bad_sed "unknown key" 's|^  burst: 32|  brust: 32|'
refused "unknown key" "${TOPO_CONFIG}:" "dataplane.brust: unknown key, did you mean 'burst'? (accepted: burst,"

bad_sed "wrong type" 's|^  hugepages: false|  hugepages: no|'
refused "wrong type" "${TOPO_CONFIG}:" "dataplane.hugepages: expected a boolean, got 'no' (accepted: true, false)"

bad_sed "out of range" 's|^  burst: 32|  burst: 999|'
refused "out of range" "${TOPO_CONFIG}:" "dataplane.burst: expected an integer between 1 and 256, got '999'"

bad_sed "unknown value" "0,/driver: ${IT_DRIVER}/s|driver: ${IT_DRIVER}|driver: af_carrier_pigeon|"
refused "unknown value" "${TOPO_CONFIG}:" "ports[0].driver: unknown value 'af_carrier_pigeon' (accepted: af_xdp, af_packet, pmd)"

bad_sed "bad prefix" "s|prefix: ${B_PREFIX}|prefix: 198.51.100.0/33|"
refused "bad prefix" "${TOPO_CONFIG}:" "routes[0].prefix: '198.51.100.0/33' is not an IPv4 prefix (accepted: ADDRESS/LEN"

bad_sed "missing required key" "s|, remote_as: ${PEER_AS}||"
refused "missing required key" "${TOPO_CONFIG}:" "bgp.peers[0].remote_as: missing required key (accepted: an ASN"

bad_append "  - {name: web, vip: 203.0.113.11, ports: [80], backends: [{address: ${B_HOST}}]}"
refused "duplicate name" "${TOPO_CONFIG}:" \
  "services[1].name: 'web' is already used by services[0].name (accepted: a service name not used elsewhere)"

bad_sed "dangling reference" 's|export: \[vips-only\]|export: [vips-onyl]|'
refused "dangling reference" "${TOPO_CONFIG}:" \
  "bgp.peers[0].export[0]: no policy named 'vips-onyl', did you mean 'vips-only'? (accepted: vips-only)"

bad_append "  - {name: api, vip: ${VIP}, ports: [${VIP_PORT}], backends: [{address: ${B_HOST}}]}"
refused "conflict (two services on one VIP and port)" "${TOPO_CONFIG}:" \
  "services[1].ports[0]: '${VIP} tcp port ${VIP_PORT}' is already used by services[0].ports[0]"

bad_append "tunnels:
  - name: east
    type: ipsec
    local: ${NVA_EAST_ADDR}
    remote: 192.0.2.2
    overlay: 198.18.250.1/30
    ipsec:
      outbound: {spi: 4097, key_file: ${TEST_TMP}/absent.key}
      inbound: [{spi: 8193, key_file: ${TEST_TMP}/absent.key}]"
refused "key file" "${TOPO_CONFIG}:" \
  "tunnels[0].ipsec.outbound.key_file: ESP key file ${TEST_TMP}/absent.key: cannot open: No such file or directory"

bad_sed "needs a restart" "s|listen: ${TOPO_METRICS_LISTEN}|listen: 127.0.0.1:9471|"
refused "needs a restart" "metrics.listen: changing metrics.listen requires a restart of isthmusd"

# ---------------------------------------------------------- SIGHUP, --check-config
bad_sed "three mistakes" 's|^  burst: 32|  brust: 32|' "s|prefix: ${B_PREFIX}|prefix: 198.51.100.0/33|" \
  's|export: \[vips-only\]|export: [vips-onyl]|'
topo_reload_signal
sleep 1
is_running "${ISTHMUSD_PID}" || fail "isthmusd died on SIGHUP with a bad config"
[[ "$(state)" == "${STATE_BEFORE}" ]] || fail "state changed by SIGHUP with a bad config"
check "SIGHUP with a bad config: refused, state unchanged"

status=0
out="$(ns_exec nva "${ISTHMUSD}" --check-config "${TOPO_CONFIG}" 2>&1)" || status=$?
printf '%s\n' "${out}" >"${TEST_TMP}/check-config-output.txt"
[[ ${status} -ne 0 ]] || fail "isthmusd --check-config accepted the bad config"
assert_eq 3 "$(grep -c "^${TOPO_CONFIG}:" <<<"${out}")" "--check-config lists every error, one line each"
ns_exec nva "${ISTHMUSD}" --check-config "${TEST_TMP}/good.yaml" >/dev/null 2>&1 ||
  fail "isthmusd --check-config rejects the good config"
check "isthmusd --check-config accepts the good config"

# ---------------------------------------------------------- a good reload
cp "${TEST_TMP}/good.yaml" "${TOPO_CONFIG}"
sed -i "s|^routes:|routes:\n  - prefix: ${NEW_PREFIX}\n    via: [${B_EAST_ADDR}]|" "${TOPO_CONFIG}"
out="$(ctl reload 2>&1)" || fail "reload of a good config failed: ${out}"
ctl show routes --json | jq -e --arg p "${NEW_PREFIX}" '[.. | strings] | index($p) != null' >/dev/null ||
  fail "route ${NEW_PREFIX} missing after a good reload"
check "a good config reloads afterwards (${NEW_PREFIX} added)"
after="$(state)" || fail "cannot read the state after the good reload"
for view in 3 4 5 6; do
  [[ "$(sed -n "${view}p" <<<"${after}")" == "$(sed -n "${view}p" <<<"${STATE_BEFORE}")" ]] ||
    fail "the good reload changed view ${view} (BGP session, services or flows): $(sed -n "${view}p" <<<"${after}")"
done
check "the good reload kept the BGP session, the services and the flows"
[[ "$(get_vip)" == *backend* ]] || fail "A no longer reaches the VIP after the good reload"
out="$(ns_exec a ping -c 3 -i 0.2 -W 1 "${B_HOST}")"
assert_contains "${out}" "3 received" "A still reaches B"
assert_lt $((SECONDS - started)) "${RUN_BUDGET_S}" "run time (s)"
pass "every class of bad config refused with file/key/accepted values; BGP, routes, FIB, services, flows kept"
