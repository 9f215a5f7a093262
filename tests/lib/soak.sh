# shellcheck shell=bash
# The soak's topology, disturbances and measurements (tests/soak): the
# two-region seed of deploy/testbed/seed/topology.sh with an IPsec tunnel
# between the regions' NVAs, one NVA per region, and a second backend of
# region a's anycast service (app a2, 198.18.100.11:8080 in spoke a).
# Sourced by tests/soak after nothing else.
# shellcheck disable=SC2317  # predicates are called through wait_until

export TUNNEL=ipsec SEED_NVAS_PER_REGION=1
# shellcheck source=deploy/testbed/seed/topology.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/testbed/seed/topology.sh"

# Prometheus would only add load to a machine the soak already keeps busy.
seed_prom_installed() { return 1; }

# shellcheck disable=SC2034  # the constants are the soak's vocabulary
{
  readonly SOAK_NVAS=(a1 b1)
  readonly SOAK_APP2_ADDR=198.18.100.11
  # Short flow timeouts, so that "no stale flows" is checked within the run.
  readonly SOAK_TCP_ESTABLISHED_S=10 SOAK_TCP_TRANSITORY_S=5 SOAK_UDP_S=5
  # Health checks slower than the defaults (200 / 150 ms): on a loaded
  # 2-CPU machine the Python backends sometimes take longer than 150 ms to
  # answer, and a healthy backend marked down is not what the soak is about.
  readonly SOAK_PROBE_INTERVAL_MS=500 SOAK_PROBE_TIMEOUT_MS=450 SOAK_PROBE_FALL=3
  # How long a stopped backend may still be picked for new connections.
  readonly SOAK_BACKEND_DETECT_MS=$((SOAK_PROBE_FALL * SOAK_PROBE_INTERVAL_MS + SOAK_PROBE_TIMEOUT_MS))
  # The harmless change every other reload makes: a /32 each NVA originates.
  readonly -A SOAK_MARKER=([a1]=198.51.100.41/32 [b1]=198.51.100.42/32)
  # ESP SPIs: generation G of direction a -> b is 4097 + G, b -> a 8193 + G
  # (generation 0 is the seed's own SA, keys "ab" and "ba").
  readonly SOAK_SPI_AB=4097 SOAK_SPI_BA=8193
  readonly SOAK_CONVERGE_TIMEOUT_S=30
}

# Per NVA: the SAs its config lists now ("SPI:KEYNAME"; inbound a list) and
# whether it originates its marker.
declare -gA SOAK_SA_OUT=() SOAK_SA_IN=() SOAK_MARKED=()
SOAK_GENERATION=0

# ------------------------------------------------------------ config

# soak_write_config NAME: the seed's config of NVA NAME edited with the
# soak's state (second backend in region a, flow timeouts, SAs, marker).
soak_write_config() {
  local name="$1" sa args=()
  seed_write_nva_config "${name:0:1}" "${name:1}"
  args+=(--flow-timeouts "tcp_established_s=${SOAK_TCP_ESTABLISHED_S},tcp_transitory_s=${SOAK_TCP_TRANSITORY_S},udp_s=${SOAK_UDP_S}")
  args+=(--health "interval_ms=${SOAK_PROBE_INTERVAL_MS},timeout_ms=${SOAK_PROBE_TIMEOUT_MS},fall=${SOAK_PROBE_FALL}")
  [[ "${name}" == a1 ]] && args+=(--backend "${SOAK_APP2_ADDR}:${APP_PORT}")
  args+=(--esp-outbound "${SOAK_SA_OUT[${name}]%%:*}:${KEYS}/${SOAK_SA_OUT[${name}]#*:}.key")
  for sa in ${SOAK_SA_IN[${name}]}; do args+=(--esp-inbound "${sa%%:*}:${KEYS}/${sa#*:}.key"); done
  ((${SOAK_MARKED[${name}]:-0})) && args+=(--network "${SOAK_MARKER[${name}]}")
  "${PY}" "${IT_LIB_DIR}/soak_config.py" "$(nva_config "${name}")" "${args[@]}" ||
    fail "cannot edit $(nva_config "${name}")"
}

# soak_reload NAME...: rewrites each NVA's config and applies it
# (`isthmusctl reload` returns once applied).
soak_reload() {
  local name out
  for name in "$@"; do
    soak_write_config "${name}"
    out="$(nva_ctl "${name}" reload 2>&1)" || soak_die "${name}: reload failed: ${out}"
  done
}

