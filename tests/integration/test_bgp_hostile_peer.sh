#!/usr/bin/env bash
# Hostile peers send malformed UPDATEs; isthmusd must give each the RFC 7606
# outcome that bgp/wire implements (tests/unit/bgp_wire/malformed_test.cc),
# never crash, and leave every other session alone.
#
#   ns hostile: h-w 198.18.1.2 raw4 (tests/lib/raw_bgp_peer.py, AS 65040, 4-octet AS)
#                   198.18.1.3 raw2 (raw_bgp_peer.py --two-octet, AS 65041)
#                   198.18.1.4 exa  (ExaBGP 4.2, AS 65050)
#   ns nva:     isthmusd AS 65010, west 198.18.1.1/24, east 198.18.2.1/24
#   ns good:    g-e 198.18.2.2, FRR AS 65030, originates 198.51.100.0/24
#
# Who sends what, and why:
# - ExaBGP builds UPDATEs from attributes it parsed, so it sends what is
#   well-formed at the message level but carries a bad value: generic
#   attributes given as raw bytes (corrupted attribute 28 and Tunnel
#   Encapsulation 23 as in the 2023 incidents, OTC of length 3) and a bad
#   NEXT_HOP. Its process API announces and re-announces the prefixes.
# - raw_bgp_peer.py writes the bytes itself, for what ExaBGP cannot express:
#   length fields that lie, zero-length values, missing mandatory attributes,
#   attributes out of order (AS4_PATH before AS_PATH, on a 2-octet session
#   too), broken MP_REACH_NLRI, repeated attributes. After each case it sends
#   a ROUTE-REFRESH and waits for the Enhanced Route Refresh EoRR (RFC 7313):
#   the EoRR proves the session survived the case, a NOTIFICATION that it
#   did not, without guessing a delay.
#
# Outcomes (RFC 7606 2): "withdraw" = treat-as-withdraw (session stays, the
# prefix, announced cleanly just before, is withdrawn); "keep" = attribute
# discard or an unknown optional transitive attribute (the route stays);
# "reset:CODE:SUBCODE" = isthmusd sends that NOTIFICATION and drops the
# session (and its routes). After every case: isthmusd is running, the FRR
# session is still Established (never flapped) and keeps 198.51.100.0/24.
#
# Predicates and checks below run through wait_until or by name.
# shellcheck disable=SC2317
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"
# shellcheck source=tests/lib/exabgp.sh
source "$(dirname "$0")/../lib/exabgp.sh"
# shellcheck source=tests/lib/hostile_bgp.sh
source "$(dirname "$0")/../lib/hostile_bgp.sh"

readonly RAW4_ADDR=198.18.1.2 RAW2_ADDR=198.18.1.3 EXA_ADDR=198.18.1.4 GOOD_ADDR=198.18.2.2
readonly RAW4_AS=65040 RAW2_AS=65041 EXA_AS=65050 GOOD_AS=65030 NVA_AS=65010
readonly GOOD_PREFIX=198.51.100.0/24
readonly CASE_WAIT_S=10

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
exabgp_available || skip "ExaBGP not installed"

build() { hostile_build "${GOOD_ADDR}" "${RAW4_ADDR}" "${RAW2_ADDR}" "${EXA_ADDR}"; }

# hostile_peer NAME ADDR ASN: a passive peer (it connects to us, and again
# after every reset) with import and export open.
hostile_peer() {
  printf '    - name: %s\n      address: %s\n      remote_as: %s\n      passive: true\n' "$1" "$2" "$3"
  printf '      connect_retry: 1\n      graceful_restart: false\n'
  printf '      import: [accept-all]\n      export: [accept-all]\n'
}

write_config() {
  cat >"${TOPO_CONFIG}" <<CONF
$(hostile_config_head "${NVA_AS}")
$(hostile_peer raw4 "${RAW4_ADDR}" "${RAW4_AS}")
$(hostile_peer raw2 "${RAW2_ADDR}" "${RAW2_AS}")
$(hostile_peer exa "${EXA_ADDR}" "${EXA_AS}")
    - name: good
      address: ${GOOD_ADDR}
      remote_as: ${GOOD_AS}
      connect_retry: 2
      import: [accept-all]
      export: [accept-all]
CONF
}

good_body() {
  printf ' neighbor %s remote-as %s\n neighbor %s timers connect 2\n address-family ipv4 unicast\n  network %s\n exit-address-family\n' \
    "${NVA_EAST_ADDR}" "${NVA_AS}" "${NVA_EAST_ADDR}" "${GOOD_PREFIX}"
}

