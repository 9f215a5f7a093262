#!/usr/bin/env bash
# Two regions joined by a VXLAN tunnel between two isthmusd (issue 4, items
# 3 and 6): the BGP session between the appliances runs inside the tunnel,
# on overlay addresses, and carries each region's host prefix.
#
#   ns ha            ns nvaa (isthmusd "a", AS 65001)      ns ul (underlay router)
#   ha0 192.0.2.10 -- a-lan 192.0.2.1/24      (port lan)
#                     a-wan 198.18.0.1/30     (port wan) -- ul-a 198.18.0.2/30
#                     tunnel xr: vni 4242, overlay 198.18.250.1/30
#
#   ns hb            ns nvab (isthmusd "b", AS 65002)
#   hb0 198.51.100.10 -- b-lan 198.51.100.1/24 (port lan)
#                     b-wan 198.18.0.5/30     (port wan) -- ul-b 198.18.0.6/30
#                     tunnel xr: vni 4242, overlay 198.18.250.2/30
#
# The underlay namespace knows only the underlay addresses: host traffic
# can cross it only inside VXLAN. Each appliance has a static underlay route
# to the other's endpoint, originates its host prefix (`networks`) and
# imports only the other's host prefix (policies per docs/bgp-policy.md).
#
# Checks:
#   1. the session over the overlay reaches Established; each side learns
#      the other's host prefix and installs it with a tunnel next hop;
#   2. host A and host B ping each other and a TCP transfer passes; tshark on
#      the underlay sees only VXLAN with VNI 4242 between the endpoints (BGP
#      and host traffic inside it);
#   3. `show tunnels --json` counters rise on both sides, no unexpected drops;
#   4. with the underlay link down the session leaves Established on hold
#      timer expiry (hold 9 s, keepalive 3 s), the learned routes leave the
#      FIB and A no longer reaches B; with the link back, session, routes and
#      traffic return.
#
# IT_DRIVER (af_xdp, af_packet, pmd) picks the port driver of both appliances.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/two_regions.sh
source "$(dirname "$0")/../lib/two_regions.sh"

readonly VNI=4242
readonly VXLAN_PORT=4789
readonly BGP_UP_TIMEOUT_S=30
readonly ROUTE_TIMEOUT_S=10
# Hold timer plus a keepalive period of slack for the poll and the FIB update.
readonly BGP_DOWN_TIMEOUT_S=$((HOLD_S + KEEPALIVE_S + 3))
readonly PING_COUNT=5
readonly IPERF_PORT=5201
readonly IPERF_SECONDS=2
readonly IPERF_RATE=20M
readonly MIN_TCP_BYTES=1000000
readonly CAPTURE_SECONDS=6
readonly MAX_WARMUP_DROPS=5
# Port MTU 1500 minus VXLAN's 50 bytes; TCP MSS clamped to it minus 40.
readonly TUNNEL_MTU=1450
readonly CLAMPED_MSS=$((TUNNEL_MTU - 40))
# Drops that have no business happening on a healthy two-region overlay.
# neighbor_missing (first packet to a next hop), l2_not_for_us, not_ipv4 and
# kernel_has_copy (af_packet) are normal noise and not listed.
readonly UNEXPECTED_DROPS=(runt bad_version bad_ihl bad_total_length bad_checksum martian_source
  martian_destination no_route blackhole mtu_exceeded tx_full punt_unavailable
  from_kernel_unroutable vxlan_malformed vxlan_unknown_vni tunnel_wrong_source tunnel_outer_fragment
  tunnel_inner_not_ipv4 tunnel_nested tunnel_recursion tunnel_no_underlay_route tunnel_down
  tunnel_host_not_ipv4 tunnel_no_headroom bug)

# die MESSAGE: both appliances' view of the overlay, then fail (which shows
# the end of every daemon log).
die() {
  local name
  for name in a b; do
    [[ -n "$(nva_pid "${name}")" ]] && nva_diag "${name}" "tunnels" "bgp summary" "fib"
  done
  fail "$@"
}

