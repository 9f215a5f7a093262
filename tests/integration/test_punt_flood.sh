#!/usr/bin/env bash
# tests/run: alone
# A flood aimed at the appliance's own address cannot starve BGP: the punt
# path is rate-limited per class (dataplane/worker/punt_limiter.h on the
# DPDK path, per-CPU buckets in the XDP program for what XDP passes to the
# kernel), and a configured BGP peer's traffic is class `control`, with a
# budget the flood cannot use.
#
#   ns a:   a-veth 198.18.1.2  FRR AS 65030 (keepalive 1 s, hold 3 s),
#                              originates 203.0.113.0/24
#           flood from 198.18.1.66 (not a peer), raw frames on a-veth:
#             UDP to a closed port   -> data plane, punt class local
#             TCP SYN to port 179    -> XDP, punt port, class local
#             ICMP echo              -> XDP, class icmp
#   ns nva: isthmusd AS 65010, west 198.18.1.1/24 (east to B as topo.sh)
#
# With IT_DRIVER=pmd (af_packet PMD + exception TAP) everything, BGP
# included, takes the DPDK punt path and its per-worker buckets instead.
#
# The flood runs for FLOOD_S seconds at the highest rate a small C sender
# (sendmmsg on AF_PACKET, frames crafted by scapy) reaches here; the rate is
# printed. Asserted: the session never left Established on either side
# (FRR's connectionsEstablished and isthmusd's established_transitions stay
# 1), the route stays, punt_limited_local / punt_limited_icmp count what
# arrived minus what the buckets let through (within FLOOD_TOLERANCE), and
# nothing of class control was dropped.
# shellcheck disable=SC2317  # predicates run through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly NVA_AS=65010 FRR_AS=65030
readonly FRR_PREFIX=203.0.113.0/24
readonly FLOOD_SRC=198.18.1.66
readonly FLOOD_S=20
readonly CLOSED_UDP_PORT=9
readonly BGP_PORT=179
readonly LOCAL_RATE_PPS=1000 ICMP_RATE_PPS=500
readonly FLOOD_TOLERANCE_PCT=15
readonly BUCKET_BURST_SLACK=2   # burst per bucket: rate/10 + 32, counted generously

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
command -v cc >/dev/null || skip "no C compiler for the flood sender"
# af_packet hands the kernel its own copy of every frame before the data
# plane sees it: nothing can limit that path (docs/architecture.md).
[[ "${IT_DRIVER}" != "af_packet" ]] || skip "af_packet: the kernel gets every frame unlimited (IT_DRIVER=${IT_DRIVER})"

# topo.sh's config (its port driver, punt ports 179 and 22) with the punt
# class rates under test and a BGP peer in A.
write_config() {
  topo_write_config "${TOPO_CONFIG}"
  sed -i "/^  punt_interface:/a\\  punt_class_rate_pps: {local: ${LOCAL_RATE_PPS}, icmp: ${ICMP_RATE_PPS}}" \
    "${TOPO_CONFIG}"
  grep -q '^  punt_class_rate_pps:' "${TOPO_CONFIG}" || fail "could not add the punt class rates to ${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<CONF
$(bgp_yaml_accept_all "${NVA_AS}" "${NVA_WEST_ADDR}")
  peers:
    - name: frr
      address: ${A_ADDR}
      remote_as: ${FRR_AS}
      hold_time: 3
      keepalive: 1
      connect_retry: 1
      import: [accept-all]
      export: [accept-all]
CONF
}

frr_body() {
  printf ' neighbor %s remote-as %s\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n' \
    "${NVA_WEST_ADDR}" "${NVA_AS}" "${NVA_WEST_ADDR}" "${NVA_WEST_ADDR}"
  printf ' address-family ipv4 unicast\n  network %s\n exit-address-family\n' "${FRR_PREFIX}"
}

# ------------------------------------------------------------ observations

neighbor_json() { ctl show bgp neighbors frr --json | jq -c '.neighbors[0]'; }
nva_transitions() { neighbor_json | jq -r '.established_transitions'; }
nva_established() { [[ "$(neighbor_json | jq -r '.state')" == "Established" ]]; }
frr_neighbor() { frr_vtysh a frr "show bgp neighbors ${NVA_WEST_ADDR} json" | jq -r --arg a "${NVA_WEST_ADDR}" ".[\$a].$1"; }
frr_established() { [[ "$(frr_peer_state a frr "${NVA_WEST_ADDR}")" == "Established" ]]; }
nva_has_route() {
  ctl show bgp routes --json | jq -e --arg p "${FRR_PREFIX}" 'any(.routes[]; .prefix == $p)' >/dev/null
}
drops() { topo_metric isthmus_dataplane_drops_total "reason=$1"; }
# Frames that reached the classifier: with af_xdp every frame passes the XDP
# program, which the sender's veth counts as transmitted (tx_packets of a
# veth includes what its peer's XDP took); with pmd the DPDK port's receive
# counter (the PMD's ring may overflow before that).
arrived_count() {
  if [[ "${IT_DRIVER}" == "pmd" ]]; then
    port_stat west rx_packets
  else
    ns_exec a cat /sys/class/net/a-veth/statistics/tx_packets
  fi
}