daemon_alive() { is_running "${ISTHMUSD_PID}" || fail "isthmusd died (after $1)"; }

# The well-behaved peer: Established without a single flap, route kept.
good_peer_unaffected() {
  local what="$1"
  peer_established good || fail "after ${what}: the FRR session is $(peer_state good)"
  [[ "$(peer_transitions good)" == 1 ]] ||
    fail "after ${what}: the FRR session flapped (established_transitions $(peer_transitions good))"
  has_route good "${GOOD_PREFIX}" || fail "after ${what}: ${GOOD_PREFIX} from FRR is gone"
}

# ---------------------------------------------------------------- cases

# Extra checks on the kept route of a case (PATH_JSON holds the path).
expect_med_first() {
  [[ "$(jq -r '.med' <<<"${PATH_JSON}")" == 10 ]] || fail "duplicate MED: first (10) not kept: ${PATH_JSON}"
}
expect_as_path_unmerged() {
  [[ "$(jq -r '.as_path' <<<"${PATH_JSON}")" == "${RAW4_AS} 23456 65100" ]] ||
    fail "AS4_PATH on a 4-octet session should be ignored: ${PATH_JSON}"
}
expect_as_path_merged() {
  [[ "$(jq -r '.as_path' <<<"${PATH_JSON}")" == "${RAW2_AS} 4200000001 65100" ]] ||
    fail "AS4_PATH before AS_PATH not merged (RFC 6793 4.2.3): ${PATH_JSON}"
}

declare -a REPORT=()

# raw_case PEER CASE PREFIX EXPECT [CHECK_FN]
raw_case() {
  local peer="$1" case="$2" prefix="$3" expect="$4" check_fn="${5:-}"
  local before_tr sent_before=0 code subcode
  before_tr="$(peer_transitions "${peer}")"
  if [[ "${expect}" != keep ]]; then
    # The prefix is first announced cleanly, so the case has to remove it.
    raw_expect "${peer}" established announce "${prefix}"
    wait_until "${CASE_WAIT_S}" has_route "${peer}" "${prefix}" ||
      fail "${case}: clean announcement of ${prefix} not in show bgp routes"
  fi
  if [[ "${expect}" == reset:* ]]; then
    IFS=: read -r _ code subcode <<<"${expect}"
    sent_before="$(notifications_sent "${peer}" "${code}" "${subcode}")"
  fi
  raw_cmd "${peer}" case "${case}" "${prefix}"
  local got="${RAW_RESULT}"
  daemon_alive "${case}"
  case "${expect}" in
    withdraw | keep)
      [[ "${got}" == established ]] || fail "${case}: session did not survive (peer saw '${got}')"
      peer_established "${peer}" || fail "${case}: isthmusd shows ${peer} $(peer_state "${peer}")"
      [[ "$(peer_transitions "${peer}")" == "${before_tr}" ]] || fail "${case}: ${peer} session was reset"
      if [[ "${expect}" == withdraw ]]; then
        wait_until "${CASE_WAIT_S}" lacks_route "${peer}" "${prefix}" ||
          fail "${case}: ${prefix} not withdrawn: $(path_json "${peer}" "${prefix}")"
      else
        wait_until "${CASE_WAIT_S}" has_route "${peer}" "${prefix}" || fail "${case}: ${prefix} not kept"
        PATH_JSON="$(path_json "${peer}" "${prefix}")"
        [[ -z "${check_fn}" ]] || "${check_fn}"
      fi
      ;;
    reset:*)
      [[ "${got}" == "notification ${code} ${subcode}" ]] ||
        fail "${case}: expected NOTIFICATION ${code}/${subcode} at the peer, got '${got}'"
      wait_until "${CASE_WAIT_S}" peer_not_established "${peer}" || fail "${case}: isthmusd still shows Established"
      [[ "$(notifications_sent "${peer}" "${code}" "${subcode}")" -gt "${sent_before}" ]] ||
        fail "${case}: isthmusd does not count a sent ${code}/${subcode}: $(neighbor_json "${peer}")"
      wait_until "${CASE_WAIT_S}" lacks_route "${peer}" "${prefix}" || fail "${case}: ${prefix} outlived the reset"
      raw_expect "${peer}" established connect
      wait_until "${CASE_WAIT_S}" peer_established "${peer}" || fail "${case}: ${peer} did not come back"
      ;;
  esac
  good_peer_unaffected "${case}"
  check "${case} (raw_bgp_peer ${peer}): ${expect}, peer saw '${got}', ${prefix} $(has_route "${peer}" "${prefix}" && echo kept || echo absent)"
  REPORT+=("$(printf '%-36s %-5s %-16s %-26s %s' "${case}" "${peer}" "${expect}" "${got}" "${prefix}")")
}