# ------------------------------------------------------------ topology



# write_region NAME LAN_IF WAN_IF LAN_CIDR WAN_CIDR LOCAL REMOTE
#   UL_GW REMOTE_WAN_NET OVERLAY PEER_OVERLAY ASN PEER_ASN OWN_PREFIX PEER_PREFIX
write_region() {
  local name="$1" lan_if="$2" wan_if="$3" lan_cidr="$4" wan_cidr="$5" local_ep="$6" remote_ep="$7"
  local ul_gw="$8" remote_net="$9" overlay="${10}" peer_overlay="${11}" asn="${12}" peer_asn="${13}"
  local own_prefix="${14}" peer_prefix="${15}"
  {
    nva_dataplane_yaml "${name}" region
    port_yaml lan "${lan_if}" "${lan_cidr}"
    port_yaml wan "${wan_if}" "${wan_cidr}"
    cat <<EOF
punt:
  tcp_ports: [179]
  udp_ports: []
routes:
  - prefix: ${remote_net}
    via: [${ul_gw}]
tunnels:
  - name: ${TUNNEL}
    type: vxlan
    local: ${local_ep}
    remote: ${remote_ep}
    vni: ${VNI}
    dst_port: ${VXLAN_PORT}
    overlay: ${overlay}/${OVERLAY_LEN}
    mss_clamp: auto
    interface: ${TUNNEL}-${name}
$(nva_admin_yaml "${name}")
bgp:
  asn: ${asn}
  router_id: ${overlay}
  networks: [${own_prefix}]
  policies:
    - name: from-other-region
      terms:
        - name: their-hosts
          match: { prefixes: ["${peer_prefix}"] }
          result: accept
      default: reject
    - name: to-other-region
      terms:
        - name: our-hosts
          match: { origins: [static], prefixes: ["${own_prefix}"] }
          result: accept
      default: reject
  peers:
    - name: region-peer
      address: ${peer_overlay}
      remote_as: ${peer_asn}
      description: the other region's NVA, across tunnel ${TUNNEL}
      source: ${overlay}
      hold_time: ${HOLD_S}
      keepalive: ${KEEPALIVE_S}
      connect_retry: ${CONNECT_RETRY_S}
      # Graceful restart would keep the routes as stale for its restart
      # time after the hold timer fires: this test wants them gone.
      graceful_restart: false
      import: [from-other-region]
      export: [to-other-region]
EOF
  } >"$(nva_config "${name}")"
}

start_regions() {
  nva_prepare a nvaa
  nva_prepare b nvab
  write_region a a-lan a-wan "${A_LAN}/24" "${A_WAN}/${WAN_LEN}" "${A_WAN}" "${B_WAN}" "${UL_A}" "${B_WAN_NET}" \
    "${A_OVERLAY}" "${B_OVERLAY}" "${A_ASN}" "${B_ASN}" "${A_PREFIX}" "${B_HOST_PREFIX}"
  write_region b b-lan b-wan "${B_LAN}/24" "${B_WAN}/${WAN_LEN}" "${B_WAN}" "${A_WAN}" "${UL_B}" "${A_WAN_NET}" \
    "${B_OVERLAY}" "${A_OVERLAY}" "${B_ASN}" "${A_ASN}" "${B_HOST_PREFIX}" "${A_PREFIX}"
  nva_start a a-lan a-wan
  nva_start b b-lan b-wan
  nva_wait_ready a lan wan
  nva_wait_ready b lan wan
}

# ------------------------------------------------------------ queries

# peer_state NAME: the state of NAME's session with the other region.
peer_state() {
  nva_ctl "$1" show bgp summary --json 2>/dev/null |
    jq -r 'first(.peers[] | select(.name == "region-peer") | .state) // "none"' 2>/dev/null
}
established() { [[ "$(peer_state "$1")" == "Established" ]]; }
not_established() { [[ "$(peer_state "$1")" != "Established" ]]; }

