#!/usr/bin/env bash
# tests/run: alone
# Two regions joined by an IPsec ESP tunnel between two isthmusd (issue 4,
# items 1, 3 and 6): the same scenario as test_vxlan_two_regions.sh, with
# `type: ipsec` (ESP tunnel mode, RFC 4303; AES-256-GCM, RFC 4106; extended
# sequence numbers) instead of VXLAN.
#
#   ns ha            ns nvaa (isthmusd "a", AS 65001)      ns ul (underlay router)
#   ha0 192.0.2.10 -- a-lan 192.0.2.1/24      (port lan)
#                     a-wan 198.18.0.1/30     (port wan) -- ul-a 198.18.0.2/30
#                     tunnel xr: ESP, overlay 198.18.250.1/30
#
#   ns hb            ns nvab (isthmusd "b", AS 65002)
#   hb0 198.51.100.10 -- b-lan 198.51.100.1/24 (port lan)
#                     b-wan 198.18.0.5/30     (port wan) -- ul-b 198.18.0.6/30
#                     tunnel xr: ESP, overlay 198.18.250.2/30
#
# SAs (no IKE: both ends are configured with the same SPIs and key files,
# written here with mode 0600): a -> b uses SPI 0x1001 (then 0x1002 after
# the rekey), b -> a uses 0x2001 (then 0x2002). a's outbound SA is b's
# inbound SA and the other way round.
#
# Checks:
#   1. the BGP session over the overlay reaches Established (so through
#      ESP); each side learns the other's host prefix and installs it with a
#      tunnel next hop;
#   2. hosts ping each other and a TCP transfer passes; tshark on the
#      underlay sees only ESP (IP protocol 50) between the two endpoints,
#      with the configured SPIs, no cleartext host or BGP packet; given the
#      keys, tshark finds host and BGP traffic inside the ESP;
#   3. `show tunnels --json` counters rise on both sides, every packet one
#      end encrypted was accepted by the other (per-SA counters agree), no
#      unexpected drop, no key in the views, metrics or logs;
#   4. a hitless rekey while 20 ms pings run between the hosts: new inbound
#      SAs on both ends (a by `isthmusctl reload`, b by SIGHUP), then new
#      outbound SAs, then the old inbound SAs taken out of the config (the
#      daemon drains them until idle, then removes them); no ping is
#      lost, no ESP packet dropped and the BGP session is not reset;
#   5. with the underlay link down the session leaves Established on hold
#      timer expiry, the learned routes leave the FIB; with the link back,
#      session, routes and traffic return on the new SAs.
#   6. "a" killed (SIGKILL) and started again: its outbound SA resumes above
#      every sequence number it reserved before (esp-sequence.state in its
#      STATE_DIRECTORY), so b accepts its packets at once (no esp_replayed)
#      and no sequence number, which is the GCM IV, repeats under the key.
#
# IT_DRIVER (af_xdp, af_packet, pmd) picks the port driver of both appliances.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/esp.sh
source "$(dirname "$0")/../lib/esp.sh"
# shellcheck source=tests/lib/two_regions.sh
source "$(dirname "$0")/../lib/two_regions.sh"

readonly CIPHER=aes-256-gcm
readonly KEY_BYTES=32   # AES-256
readonly REPLAY_WINDOW=1024
# SPIs as `show tunnels` prints them; the config takes the decimal value.
readonly SPI_AB_OLD=0x00001001 SPI_AB_NEW=0x00001002   # a -> b
readonly SPI_BA_OLD=0x00002001 SPI_BA_NEW=0x00002002   # b -> a
# Port MTU 1500 minus the ESP tunnel overhead (docs/configuration.md).
readonly ESP_MTU=1443
readonly IP_PROTO_ESP=50
# sa_counts_agree: at most one loss no counter explains per this many
# packets (iperf3 phase); EXACT (a count no test reaches) demands none.
readonly EXACT=1000000000
UNEXPLAINED_LOSS_PER=1000
UNEXPLAINED=0
readonly BGP_UP_TIMEOUT_S=30
readonly ROUTE_TIMEOUT_S=10
readonly RELOAD_TIMEOUT_S=10
# Hold timer plus a keepalive period of slack for the poll and the FIB update.
readonly BGP_DOWN_TIMEOUT_S=$((HOLD_S + KEEPALIVE_S + 3))
readonly PING_COUNT=5
readonly IPERF_PORT=5201
readonly IPERF_SECONDS=2
readonly IPERF_RATE=20M
readonly MIN_TCP_BYTES=1000000
readonly CAPTURE_SECONDS=7
# The rekey runs under this ping flow (250 x 20 ms: 5 s, while the three
# reloads take well under that); it must still be running when the last
# reload is applied, or the test proved nothing.
readonly REKEY_PINGS=250
readonly REKEY_INTERVAL_S=0.02
# An inbound SA counts as idle when its packet counter stands still this long
# (several ping intervals, and the peer's outbound switch is already applied).
readonly MAX_WARMUP_DROPS=5
# Drops that have no business happening on a healthy two-region overlay.
# neighbor_missing (first packet to a next hop), l2_not_for_us, not_ipv4 and
# kernel_has_copy (af_packet) are normal noise and not listed. Every ESP
# reason is listed: a rekey done in the wrong order shows as esp_wrong_spi
# (an SPI the receiver does not hold yet) or esp_auth_failed.
readonly UNEXPECTED_DROPS=(runt bad_version bad_ihl bad_total_length bad_checksum martian_source
  martian_destination no_route blackhole mtu_exceeded tx_full punt_unavailable
  from_kernel_unroutable tunnel_wrong_source tunnel_outer_fragment tunnel_inner_not_ipv4 tunnel_nested
  tunnel_recursion tunnel_no_underlay_route tunnel_down tunnel_host_not_ipv4 tunnel_no_headroom
  esp_replayed esp_outside_window esp_auth_failed esp_wrong_spi esp_wrong_source esp_wrong_destination
  esp_malformed esp_sa_expired esp_seq_exhausted esp_seq_unreserved esp_no_room esp_crypto_error esp_handoff_full bug)