# exa_case NAME PREFIX EXPECT ANNOUNCE_TAIL: ExaBGP announces PREFIX with
# ANNOUNCE_TAIL (the malformed part); "withdraw" cases announce it cleanly first.
exa_case() {
  local case="$1" prefix="$2" expect="$3" tail="$4"
  local before_tr clean="next-hop ${EXA_ADDR} origin igp as-path [ ${EXA_AS} ]"
  before_tr="$(peer_transitions exa)"
  if [[ "${expect}" == withdraw ]]; then
    exabgp_cmd exa "announce route ${prefix} ${clean}"
    wait_until "${CASE_WAIT_S}" has_route exa "${prefix}" || fail "${case}: clean ${prefix} from ExaBGP not received"
  fi
  exabgp_cmd exa "announce route ${prefix} ${tail}"
  if [[ "${expect}" == withdraw ]]; then
    wait_until "${CASE_WAIT_S}" lacks_route exa "${prefix}" ||
      fail "${case}: ${prefix} not withdrawn: $(path_json exa "${prefix}")"
  else
    wait_until "${CASE_WAIT_S}" has_route exa "${prefix}" || fail "${case}: ${prefix} not kept"
  fi
  daemon_alive "${case}"
  peer_established exa || fail "${case}: ExaBGP session is $(peer_state exa)"
  [[ "$(peer_transitions exa)" == "${before_tr}" ]] || fail "${case}: ExaBGP session was reset"
  good_peer_unaffected "${case}"
  check "${case} (ExaBGP): ${expect}, session kept, ${prefix} $(has_route exa "${prefix}" && echo kept || echo absent)"
  REPORT+=("$(printf '%-36s %-5s %-16s %-26s %s' "${case}" exa "${expect}" "established (API)" "${prefix}")")
}

# ------------------------------------------------------------------- run

build
write_config
topo_start_daemon
frr_start good good "${GOOD_ADDR}" "${GOOD_AS}" "${GOOD_ADDR}" "$(good_body)"
raw_start raw4 "${RAW4_ADDR}" "${RAW4_AS}"
raw_start raw2 "${RAW2_ADDR}" "${RAW2_AS}" --two-octet
exabgp_start hostile exa "${EXA_ADDR}" "${EXA_AS}" "${NVA_WEST_ADDR}" "${NVA_AS}"

raw_expect raw4 established connect
raw_expect raw2 established connect
wait_until "${BGP_WAIT_S}" peer_established good || fail "FRR session not Established: $(peer_state good)"
wait_until "${BGP_WAIT_S}" peer_established exa || fail "ExaBGP session not Established: $(peer_state exa)"
wait_until 20 has_route good "${GOOD_PREFIX}" || fail "no ${GOOD_PREFIX} from FRR"
assert_eq 4 "$(ctl show bgp summary --json | jq '[.peers[] | select(.state == "Established")] | length')" \
  "peers Established before the first case"

# Attribute length errors.
raw_case raw4 attribute_length_overrun 203.0.113.0/28 withdraw
raw_case raw4 origin_length_2 203.0.113.16/28 withdraw
raw_case raw4 next_hop_length_5 203.0.113.32/28 withdraw
raw_case raw4 attribute_block_past_message 203.0.113.48/28 reset:3:1
# Zero-length attributes / no attributes with NLRI; NLRI without mandatory attributes.
raw_case raw4 no_attributes_with_nlri 203.0.113.64/28 withdraw
raw_case raw4 zero_length_origin_and_next_hop 203.0.113.80/28 withdraw
raw_case raw4 zero_length_communities 203.0.113.96/28 withdraw
raw_case raw4 missing_next_hop 203.0.113.112/28 withdraw
raw_case raw4 missing_as_path 203.0.113.128/28 withdraw
# AS4_PATH before AS_PATH: ignored on a 4-octet session, merged on a 2-octet one.
raw_case raw4 as4_path_before_as_path 203.0.113.144/28 keep expect_as_path_unmerged
raw_case raw2 as4_path_before_as_path 192.0.2.0/28 keep expect_as_path_merged
# Malformed MP_REACH_NLRI (IPv4 unicast is our only family: RFC 7606 5.3 / RFC 4760 7 reset).
raw_case raw4 mp_reach_next_hop_length_16 203.0.113.160/28 reset:3:9
raw_case raw4 mp_reach_truncated_nlri 203.0.113.176/28 reset:3:9
# OTC of a length other than 4; duplicate attributes; bad NEXT_HOP; more resets.
raw_case raw4 otc_length_5 203.0.113.192/28 withdraw
raw_case raw4 duplicate_med 203.0.113.208/28 keep expect_med_first
raw_case raw4 duplicate_mp_reach 203.0.113.224/28 reset:3:1
raw_case raw4 next_hop_loopback 203.0.113.240/28 withdraw
raw_case raw2 next_hop_receiver_address 192.0.2.48/28 withdraw
raw_case raw2 unknown_well_known 192.0.2.16/28 reset:3:2
raw_case raw2 nlri_prefix_length_33 192.0.2.32/28 reset:3:10