# bgp_best_via NAME PREFIX: the next hop of NAME's best BGP path to PREFIX.
bgp_best_via() {
  nva_ctl "$1" show bgp routes --json 2>/dev/null |
    jq -er --arg p "$2" 'first(.routes[] | select(.prefix == $p) | .paths[] | select(.best)) |
      "\(.next_hop) \(.as_path)"' 2>/dev/null
}


# route_via_tunnel NAME PREFIX VIA: `show routes` has PREFIX from BGP, active, via VIA.
route_via_tunnel() {
  nva_ctl "$1" show routes --json 2>/dev/null | jq -e --arg p "$2" --arg v "$3" \
    'first(.[] | select(.prefix == $p)) | .source == "bgp" and .active and .nexthops[0].via == $v' >/dev/null 2>&1
}

tunnel_field() {
  nva_ctl "$1" show tunnels --json | jq -er --arg t "${TUNNEL}" --arg f "$2" '.[] | select(.name == $t) | .[$f]'
}

# unexpected_drops NAME: "reason=count" for every unexpected drop reason
# with packets, and the tunnel's own drops; empty when there are none.
unexpected_drops() {
  local list
  list="$(printf '%s\n' "${UNEXPECTED_DROPS[@]}" | jq -R . | jq -sc .)"
  {
    nva_ctl "$1" show drops --json | jq -r --argjson bad "${list}" \
      '.drops[] | select(.packets > 0 and (.reason as $r | $bad | index($r))) | "\(.reason)=\(.packets)"'
    nva_ctl "$1" show tunnels --json | jq -r --arg t "${TUNNEL}" \
      '.[] | select(.name == $t) | .drops | to_entries[] | select(.key != "neighbor_missing") | "tunnel:\(.key)=\(.value)"'
  } | tr '\n' ' '
}

# kernel_route_via NS PREFIX VIA DEV: isthmusd's kernel mirror (protocol 212).
kernel_route_via() {
  ns_exec "$1" ip route show "$2" proto 212 | grep -q "via $3 dev $4"
}
kernel_route_lacks() { [[ -z "$(ns_exec "$1" ip route show "$2" proto 212)" ]]; }