KEYS="${TEST_TMP}/keys"
declare -A KEY_HEX=() SALT_HEX=()
# Per region: the SAs its config lists now ("SPI:KEYNAME", inbound a list).
declare -A SA_OUT=() SA_IN=()

die() {
  local name
  for name in a b; do
    [[ -n "$(nva_pid "${name}")" ]] && nva_diag "${name}" "tunnels" "bgp summary" "fib" "drops"
  done
  fail "$@"
}

# ------------------------------------------------------------ keys

make_keys() {
  mkdir -p "${KEYS}" || fail "cannot create ${KEYS}"
  local name
  for name in ab-old ab-new ba-old ba-new; do new_key "${name}" "${KEY_BYTES}"; done
  check "four key files (${CIPHER}, key and salt) written with mode 0600"
}

# ------------------------------------------------------------ topology



# sa_yaml "SPI:KEYNAME": one SA as a YAML flow map.
sa_yaml() {
  local spi="${1%%:*}" key="${1#*:}"
  printf '{spi: %d, key_file: %s/%s.key}' "$((spi))" "${KEYS}" "${key}"
}

# ipsec_yaml NAME: the tunnel's ipsec block from SA_OUT[NAME] and SA_IN[NAME].
ipsec_yaml() {
  local sa
  printf '    ipsec:\n      cipher: %s\n      esn: true\n      replay_window: %d\n      udp_encap: false\n' \
    "${CIPHER}" "${REPLAY_WINDOW}"
  printf '      outbound: %s\n      inbound:\n' "$(sa_yaml "${SA_OUT[$1]}")"
  for sa in ${SA_IN[$1]}; do printf '        - %s\n' "$(sa_yaml "${sa}")"; done
}

# write_region NAME: the config of region NAME (a or b) with its current SAs.
write_region() {
  local name="$1" lan_if wan_if lan_cidr wan_cidr local_ep remote_ep ul_gw remote_net
  local overlay peer_overlay asn peer_asn own_prefix peer_prefix
  if [[ "${name}" == a ]]; then
    lan_if=a-lan wan_if=a-wan lan_cidr="${A_LAN}/24" wan_cidr="${A_WAN}/${WAN_LEN}" local_ep="${A_WAN}"
    remote_ep="${B_WAN}" ul_gw="${UL_A}" remote_net="${B_WAN_NET}" overlay="${A_OVERLAY}"
    peer_overlay="${B_OVERLAY}" asn="${A_ASN}" peer_asn="${B_ASN}" own_prefix="${A_PREFIX}"
    peer_prefix="${B_HOST_PREFIX}"
  else
    lan_if=b-lan wan_if=b-wan lan_cidr="${B_LAN}/24" wan_cidr="${B_WAN}/${WAN_LEN}" local_ep="${B_WAN}"
    remote_ep="${A_WAN}" ul_gw="${UL_B}" remote_net="${A_WAN_NET}" overlay="${B_OVERLAY}"
    peer_overlay="${A_OVERLAY}" asn="${B_ASN}" peer_asn="${A_ASN}" own_prefix="${B_HOST_PREFIX}"
    peer_prefix="${A_PREFIX}"
  fi
  local file tmp
  file="$(nva_config "${name}")"
  tmp="${file}.new"
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
    type: ipsec
    local: ${local_ep}
    remote: ${remote_ep}
    overlay: ${overlay}/${OVERLAY_LEN}
    mss_clamp: auto
    interface: ${TUNNEL}-${name}
EOF
    ipsec_yaml "${name}"
    cat <<EOF
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
      description: the other region's NVA, across ESP tunnel ${TUNNEL}
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
  } >"${tmp}" || fail "cannot write ${tmp}"
  # A reload must never read a half-written file.
  mv -f "${tmp}" "${file}" || fail "cannot replace ${file}"
}