# Corrupted optional transitive attributes isthmusd does not know: it cannot
# tell they are corrupt, so the route stays and the attribute is passed on
# with the Partial bit (RFC 4271 5, 9.1.4).
readonly EXA_CLEAN="next-hop ${EXA_ADDR} origin igp as-path [ ${EXA_AS} ]"
exa_case corrupt_attr28_entropy_label 198.18.200.0/28 keep "${EXA_CLEAN} attribute [ 0x1c 0xc0 0xdeadbeef ]"
# Tunnel Encapsulation: a TLV (type 8, VXLAN) whose length runs far past the value.
exa_case corrupt_attr23_tunnel_encap 198.18.200.16/28 keep "${EXA_CLEAN} attribute [ 0x17 0xc0 0x0008ffff01 ]"
exa_case otc_length_3 198.18.200.32/28 withdraw "${EXA_CLEAN} attribute [ 0x23 0xc0 0x00fde8 ]"
exa_case next_hop_multicast 198.18.200.48/28 withdraw "next-hop 224.0.0.1 origin igp as-path [ ${EXA_AS} ]"

# The peer's view of the kept corrupted attributes: what isthmusd re-sends.
for entry in "198.18.200.0/28 28" "198.18.200.16/28 23"; do
  read -r prefix type <<<"${entry}"
  raw_cmd raw2 rib "${prefix}"
  [[ "${RAW_RESULT}" == *"e0:${type}"* ]] ||
    fail "isthmusd did not pass attribute ${type} on to raw2 with the Partial bit: ${RAW_RESULT}"
  check "attribute ${type} on ${prefix} re-advertised to raw2 as optional transitive partial (0xe0)"
done

# The end: everything still up, FRR's own view agrees, nothing left behind.
daemon_alive "all cases"
assert_eq 4 "$(ctl show bgp summary --json | jq '[.peers[] | select(.state == "Established")] | length')" \
  "peers Established after the last case"
assert_eq Established "$(frr_peer_state good good "${NVA_EAST_ADDR}")" "FRR's view of its session"
assert_eq 1 "$(frr_vtysh good good "show bgp neighbors ${NVA_EAST_ADDR} json" |
  jq -r --arg a "${NVA_EAST_ADDR}" '.[$a].connectionsEstablished')" "FRR connections established (no flap)"
# FRR's view of what isthmusd passed on: the route with the corrupted
# attribute 28 (unknown to FRR 8.4 too) is accepted; for the corrupted Tunnel
# Encapsulation, FRR applies its own RFC 7606 handling (patched for
# CVE-2023-38802) instead of resetting, which the no-flap check above proves.
wait_until 10 routes_have frr_routes good good 198.18.200.0/28 "${NVA_AS} ${EXA_AS}" ||
  fail "FRR did not get 198.18.200.0/28 (attribute 28) through isthmusd: $(frr_routes good good)"
check "FRR holds 198.18.200.0/28 '${NVA_AS} ${EXA_AS}' (corrupted attribute 28 passed on, no reset)"
if routes_lack frr_routes good good 198.18.200.16/28; then
  info "FRR dropped 198.18.200.16/28 (its treat-as-withdraw for the corrupted attribute 23)"
else
  info "FRR holds 198.18.200.16/28 (accepted the corrupted attribute 23)"
fi
printf '  ..   %-36s %-5s %-16s %-26s %s\n' CASE PEER EXPECTED "PEER SAW" PREFIX
for line in "${REPORT[@]}"; do printf '  ..   %s\n' "${line}"; done
pass "${#REPORT[@]} malformed-UPDATE cases: RFC 7606 outcomes, isthmusd up, the FRR session never flapped"
