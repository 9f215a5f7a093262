#!/usr/bin/env bash
# VXLAN (RFC 7348) between isthmusd and a Linux kernel `vxlan` device:
#
#   ns a (host A) -- nva (isthmusd) ==== VXLAN vni 4100 over nva-e/b-e ==== ns b: vx0 (kernel)
#   198.18.1.2        tunnel "vx", overlay 198.18.250.1/30        198.18.250.2/30, lo 198.51.100.10
#
# A reaches B's host address through the tunnel and back (ping, TCP, UDP):
# our frames are decapsulated by the kernel and the kernel's by us. tshark
# decodes the capture on the underlay as VXLAN with the VNI and a UDP source
# port in 49152-65535. Frames crafted with scapy with an unknown VNI or from
# the wrong outer source are dropped under their named reasons, seen in
# `isthmusctl show drops/tunnels --json` and /metrics.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly VNI=4100
readonly VXLAN_PORT=4789
readonly NVA_OVERLAY=198.18.250.1
readonly B_OVERLAY=198.18.250.2
readonly OVERLAY_LEN=30
readonly WRONG_SOURCE=198.18.2.3
readonly CRAFTED=20
readonly PING_COUNT=10
readonly IPERF_PORT=5201
readonly CAPTURE_PACKETS=10

# The inner MAC isthmusd derives for an endpoint: 02:00 + its four octets.
derived_mac() {
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  printf '02:00:%02x:%02x:%02x:%02x' "$1" "$2" "$3" "$4"
}

build_kernel_vtep() {
  ns_exec b ip link add vx0 type vxlan id "${VNI}" dstport "${VXLAN_PORT}" \
    local "${B_EAST_ADDR}" remote "${NVA_EAST_ADDR}" srcport 49152 65535 ||
    fail "cannot create the kernel vxlan device"
  ns_exec b ip link set vx0 address "$(derived_mac "${B_EAST_ADDR}")"
  ns_exec b ip addr add "${B_OVERLAY}/${OVERLAY_LEN}" dev vx0
  ns_exec b ip link set vx0 up
  # Our side is a point-to-point L3 link without ARP: the kernel VTEP gets
  # our inner MAC statically.
  ns_exec b ip neigh replace "${NVA_OVERLAY}" lladdr "$(derived_mac "${NVA_EAST_ADDR}")" dev vx0 nud permanent
  ns_exec b ip route replace "198.18.1.0/${PREFIX_LEN}" via "${NVA_OVERLAY}" dev vx0
  ns_exec b ip addr add "${WRONG_SOURCE}/${PREFIX_LEN}" dev b-e
}

write_config() {
  topo_write_config "${TOPO_CONFIG}"
  # B's prefix goes through the tunnel instead of straight over the underlay.
  sed -i "s/via: \[${B_EAST_ADDR}\]/via: [${B_OVERLAY}]/" "${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<EOC
tunnels:
$(topo_vxlan_yaml vx "${VNI}" "${NVA_OVERLAY}/${OVERLAY_LEN}")
    mss_clamp: auto
    interface: vx-${IT_PREFIX: -6}
EOC
}

tunnel_field() { ctl show tunnels --json | jq -er --arg f "$1" '.[] | select(.name == "vx") | .[$f]'; }
tunnel_drop() { ctl show tunnels --json | jq -r --arg r "$1" '.[] | select(.name == "vx") | .drops[$r] // 0'; }
global_drop() { ctl show drops --json | jq -r --arg r "$1" '.drops[] | select(.reason == $r) | .packets'; }

check_traffic() {
  local out
  out="$(ns_exec a ping -c "${PING_COUNT}" -i 0.2 -W 1 "${B_HOST}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "ping A -> B through VXLAN"
  out="$(ns_exec nva ping -c 3 -i 0.2 -W 1 "${B_OVERLAY}")"
  assert_contains "${out}" "3 received" "ping from the nva kernel to the peer's overlay address (host TAP)"

  start_bg b "${TEST_TMP}/iperf3.log" iperf3 -s -B "${B_HOST}" -p "${IPERF_PORT}"
  wait_until 10 tcp_listening b "${IPERF_PORT}" || fail "iperf3 server did not start"
  local json bps
  json="$(ns_exec a timeout 20 iperf3 -c "${B_HOST}" -p "${IPERF_PORT}" -t 2 -J)" || fail "iperf3 TCP through VXLAN failed"
  bps="$(jq -r '.end.sum_received.bits_per_second' <<<"${json}")"
  assert_ge "${bps%.*}" 1000000 "TCP A -> B through VXLAN (bit/s)"
  json="$(ns_exec a timeout 20 iperf3 -c "${B_HOST}" -p "${IPERF_PORT}" -u -b 10M -t 2 -J)" || fail "iperf3 UDP failed"
  assert_ge "$(jq -r '.end.sum.packets - .end.sum.lost_packets' <<<"${json}")" 100 "UDP datagrams A -> B through VXLAN"
}