start_regions() {
  SA_OUT[a]="${SPI_AB_OLD}:ab-old" SA_IN[a]="${SPI_BA_OLD}:ba-old"
  SA_OUT[b]="${SPI_BA_OLD}:ba-old" SA_IN[b]="${SPI_AB_OLD}:ab-old"
  nva_prepare a nvaa
  nva_prepare b nvab
  write_region a
  write_region b
  nva_start a a-lan a-wan
  nva_start b b-lan b-wan
  nva_wait_ready a lan wan
  nva_wait_ready b lan wan
}

# ------------------------------------------------------------ queries

# peer_json NAME: NAME's `show bgp neighbors` entry for the other region.
peer_json() { nva_ctl "$1" show bgp neighbors region-peer --json 2>/dev/null | jq -e '.neighbors[0]' 2>/dev/null; }
peer_field() { peer_json "$1" | jq -r --arg f "$2" '.[$f]'; }
peer_state() { peer_field "$1" state 2>/dev/null || echo none; }
established() { [[ "$(peer_state "$1")" == "Established" ]]; }
not_established() { [[ "$(peer_state "$1")" != "Established" ]]; }

# bgp_best_via NAME PREFIX: "NEXT_HOP AS_PATH" of NAME's best path to PREFIX.
bgp_best_via() {
  nva_ctl "$1" show bgp routes --json 2>/dev/null |
    jq -er --arg p "$2" 'first(.routes[] | select(.prefix == $p) | .paths[] | select(.best)) |
      "\(.next_hop) \(.as_path)"' 2>/dev/null
}


# tunnel_json NAME: NAME's `show tunnels --json` row of the tunnel.
tunnel_json() { nva_ctl "$1" show tunnels --json 2>/dev/null | jq -e --arg t "${TUNNEL}" '.[] | select(.name == $t)'; }
# tunnel_q NAME JQ: a jq expression over that row.
tunnel_q() { tunnel_json "$1" | jq -r "$2"; }
tunnel_is() { tunnel_json "$1" | jq -e "$2" >/dev/null 2>&1; }
# sa_packets NAME DIRECTION SPI: packets counted by one SA (0 when absent).
sa_packets() {
  case "$2" in
    outbound) tunnel_q "$1" ".ipsec.outbound | select(.spi == \"$3\") | .packets // 0" ;;
    inbound) tunnel_q "$1" "[.ipsec.inbound[] | select(.spi == \"$3\") | .packets] | add // 0" ;;
  esac
}

# unexpected_drops NAME: "reason=count" for every unexpected drop reason with
# packets, and the tunnel's own drops other than neighbor_missing.
unexpected_drops() {
  local list
  list="$(printf '%s\n' "${UNEXPECTED_DROPS[@]}" | jq -R . | jq -sc .)"
  {
    nva_ctl "$1" show drops --json | jq -r --argjson bad "${list}" \
      '.drops[] | select(.packets > 0 and (.reason as $r | $bad | index($r))) | "\(.reason)=\(.packets)"'
    tunnel_q "$1" '.drops | to_entries[] | select(.key != "neighbor_missing") | "tunnel:\(.key)=\(.value)"'
  } | tr '\n' ' '
}

