#!/usr/bin/env bash
# ESP tunnel mode (RFC 4303, AES-GCM RFC 4106, ESN, UDP encapsulation
# RFC 3948) between isthmusd and an independent implementation:
#
#   ns a (host A) -- nva (isthmusd) ==== ESP over nva-e/b-e ==== ns b: tests/lib/esp_peer.py
#   198.18.1.2        tunnel "esp", overlay 198.18.250.1/30      (python3-cryptography; answers
#                                                                  pings for 198.51.100.10)
#
# Phase 1, AES-128-GCM, ESN, plain ESP: A pings B's host through the tunnel
# (our packets decrypt in the peer, the peer's are accepted by us); tshark
# decodes the capture as ESP and, given the key, shows the inner ICMP;
# replayed, out-of-window, ICV-tampered, unknown-SPI and wrong-source
# packets are dropped, each under its own reason (show drops/tunnels and
# /metrics); a make-before-break rekey by reload (new inbound SA, then new
# outbound SA, then the old inbound SA removed) under a ping flow loses
# nothing.
# Phase 2, AES-256-GCM, ESN, UDP/4500: the peer's sequence numbers cross
# 2^32 (the high half lives only in the AAD) and traffic still flows.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/esp.sh
source "$(dirname "$0")/../lib/esp.sh"

readonly NVA_OVERLAY=198.18.250.1
readonly B_OVERLAY=198.18.250.2
readonly OVERLAY_LEN=30
readonly WRONG_SOURCE=198.18.2.3
readonly REPLAY_WINDOW=1024
readonly OUT_SPI_1=0x00001001 OUT_SPI_2=0x00001002   # isthmusd -> peer
readonly IN_SPI_1=0x00002001 IN_SPI_2=0x00002002     # peer -> isthmusd
readonly INJECTED=5
readonly PING_COUNT=20
readonly REKEY_PINGS=300
readonly REKEY_INTERVAL_S=0.02
readonly CAPTURE_PACKETS=8
readonly ESN_CROSSING_START=4294967280   # 2^32 - 16: the peer's numbers wrap during the pings
PEER_PY="$(cd "$(dirname "$0")/../lib" && pwd)/esp_peer.py"
readonly PEER_PY
KEYS="${TEST_TMP}/keys"
PEER_CTL="${TEST_TMP}/peer-ctl"
PEER_LOG="${TEST_TMP}/peer.log"
PEER_PID=""
CMD_SEQ=0
declare -A KEY_HEX SALT_HEX

make_keys() {
  local bytes="$1"
  rm -rf "${KEYS}" && mkdir -p "${KEYS}"
  local n
  for n in out1 out2 in1 in2; do new_key "${n}" "${bytes}"; done
}

sa_arg() { printf '%s:%s:%s' "$1" "${KEY_HEX[$2]}" "${SALT_HEX[$2]}"; }

# write_config CIPHER UDP_ENCAP OUT_SPI OUT_KEY "SPI:KEY ..." (inbound list)
write_config() {
  local cipher="$1" udp="$2" out_spi="$3" out_key="$4" inbound="$5" entry
  topo_write_config "${TOPO_CONFIG}"
  sed -i "s/via: \[${B_EAST_ADDR}\]/via: [${B_OVERLAY}]/" "${TOPO_CONFIG}"
  # ESP_WORKERS=2: packets of the tunnel reach a worker that does not own
  # its SAs and are handed over (esp_stage.h).
  sed -i "s/^  workers: 1$/  workers: ${ESP_WORKERS:-1}/" "${TOPO_CONFIG}"
  {
    cat <<EOC
tunnels:
  - name: esp
    type: ipsec
    local: ${NVA_EAST_ADDR}
    remote: ${B_EAST_ADDR}
    overlay: ${NVA_OVERLAY}/${OVERLAY_LEN}
    interface: es-${IT_PREFIX: -6}
    mss_clamp: auto
    ipsec:
      cipher: ${cipher}
      esn: true
      replay_window: ${REPLAY_WINDOW}
      udp_encap: ${udp}
      outbound: {spi: $((out_spi)), key_file: ${KEYS}/${out_key}.key}
      inbound:
EOC
    for entry in ${inbound}; do
      printf '        - {spi: %d, key_file: %s/%s.key}\n' "$((${entry%%:*}))" "${KEYS}" "${entry#*:}"
    done
  } >>"${TOPO_CONFIG}"
}