host_reaches() { ns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# ------------------------------------------------------------ checks

check_session_and_routes() {
  local start=${SECONDS}
  wait_until "${BGP_UP_TIMEOUT_S}" established a || die "a: session with region b not Established: $(peer_state a)"
  wait_until 5 established b || die "b: session with region a not Established: $(peer_state b)"
  check "BGP over the tunnel Established on both sides (AS ${A_ASN} <-> ${B_ASN}, ${A_OVERLAY} <-> ${B_OVERLAY}) after $((SECONDS - start)) s"
  local local_addr
  local_addr="$(nva_ctl a show bgp neighbors region-peer --json | jq -r '.neighbors[0].local_address')"
  assert_eq "${A_OVERLAY}" "${local_addr%:*}" "a: session's local address is its overlay address"
  wait_until "${ROUTE_TIMEOUT_S}" bgp_best_via a "${B_HOST_PREFIX}" || die "a did not learn ${B_HOST_PREFIX}"
  wait_until "${ROUTE_TIMEOUT_S}" bgp_best_via b "${A_PREFIX}" || die "b did not learn ${A_PREFIX}"
  assert_eq "${B_OVERLAY} ${B_ASN}" "$(bgp_best_via a "${B_HOST_PREFIX}")" "a: best path to ${B_HOST_PREFIX} (next hop, AS path)"
  assert_eq "${A_OVERLAY} ${A_ASN}" "$(bgp_best_via b "${A_PREFIX}")" "b: best path to ${A_PREFIX} (next hop, AS path)"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via a "${B_HOST_PREFIX}" "${B_OVERLAY}" ||
    die "a: FIB does not send ${B_HOST_PREFIX} into the tunnel via ${B_OVERLAY}"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via b "${A_PREFIX}" "${A_OVERLAY}" ||
    die "b: FIB does not send ${A_PREFIX} into the tunnel via ${A_OVERLAY}"
  check "FIB: a sends ${B_HOST_PREFIX} and b sends ${A_PREFIX} into tunnel ${TUNNEL} (kind tunnel)"
  route_via_tunnel a "${B_HOST_PREFIX}" "${B_OVERLAY}" || die "a: show routes lacks active BGP ${B_HOST_PREFIX} via ${B_OVERLAY}"
  route_via_tunnel b "${A_PREFIX}" "${A_OVERLAY}" || die "b: show routes lacks active BGP ${A_PREFIX} via ${A_OVERLAY}"
  check "show routes: the BGP routes are active with the peer's overlay address as gateway"
  # The kernel side (issue 4 item 3): the appliance's own kernel reaches the
  # overlay through the tunnel's host interface, and the mirrored BGP route
  # points there too.
  wait_until "${ROUTE_TIMEOUT_S}" kernel_route_via nvaa "${B_HOST_PREFIX}" "${B_OVERLAY}" "${TUNNEL}-a" ||
    die "a: kernel has no mirrored ${B_HOST_PREFIX} via ${B_OVERLAY} dev ${TUNNEL}-a: $(ns_exec nvaa ip route)"
  wait_until "${ROUTE_TIMEOUT_S}" kernel_route_via nvab "${A_PREFIX}" "${A_OVERLAY}" "${TUNNEL}-b" ||
    die "b: kernel has no mirrored ${A_PREFIX} via ${A_OVERLAY} dev ${TUNNEL}-b: $(ns_exec nvab ip route)"
  check "kernel mirrors: each BGP route via the peer's overlay address on the tunnel host interface"
  local out
  out="$(ns_exec nvaa ping -c 2 -i 0.2 -W 1 "${B_OVERLAY}")"
  assert_contains "${out}" "2 received" "a's kernel pings b's overlay address through the tunnel"
  # Policy: only the other region's host prefix is imported, nothing else
  # (e.g. the overlay or the underlay) crosses.
  assert_eq "1" "$(nva_ctl a show bgp summary --json | jq '.peers[0].prefixes_accepted')" "a: prefixes accepted from b"
  assert_eq "1" "$(nva_ctl b show bgp summary --json | jq '.peers[0].prefixes_accepted')" "b: prefixes accepted from a"
}

# start_capture: tshark on the underlay (ul-a), every frame, for
# CAPTURE_SECONDS; its PID in CAPTURE_PID.
start_capture() {
  CAPTURE_PCAP="${TEST_TMP}/underlay.pcap"
  start_bg ul "${TEST_TMP}/tshark.log" tshark -i ul-a -s 256 -a "duration:${CAPTURE_SECONDS}" -w "${CAPTURE_PCAP}"
  CAPTURE_PID=${BG_PID}
  wait_until 10 grep -q "Capturing on" "${TEST_TMP}/tshark.log" || die "tshark did not start on ul-a"
}

check_traffic() {
  # Resolve the first-hop neighbours before counting.
  wait_until 10 host_reaches ha "${HB_ADDR}" || die "host A cannot reach host B (${HB_ADDR}) across the regions"
  start_capture
  local out
  out="$(ns_exec ha ping -c "${PING_COUNT}" -i 0.2 -W 1 "${HB_ADDR}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "ping host A -> host B"
  out="$(ns_exec hb ping -c "${PING_COUNT}" -i 0.2 -W 1 "${HA_ADDR}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "ping host B -> host A"

  start_bg hb "${TEST_TMP}/iperf3.log" iperf3 -s -B "${HB_ADDR}" -p "${IPERF_PORT}"
  wait_until 10 tcp_listening hb "${IPERF_PORT}" || die "iperf3 server did not start on host B"
  local json bytes
  json="$(ns_exec ha timeout 20 iperf3 -c "${HB_ADDR}" -p "${IPERF_PORT}" -t "${IPERF_SECONDS}" -b "${IPERF_RATE}" -J)" ||
    die "iperf3 TCP host A -> host B failed: $(jq -r '.error // empty' <<<"${json}" 2>/dev/null)"
  bytes="$(jq -r '.end.sum_received.bytes' <<<"${json}")"
  assert_ge "${bytes}" "${MIN_TCP_BYTES}" "TCP bytes host A -> host B received (iperf3)"
  json="$(ns_exec ha timeout 20 iperf3 -c "${HB_ADDR}" -p "${IPERF_PORT}" -t "${IPERF_SECONDS}" -b "${IPERF_RATE}" -R -J)" ||
    die "iperf3 TCP host B -> host A failed"
  bytes="$(jq -r '.end.sum_received.bytes' <<<"${json}")"
  assert_ge "${bytes}" "${MIN_TCP_BYTES}" "TCP bytes host B -> host A received (iperf3 -R)"
  wait_until $((CAPTURE_SECONDS + 5)) _it_not_running "${CAPTURE_PID}" || stop_bg "${CAPTURE_PID}" INT 5
}

# check_capture: every IPv4 frame on the underlay is VXLAN (UDP 4789,
# VNI 4242) between the two endpoints; inside it are both hosts and BGP.
check_capture() {
  local fields outer stray
  [[ -s "${CAPTURE_PCAP}" ]] || die "no capture written by tshark"
  # Outer headers: first occurrences; inner: last.
  # ip.proto too: an ICMP error quoting a VXLAN packet (a kernel that also
  # received it and answered) would otherwise pass for VXLAN.
  outer="$(tshark -r "${CAPTURE_PCAP}" -d "udp.port==${VXLAN_PORT},vxlan" -Y ip -T fields -E occurrence=f \
    -e ip.src -e ip.dst -e ip.proto -e udp.dstport -e vxlan.vni 2>/dev/null)"
  [[ -n "${outer}" ]] || die "no IPv4 packet captured on the underlay"
  stray="$(awk -v a="${A_WAN}" -v b="${B_WAN}" -v p="${VXLAN_PORT}" -v vni="${VNI}" \
    '!((($1 == a && $2 == b) || ($1 == b && $2 == a)) && $3 == 17 && $4 == p && $5 == vni)' <<<"${outer}" |
    sort | uniq -c | head -5)"
  assert_eq "" "${stray}" "underlay frames that are not VXLAN VNI ${VNI} between ${A_WAN} and ${B_WAN}"
  check "underlay: $(wc -l <<<"${outer}") IPv4 frames, all VXLAN VNI ${VNI} between the endpoints"
  fields="$(tshark -r "${CAPTURE_PCAP}" -d "udp.port==${VXLAN_PORT},vxlan" -Y vxlan -T fields -E occurrence=l \
    -e ip.src -e ip.dst -e tcp.port 2>/dev/null)"
  grep -q "^${HA_ADDR}	${HB_ADDR}" <<<"${fields}" || die "no host A -> host B packet inside VXLAN in the capture"
  grep -q "^${HB_ADDR}	${HA_ADDR}" <<<"${fields}" || die "no host B -> host A packet inside VXLAN in the capture"
  check "inside VXLAN: host A <-> host B in both directions"
  awk -v a="${A_OVERLAY}" -v b="${B_OVERLAY}" '($1 == a || $1 == b) && ($3 ~ /(^|,)179(,|$)/)' <<<"${fields}" | grep -q . ||
    die "no BGP (TCP 179) between the overlay addresses inside VXLAN in the capture"
  check "inside VXLAN: BGP between ${A_OVERLAY} and ${B_OVERLAY}"
}