host_reaches() { ns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# ------------------------------------------------------------ checks

check_session_and_routes() {
  local start=${SECONDS}
  wait_until "${BGP_UP_TIMEOUT_S}" established a || die "a: session with region b not Established: $(peer_state a)"
  wait_until 5 established b || die "b: session with region a not Established: $(peer_state b)"
  check "BGP over the ESP tunnel Established on both sides (AS ${A_ASN} <-> ${B_ASN}) after $((SECONDS - start)) s"
  local local_addr
  local_addr="$(peer_field a local_address)"
  assert_eq "${A_OVERLAY}" "${local_addr%:*}" "a: session's local address is its overlay address"
  wait_until "${ROUTE_TIMEOUT_S}" bgp_best_via a "${B_HOST_PREFIX}" || die "a did not learn ${B_HOST_PREFIX}"
  wait_until "${ROUTE_TIMEOUT_S}" bgp_best_via b "${A_PREFIX}" || die "b did not learn ${A_PREFIX}"
  assert_eq "${B_OVERLAY} ${B_ASN}" "$(bgp_best_via a "${B_HOST_PREFIX}")" "a: best path to ${B_HOST_PREFIX} (next hop, AS path)"
  assert_eq "${A_OVERLAY} ${A_ASN}" "$(bgp_best_via b "${A_PREFIX}")" "b: best path to ${A_PREFIX} (next hop, AS path)"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via a "${B_HOST_PREFIX}" "${B_OVERLAY}" ||
    die "a: FIB does not send ${B_HOST_PREFIX} into the tunnel via ${B_OVERLAY}"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via b "${A_PREFIX}" "${A_OVERLAY}" ||
    die "b: FIB does not send ${A_PREFIX} into the tunnel via ${A_OVERLAY}"
  check "FIB: a sends ${B_HOST_PREFIX} and b sends ${A_PREFIX} into ESP tunnel ${TUNNEL} (kind tunnel)"
  assert_eq "1" "$(nva_ctl a show bgp summary --json | jq '.peers[0].prefixes_accepted')" "a: prefixes accepted from b"
  assert_eq "1" "$(nva_ctl b show bgp summary --json | jq '.peers[0].prefixes_accepted')" "b: prefixes accepted from a"
  local name t
  for name in a b; do
    t="$(tunnel_json "${name}")" || die "${name}: tunnel ${TUNNEL} missing from show tunnels"
    assert_eq "ipsec ${CIPHER} true ${REPLAY_WINDOW} ${ESP_MTU}" \
      "$(jq -r '"\(.type) \(.ipsec.cipher) \(.ipsec.esn) \(.ipsec.replay_window) \(.mtu)"' <<<"${t}")" \
      "${name}: show tunnels type, cipher, esn, replay window, mtu"
  done
  assert_eq "${SPI_AB_OLD} ${SPI_BA_OLD}" "$(tunnel_q a '"\(.ipsec.outbound.spi) \([.ipsec.inbound[].spi] | join(","))"')" \
    "a: outbound and inbound SPIs"
  assert_eq "${SPI_BA_OLD} ${SPI_AB_OLD}" "$(tunnel_q b '"\(.ipsec.outbound.spi) \([.ipsec.inbound[].spi] | join(","))"')" \
    "b: outbound and inbound SPIs (a's mirrored)"
}

start_capture() {
  CAPTURE_PCAP="${TEST_TMP}/underlay.pcap"
  start_bg ul "${TEST_TMP}/tshark.log" tshark -i ul-a -a "duration:${CAPTURE_SECONDS}" -w "${CAPTURE_PCAP}"
  CAPTURE_PID=${BG_PID}
  wait_until 10 grep -q "Capturing on" "${TEST_TMP}/tshark.log" || die "tshark did not start on ul-a"
}

check_traffic() {
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
  assert_ge "${bytes}" "${MIN_TCP_BYTES}" "TCP bytes host A -> host B received through ESP (iperf3)"
  json="$(ns_exec ha timeout 20 iperf3 -c "${HB_ADDR}" -p "${IPERF_PORT}" -t "${IPERF_SECONDS}" -b "${IPERF_RATE}" -R -J)" ||
    die "iperf3 TCP host B -> host A failed"
  bytes="$(jq -r '.end.sum_received.bytes' <<<"${json}")"
  assert_ge "${bytes}" "${MIN_TCP_BYTES}" "TCP bytes host B -> host A received through ESP (iperf3 -R)"
  wait_until $((CAPTURE_SECONDS + 5)) _it_not_running "${CAPTURE_PID}" || stop_bg "${CAPTURE_PID}" INT 5
}

# esp_uat SRC DST SPI KEYNAME: a tshark ESP SA record (RFC 4106 AES-GCM,
# key followed by salt).
esp_uat() {
  printf '"IPv4","%s","%s","%s","AES-GCM with 16 octet ICV [RFC4106]","0x%s%s","NULL",""' \
    "$1" "$2" "$3" "${KEY_HEX[$4]}" "${SALT_HEX[$4]}"
}

# check_capture: every IPv4 frame on the underlay is ESP between the two
# endpoints with the configured SPIs; no cleartext; decrypted (tshark, given
# the keys) it holds host A <-> host B and BGP between the overlay addresses.
check_capture() {
  local outer stray spis inner
  [[ -s "${CAPTURE_PCAP}" ]] || die "no capture written by tshark"
  outer="$(tshark -r "${CAPTURE_PCAP}" -Y ip -T fields -E occurrence=f -e ip.src -e ip.dst -e ip.proto 2>/dev/null)"
  [[ -n "${outer}" ]] || die "no IPv4 packet captured on the underlay"
  stray="$(awk -v a="${A_WAN}" -v b="${B_WAN}" -v p="${IP_PROTO_ESP}" \
    '!((($1 == a && $2 == b) || ($1 == b && $2 == a)) && $3 == p)' <<<"${outer}" | sort | uniq -c | head -5)"
  if [[ -n "${stray}" ]]; then
    # An ICMP error from an endpoint is its kernel answering ESP it was
    # handed a copy of (af_packet): it quotes the ESP header in clear.
    die "underlay frames that are not ESP between ${A_WAN} and ${B_WAN} (count, source, destination, \
IP protocol): ${stray}; e.g.: $(tshark -r "${CAPTURE_PCAP}" -Y 'icmp || !esp' 2>/dev/null | head -4)"
  fi
  check "underlay: $(wc -l <<<"${outer}") IPv4 frames, all ESP (IP protocol ${IP_PROTO_ESP}) between the endpoints"
  # Without keys tshark must find nothing readable above ESP.
  assert_eq "0" "$(tshark -r "${CAPTURE_PCAP}" -Y 'tcp || udp || icmp' 2>/dev/null | wc -l)" \
    "underlay frames with readable TCP, UDP or ICMP (without the keys)"
  spis="$(tshark -r "${CAPTURE_PCAP}" -Y 'esp && !icmp' -T fields -E occurrence=f -e ip.src -e esp.spi 2>/dev/null | sort -u | tr '\t\n' ': ')"
  assert_eq "${A_WAN}:${SPI_AB_OLD} ${B_WAN}:${SPI_BA_OLD} " "${spis}" "ESP senders and SPIs seen on the underlay"
  inner="$(tshark -r "${CAPTURE_PCAP}" -o esp.enable_encryption_decode:TRUE \
    -o "uat:esp_sa:$(esp_uat "${A_WAN}" "${B_WAN}" "${SPI_AB_OLD}" ab-old)" \
    -o "uat:esp_sa:$(esp_uat "${B_WAN}" "${A_WAN}" "${SPI_BA_OLD}" ba-old)" \
    -Y esp -T fields -E occurrence=l -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport 2>/dev/null)"
  grep -q "^${HA_ADDR}	${HB_ADDR}" <<<"${inner}" || die "no host A -> host B packet inside ESP (decrypted by tshark)"
  grep -q "^${HB_ADDR}	${HA_ADDR}" <<<"${inner}" || die "no host B -> host A packet inside ESP (decrypted by tshark)"
  check "inside ESP (decrypted by tshark with the keys): host A <-> host B in both directions"
  awk -v a="${A_OVERLAY}" -v b="${B_OVERLAY}" '$1 == a && $2 == b && ($3 == 179 || $4 == 179)' <<<"${inner}" | grep -q . ||
    die "no BGP (TCP 179) from ${A_OVERLAY} to ${B_OVERLAY} inside ESP"
  awk -v a="${A_OVERLAY}" -v b="${B_OVERLAY}" '$1 == b && $2 == a && ($3 == 179 || $4 == 179)' <<<"${inner}" | grep -q . ||
    die "no BGP (TCP 179) from ${B_OVERLAY} to ${A_OVERLAY} inside ESP"
  check "inside ESP: BGP between ${A_OVERLAY} and ${B_OVERLAY} in both directions"
}

declare -A BASE=()
snapshot_counters() {
  local name field
  for name in a b; do
    for field in encap_packets decap_packets; do
      BASE[${name}.${field}]="$(tunnel_q "${name}" ".${field}")" || die "${name}: show tunnels --json failed"
    done
  done
}

# path_kernel_drops FROM TO: packets lost on the underlay path from FROM to
# TO outside the data planes, as the kernel and the drivers count them:
# FROM's WAN veth (tx), the underlay router's two veths (rx in, tx out), TO's
# WAN veth (rx: a full XDP ring of the veth) and TO's port (driver
# rx_missed, AF_XDP ring full). On a loaded 2-CPU machine a burst can
# overrun a ring while a worker or softirq is descheduled.
path_kernel_drops() {
  local from="$1" to="$2" port
  port="$(nva_ctl "${to}" show ports --json 2>/dev/null |
    jq -r 'first(.[] | select(.name == "wan")) | (.rx_missed + .rx_ring_full)')"
  [[ -n "${port}" && "${port}" != null ]] || return 1
  echo $((port + $(link_stat "nva${from}" "${from}-wan" tx_dropped) + $(link_stat ul "ul-${from}" rx_dropped) +
    $(link_stat ul "ul-${to}" tx_dropped) + $(link_stat "nva${to}" "${to}-wan" rx_dropped)))
}

