#!/usr/bin/env bash
# VXLAN inside ESP (`ipsec.vxlan`) between isthmusd and an independent
# implementation (tests/lib/esp_peer.py --vxlan-vni: python3-cryptography
# ESP, VXLAN headers built and checked by hand):
#
#   ns a (host A) -- nva (isthmusd) ==== ESP{IPv4 UDP/4789 VXLAN VNI 5001 | Ethernet | IPv4} ==== ns b: esp_peer.py
#   198.18.1.2        tunnel "vxesp", overlay 198.18.250.1/30                   (answers pings for 198.51.100.10)
#
# A pings B's host through the tunnel: the peer decrypts our ESP, finds a
# VXLAN packet from our endpoint to its own, port 4789, VNI 5001, and the
# ICMP echo request inside; its replies, wrapped the same way, are accepted
# and delivered. A full-size ping with DF set fits the tunnel MTU (port MTU
# minus ESP 57 minus VXLAN 50). Valid ESP carrying VXLAN with another VNI is
# dropped as esp_vxlan_wrong_vni, valid ESP without VXLAN inside as
# esp_inner_not_vxlan. tshark decodes the capture as ESP and, given the key,
# the VXLAN header (VNI) and the ICMP inside.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/esp.sh
source "$(dirname "$0")/../lib/esp.sh"

readonly NVA_OVERLAY=198.18.250.1
readonly B_OVERLAY=198.18.250.2
readonly OVERLAY_LEN=30
readonly WRONG_SOURCE=198.18.2.3
readonly VNI=5001
readonly VXLAN_PORT=4789
readonly OUT_SPI=0x00001001   # isthmusd -> peer
readonly IN_SPI=0x00002001    # peer -> isthmusd
readonly INJECTED=5
readonly PING_COUNT=10
readonly CAPTURE_PACKETS=6
readonly PORT_MTU=1500
readonly ESP_OVERHEAD=57
readonly VXLAN_OVERHEAD=50
readonly TUNNEL_MTU=$((PORT_MTU - ESP_OVERHEAD - VXLAN_OVERHEAD))
readonly ICMP_IP_HEADERS=28
PEER_PY="$(cd "$(dirname "$0")/../lib" && pwd)/esp_peer.py"
readonly PEER_PY
KEYS="${TEST_TMP}/keys"
PEER_CTL="${TEST_TMP}/peer-ctl"
PEER_LOG="${TEST_TMP}/peer.log"
CMD_SEQ=0
declare -A KEY_HEX SALT_HEX

sa_arg() { printf '%s:%s:%s' "$1" "${KEY_HEX[$2]}" "${SALT_HEX[$2]}"; }

write_config() {
  topo_write_config "${TOPO_CONFIG}"
  sed -i "s/via: \[${B_EAST_ADDR}\]/via: [${B_OVERLAY}]/" "${TOPO_CONFIG}"
  # ESP_WORKERS=2: VXLAN is added on the worker that routed the packet, the
  # SA runs on the tunnel's owner (hand-off, esp_stage.h).
  sed -i "s/^  workers: 1$/  workers: ${ESP_WORKERS:-1}/" "${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<EOC
tunnels:
  - name: vxesp
    type: ipsec
    local: ${NVA_EAST_ADDR}
    remote: ${B_EAST_ADDR}
    overlay: ${NVA_OVERLAY}/${OVERLAY_LEN}
    interface: vx-${IT_PREFIX: -6}
    ipsec:
      cipher: aes-128-gcm
      esn: true
      outbound: {spi: $((OUT_SPI)), key_file: ${KEYS}/out.key}
      inbound:
        - {spi: $((IN_SPI)), key_file: ${KEYS}/in.key}
      vxlan: {vni: ${VNI}}
EOC
}

start_peer() {
  mkdir -p "${PEER_CTL}"
  local nva_mac
  nva_mac="$(ns_exec nva cat /sys/class/net/nva-e/address)"
  start_bg b "${TEST_TMP}/peer.stderr" "${PY}" "${PEER_PY}" --iface b-e --local "${B_EAST_ADDR}" \
    --remote "${NVA_EAST_ADDR}" --nva-mac "${nva_mac}" --esn \
    --inbound "$(sa_arg "${OUT_SPI}" out)" --outbound "$(sa_arg "${IN_SPI}" in)" \
    --vxlan-vni "${VNI}" --vxlan-port "${VXLAN_PORT}" \
    --serve "${B_HOST}" --inject-dst "${A_ADDR}" --wrong-source "${WRONG_SOURCE}" \
    --log "${PEER_LOG}" --ctl "${PEER_CTL}"
}

peer_cmd() {
  local f="${PEER_CTL}/cmd-${CMD_SEQ}"
  echo "$*" >"${f}.tmp" && mv "${f}.tmp" "${f}"
  CMD_SEQ=$((CMD_SEQ + 1))
  wait_until 20 test -e "${f}.done" || fail "peer did not run: $*"
}

tunnel_json() { ctl show tunnels --json | jq -e '.[] | select(.name == "vxesp")'; }
tunnel_drop() { ctl show tunnels --json | jq -r --arg r "$1" '.[] | select(.name == "vxesp") | .drops[$r] // 0'; }
global_drop() { ctl show drops --json | jq -r --arg r "$1" '[.drops[] | select(.reason == $r) | .packets] | add // 0'; }