check_capture() {
  local pcap="${TEST_TMP}/underlay.pcap" sniffer
  start_bg b "${TEST_TMP}/tshark.log" tshark -q -i b-e -f "udp port ${VXLAN_PORT}" -c "${CAPTURE_PACKETS}" -w "${pcap}"
  sniffer=${BG_PID}
  sleep 2
  ns_exec a ping -c "${CAPTURE_PACKETS}" -i 0.1 -W 1 "${B_HOST}" >/dev/null
  wait_until 10 _it_not_running "${sniffer}" || stop_bg "${sniffer}" INT 5
  local fields
  fields="$(tshark -r "${pcap}" -d "udp.port==${VXLAN_PORT},vxlan" -T fields -E occurrence=f -e ip.src -e vxlan.vni -e udp.srcport -e icmp.type 2>/dev/null)"
  [[ -n "${fields}" ]] || fail "no VXLAN packets captured on b-e"
  local ours
  ours="$(awk -v s="${NVA_EAST_ADDR}" '$1 == s' <<<"${fields}")"
  [[ -n "${ours}" ]] || fail "no VXLAN packet from isthmusd in the capture: ${fields}"
  assert_eq "${VNI}" "$(awk '{print $2}' <<<"${ours}" | sort -u)" "tshark: VNI of isthmusd's VXLAN packets"
  local bad_port
  bad_port="$(awk '$3 < 49152 || $3 > 65535' <<<"${ours}")"
  assert_eq "" "${bad_port}" "tshark: UDP source ports of isthmusd's packets in 49152-65535"
  assert_contains "$(awk '{print $4}' <<<"${fields}" | sort -u | tr '\n' ' ')" "8" "tshark decodes the inner ICMP echo"
}

send_crafted() {
  local src="$1" vni="$2"
  local nva_mac
  nva_mac="$(ns_exec nva cat /sys/class/net/nva-e/address)"
  ns_exec b "${PY}" - "${nva_mac}" "${src}" "${NVA_EAST_ADDR}" "${vni}" "${CRAFTED}" \
    "$(derived_mac "${NVA_EAST_ADDR}")" "${A_ADDR}" <<'EOPY' || fail "scapy could not send"
import sys
from scapy.all import Ether, IP, UDP, ICMP, sendp, conf
from scapy.layers.vxlan import VXLAN
conf.verb = 0
mac, src, dst, vni, count, inner_mac, inner_dst = sys.argv[1:8]
# flags=0x08 (I bit only): scapy's default 0x0C is VXLAN-GPE style.
frame = (Ether(dst=mac) / IP(src=src, dst=dst) / UDP(sport=50000, dport=4789) /
         VXLAN(vni=int(vni), flags=0x08) / Ether(dst=inner_mac) / IP(src="198.51.100.10", dst=inner_dst) / ICMP())
sendp(frame, iface="b-e", count=int(count))
EOPY
}

check_named_drops() {
  local vni0 src0
  vni0="$(global_drop vxlan_unknown_vni)"
  src0="$(tunnel_drop tunnel_wrong_source)"
  send_crafted "${B_EAST_ADDR}" 999
  send_crafted "${WRONG_SOURCE}" "${VNI}"
  wait_until 5 test "$(global_drop vxlan_unknown_vni)" -ge "$((vni0 + CRAFTED))" || true
  assert_ge "$(($(global_drop vxlan_unknown_vni) - vni0))" "${CRAFTED}" "drops vxlan_unknown_vni (VNI 999)"
  assert_ge "$(($(tunnel_drop tunnel_wrong_source) - src0))" "${CRAFTED}" "tunnel vx drops tunnel_wrong_source"
  assert_ge "$(tunnel_field errors)" "${CRAFTED}" "tunnel vx errors"
}

check_views() {
  assert_eq "up" "$(tunnel_field state)" "show tunnels: state"
  assert_eq "${VNI}" "$(tunnel_field vni)" "show tunnels: vni"
  assert_eq "1450" "$(tunnel_field mtu)" "show tunnels: mtu derived from port MTU 1500 - 50"
  assert_ge "$(tunnel_field encap_packets)" "${PING_COUNT}" "show tunnels: encap_packets"
  assert_ge "$(tunnel_field decap_packets)" "${PING_COUNT}" "show tunnels: decap_packets"
  assert_ge "$(topo_metric isthmus_tunnel_packets_total tunnel=vx,direction=decap)" "${PING_COUNT}" \
    "/metrics isthmus_tunnel_packets_total{tunnel=vx,direction=decap}"
  assert_ge "$(topo_metric isthmus_tunnel_drops_total tunnel=vx,reason=tunnel_wrong_source)" "${CRAFTED}" \
    "/metrics isthmus_tunnel_drops_total{reason=tunnel_wrong_source}"
  assert_eq "1" "$(topo_metric isthmus_tunnel_up tunnel=vx)" "/metrics isthmus_tunnel_up"
  local mtu
  mtu="$(ns_exec nva cat "/sys/class/net/vx-${IT_PREFIX: -6}/mtu")"
  assert_eq "1450" "${mtu}" "host interface MTU is the tunnel MTU (the kernel answers frag-needed with it)"
}

topo_require_daemon
topo_build
build_kernel_vtep
write_config
topo_start_daemon
topo_warmup
check_traffic
check_capture
check_named_drops
check_views
pass "VXLAN interop with the kernel: ping/TCP/UDP, tshark VNI ${VNI}, named drops, counters"