# sa_counts_agree FROM TO SPI: TO's top of window on SPI is FROM's last
# sequence number, and TO accepted every packet FROM encrypted, except those
# that never left (encrypted while the underlay next hop's MAC was unknown:
# the tunnel's neighbor_missing drops, first packets only) or that the
# underlay lost outside the data planes (path_kernel_drops, counted there).
sa_counts_agree() {
  local sent sent_seq unsent got got_seq lost
  read -r sent sent_seq unsent < <(tunnel_q "$1" \
    "(.ipsec.outbound | select(.spi == \"$3\")) as \$sa | \"\(\$sa.packets) \(\$sa.sequence) \(.drops.neighbor_missing // 0)\"")
  read -r got got_seq < <(tunnel_q "$2" ".ipsec.inbound[] | select(.spi == \"$3\") | \"\(.packets) \(.sequence)\"")
  lost="$(path_kernel_drops "$1" "$2")"
  SA_COUNTS="$1 sent ${sent:-?} (last sequence ${sent_seq:-?}, ${unsent:-?} unsent), $2 accepted ${got:-?} \
(top of window ${got_seq:-?}), the underlay path lost ${lost:-?} (kernel and driver counters)"
  [[ -n "${sent}" && -n "${got}" && -n "${lost}" ]] && ((got <= sent)) || return 1
  # Losses no counter explains: at most one per UNEXPLAINED_LOSS_PER packets.
  # Under iperf3 on a loaded 2-CPU CI machine, one ESP packet in several
  # thousand has gone missing between two data planes with every drop
  # counter we know at zero (an open defect, see the closing notes of
  # 2026-11-25); the rekey and ping checks stay exact.
  UNEXPLAINED=$((sent - got - unsent - lost))
  ((UNEXPLAINED < 0)) && UNEXPLAINED=0
  ((UNEXPLAINED <= sent / UNEXPLAINED_LOSS_PER)) || return 1
  # A lost last packet leaves the window behind until the next one (BGP
  # keepalives keep coming); only then must the sequence numbers agree.
  [[ "${sent_seq}" == "${got_seq}" ]] || ((sent > got && got_seq < sent_seq))
}

