#!/usr/bin/env bash
# The monitoring files in deploy/ are valid and use real metrics:
#  - promtool accepts deploy/prometheus/prometheus.yml and its rule file, and
#    the rules' unit tests (isthmus.rules.test.yml) pass;
#  - every isthmus_* metric named in the rules and in the Grafana dashboard's
#    queries is documented in docs/operations.md or exported by
#    control/metrics/metrics_exporter.cc, and every recorded series the rules
#    use is defined by a recording rule;
#  - live: Prometheus runs with a copy of prometheus.yml whose target list
#    points at an isthmusd in a namespace, scrapes it, loads every rule with
#    health "ok", and evaluates every rule expression and every dashboard
#    query without an error; the recording rules produce series and no alert
#    fires on a healthy appliance.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly PROM_DIR="${_TOPO_REPO_ROOT}/deploy/prometheus"
readonly PROM_CONFIG="${PROM_DIR}/prometheus.yml"
readonly RULES="${PROM_DIR}/isthmus.rules.yml"
readonly RULES_TEST="${PROM_DIR}/isthmus.rules.test.yml"
readonly DASHBOARD="${_TOPO_REPO_ROOT}/deploy/grafana/isthmus-dashboard.json"
readonly OPERATIONS_DOC="${_TOPO_REPO_ROOT}/docs/operations.md"
readonly EXPORTER="${_TOPO_REPO_ROOT}/control/metrics/metrics_exporter.cc"

# The live copy scrapes and evaluates every second so the test is short.
readonly LIVE_INTERVAL=1s
readonly LIVE_NVA_NAME=nva-under-test
readonly PROMETHEUS_START_TIMEOUT_S=30
readonly TARGET_UP_TIMEOUT_S=30
readonly RULES_HEALTHY_TIMEOUT_S=30
readonly RECORDING_TIMEOUT_S=30
# Fewer names than this means the extraction broke, not that all is well.
readonly MIN_RULE_METRICS=15
readonly MIN_DASHBOARD_METRICS=20
# What a dashboard query's Grafana variables stand for in a plain query.
readonly RATE_INTERVAL=1m

command -v promtool >/dev/null || skip "promtool not installed (Debian package prometheus)"
command -v prometheus >/dev/null || skip "prometheus not installed"
for file in "${PROM_CONFIG}" "${RULES}" "${RULES_TEST}" "${DASHBOARD}"; do
  [[ -f "${file}" ]] || fail "missing ${file}"
done

# ------------------------------------------------------------ offline checks

check_promtool_offline() {
  local out
  out="$(promtool check config "${PROM_CONFIG}" 2>&1)" || fail "promtool check config: ${out}"
  check "promtool check config deploy/prometheus/prometheus.yml"
  out="$(promtool check rules "${RULES}" 2>&1)" || fail "promtool check rules: ${out}"
  check "promtool check rules: $(grep -o '[0-9]* rules found' <<<"${out}" | head -n 1)"
  # promtool resolves rule_files relative to the test file.
  out="$(promtool test rules "${RULES_TEST}" 2>&1)" || fail "promtool test rules: ${out}"
  check "promtool test rules deploy/prometheus/isthmus.rules.test.yml"
}

# known_metrics: every metric name in the tables of docs/operations.md and
# every name the exporter declares, one per line.
known_metrics() {
  {
    # shellcheck disable=SC2016  # the backticks are markdown, not a command
    grep '^|' "${OPERATIONS_DOC}" | grep -oE '`isthmus_[a-z0-9_]+`' | tr -d '`'
    grep -oE '"isthmus_[a-z0-9_]+"' "${EXPORTER}" | tr -d '"'
  } | sort -u
}

# metric_names: the isthmus_* metric names in stdin. Identifiers are taken
# whole (with colons) so that recorded series such as
# instance:isthmus_nat_flows:utilisation are not mistaken for metrics.
metric_names() {
  grep -oE '[A-Za-z_:][A-Za-z0-9_:]*' | grep -E '^isthmus_[a-z0-9_]+$' | sort -u
}

# recorded_names: identifiers with a colon that mention isthmus_ (recorded
# series) in stdin.
recorded_names() {
  grep -oE '[A-Za-z_:][A-Za-z0-9_:]*' | grep -E ':' | grep -E 'isthmus_' | sort -u
}

# dashboard_queries: every Prometheus query of the dashboard (panel targets
# and template variables), one per line.
dashboard_queries() {
  jq -r '[.. | objects | (.expr? // empty), (.definition? // empty)] | .[] | gsub("\n"; " ")' "${DASHBOARD}"
}

