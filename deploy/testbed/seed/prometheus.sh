# shellcheck shell=bash
# Prometheus for the seed testbed (issue 6, item 2): one Prometheus in the
# management namespace `mg` scrapes every NVA's /metrics over the management
# network (topology.sh: a bridge in mg, a veth `mgmt` per NVA namespace,
# metrics.listen on the NVA's management address) with the project's own
# deploy/prometheus/prometheus.yml and isthmus.rules.yml, intervals shortened
# to SEED_PROM_INTERVAL; seed_prom_report reads figures back through its
# HTTP API. Sourced by topology.sh.

readonly SEED_PROM_DIR="${_SEED_REPO_ROOT}/deploy/prometheus"
readonly SEED_PROM_INTERVAL=1s
readonly SEED_PROM_PORT=9090
readonly SEED_PROM_URL="http://127.0.0.1:${SEED_PROM_PORT}"
readonly SEED_PROM_READY_TIMEOUT_S=30
readonly SEED_PROM_AGREE_TIMEOUT_S=15
# Drop reasons quoted per NVA (the largest counters).
readonly SEED_PROM_TOP_DROPS=3

seed_prom_installed() { command -v prometheus >/dev/null; }

_seed_prom_conf_dir() { echo "${TEST_TMP}/prometheus"; }

# seed_prom_write_config: the shipped prometheus.yml and rules, intervals
# shortened so that a demo sees every change, and a file_sd target list with
# every NVA's management address, labelled with its name (the shipped
# relabelling makes that the `instance`) and region.
seed_prom_write_config() {
  local dir r i
  dir="$(_seed_prom_conf_dir)"
  mkdir -p "${dir}/targets" "${dir}/data" || fail "cannot create ${dir}"
  sed -E -e "s/^(\s*)(scrape_interval|scrape_timeout|evaluation_interval):.*/\1\2: ${SEED_PROM_INTERVAL}/" \
    "${SEED_PROM_DIR}/prometheus.yml" >"${dir}/prometheus.yml" || fail "cannot write ${dir}/prometheus.yml"
  grep -q "scrape_interval: ${SEED_PROM_INTERVAL}" "${dir}/prometheus.yml" ||
    fail "could not shorten the intervals of ${SEED_PROM_DIR}/prometheus.yml"
  cp "${SEED_PROM_DIR}/isthmus.rules.yml" "${dir}/" || fail "cannot copy the rules"
  {
    echo "# written by seed/prometheus.sh: every NVA of the seed testbed"
    for r in "${SEED_REGIONS[@]}"; do
      for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
        printf -- "- targets: ['%s']\n  labels:\n    nva: %s\n    region: %s\n" \
          "$(nva_metrics_listen "${r}" "${i}")" "${r}${i}" "${r}"
      done
    done
  } >"${dir}/targets/seed.yml" || fail "cannot write the target list"
  if command -v promtool >/dev/null; then
    promtool check config "${dir}/prometheus.yml" >/dev/null 2>&1 ||
      fail "promtool rejects ${dir}/prometheus.yml: $(promtool check config "${dir}/prometheus.yml" 2>&1 | tail -n 3)"
  fi
}

# seed_start_prometheus: starts Prometheus in mg (returns at once; the
# first scrape needs no waiting, seed_prom_wait_ready is for readers).
seed_start_prometheus() {
  local dir
  dir="$(_seed_prom_conf_dir)"
  seed_prom_write_config
  start_bg mg "${dir}/prometheus.log" prometheus --config.file="${dir}/prometheus.yml" \
    --storage.tsdb.path="${dir}/data" --web.listen-address="127.0.0.1:${SEED_PROM_PORT}"
}

seed_prom_wait_ready() {
  wait_until "${SEED_PROM_READY_TIMEOUT_S}" ns_exec mg curl -sf --max-time 2 "${SEED_PROM_URL}/-/ready"
}