# start_peer [--udp] [--seq-start N]: the remote appliance in ns b.
start_peer() {
  rm -rf "${PEER_CTL}" && mkdir -p "${PEER_CTL}"
  CMD_SEQ=0
  local nva_mac
  nva_mac="$(ns_exec nva cat /sys/class/net/nva-e/address)"
  start_bg b "${TEST_TMP}/peer.stderr" "${PY}" "${PEER_PY}" --iface b-e --local "${B_EAST_ADDR}" \
    --remote "${NVA_EAST_ADDR}" --nva-mac "${nva_mac}" --esn \
    --inbound "$(sa_arg "${OUT_SPI_1}" out1)" --inbound "$(sa_arg "${OUT_SPI_2}" out2)" \
    --outbound "$(sa_arg "${IN_SPI_1}" in1)" --outbound "$(sa_arg "${IN_SPI_2}" in2)" \
    --serve "${B_HOST}" --inject-dst "${A_ADDR}" --wrong-source "${WRONG_SOURCE}" \
    --window "${REPLAY_WINDOW}" --log "${PEER_LOG}" --ctl "${PEER_CTL}" "$@"
  PEER_PID="${BG_PID}"
}

stop_peer() { [[ -n "${PEER_PID}" ]] && stop_bg "${PEER_PID}" TERM 5; PEER_PID=""; }

# peer_cmd WORDS...: runs a command in the peer and waits for it.
peer_cmd() {
  local f="${PEER_CTL}/cmd-${CMD_SEQ}"
  echo "$*" >"${f}.tmp" && mv "${f}.tmp" "${f}"
  CMD_SEQ=$((CMD_SEQ + 1))
  wait_until 20 test -e "${f}.done" || fail "peer did not run: $*"
}

tunnel_json() { ctl show tunnels --json | jq -e '.[] | select(.name == "esp")'; }
tunnel_drop() { ctl show tunnels --json | jq -r --arg r "$1" '.[] | select(.name == "esp") | .drops[$r] // 0'; }
global_drop() { ctl show drops --json | jq -r --arg r "$1" '[.drops[] | select(.reason == $r) | .packets] | add // 0'; }
peer_ok_count() { grep -c "^RX OK $1 " "${PEER_LOG}" 2>/dev/null || true; }

tunnel_matches() { ctl show tunnels --json | jq -e ".[] | select(.name == \"esp\") | $1" >/dev/null; }

# reload_and_wait JQ_CONDITION: SIGHUP, then wait until show tunnels agrees.
reload_and_wait() {
  topo_reload_signal
  wait_until 10 tunnel_matches "$1" || fail "reload not applied: $1"
}

check_ping() {
  local what="$1" out
  out="$(ns_exec a ping -c "${PING_COUNT}" -i 0.1 -W 1 "${B_HOST}")"
  assert_contains "${out}" "${PING_COUNT} packets transmitted, ${PING_COUNT} received" "${what}"
}

check_peer_decrypts() {
  local spi="$1"
  assert_ge "$(peer_ok_count "${spi}")" "${PING_COUNT}" "the independent implementation decrypts our ESP (SPI ${spi})"
  assert_eq "0" "$(grep -c '^RX FAIL' "${PEER_LOG}" || true)" "the independent implementation refused none of our packets"
}