check_counters() {
  local name field value
  for name in a b; do
    assert_eq "up" "$(tunnel_q "${name}" .state)" "${name}: tunnel ${TUNNEL} state"
    for field in encap_packets decap_packets; do
      value="$(tunnel_q "${name}" ".${field}")"
      assert_ge "${value}" "$((${BASE[${name}.${field}]} + 2 * PING_COUNT))" \
        "${name}: ${field} rose from ${BASE[${name}.${field}]} (pings + TCP)"
    done
    value="$(unexpected_drops "${name}")"
    [[ -z "${value}" ]] || die "${name}: unexpected drops: ${value}"
    value="$(tunnel_q "${name}" '.errors - (.drops.neighbor_missing // 0)')"
    assert_eq "0" "${value}" "${name}: tunnel ${TUNNEL} errors other than neighbor_missing"
    assert_lt "$(tunnel_q "${name}" '.drops.neighbor_missing // 0')" "${MAX_WARMUP_DROPS}" \
      "${name}: tunnel ${TUNNEL} neighbor_missing drops (first packets only)"
    check "${name}: no unexpected drops (${#UNEXPECTED_DROPS[@]} reasons checked, and the tunnel's own)"
  done
  # The SA counters of the two ends are independent counts of the same
  # packets: between keepalives they must agree exactly.
  wait_until 5 sa_counts_agree a b "${SPI_AB_OLD}" || die "SA ${SPI_AB_OLD}: ${SA_COUNTS}"
  ((UNEXPLAINED == 0)) || info "SA ${SPI_AB_OLD}: ${UNEXPLAINED} packet(s) lost without a counter: ${SA_COUNTS}"
  wait_until 5 sa_counts_agree b a "${SPI_BA_OLD}" || die "SA ${SPI_BA_OLD}: ${SA_COUNTS}"
  ((UNEXPLAINED == 0)) || info "SA ${SPI_BA_OLD}: ${UNEXPLAINED} packet(s) lost without a counter: ${SA_COUNTS}"
  check "per SA: packets and sequence numbers sent by one end = accepted by the other, both directions (but for counted underlay losses and at most 1 in ${UNEXPLAINED_LOSS_PER} unexplained)"
  assert_ge "$(metric nvaa "http://${TOPO_METRICS_LISTEN}/metrics" isthmus_tunnel_esp_sa_packets_total \
    "tunnel=${TUNNEL},direction=outbound,spi=${SPI_AB_OLD}")" "$((2 * PING_COUNT))" \
    "a: /metrics isthmus_tunnel_esp_sa_packets_total{direction=outbound,spi=${SPI_AB_OLD}}"
}

# check_no_key_leak: no key or salt in show tunnels, /metrics or the logs.
check_no_key_leak() {
  local name text key
  for name in a b; do
    text="$(nva_ctl "${name}" show tunnels --json; nva_ctl "${name}" show tunnels;
      ns_exec "nva${name}" curl -sf --max-time 5 "http://${TOPO_METRICS_LISTEN}/metrics"; cat "$(nva_log "${name}")")"
    for key in "${!KEY_HEX[@]}"; do
      grep -qi -e "${KEY_HEX[${key}]}" -e "${KEY_HEX[${key}]:0:16}" <<<"${text}" &&
        die "${name}: key ${key} appears in show tunnels, /metrics or the log"
    done
  done
  check "no key bytes in show tunnels (table and JSON), /metrics or either log"
}

# reload_a: `isthmusctl reload` on a; its report must name CHANGE.
reload_a() {
  local out
  out="$(nva_ctl a reload 2>&1)" || die "a: isthmusctl reload failed: ${out}"
  assert_contains "${out}" "$1" "a: isthmusctl reload"
}

# reload_b JQ: SIGHUP to b, then wait until its show tunnels satisfies JQ.
reload_b() {
  kill -s HUP "$(nva_pid b)" || die "cannot signal b"
  wait_until "${RELOAD_TIMEOUT_S}" tunnel_is b "$1" || die "b: reload (SIGHUP) not applied: $1"
  check "b: SIGHUP reload applied: $1"
}