check_ping() {
  local out
  out="$(ns_exec a ping -c "${PING_COUNT}" -i 0.1 -W 1 "${B_HOST}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" \
    "A -> B through VXLAN (VNI ${VNI}) inside ESP, replies wrapped the same way accepted"
  assert_ge "$(grep -c "^RX OK ${OUT_SPI} .* 1 ${A_ADDR} ${B_HOST} vni ${VNI}$" "${PEER_LOG}" || true)" "${PING_COUNT}" \
    "the peer decrypts our ESP and finds VXLAN VNI ${VNI} from ${NVA_EAST_ADDR} with the ICMP inside"
  assert_eq "0" "$(grep -c '^RX FAIL' "${PEER_LOG}" || true)" "the peer refused none of our packets"
  out="$(ns_exec a ping -c 3 -i 0.1 -W 1 -M "do" -s $((TUNNEL_MTU - ICMP_IP_HEADERS)) "${B_HOST}")"
  assert_contains "${out}" "3 packets transmitted, 3 received" \
    "a ${TUNNEL_MTU}-byte packet with DF crosses (MTU = ${PORT_MTU} - ESP ${ESP_OVERHEAD} - VXLAN ${VXLAN_OVERHEAD})"
}

check_capture() {
  local pcap="${TEST_TMP}/vxesp.pcap" sniffer uat decoded
  start_bg b "${TEST_TMP}/tshark.log" tshark -q -i b-e -f "ip proto 50" -c "${CAPTURE_PACKETS}" -w "${pcap}"
  sniffer=${BG_PID}
  sleep 2
  ns_exec a ping -c "${CAPTURE_PACKETS}" -i 0.1 -W 1 "${B_HOST}" >/dev/null
  wait_until 10 _it_not_running "${sniffer}" || stop_bg "${sniffer}" INT 5
  assert_contains "$(tshark -r "${pcap}" -T fields -e esp.spi -Y "ip.src == ${NVA_EAST_ADDR}" 2>/dev/null | sort -u)" \
    "${OUT_SPI}" "tshark decodes isthmusd's packets as ESP with SPI ${OUT_SPI}"
  uat="\"IPv4\",\"${NVA_EAST_ADDR}\",\"${B_EAST_ADDR}\",\"${OUT_SPI}\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x${KEY_HEX[out]}${SALT_HEX[out]}\",\"NULL\",\"\""
  decoded="$(tshark -r "${pcap}" -o esp.enable_encryption_decode:TRUE -o "uat:esp_sa:${uat}" \
    -Y "ip.src == ${NVA_EAST_ADDR} && vxlan" -T fields -E occurrence=l \
    -e udp.dstport -e vxlan.vni -e icmp.type -e ip.dst 2>/dev/null | sort -u)"
  assert_contains "${decoded}" "${VXLAN_PORT}	${VNI}	8	${B_HOST}" \
    "tshark with the key shows UDP ${VXLAN_PORT}, VXLAN VNI ${VNI} and the ICMP echo request to ${B_HOST}"
}

# inject KIND REASON: valid ESP whose inside is wrong, each dropped under REASON.
check_injection() {
  local kind="$1" reason="$2" before_t before_g
  before_t="$(tunnel_drop "${reason}")"
  before_g="$(global_drop "${reason}")"
  peer_cmd inject "${kind}" "${INJECTED}"
  wait_until 5 test "$(tunnel_drop "${reason}")" -ge "$((before_t + INJECTED))" || true
  assert_eq "${INJECTED}" "$(($(tunnel_drop "${reason}") - before_t))" "${kind}: tunnel vxesp drops ${reason}"
  assert_eq "${INJECTED}" "$(($(global_drop "${reason}") - before_g))" "${kind}: show drops ${reason}"
}

check_named_drops() {
  local decap0
  decap0="$(tunnel_json | jq -r .decap_packets)"
  peer_cmd inject valid "${INJECTED}"
  wait_until 5 test "$(tunnel_json | jq -r .decap_packets)" -ge "$((decap0 + INJECTED))" || true
  assert_ge "$(($(tunnel_json | jq -r .decap_packets) - decap0))" "${INJECTED}" "valid injected VXLAN-in-ESP accepted"
  check_injection vni esp_vxlan_wrong_vni
  check_injection bare esp_inner_not_vxlan
  assert_ge "$(topo_metric isthmus_tunnel_drops_total tunnel=vxesp,reason=esp_vxlan_wrong_vni)" "${INJECTED}" \
    "/metrics isthmus_tunnel_drops_total{tunnel=vxesp,reason=esp_vxlan_wrong_vni}"
}

check_views() {
  local t
  t="$(tunnel_json)"
  assert_eq "up" "$(jq -r .state <<<"${t}")" "show tunnels: state"
  assert_eq "${VNI}" "$(jq -r .ipsec.vxlan.vni <<<"${t}")" "show tunnels: ipsec.vxlan.vni"
  assert_eq "${VXLAN_PORT}" "$(jq -r .ipsec.vxlan.dst_port <<<"${t}")" "show tunnels: ipsec.vxlan.dst_port"
  assert_eq "${TUNNEL_MTU}" "$(jq -r .mtu <<<"${t}")" "show tunnels: MTU ${PORT_MTU} - ${ESP_OVERHEAD} - ${VXLAN_OVERHEAD}"
}

topo_require_daemon
topo_build
new_keys_out_in 16
write_config
topo_start_daemon
start_peer
topo_warmup
check_ping
check_capture
check_named_drops
check_views
topo_stop_daemon || fail "isthmusd did not stop cleanly"
pass "VXLAN inside ESP interop: both directions, VNI checked after decryption, named drops, tshark decodes ESP and VXLAN"