check_capture() {
  local pcap="${TEST_TMP}/esp.pcap" sniffer
  start_bg b "${TEST_TMP}/tshark.log" tshark -q -i b-e -f "ip proto 50" -c "${CAPTURE_PACKETS}" -w "${pcap}"
  sniffer=${BG_PID}
  sleep 2
  ns_exec a ping -c "${CAPTURE_PACKETS}" -i 0.1 -W 1 "${B_HOST}" >/dev/null
  wait_until 10 _it_not_running "${sniffer}" || stop_bg "${sniffer}" INT 5
  local spis
  spis="$(tshark -r "${pcap}" -T fields -e esp.spi -Y "ip.src == ${NVA_EAST_ADDR}" 2>/dev/null | sort -u)"
  assert_contains "${spis}" "0x00001001" "tshark decodes isthmusd's packets as ESP with SPI ${OUT_SPI_1}"
  local uat types
  uat="\"IPv4\",\"${NVA_EAST_ADDR}\",\"${B_EAST_ADDR}\",\"${OUT_SPI_1}\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x${KEY_HEX[out1]}${SALT_HEX[out1]}\",\"NULL\",\"\""
  types="$(tshark -r "${pcap}" -o esp.enable_encryption_decode:TRUE -o "uat:esp_sa:${uat}" \
    -Y "ip.src == ${NVA_EAST_ADDR}" -T fields -E occurrence=l -e icmp.type -e ip.dst 2>/dev/null | sort -u)"
  assert_contains "${types}" "8	${B_HOST}" "tshark with the key shows the inner ICMP echo request to ${B_HOST}"
}

# inject KIND REASON: COUNT crafted packets, each dropped under REASON.
check_injection() {
  local kind="$1" reason="$2" before_t before_g
  before_t="$(tunnel_drop "${reason}")"
  before_g="$(global_drop "${reason}")"
  peer_cmd inject "${kind}" "${INJECTED}"
  wait_until 5 test "$(tunnel_drop "${reason}")" -ge "$((before_t + INJECTED))" || true
  assert_eq "${INJECTED}" "$(($(tunnel_drop "${reason}") - before_t))" "${kind}: tunnel esp drops ${reason}"
  assert_eq "${INJECTED}" "$(($(global_drop "${reason}") - before_g))" "${kind}: show drops ${reason}"
}

check_named_drops() {
  local decap0
  decap0="$(tunnel_json | jq -r .decap_packets)"
  peer_cmd inject valid "${INJECTED}"
  wait_until 5 test "$(tunnel_json | jq -r .decap_packets)" -ge "$((decap0 + INJECTED))" || true
  assert_ge "$(($(tunnel_json | jq -r .decap_packets) - decap0))" "${INJECTED}" "valid injected packets accepted"
  check_injection replay esp_replayed
  check_injection window esp_outside_window
  check_injection tamper esp_auth_failed
  check_injection spi esp_wrong_spi
  check_injection source esp_wrong_source
  assert_ge "$(topo_metric isthmus_tunnel_drops_total tunnel=esp,reason=esp_replayed)" "${INJECTED}" \
    "/metrics isthmus_tunnel_drops_total{tunnel=esp,reason=esp_replayed}"
  assert_ge "$(topo_metric isthmus_dataplane_drops_total reason=esp_auth_failed)" "${INJECTED}" \
    "/metrics isthmus_dataplane_drops_total{reason=esp_auth_failed}"
}

check_views() {
  local t
  t="$(tunnel_json)"
  assert_eq "up" "$(jq -r .state <<<"${t}")" "show tunnels: state"
  assert_eq "aes-128-gcm" "$(jq -r .ipsec.cipher <<<"${t}")" "show tunnels: cipher"
  assert_eq "true" "$(jq -r .ipsec.esn <<<"${t}")" "show tunnels: esn"
  assert_eq "0x00001001" "$(jq -r .ipsec.outbound.spi <<<"${t}")" "show tunnels: outbound SPI"
  assert_ge "$(jq -r .ipsec.outbound.sequence <<<"${t}")" "${PING_COUNT}" "show tunnels: outbound sequence number"
  assert_eq "1443" "$(jq -r .mtu <<<"${t}")" "show tunnels: MTU 1500 - 57 bytes of ESP"
  if grep -q -i -e "${KEY_HEX[out1]}" -e "${KEY_HEX[in1]}" <<<"${t}" "${TOPO_LOG}"; then
    fail "a key appears in show tunnels or the log"
  fi
  assert_ge "$(topo_metric isthmus_tunnel_esp_sa_sequence tunnel=esp,direction=outbound,spi=0x00001001)" "${PING_COUNT}" \
    "/metrics isthmus_tunnel_esp_sa_sequence (outbound)"
}