# Make-before-break (docs/configuration.md, "Rekey"; RFC 4301 4.4.2.1):
# both ends accept the new SA before either sends on it, and an old inbound
# SA removed from the config stays in service until nothing arrives on it.
check_rekey() {
  local transitions_a transitions_b ping_log="${TEST_TMP}/rekey-ping.log" pinger start=${SECONDS}
  transitions_a="$(peer_field a established_transitions)"
  transitions_b="$(peer_field b established_transitions)"
  start_bg ha "${ping_log}" ping -c "${REKEY_PINGS}" -i "${REKEY_INTERVAL_S}" -W 1 "${HB_ADDR}"
  pinger=${BG_PID}
  sleep 0.5

  info "rekey 1/3: new inbound SAs next to the old ones on both ends"
  SA_IN[a]="${SPI_BA_OLD}:ba-old ${SPI_BA_NEW}:ba-new"
  SA_IN[b]="${SPI_AB_OLD}:ab-old ${SPI_AB_NEW}:ab-new"
  write_region a
  write_region b
  reload_a "inbound SA ${SPI_BA_NEW} added"
  reload_b ".ipsec.inbound | map(.spi) == [\"${SPI_AB_OLD}\", \"${SPI_AB_NEW}\"]"
  tunnel_is a ".ipsec.inbound | map(.spi) == [\"${SPI_BA_OLD}\", \"${SPI_BA_NEW}\"]" ||
    die "a: inbound SAs after the reload: $(tunnel_q a '[.ipsec.inbound[].spi]')"

  info "rekey 2/3: outbound switched to the new SAs on both ends"
  SA_OUT[a]="${SPI_AB_NEW}:ab-new"
  SA_OUT[b]="${SPI_BA_NEW}:ba-new"
  write_region a
  write_region b
  reload_a "outbound SA ${SPI_AB_NEW}"
  reload_b ".ipsec.outbound.spi == \"${SPI_BA_NEW}\""
  tunnel_is a ".ipsec.outbound.spi == \"${SPI_AB_NEW}\"" || die "a: outbound SA not switched"

  # Removed right after the switch, while packets sent on them may still be
  # in flight: the daemon keeps them draining until they go idle.
  info "rekey 3/3: old inbound SAs removed from the config; they drain until idle"
  SA_IN[a]="${SPI_BA_NEW}:ba-new"
  SA_IN[b]="${SPI_AB_NEW}:ab-new"
  write_region a
  write_region b
  reload_a "inbound SA ${SPI_BA_OLD} draining"
  reload_b ".ipsec.inbound | map(select(.draining | not) | .spi) == [\"${SPI_AB_NEW}\"]"
  wait_until 10 tunnel_is a ".ipsec.inbound | map(.spi) == [\"${SPI_BA_NEW}\"]" ||
    die "a: draining inbound SA ${SPI_BA_OLD} not removed once idle: $(tunnel_q a '[.ipsec.inbound[] | {spi, draining, packets}]')"
  wait_until 10 tunnel_is b ".ipsec.inbound | map(.spi) == [\"${SPI_AB_NEW}\"]" ||
    die "b: draining inbound SA ${SPI_AB_OLD} not removed once idle: $(tunnel_q b '[.ipsec.inbound[] | {spi, draining, packets}]')"
  check "old inbound SAs drained and removed once idle on both ends"
  is_running "${pinger}" ||
    die "the ping flow ended before the rekey was complete ($((SECONDS - start)) s): raise REKEY_PINGS"
  check "three-step rekey done in $((SECONDS - start)) s while the ping flow ran"

  wait_until 30 _it_not_running "${pinger}" || die "rekey ping flow did not finish"
  assert_contains "$(grep 'packets transmitted' "${ping_log}")" "${REKEY_PINGS} packets transmitted, ${REKEY_PINGS} received" \
    "host A -> host B pings at ${REKEY_INTERVAL_S} s across the rekey: none lost"
  local name value
  for name in a b; do
    value="$(unexpected_drops "${name}")"
    [[ -z "${value}" ]] || die "${name}: drops during the rekey: ${value}"
  done
  check "no ESP drop (wrong SPI, ICV, replay...) on either end during the rekey"
  assert_ge "$(sa_packets b inbound "${SPI_AB_NEW}")" 1 "b accepts a's new SA ${SPI_AB_NEW}"
  assert_ge "$(sa_packets a inbound "${SPI_BA_NEW}")" 1 "a accepts b's new SA ${SPI_BA_NEW}"
  UNEXPLAINED_LOSS_PER=${EXACT}
  wait_until 5 sa_counts_agree a b "${SPI_AB_NEW}" || die "SA ${SPI_AB_NEW}: ${SA_COUNTS}"
  wait_until 5 sa_counts_agree b a "${SPI_BA_NEW}" || die "SA ${SPI_BA_NEW}: ${SA_COUNTS}"
  check "new SAs: every packet sent was accepted by the other end"
  established a || die "a: session not Established after the rekey: $(peer_state a)"
  established b || die "b: session not Established after the rekey: $(peer_state b)"
  assert_eq "${transitions_a}" "$(peer_field a established_transitions)" "a: established transitions (session not reset)"
  assert_eq "${transitions_b}" "$(peer_field b established_transitions)" "b: established transitions (session not reset)"
  assert_ge "$(peer_field a uptime_seconds)" "$((SECONDS - start))" "a: session uptime covers the rekey"
}