# soak_adopt_seed: from the seed's running configs to the soak's (same SAs,
# plus the second backend and the flow timeouts), applied by a reload.
soak_adopt_seed() {
  SOAK_SA_OUT[a1]="${SOAK_SPI_AB}:ab" SOAK_SA_IN[a1]="${SOAK_SPI_BA}:ba"
  SOAK_SA_OUT[b1]="${SOAK_SPI_BA}:ba" SOAK_SA_IN[b1]="${SOAK_SPI_AB}:ab"
  soak_reload "${SOAK_NVAS[@]}"
}

# ------------------------------------------------------------ disturbances

# Rekey, make-before-break as test_ipsec_two_regions.sh does it: both ends
# accept the new SA, then both send on it, then the old inbound SAs leave
# the config (the daemon drains them until idle).
soak_rekey_step() {
  local g=$((SOAK_GENERATION + 1))
  local ab="$((SOAK_SPI_AB + g)):ab${g}" ba="$((SOAK_SPI_BA + g)):ba${g}"
  case "$1" in
    1)
      new_key "ab${g}" 16
      new_key "ba${g}" 16
      SOAK_SA_IN[a1]+=" ${ba}" SOAK_SA_IN[b1]+=" ${ab}"
      ;;
    2) SOAK_SA_OUT[a1]="${ab}" SOAK_SA_OUT[b1]="${ba}" ;;
    3)
      SOAK_SA_IN[a1]="${ba}" SOAK_SA_IN[b1]="${ab}"
      SOAK_GENERATION=${g}
      ;;
  esac
  soak_reload "${SOAK_NVAS[@]}"
}

# soak_rekey_settled: each end holds exactly the SAs its config lists (an
# old inbound SA drained and removed).
soak_rekey_settled() {
  local name want_in sa
  for name in "${SOAK_NVAS[@]}"; do
    want_in="$(for sa in ${SOAK_SA_IN[${name}]}; do printf '0x%08x\n' "${sa%%:*}"; done | jq -R . | jq -sc .)"
    nva_ctl "${name}" show tunnels --json 2>/dev/null |
      jq -e --argjson in "${want_in}" --arg out "$(printf '0x%08x' "${SOAK_SA_OUT[${name}]%%:*}")" \
        'first(.[] | select(.type == "ipsec")) | (.ipsec.inbound | map(.spi)) == $in and .ipsec.outbound.spi == $out' \
        >/dev/null 2>&1 || return 1
  done
}

soak_toggle_marker() {
  local name
  for name in "${SOAK_NVAS[@]}"; do SOAK_MARKED[${name}]=$((1 - ${SOAK_MARKED[${name}]:-0})); done
  soak_reload "${SOAK_NVAS[@]}"
}

# _soak_ars_pid R K: the PID of Route Server instance K of region R.
_soak_ars_pid() { cat "${TEST_TMP}/frr-$(ars_name "$1" "$2")/bgpd.pid" 2>/dev/null; }

declare -gA SOAK_ARS_CMD=()

# soak_ars_stop R K: SIGTERM (bgpd sends a Cease to every peer), remembering
# its command line for soak_ars_start.
soak_ars_stop() {
  local pid key="$1$2"
  pid="$(_soak_ars_pid "$1" "$2")"
  if [[ -z "${pid}" ]] || ! is_running "${pid}"; then soak_die "Route Server $(ars_name "$1" "$2") is not running"; fi
  SOAK_ARS_CMD[${key}]="$(tr '\0' '\n' <"/proc/${pid}/cmdline")"
  stop_bg "${pid}" TERM 10 || true   # exits on the signal
}

# soak_ars_start R K: the same bgpd, same config, started again.
soak_ars_start() {
  local cmd=()
  mapfile -t cmd <<<"${SOAK_ARS_CMD[$1$2]}"
  start_bg "rs$1" "${TEST_TMP}/frr-$(ars_name "$1" "$2")/restart.log" "${cmd[@]}"
}

declare -gA SOAK_APP2_PID=()

# soak_start_app2: the second backend of region a's service.
soak_start_app2() {
  local log="${TEST_TMP}/app-a2.log"
  : >"${log}"
  start_bg spa "${log}" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
    --bind "${SOAK_APP2_ADDR}" --port "${APP_PORT}" --name appa2
  SOAK_APP2_PID[a]=${BG_PID}
  wait_until 10 grep -q ready "${log}" || soak_die "app a2 did not start: $(cat "${log}")"
}