# Make-before-break (RFC 4301 4.4.2.1): both ends list the new inbound SA
# before either sends on it; the old inbound SA goes last.
check_rekey() {
  local ping_log="${TEST_TMP}/rekey-ping.log" pinger
  start_bg a "${ping_log}" ping -c "${REKEY_PINGS}" -i "${REKEY_INTERVAL_S}" -W 1 "${B_HOST}"
  pinger=${BG_PID}
  sleep 1
  write_config aes-128-gcm false "${OUT_SPI_1}" out1 "${IN_SPI_1}:in1 ${IN_SPI_2}:in2"
  reload_and_wait '.ipsec.inbound | length == 2'
  sleep 0.5
  write_config aes-128-gcm false "${OUT_SPI_2}" out2 "${IN_SPI_1}:in1 ${IN_SPI_2}:in2"
  reload_and_wait '.ipsec.outbound.spi == "0x00001002"'
  peer_cmd rekey
  sleep 0.5
  write_config aes-128-gcm false "${OUT_SPI_2}" out2 "${IN_SPI_2}:in2"
  reload_and_wait '.ipsec.inbound | length == 1 and .[0].spi == "0x00002002"'
  wait_until 30 _it_not_running "${pinger}" || fail "rekey ping flow did not finish"
  assert_contains "$(cat "${ping_log}")" "${REKEY_PINGS} packets transmitted, ${REKEY_PINGS} received" \
    "no packet lost across the rekey"
  assert_ge "$(peer_ok_count 0x00001002)" 1 "the peer decrypts the new outbound SA"
  assert_ge "$(tunnel_json | jq -r '.ipsec.inbound[0].packets')" 1 "isthmusd accepts the peer's new SA"
}

phase_aes128() {
  make_keys 16
  write_config aes-128-gcm false "${OUT_SPI_1}" out1 "${IN_SPI_1}:in1"
  topo_start_daemon
  start_peer
  topo_warmup
  check_ping "A -> B through ESP AES-128-GCM with ESN"
  check_peer_decrypts 0x00001001
  check_capture
  check_named_drops
  check_views
  check_rekey
  topo_stop_daemon || fail "isthmusd did not stop cleanly"
  stop_peer
}

phase_aes256_udp() {
  make_keys 32
  : >"${PEER_LOG}"
  write_config aes-256-gcm true "${OUT_SPI_1}" out1 "${IN_SPI_1}:in1"
  topo_start_daemon
  start_peer --udp --seq-start "${ESN_CROSSING_START}"
  topo_warmup
  check_ping "A -> B through UDP-encapsulated ESP AES-256-GCM, peer sequence numbers crossing 2^32"
  check_peer_decrypts 0x00001001
  local t
  t="$(tunnel_json)"
  assert_ge "$(jq -r '.ipsec.inbound[0].sequence' <<<"${t}")" 4294967296 "inbound ESN above 2^32 accepted"
  assert_eq "true" "$(jq -r .ipsec.udp_encap <<<"${t}")" "show tunnels: udp_encap"
  assert_eq "1435" "$(jq -r .mtu <<<"${t}")" "show tunnels: MTU 1500 - 65 bytes of UDP + ESP"
  assert_eq "0" "$(tunnel_json | jq -r '[.drops[]] | add // 0')" "no drops on the tunnel"
}

topo_require_daemon
topo_build
phase_aes128
phase_aes256_udp
pass "ESP interop with python3-cryptography: both key sizes, ESN, UDP 4500, tshark, named drops, hitless rekey"