# ------------------------------------------------------------ the flood

# Frames (length-prefixed, little endian u16) for the sender: one of each
# kind, from FLOOD_SRC to the NVA's west address, to its MAC.
write_frames() {
  local out="$1" dst_mac src_mac
  dst_mac="$(ns_exec nva cat /sys/class/net/nva-w/address)"
  src_mac="$(ns_exec a cat /sys/class/net/a-veth/address)"
  "${PY}" - "${out}" "${src_mac}" "${dst_mac}" "${FLOOD_SRC}" "${NVA_WEST_ADDR}" \
    "${CLOSED_UDP_PORT}" "${BGP_PORT}" <<'PYEOF'
import struct, sys
from scapy.all import Ether, IP, UDP, TCP, ICMP, Raw
out, smac, dmac, src, dst, udp_port, bgp_port = sys.argv[1:]
base = Ether(src=smac, dst=dmac) / IP(src=src, dst=dst, ttl=64)
frames = [
    base / UDP(sport=40000, dport=int(udp_port)) / Raw(b"x" * 18),
    base / TCP(sport=40001, dport=int(bgp_port), flags="S", seq=1),
    base / ICMP(type=8, id=7, seq=1) / Raw(b"x" * 18),
]
with open(out, "wb") as f:
    for fr in frames:
        b = bytes(fr)
        f.write(struct.pack("<H", len(b)) + b)
PYEOF
}

# The sender: the frames in turn, 64 per sendmmsg, for SECONDS; prints
# "sent KIND_INDEX COUNT" lines and "rate PPS".
build_sender() {
  cat >"${TEST_TMP}/flood.c" <<'CEOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { kMaxFrames = 8, kBatch = 64, kMaxLen = 1514 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: flood IFNAME SECONDS FRAMES\n"); return 2; }
  static uint8_t frames[kMaxFrames][kMaxLen];
  size_t lens[kMaxFrames];
  int n = 0;
  FILE *f = fopen(argv[3], "rb");
  if (!f) { perror("frames"); return 1; }
  uint16_t len;
  while (n < kMaxFrames && fread(&len, 2, 1, f) == 1 && len <= kMaxLen && fread(frames[n], 1, len, f) == len) {
    lens[n++] = len;
  }
  fclose(f);
  if (n == 0) { fprintf(stderr, "no frames\n"); return 1; }
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1]), .sll_halen = 6};
  if (ll.sll_ifindex == 0) { perror("if_nametoindex"); return 1; }
  if (bind(fd, (struct sockaddr *)&ll, sizeof(ll)) != 0) { perror("bind"); return 1; }
  struct mmsghdr msgs[kBatch];
  struct iovec iov[kBatch];
  int kind[kBatch];
  memset(msgs, 0, sizeof(msgs));
  for (int i = 0; i < kBatch; ++i) {
    kind[i] = i % n;
    iov[i].iov_base = frames[kind[i]];
    iov[i].iov_len = lens[kind[i]];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent[kMaxFrames] = {0};
  const double start = now_s(), end = start + atof(argv[2]);
  while (now_s() < end) {
    int done = sendmmsg(fd, msgs, kBatch, 0);
    for (int i = 0; i < done; ++i) sent[kind[i]]++;
  }
  const double took = now_s() - start;
  unsigned long long total = 0;
  for (int i = 0; i < n; ++i) { printf("sent %d %llu\n", i, sent[i]); total += sent[i]; }
  printf("rate %.0f\n", total / took);
  return 0;
}
CEOF
  cc -O2 -Wall -o "${TEST_TMP}/flood" "${TEST_TMP}/flood.c" || fail "cannot build the flood sender"
}

# ------------------------------------------------------------ the test

topo_build
write_config
topo_start_daemon
frr_start a frr "${A_ADDR}" "${FRR_AS}" "${A_ADDR}" "$(frr_body)"
wait_until "${BGP_WAIT_S}" frr_established || fail "FRR never reached Established with isthmusd"
wait_until "${BGP_WAIT_S}" nva_has_route || fail "isthmusd never learned ${FRR_PREFIX} from FRR"
check "BGP Established (keepalive 1 s, hold 3 s), ${FRR_PREFIX} learned"

frr_connections_before="$(frr_neighbor connectionsEstablished)"
nva_transitions_before="$(nva_transitions)"
write_frames "${TEST_TMP}/frames.bin"
build_sender
local_before="$(drops punt_limited_local)" || fail "punt_limited_local missing from /metrics"
icmp_before="$(drops punt_limited_icmp)" || fail "punt_limited_icmp missing from /metrics"
control_before="$(drops punt_limited_control)" || fail "punt_limited_control missing from /metrics"
arrived_before="$(arrived_count)"