soak_stop_app2() { stop_bg "${SOAK_APP2_PID[a]}" TERM 5 || true; }

# soak_backends_up N: region a's service has N healthy backends.
soak_backends_up() {
  [[ "$(nva_ctl a1 show services --json 2>/dev/null | jq -r 'first(.[] | select(.name == "web")) | .backends_up')" == "$1" ]]
}

# ------------------------------------------------------------ traffic

# soak_http_loop LOG: a new connection from the on-premises client to the
# VIP every SOAK_HTTP_INTERVAL_S; one line per request:
# "START_US ok BACKEND" or "START_US fail CURL_STATUS". Runs until stopped.
soak_http_loop() {
  trap '' INT HUP
  local t body status
  while true; do
    t="$(_it_now_us)"
    status=0
    body="$(ns_exec op curl -sf --max-time "${SOAK_HTTP_MAX_TIME_S}" --interface "${ONPREM_CLIENT}" \
      "http://${VIP}:${VIP_PORT}/" 2>/dev/null)" || status=$?
    if ((status == 0)); then echo "${t} ok ${body%% *}"; else echo "${t} fail ${status}"; fi
    sleep "${SOAK_HTTP_INTERVAL_S}"
  done
}

# ------------------------------------------------------------ measurements

# soak_nva_stats NAME: `show stats --json` of NVA NAME.
soak_nva_stats() { nva_ctl "$1" show stats --json; }

# soak_rss_kb NAME: VmRSS of NVA NAME's isthmusd.
soak_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(nva_pid "$1")/status"; }
soak_fds() { find "/proc/$(nva_pid "$1")/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# soak_worker_run_delay_ms NAME: milliseconds NVA NAME's worker threads (DPDK
# names them rte-worker-N) spent runnable but waiting for a CPU, in all
# (/proc/PID/task/TID/schedstat, second field, ns). A worker stall longer
# than this grew cannot be the host's scheduler.
soak_worker_run_delay_ms() {
  local pid task total=0 delay found=0
  pid="$(nva_pid "$1")"
  for task in /proc/"${pid}"/task/*; do
    [[ "$(cat "${task}/comm" 2>/dev/null)" == rte-worker-* ]] || continue
    read -r _ delay _ <"${task}/schedstat" || continue
    total=$((total + delay))
    found=1
  done
  ((found)) || return 1
  echo $((total / 1000000))
}

# soak_routes: every route table the soak expects to return to its
# baseline, one line each, sorted: each NVA's BGP paths (prefix, peer, next
# hop, AS path: not which is best, a tie may break either way) and FIB
# (prefix, next hop kinds and gateways), each Route Server instance's paths,
# each fabric's kernel routes from BGP.
soak_routes() {
  local name r k
  for name in "${SOAK_NVAS[@]}"; do
    nva_ctl "${name}" show bgp routes --json |
      jq -r --arg n "${name}" '.routes[] | .prefix as $p | .paths[] | "\($n) bgp \($p) \(.peer) \(.next_hop) [\(.as_path)]"' ||
      return 1
    nva_ctl "${name}" show fib --json |
      jq -r --arg n "${name}" '.entries[] | "\($n) fib \(.prefix) \([.nexthops[] | "\(.kind):\(.via)"] | sort | join(","))"' ||
      return 1
  done
  for r in "${SEED_REGIONS[@]}"; do
    for k in 1 2; do
      seed_ars_routes "${r}" "${k}" | sed "s/^/ars-${r}${k} /"
      [[ "${PIPESTATUS[0]}" == 0 ]] || return 1
    done
    ns_exec "f${r}" ip -o route show proto "${SEED_RIB_PROTO}" | sed -e "s/^/fabric-${r} /" -e 's/ *$//'
  done
}

# soak_routes_are FILE: soak_routes equals FILE now.
soak_routes_are() {
  local now
  now="$(soak_routes 2>/dev/null | sort)" || return 1
  [[ "${now}" == "$(cat "$1")" ]]
}

soak_die() {
  local name
  for name in "${SOAK_NVAS[@]}"; do
    [[ -n "$(nva_pid "${name}")" ]] && nva_diag "${name}" "bgp summary" "tunnels" "services"
  done
  fail "$@"
}