# check_names WHAT COUNT_MIN: the names on stdin all exist.
check_names() {
  local what="$1" min="$2" known names name base unknown=()
  known="$(known_metrics)"
  [[ $(wc -l <<<"${known}") -ge 40 ]] || fail "found only $(wc -l <<<"${known}") known metric names"
  names="$(cat)"
  local count
  count="$(grep -c . <<<"${names}")"
  ((count >= min)) || fail "${what}: only ${count} metric names extracted (expected >= ${min})"
  while read -r name; do
    # Histogram and summary series carry a suffix the family name lacks.
    base="$(sed -E 's/_(bucket|sum|count)$//' <<<"${name}")"
    grep -qxF "${name}" <<<"${known}" || grep -qxF "${base}" <<<"${known}" || unknown+=("${name}")
  done <<<"${names}"
  ((${#unknown[@]} == 0)) || fail "${what} uses metrics that do not exist: ${unknown[*]}"
  check "${what}: all ${count} metric names exist (docs/operations.md or metrics_exporter.cc)"
}

check_metric_names() {
  metric_names <"${RULES}" | check_names "isthmus.rules.yml" "${MIN_RULE_METRICS}"
  dashboard_queries | metric_names | check_names "isthmus-dashboard.json" "${MIN_DASHBOARD_METRICS}"

  local defined used name missing=()
  defined="$(sed -nE 's/^\s*- record:\s*(\S+)\s*$/\1/p' "${RULES}" | sort -u)"
  used="$(grep -v -E '^\s*- record:' "${RULES}" | recorded_names)"
  while read -r name; do
    [[ -z "${name}" ]] && continue
    grep -qxF "${name}" <<<"${defined}" || missing+=("${name}")
  done <<<"${used}"
  ((${#missing[@]} == 0)) || fail "isthmus.rules.yml uses recorded series nobody records: ${missing[*]}"
  used="$(dashboard_queries | recorded_names)"
  [[ -z "${used}" ]] || fail "the dashboard uses recorded series (${used}): it must work without the rules"
  check "recorded series are defined; the dashboard queries raw metrics only"
}

check_dashboard_shape() {
  jq -e '.schemaVersion >= 36 and (.templating.list | map(.name) | index("datasource") != null
           and index("instance") != null)' "${DASHBOARD}" >/dev/null ||
    fail "dashboard: schemaVersion >= 36 with datasource and instance variables expected"
  local bad
  bad="$(jq -r '.panels[] | select(.type != "row") |
      select(.datasource.uid != "${datasource}" or ([.targets[]? | .datasource.uid != "${datasource}"] | any)
             or ([.targets[]? | .expr | test("\\$instance") | not] | any) or ((.targets // []) | length) == 0)
      | .title' "${DASHBOARD}")"
  [[ -z "${bad}" ]] || fail "dashboard panels without the \${datasource} variable, a query or an \$instance filter: ${bad}"
  local ids
  ids="$(jq '[.panels[].id] | (length == (unique | length))' "${DASHBOARD}")"
  [[ "${ids}" == true ]] || fail "dashboard: panel ids are not unique"
  check "dashboard: $(jq '[.panels[] | select(.type != "row")] | length' "${DASHBOARD}") panels, each on \${datasource} and filtered by \$instance"
}

# ------------------------------------------------------------- live checks

# prom_api PATH [CURL ARGS...]: a JSON answer of Prometheus' HTTP API whose
# status is "success".
prom_api() {
  local path="$1"
  shift
  ns_exec nva curl -sf --max-time 5 "${PROM_URL}${path}" "$@" | jq -ce 'select(.status == "success")'
}

# prom_instant EXPR: the answer to an instant query.
prom_instant() { prom_api /api/v1/query -G --data-urlencode "query=$1"; }

# shellcheck disable=SC2317  # called through wait_until
target_up() {
  prom_instant "up{job=\"isthmus\",instance=\"${LIVE_NVA_NAME}\"} == 1" | jq -e '.data.result | length == 1'
}

# shellcheck disable=SC2317  # called through wait_until
rules_all_ok() {
  prom_api /api/v1/rules |
    jq -e --argjson n "${RULE_COUNT}" '[.data.groups[].rules[]] | length == $n and all(.health == "ok")'
}

# shellcheck disable=SC2317  # called through wait_until
has_series() { prom_instant "$1" | jq -e '.data.result | length > 0'; }

# write_live_config DIR: prometheus.yml and the rule file copied as shipped,
# except the intervals; the file_sd target list names this test's isthmusd.
write_live_config() {
  local dir="$1"
  mkdir -p "${dir}/targets"
  sed -E -e "s/^(\s*)(scrape_interval|scrape_timeout|evaluation_interval):.*/\1\2: ${LIVE_INTERVAL}/" \
    "${PROM_CONFIG}" >"${dir}/prometheus.yml"
  cp "${RULES}" "${dir}/"
  cat >"${dir}/targets/isthmus.yml" <<EOF
- targets: ['${TOPO_METRICS_LISTEN}']
  labels:
    nva: ${LIVE_NVA_NAME}
EOF
  grep -q "scrape_interval: ${LIVE_INTERVAL}" "${dir}/prometheus.yml" ||
    fail "could not adapt ${PROM_CONFIG}"
  promtool check config "${dir}/prometheus.yml" >/dev/null 2>&1 ||
    fail "promtool rejects the adapted copy ${dir}/prometheus.yml"
}

start_prometheus() {
  local port data dir="${TEST_TMP}/prometheus"
  write_live_config "${dir}"
  port="$(free_port nva)"
  make_tmpdir data
  PROM_URL="http://127.0.0.1:${port}"
  start_bg nva "${TEST_TMP}/prometheus.log" prometheus --config.file="${dir}/prometheus.yml" \
    --storage.tsdb.path="${data}" --web.listen-address="127.0.0.1:${port}"
  wait_until "${PROMETHEUS_START_TIMEOUT_S}" ns_exec nva curl -sf --max-time 2 "${PROM_URL}/-/ready" ||
    fail "Prometheus not ready within ${PROMETHEUS_START_TIMEOUT_S} s"
  info "Prometheus on 127.0.0.1:${port} in nva with deploy/prometheus/prometheus.yml (target ${TOPO_METRICS_LISTEN})"
}

check_rules_live() {
  RULE_COUNT="$(grep -cE '^\s*- (alert|record):' "${RULES}")"
  wait_until "${RULES_HEALTHY_TIMEOUT_S}" rules_all_ok || {
    prom_api /api/v1/rules | jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]'
    fail "not all ${RULE_COUNT} rules loaded and healthy within ${RULES_HEALTHY_TIMEOUT_S} s"
  }
  check "/api/v1/rules: ${RULE_COUNT} rules loaded, every one evaluated with health \"ok\""

  # Every rule expression, as Prometheus itself parsed it, queried directly.
  local queries query answer n=0
  queries="$(prom_api /api/v1/rules | jq -r '.data.groups[].rules[] | .query | gsub("\n"; " ")')"
  while read -r query; do
    answer="$(prom_instant "${query}")" || fail "query failed: ${query}"
    n=$((n + 1))
  done <<<"${queries}"
  assert_eq "${n}" "${RULE_COUNT}" "rule expressions evaluated through /api/v1/query"

  wait_until "${RECORDING_TIMEOUT_S}" has_series 'instance_worker:isthmus_worker_busy:ratio_rate5m' ||
    fail "the recording rule instance_worker:isthmus_worker_busy:ratio_rate5m produced no series"
  wait_until "${RECORDING_TIMEOUT_S}" has_series \
    "instance_reason:isthmus_dataplane_drops:rate5m{instance=\"${LIVE_NVA_NAME}\",reason=\"no_route\"}" ||
    fail "the recording rule instance_reason:isthmus_dataplane_drops:rate5m has no no_route series"
  check "recording rules produce series labelled instance=\"${LIVE_NVA_NAME}\" (relabelled from the nva label)"

  answer="$(prom_api /api/v1/alerts)" || fail "/api/v1/alerts failed"
  local firing
  firing="$(jq -r '[.data.alerts[] | select(.state == "firing") | .labels.alertname] | join(" ")' <<<"${answer}")"
  [[ -z "${firing}" ]] || fail "alerts firing on a healthy appliance: ${firing}"
  check "no alert fires on the healthy appliance"
}

check_dashboard_live() {
  local query expr answer n=0 with_data=0
  while read -r query; do
    expr="${query//\$__rate_interval/${RATE_INTERVAL}}"
    expr="${expr//\$instance/.*}"
    if [[ "${expr}" == label_values\(* ]]; then
      # label_values(METRIC, LABEL) is Grafana's: ask for the label's values.
      local metric label
      metric="$(sed -E 's/^label_values\(([^,]+),.*$/\1/' <<<"${expr}")"
      label="$(sed -E 's/^label_values\([^,]+,\s*([a-z_]+)\)$/\1/' <<<"${expr}")"
      answer="$(prom_api "/api/v1/label/${label}/values" -G --data-urlencode "match[]=${metric}")" ||
        fail "dashboard variable query failed: ${query}"
      jq -e --arg v "${LIVE_NVA_NAME}" '.data | index($v) != null' <<<"${answer}" >/dev/null ||
        fail "dashboard variable ${query} does not list ${LIVE_NVA_NAME}: ${answer}"
    else
      answer="$(prom_instant "${expr}")" || fail "dashboard query failed: ${query}"
    fi
    jq -e '.data | (if type == "array" then . else .result end) | length > 0' <<<"${answer}" >/dev/null && with_data=$((with_data + 1))
    n=$((n + 1))
  done < <(dashboard_queries)
  # Ports, drops, punts, workers and the build info exist without BGP,
  # services or tunnels: those panels must show data here.
  assert_ge "${with_data}" 5 "dashboard queries answered with data"
  check "all ${n} dashboard queries evaluate without error (${with_data} with data on this appliance)"
}

check_promtool_offline
check_metric_names
check_dashboard_shape

topo_require_daemon
topo_up
# Traffic to an address nothing routes: no_route drops, so the drop series
# carry data (and stay far below the alert threshold).
ns_exec a ping -c 3 -i 0.2 -W 1 203.0.113.99 >/dev/null 2>&1
start_prometheus
wait_until "${TARGET_UP_TIMEOUT_S}" target_up ||
  fail "Prometheus did not scrape ${TOPO_METRICS_LISTEN} as instance ${LIVE_NVA_NAME} within ${TARGET_UP_TIMEOUT_S} s"
check "Prometheus scrapes isthmusd through the file_sd target list (up == 1)"
check_rules_live
check_dashboard_live
pass "promtool-clean config and rules, real metric names, rules and dashboard evaluate against isthmusd"