# check_pmtu_and_mss: issue 4 item 2. A DF packet too big for the tunnel
# draws ICMP fragmentation-needed with the tunnel MTU (RFC 1191), and the
# MSS of a SYN crossing the tunnel is clamped so TCP never needs that.
check_pmtu_and_mss() {
  local out mss pcap="${TEST_TMP}/syn.pcap" cap
  out="$(ns_exec ha ping -c 3 -i 0.3 -W 1 -M "do" -s $((TUNNEL_MTU + 1 - 28)) "${HB_ADDR}" 2>&1)" || true
  grep -Eq "mtu ?= ?${TUNNEL_MTU}" <<<"${out}" ||
    die "a ${TUNNEL_MTU}+1-byte DF ping got no frag-needed with mtu ${TUNNEL_MTU}: ${out}"
  check "DF packet over the tunnel MTU: ICMP fragmentation needed, mtu ${TUNNEL_MTU}"
  out="$(ns_exec ha ping -c 2 -i 0.3 -W 1 -M "do" -s $((TUNNEL_MTU - 28)) "${HB_ADDR}" 2>&1)"
  assert_contains "${out}" "2 packets transmitted, 2 received" "a ${TUNNEL_MTU}-byte DF ping crosses the tunnel"
  start_bg hb "${TEST_TMP}/syn-capture.log" tshark -i hb0 -a duration:4 -f "tcp[tcpflags] & tcp-syn != 0 and dst port ${IPERF_PORT}" -w "${pcap}"
  cap=${BG_PID}
  sleep 1.5
  ns_exec ha timeout 5 bash -c "exec 3<>/dev/tcp/${HB_ADDR}/${IPERF_PORT}" 2>/dev/null || true
  wait_until 10 _it_not_running "${cap}" || stop_bg "${cap}" INT 5
  mss="$(tshark -r "${pcap}" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.options.mss_val 2>/dev/null | head -1)"
  [[ -n "${mss}" ]] || die "no SYN from host A captured at host B"
  assert_eq "${CLAMPED_MSS}" "${mss}" "SYN at host B: MSS clamped to tunnel MTU - 40 (host A sent 1460)"
}