# seed_prom_api PATH [CURL ARGS...]: the `data` of a successful API answer.
seed_prom_api() {
  local path="$1"
  shift
  ns_exec mg curl -sf --max-time 5 "${SEED_PROM_URL}${path}" "$@" | jq -ce 'select(.status == "success") | .data'
}

# seed_prom_query EXPR: an instant query's result vector.
seed_prom_query() { seed_prom_api /api/v1/query -G --data-urlencode "query=$1" | jq -c '.result'; }

# _seed_prom_by_instance EXPR JQ_FORMAT [JQ_GROUP]: "INSTANCE TEXT" lines,
# one per instance: TEXT is JQ_GROUP applied to the array of the instance's
# series (default: JQ_FORMAT of each series, joined by spaces); a series
# has .metric (labels) and .value[1].
_seed_prom_by_instance() {
  local group="${3:-map($2) | join(\" \")}"
  seed_prom_query "$1" | jq -r "group_by(.metric.instance)[] | \"\(.[0].metric.instance) \" + (${group})"
}

# _seed_prom_lookup LINES NAME: the TEXT of NAME's line in
# _seed_prom_by_instance output (empty when absent).
_seed_prom_lookup() { awk -v n="$2" '$1 == n { $1 = ""; print substr($0, 2) }' <<<"$1"; }

