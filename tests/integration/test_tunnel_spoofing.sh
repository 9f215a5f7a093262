#!/usr/bin/env bash
# Spoofed tunnel packets are dropped under their named reasons, counted
# exactly, and nothing of them is forwarded. isthmusd runs a VXLAN tunnel
# (east: 198.18.2.1 <-> B 198.18.2.2, VNI 4242) and an ESP tunnel (west:
# 198.18.1.1 <-> A 198.18.1.2, inbound SPI 0x1001); scapy sends SPOOFED
# packets of each kind:
#
#   VXLAN, right VNI, outer source 198.18.2.99      -> tunnel_wrong_source (tunnel vx)
#   VXLAN from B, VNI 999                           -> vxlan_unknown_vni
#   ESP from A, SPI 0xdead (no SA)                  -> esp_wrong_spi
#   ESP, inbound SPI, outer source 198.18.1.99      -> esp_wrong_source (tunnel esp)
#
# The VXLAN packets carry an inner UDP datagram to A (port SINK_PORT), which
# a listener in A counts: a decapsulated, forwarded spoof would arrive there
# (as the same packets from B with the right VNI do at the end).
# The ESP ones carry random bytes as ciphertext (never decrypted: the checks
# come first). Neither tunnel may count a decapsulation.
# shellcheck disable=SC2317  # predicates run through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/esp.sh
source "$(dirname "$0")/../lib/esp.sh"

readonly SPOOFED=25
readonly VNI=4242 WRONG_VNI=999 VXLAN_PORT=4789
readonly IN_SPI=0x1001 OUT_SPI=0x2001 WRONG_SPI=0xdead
readonly VXLAN_STRANGER=198.18.2.99 ESP_STRANGER=198.18.1.99
readonly VX_OVERLAY=192.0.2.1/30 ESP_OVERLAY=192.0.2.5/30
readonly SINK_PORT=5555
readonly SETTLE_S=5
KEYS="${TEST_TMP}/keys"
declare -A KEY_HEX SALT_HEX

topo_require_daemon

write_config() {
  topo_write_config "${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<EOC
tunnels:
$(topo_vxlan_yaml vx "${VNI}" "${VX_OVERLAY}")
    interface: tv-${IT_PREFIX: -6}
  - name: esp
    type: ipsec
    local: ${NVA_WEST_ADDR}
    remote: ${A_ADDR}
    overlay: ${ESP_OVERLAY}
    interface: te-${IT_PREFIX: -6}
    ipsec:
      cipher: aes-128-gcm
      outbound: {spi: $((OUT_SPI)), key_file: ${KEYS}/out.key}
      inbound:
        - {spi: $((IN_SPI)), key_file: ${KEYS}/in.key}
EOC
}

tunnel_json() { ctl show tunnels --json | jq -c --arg n "$1" '.[] | select(.name == $n)'; }
tunnel_drop() { tunnel_json "$1" | jq -r --arg r "$2" '.drops[$r] // 0'; }
tunnel_decaps() { tunnel_json "$1" | jq -r '.decap_packets'; }
global_drop() { ctl show drops --json | jq -r --arg r "$1" '.drops[] | select(.reason == $r) | .packets'; }

# spoof NS IFACE KIND: SPOOFED crafted frames of KIND out of IFACE in NS, to
# the NVA port's MAC.
spoof() {
  local ns="$1" iface="$2" kind="$3" nva_if nva_mac vx_mac
  case "${iface}" in
    b-e) nva_if=nva-e ;;
    *) nva_if=nva-w ;;
  esac
  nva_mac="$(ns_exec nva cat "/sys/class/net/${nva_if}/address")"
  # Decapsulated frames are forwarded as if received on the tunnel's host
  # interface: the inner destination MAC is that interface's.
  vx_mac="$(ns_exec nva cat "/sys/class/net/tv-${IT_PREFIX: -6}/address")"
  ns_exec "${ns}" "${PY}" - "${iface}" "${nva_mac}" "${kind}" "${SPOOFED}" "${vx_mac}" <<PYEOF || fail "scapy could not send ${kind}"
import os, sys
from scapy.all import Ether, IP, UDP, Raw, sendp, get_if_hwaddr
from scapy.layers.vxlan import VXLAN
iface, nva_mac, kind, count, vx_mac = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
eth = Ether(src=get_if_hwaddr(iface), dst=nva_mac)
# What a decapsulated spoof would carry: a datagram from the VXLAN peer's
# overlay to A's sink.
inner = (Ether(src="02:00:00:00:00:01", dst=vx_mac) /
         IP(src="192.0.2.2", dst="${A_ADDR}") / UDP(sport=40000, dport=${SINK_PORT}) / Raw(b"spoof"))