check_counters() {
  local name field value
  for name in a b; do
    assert_eq "up" "$(tunnel_field "${name}" state)" "${name}: tunnel ${TUNNEL} state"
    for field in encap_packets decap_packets; do
      value="$(tunnel_field "${name}" "${field}")"
      assert_ge "${value}" "$(( ${BASE[${name}.${field}]} + 2 * PING_COUNT ))" \
        "${name}: ${field} rose from ${BASE[${name}.${field}]} (pings + TCP)"
    done
    value="$(unexpected_drops "${name}")"
    [[ -z "${value}" ]] || die "${name}: unexpected drops: ${value}"
    # The first packets into the tunnel wait for the underlay next hop's MAC
    # (dropped as neighbor_missing while the kernel resolves it): a few at
    # most, and nothing else among the tunnel's errors.
    value="$(nva_ctl "${name}" show tunnels --json |
      jq -r --arg t "${TUNNEL}" '.[] | select(.name == $t) | .errors - (.drops.neighbor_missing // 0)')"
    assert_eq "0" "${value}" "${name}: tunnel ${TUNNEL} errors other than neighbor_missing"
    assert_lt "$(nva_ctl "${name}" show tunnels --json |
      jq -r --arg t "${TUNNEL}" '.[] | select(.name == $t) | .drops.neighbor_missing // 0')" "${MAX_WARMUP_DROPS}" \
      "${name}: tunnel ${TUNNEL} neighbor_missing drops (first packets only)"
    check "${name}: no unexpected drops (${#UNEXPECTED_DROPS[@]} reasons checked, and the tunnel's own)"
  done
}

declare -A BASE=()
snapshot_counters() {
  local name field
  for name in a b; do
    for field in encap_packets decap_packets; do
      BASE[${name}.${field}]="$(tunnel_field "${name}" "${field}")" || die "${name}: show tunnels --json failed"
    done
  done
}