# Watch the session every half second while the flood runs.
(
  while :; do
    frr_established || echo "frr-not-established $(date +%s.%N)"
    sleep 0.5
  done
) >"${TEST_TMP}/watch.log" 2>&1 &
watcher=$!
stop_watcher() { kill "${watcher}" 2>/dev/null; }
on_cleanup stop_watcher

ns_exec a "${TEST_TMP}/flood" a-veth "${FLOOD_S}" "${TEST_TMP}/frames.bin" >"${TEST_TMP}/flood.out" ||
  fail "the flood sender failed: $(cat "${TEST_TMP}/flood.out")"
sleep 1  # counters of the last batches; the session still has to be up after
stop_watcher
wait "${watcher}" 2>/dev/null

sent_udp="$(awk '$1 == "sent" && $2 == 0 { print $3 }' "${TEST_TMP}/flood.out")"
sent_syn="$(awk '$1 == "sent" && $2 == 1 { print $3 }' "${TEST_TMP}/flood.out")"
sent_icmp="$(awk '$1 == "sent" && $2 == 2 { print $3 }' "${TEST_TMP}/flood.out")"
rate="$(awk '$1 == "rate" { print $2 }' "${TEST_TMP}/flood.out")"
arrived_after="$(arrived_count)"
info "flood: ${rate} pps for ${FLOOD_S} s (UDP ${sent_udp}, SYN ${sent_syn}, ICMP ${sent_icmp})"

# ---- BGP never noticed
[[ ! -s "${TEST_TMP}/watch.log" ]] || fail "FRR left Established during the flood: $(head -3 "${TEST_TMP}/watch.log")"
frr_established || fail "FRR session is $(frr_peer_state a frr "${NVA_WEST_ADDR}") after the flood"
nva_established || fail "isthmusd's session is not Established after the flood"
assert_eq "${frr_connections_before}" "$(frr_neighbor connectionsEstablished)" \
  "FRR connectionsEstablished unchanged (no flap)"
assert_eq "${nva_transitions_before}" "$(nva_transitions)" "isthmusd established_transitions unchanged"
nva_has_route || fail "${FRR_PREFIX} from FRR is gone after the flood"
check "${FRR_PREFIX} still learned from FRR"

# ---- drops under their named reasons
# Each kind arrived in the same share, since the sender interleaves them.
sent_total=$((sent_udp + sent_syn + sent_icmp))
arrived=$((arrived_after - arrived_before))
((sent_total > 0)) || fail "the sender sent nothing"
info "arrived at port west: ${arrived} of ${sent_total} frames"
# What the buckets may let through: XDP has one bucket per CPU, the data
# plane one per worker.
cpus="$(nproc)"
allowed() { echo $(( ($1 * (FLOOD_S + 2) + $1 / 10 + 32) * BUCKET_BURST_SLACK )); }
local_allowed=$(( (cpus + 1) * $(allowed "${LOCAL_RATE_PPS}") ))
icmp_allowed=$(( cpus * $(allowed "${ICMP_RATE_PPS}") ))
local_arrived=$(( (sent_udp + sent_syn) * arrived / sent_total ))
icmp_arrived=$(( sent_icmp * arrived / sent_total ))
local_dropped=$(( $(drops punt_limited_local) - local_before ))
icmp_dropped=$(( $(drops punt_limited_icmp) - icmp_before ))
info "punt_limited_local +${local_dropped} (arrived ~${local_arrived}), punt_limited_icmp +${icmp_dropped} (arrived ~${icmp_arrived})"

# within_tolerance GOT ARRIVED ALLOWED LABEL: GOT is at most ARRIVED and at
# least ARRIVED - ALLOWED, each side FLOOD_TOLERANCE_PCT wider.
within_tolerance() {
  local got="$1" arrived="$2" allowed="$3" label="$4"
  local low=$(( (arrived - allowed) * (100 - FLOOD_TOLERANCE_PCT) / 100 ))
  local high=$(( arrived * (100 + FLOOD_TOLERANCE_PCT) / 100 ))
  ((low < 0)) && low=0
  ((got >= low && got <= high)) || fail "${label}: ${got} dropped, expected ${low}..${high}"
  check "${label}: ${got} dropped (expected ${low}..${high})"
}
within_tolerance "${local_dropped}" "${local_arrived}" "${local_allowed}" "punt_limited_local (UDP + SYN)"
within_tolerance "${icmp_dropped}" "${icmp_arrived}" "${icmp_allowed}" "punt_limited_icmp (ping)"
assert_eq "${control_before}" "$(drops punt_limited_control)" "punt_limited_control unchanged (BGP never limited)"
# The flood was far above the budgets: it has to have been limited at all.
assert_ge "${local_dropped}" $((local_arrived / 2)) "most of the local-class flood dropped"
pass "BGP stayed up through ${FLOOD_S} s of ${rate} pps at the NVA's address; floods dropped per class"