# seed_prom_sessions_agree NAME: Prometheus' count of NAME's Established
# sessions equals what isthmusctl says now.
seed_prom_sessions_agree() {
  local ctl prom
  ctl="$(nva_ctl "$1" show bgp summary --json 2>/dev/null | jq '[.peers[] | select(.state == "Established")] | length')"
  prom="$(seed_prom_query "sum(isthmus_bgp_peer_established{instance=\"$1\"})" | jq -r '.[0].value[1] // empty')"
  [[ -n "${ctl}" && "${ctl}" == "${prom}" ]]
}

# seed_prom_report SECONDS: checks (through `report`, which the caller
# defines) that Prometheus scraped every NVA during the last SECONDS and that
# its session figures match isthmusctl's, then prints per NVA the figures it
# holds: now, whether it is scraped (up), its Established sessions and the
# VIPs it advertises per peer; over the last SECONDS, tunnel packets by
# direction and the largest drop reasons; and the alerts firing or pending.
# The figure lines are also left in SEED_PROM_LINES.
seed_prom_report() {
  local window="$1" r i name names=() running=()
  SEED_PROM_LINES=()
  for r in "${SEED_REGIONS[@]}"; do
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
      names+=("${r}${i}")
      [[ -n "$(nva_pid "${r}${i}")" ]] && is_running "$(nva_pid "${r}${i}")" && running+=("${r}${i}")
    done
  done
  if ! seed_prom_wait_ready; then
    report FAIL "Prometheus (mg) ready" "not within ${SEED_PROM_READY_TIMEOUT_S} s: $(tail -n 3 "$(_seed_prom_conf_dir)/prometheus.log")"
    return
  fi
  local scraped missing=() deadline=$((SECONDS + SEED_PROM_READY_TIMEOUT_S))
  # A short run (a single scenario) may end before the first scrape of an
  # NVA has been stored: poll until every NVA was seen up, or time runs out.
  while :; do
    missing=()
    scraped="$(_seed_prom_by_instance "max_over_time(up{job=\"isthmus\"}[$((window + SEED_PROM_READY_TIMEOUT_S))s]) == 1" '.value[1]')"
    for name in "${names[@]}"; do
      [[ -n "$(_seed_prom_lookup "${scraped}" "${name}")" ]] || missing+=("${name}")
    done
    ((${#missing[@]} == 0 || SECONDS >= deadline)) && break
    sleep 0.5
  done
  if ((${#missing[@]} == 0)); then
    report PASS "Prometheus scraped every NVA over the management net" "${#names[@]} targets (${names[*]}), up == 1, every ${SEED_PROM_INTERVAL}"
  else
    report FAIL "Prometheus scraped every NVA over the management net" "never up: ${missing[*]}"
  fi
  local disagree=()
  for name in "${running[@]}"; do
    wait_until "${SEED_PROM_AGREE_TIMEOUT_S}" seed_prom_sessions_agree "${name}" || disagree+=("${name}")
  done
  if ((${#disagree[@]} == 0)); then
    report PASS "Prometheus: Established sessions match isthmusctl" "running NVAs: ${running[*]}"
  else
    report FAIL "Prometheus: Established sessions match isthmusctl" "differ for: ${disagree[*]}"
  fi

  local up sessions peers vips drops tunnel
  up="$(_seed_prom_by_instance 'up{job="isthmus"}' '.value[1]')"
  sessions="$(_seed_prom_by_instance 'sum by (instance) (isthmus_bgp_peer_established)' '.value[1]')"
  peers="$(_seed_prom_by_instance 'count by (instance) (isthmus_bgp_peer_established)' '.value[1]')"
  # "VIP->peer,peer" per VIP.
  vips="$(_seed_prom_by_instance 'isthmus_bgp_vip_advertised == 1' '' \
    'group_by(.metric.vip) | map("\(.[0].metric.vip | sub("/32$"; ""))->" + (map(.metric.peer) | join(","))) | join(" ")')"
  # Counters over the whole run: increase() adds across the restarts of the
  # nva-failure and loop scenarios (a restarted isthmusd starts from 0) and
  # keeps the tunnel a restart removed; rounded, as increase() extrapolates
  # to the window's edges.
  drops="$(_seed_prom_by_instance \
    "topk by (instance) (${SEED_PROM_TOP_DROPS}, round(increase(isthmus_dataplane_drops_total[${window}s])) > 0)" \
    '"\(.metric.reason)=\(.value[1])"')"
  tunnel="$(_seed_prom_by_instance \
    "round(sum by (instance, direction) (increase(isthmus_tunnel_packets_total[${window}s])))" '' \
    'sort_by(.metric.direction) | reverse | map("\(.metric.direction) \(.value[1])") | join(" ")')"
  local line
  local format='%-4s %-3s %-9s %-28s %-22s %s'
  # shellcheck disable=SC2059  # the format is the table's, shared by every row
  printf -v line "${format}" NVA up sessions "VIP advertised to" "tunnel packets (run)" \
    "drops in the run (top ${SEED_PROM_TOP_DROPS})"
  SEED_PROM_LINES+=("${line}")
  local u s v t d
  for name in "${names[@]}"; do
    u="$(_seed_prom_lookup "${up}" "${name}")"
    s="$(_seed_prom_lookup "${sessions}" "${name}")"
    [[ -n "${s}" ]] && s+=" of $(_seed_prom_lookup "${peers}" "${name}")"
    v="$(_seed_prom_lookup "${vips}" "${name}")"
    t="$(_seed_prom_lookup "${tunnel}" "${name}")"
    d="$(_seed_prom_lookup "${drops}" "${name}")"
    # shellcheck disable=SC2059
    printf -v line "${format}" "${name}" "${u:--}" "${s:--}" "${v:--}" "${t:--}" "${d:-none}"
    SEED_PROM_LINES+=("${line}")
  done
  local alerts
  alerts="$(seed_prom_api /api/v1/alerts |
    jq -r '.alerts as $all | ([$all[] | select(.state == "firing")] | length) as $f
           | "alerts: \($f) firing, \(($all | length) - $f) pending"
             + ($all | map("\n  \(.state) \(.labels.alertname) instance=\(.labels.instance // "-")"
                          + (if .labels.peer then " peer=\(.labels.peer)" else "" end)) | join(""))')"
  local alert_line
  while IFS= read -r alert_line; do SEED_PROM_LINES+=("${alert_line}"); done <<<"${alerts:-alerts: /api/v1/alerts did not answer}"
  printf '  %s\n' "${SEED_PROM_LINES[@]}"
}