def vxlan(src, vni):
    # flags 0x08 (I flag only): scapy's default GPE flags are not RFC 7348.
    return eth / IP(src=src, dst="${NVA_EAST_ADDR}") / UDP(sport=49200, dport=${VXLAN_PORT}) / VXLAN(flags=0x08, vni=vni) / inner
def esp(src, spi, seq):
    # RFC 4303 2: SPI, sequence number, then IV + ciphertext + ICV (random here).
    body = spi.to_bytes(4, "big") + seq.to_bytes(4, "big") + os.urandom(8 + 64 + 16)
    return eth / IP(src=src, dst="${NVA_WEST_ADDR}", proto=50) / Raw(body)
make = {
    "vxlan-valid": lambda i: vxlan("${B_EAST_ADDR}", ${VNI}),
    "vxlan-source": lambda i: vxlan("${VXLAN_STRANGER}", ${VNI}),
    "vxlan-vni": lambda i: vxlan("${B_EAST_ADDR}", ${WRONG_VNI}),
    "esp-spi": lambda i: esp("${A_ADDR}", ${WRONG_SPI}, i + 1),
    "esp-source": lambda i: esp("${ESP_STRANGER}", ${IN_SPI}, i + 1),
}[kind]
sendp([make(i) for i in range(count)], iface=iface, verbose=False)
PYEOF
}

start_sink() {
  start_bg a "${TEST_TMP}/sink.log" "${PY}" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    print("got", peer[0], data, flush=True)
' "${SINK_PORT}"
  wait_until 10 udp_listening a "${SINK_PORT}" || fail "UDP sink in A did not start"
}

# expect_exact KIND NS IFACE REASON TUNNEL: sends KIND and expects exactly
# SPOOFED more drops of REASON in `show drops` (and for TUNNEL, if given).
expect_exact() {
  local kind="$1" ns="$2" iface="$3" reason="$4" tunnel="${5:-}" g0 t0=0
  g0="$(global_drop "${reason}")" || fail "show drops has no ${reason}"
  [[ -n "${tunnel}" ]] && t0="$(tunnel_drop "${tunnel}" "${reason}")"
  spoof "${ns}" "${iface}" "${kind}"
  wait_until "${SETTLE_S}" test "$(global_drop "${reason}")" -ge "$((g0 + SPOOFED))" || true
  sleep 0.5  # and not more than that
  assert_eq "${SPOOFED}" "$(($(global_drop "${reason}") - g0))" "${kind}: show drops ${reason}"
  if [[ -n "${tunnel}" ]]; then
    assert_eq "${SPOOFED}" "$(($(tunnel_drop "${tunnel}" "${reason}") - t0))" "${kind}: tunnel ${tunnel} drops ${reason}"
  fi
  assert_eq "${SPOOFED}" "$(($(topo_metric isthmus_dataplane_drops_total "reason=${reason}") - g0))" \
    "${kind}: /metrics isthmus_dataplane_drops_total{reason=${reason}}"
}

topo_build
new_keys_out_in 16
write_config
topo_start_daemon
topo_warmup
start_sink
wait_until 10 test "$(tunnel_json vx | jq -r .state)" == up || fail "tunnel vx not up: $(tunnel_json vx)"
wait_until 10 test "$(tunnel_json esp | jq -r .state)" == up || fail "tunnel esp not up: $(tunnel_json esp)"
vx_decap0="$(tunnel_decaps vx)"
esp_decap0="$(tunnel_decaps esp)"

expect_exact vxlan-source b b-e tunnel_wrong_source vx
expect_exact vxlan-vni b b-e vxlan_unknown_vni
expect_exact esp-spi a a-veth esp_wrong_spi
expect_exact esp-source a a-veth esp_wrong_source esp

assert_eq "${vx_decap0}" "$(tunnel_decaps vx)" "tunnel vx decapsulated none of the spoofs"
assert_eq "${esp_decap0}" "$(tunnel_decaps esp)" "tunnel esp decapsulated none of the spoofs"
sleep 1
assert_eq "0" "$(grep -c '^got' "${TEST_TMP}/sink.log")" "no spoofed inner datagram reached A"
# The control: the same packets from the right source with the right VNI
# are decapsulated and reach the sink, so the sink would have seen spoofs.
spoof b b-e vxlan-valid
wait_until "${SETTLE_S}" test "$(grep -c '^got' "${TEST_TMP}/sink.log")" -ge "${SPOOFED}" || true
assert_eq "${SPOOFED}" "$(grep -c '^got' "${TEST_TMP}/sink.log")" "control: valid VXLAN packets reach A's sink"
assert_eq "$((vx_decap0 + SPOOFED))" "$(tunnel_decaps vx)" "control: tunnel vx decapsulated the valid packets"
pass "spoofed VXLAN (wrong source, unknown VNI) and ESP (unknown SPI, wrong source) dropped by name, exactly, nothing forwarded"