check_break_and_restore() {
  info "taking the underlay link ul-b down (region b unreachable)"
  local start=${SECONDS} elapsed
  ns_exec ul ip link set ul-b down || die "cannot take ul-b down"
  ! ns_exec ha ping -c 3 -i 0.3 -W 1 "${HB_ADDR}" >/dev/null 2>&1 || die "host A still reaches host B with the underlay down"
  check "host A no longer reaches host B"
  wait_until "${BGP_DOWN_TIMEOUT_S}" not_established a ||
    die "a: session still Established ${BGP_DOWN_TIMEOUT_S} s after the underlay went down (hold ${HOLD_S} s)"
  elapsed=$((SECONDS - start))
  check "a: session left Established ${elapsed} s after the break (hold time ${HOLD_S} s): $(peer_state a)"
  # The last keepalive arrived at most one keepalive period before the break
  # (whole seconds: one more of slack): an earlier teardown is not the hold timer.
  assert_ge "${elapsed}" "$((HOLD_S - KEEPALIVE_S - 1))" "a: seconds from the break to the teardown"
  local reason
  reason="$(nva_ctl a show bgp neighbors region-peer --json | jq -r '.neighbors[0].last_down_reason')"
  assert_contains "${reason,,}" "hold" "a: session went down on hold timer expiry (last_down_reason: ${reason})"
  wait_until 5 not_established b || die "b: session still Established with the underlay down"
  wait_until "${ROUTE_TIMEOUT_S}" fib_lacks a "${B_HOST_PREFIX}" || die "a: ${B_HOST_PREFIX} still in the FIB"
  wait_until "${ROUTE_TIMEOUT_S}" fib_lacks b "${A_PREFIX}" || die "b: ${A_PREFIX} still in the FIB"
  ! bgp_best_via a "${B_HOST_PREFIX}" >/dev/null || die "a: BGP still has a best path to ${B_HOST_PREFIX}"
  wait_until "${ROUTE_TIMEOUT_S}" kernel_route_lacks nvaa "${B_HOST_PREFIX}" || die "a: kernel still has ${B_HOST_PREFIX}"
  check "learned routes withdrawn from the FIB (and the kernel mirror) on both sides"
  ! host_reaches ha "${HB_ADDR}" || die "host A reaches host B without the route"

  info "bringing the underlay link ul-b back"
  start=${SECONDS}
  ns_exec ul ip link set ul-b up || die "cannot bring ul-b up"
  wait_until "${BGP_UP_TIMEOUT_S}" established a || die "a: session not Established again after the underlay came back"
  wait_until 5 established b || die "b: session not Established again"
  check "session Established again $((SECONDS - start)) s after the underlay came back"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via a "${B_HOST_PREFIX}" "${B_OVERLAY}" || die "a: ${B_HOST_PREFIX} not back in the FIB"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via b "${A_PREFIX}" "${A_OVERLAY}" || die "b: ${A_PREFIX} not back in the FIB"
  check "routes back in both FIBs via the tunnel"
  wait_until 10 host_reaches ha "${HB_ADDR}" || die "host A does not reach host B after the underlay came back"
  local out
  out="$(ns_exec ha ping -c "${PING_COUNT}" -i 0.2 -W 1 "${HB_ADDR}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "ping host A -> host B after restore"
  assert_eq "2" "$(nva_ctl a show bgp neighbors region-peer --json | jq '.neighbors[0].established_transitions')" \
    "a: established transitions (before and after the break)"
}

topo_require_daemon
command -v tshark >/dev/null || skip "tshark not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
case "${IT_DRIVER}" in
  af_xdp | af_packet | pmd) ;;
  *) fail "IT_DRIVER='${IT_DRIVER}': expected af_xdp, af_packet or pmd" ;;
esac
T0=${SECONDS}
build
start_regions
check_session_and_routes
snapshot_counters
check_traffic
check_capture
check_pmtu_and_mss
check_counters
check_break_and_restore
pass "two regions over VXLAN VNI ${VNI} (${IT_DRIVER}): BGP in the tunnel, hosts reach each other, underlay carries only VXLAN, hold-timer teardown and recovery ($((SECONDS - T0)) s)"