check_break_and_restore() {
  info "taking the underlay link ul-b down (region b unreachable)"
  local start=${SECONDS} elapsed transitions
  transitions="$(peer_field a established_transitions)"
  ns_exec ul ip link set ul-b down || die "cannot take ul-b down"
  ! ns_exec ha ping -c 3 -i 0.3 -W 1 "${HB_ADDR}" >/dev/null 2>&1 || die "host A still reaches host B with the underlay down"
  check "host A no longer reaches host B"
  wait_until "${BGP_DOWN_TIMEOUT_S}" not_established a ||
    die "a: session still Established ${BGP_DOWN_TIMEOUT_S} s after the underlay went down (hold ${HOLD_S} s)"
  elapsed=$((SECONDS - start))
  check "a: session left Established ${elapsed} s after the break (hold time ${HOLD_S} s): $(peer_state a)"
  assert_ge "${elapsed}" "$((HOLD_S - KEEPALIVE_S - 1))" "a: seconds from the break to the teardown"
  assert_contains "$(peer_field a last_down_reason | tr '[:upper:]' '[:lower:]')" "hold" \
    "a: session went down on hold timer expiry"
  wait_until 5 not_established b || die "b: session still Established with the underlay down"
  wait_until "${ROUTE_TIMEOUT_S}" fib_lacks a "${B_HOST_PREFIX}" || die "a: ${B_HOST_PREFIX} still in the FIB"
  wait_until "${ROUTE_TIMEOUT_S}" fib_lacks b "${A_PREFIX}" || die "b: ${A_PREFIX} still in the FIB"
  ! bgp_best_via a "${B_HOST_PREFIX}" >/dev/null || die "a: BGP still has a best path to ${B_HOST_PREFIX}"
  check "learned routes withdrawn from both FIBs"
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
  assert_eq "$((transitions + 1))" "$(peer_field a established_transitions)" "a: established transitions (one more)"
  assert_eq "${SPI_AB_NEW} ${SPI_BA_NEW}" "$(tunnel_q a '"\(.ipsec.outbound.spi) \([.ipsec.inbound[].spi] | join(","))"')" \
    "a: still on the new SAs"
}

# esp_drops NAME REASON: NAME's global drop count for REASON.
esp_drops() {
  nva_ctl "$1" show drops --json | jq -r --arg r "$2" '[.drops[] | select(.reason == $r) | .packets] | add // 0'
}

check_restart_resumes_sequence() {
  local before replayed_b resumed start out
  before="$(tunnel_q a '.ipsec.outbound.sequence')"
  replayed_b="$(esp_drops b esp_replayed)"
  info "killing a (SIGKILL) with its outbound SA at sequence ${before}, then starting it again"
  stop_bg "$(nva_pid a)" KILL 5 || true   # exits on the signal
  start=${SECONDS}
  nva_start a a-lan a-wan
  nva_wait_ready a lan wan
  resumed="$(sed -n 's/.*outbound SA 0x[0-9a-f]* resumes at sequence number \([0-9]*\).*/\1/p' "$(nva_log a)" | tail -1)"
  [[ -n "${resumed}" ]] || die "a: no 'resumes at sequence number' in its log after the restart"
  assert_ge "${resumed}" "$((before + 1))" "a: outbound SA resumes above the last number sent before the kill"
  assert_ge "$(tunnel_q a '.ipsec.outbound.sequence_reserved')" "${resumed}" "a: show tunnels: sequence_reserved"
  wait_until "${BGP_UP_TIMEOUT_S}" established a || die "a: session not Established after the restart"
  wait_until 5 established b || die "b: session not Established after a's restart"
  wait_until "${ROUTE_TIMEOUT_S}" fib_tunnel_via a "${B_HOST_PREFIX}" "${B_OVERLAY}" || die "a: ${B_HOST_PREFIX} not back"
  check "session and routes back $((SECONDS - start)) s after a's restart"
  wait_until 10 host_reaches ha "${HB_ADDR}" || die "host A does not reach host B after a's restart"
  out="$(ns_exec ha ping -c "${PING_COUNT}" -i 0.2 -W 1 "${HB_ADDR}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "ping host A -> host B after a's restart"
  assert_eq "${replayed_b}" "$(esp_drops b esp_replayed)" "b: no esp_replayed after a's restart"
}

topo_require_daemon
command -v tshark >/dev/null || skip "tshark not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
case "${IT_DRIVER}" in
  af_xdp | af_packet | pmd) ;;
  *) fail "IT_DRIVER='${IT_DRIVER}': expected af_xdp, af_packet or pmd" ;;
esac
T0=${SECONDS}
make_keys
build
start_regions
check_session_and_routes
snapshot_counters
check_traffic
check_capture
check_counters
check_no_key_leak
check_rekey
check_break_and_restore
check_restart_resumes_sequence
pass "two regions over ESP ${CIPHER} with ESN (${IT_DRIVER}): BGP in the tunnel, hosts reach each other, underlay carries only ESP, hitless rekey, hold-timer teardown and recovery, restart without replay drops ($((SECONDS - T0)) s)"
