#!/usr/bin/env bash
# The two-region seed testbed (issue 6, item 4): deploy/testbed/seed/run,
# short (SEED_QUICK=1), once over VXLAN with every scenario (cross-region,
# anycast, nva-failure, loop) and once over IPsec with cross-region only. Asserts outcomes, not timings: the runner
# exits 0, prints no FAIL line, and every expected check appears as PASS
# (a scenario that silently stopped early would lack some); with Prometheus
# installed, its checks pass and the report quotes its figures. Then
# deploy/testbed/seed/up and down (skipped when a seed testbed is up).
#
# The runner is a child with namespaces of its own (prefix <ours>-vx /
# <ours>-ip); started by start_bg, so this script's cleanup sends it SIGTERM
# and its own trap tears its topology down, also when tests/run times out.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"

readonly RUNNER="${_TOPO_REPO_ROOT}/deploy/testbed/seed/run"
readonly SEED_UP="${_TOPO_REPO_ROOT}/deploy/testbed/seed/up"
readonly SEED_DOWN="${_TOPO_REPO_ROOT}/deploy/testbed/seed/down"
readonly SEED_STATE=/run/isthmus-seed/state

# Checks every cross-region / anycast run must report as PASS (name prefixes).
readonly CROSS_REGION_CHECKS=(
  "BGP: NVA<->ARS x2 per region"
  "convergence: spoke a reaches spoke b"
  "ARS a1 holds 198.19.100.0/24" "ARS a2 holds 198.19.100.0/24"
  "ARS b1 holds 198.18.100.0/24" "ARS b2 holds 198.18.100.0/24"
  "ping spoke a -> spoke b" "ping spoke b -> spoke a"
  "HTTP spoke a -> app in spoke b" "HTTP spoke b -> app in spoke a"
  "traceroute spoke a -> spoke b: both NVAs, no loop")
readonly ANYCAST_CHECKS=(
  "on-premises best route to the VIP via region a"
  "on-premises GET VIP served by region a"
  "20 new connections to the VIP, all region a"
  "failover: app a killed -> served by region b"
  "on-premises best route during the failure via region b"
  "failback: app a back -> served by region a")
readonly NVA_FAILURE_CHECKS=(
  "BGP: 2 NVAs per region, each with both ARS and its tunnel peer"
  "ARS a1 holds 198.19.100.0/24 from both NVAs"
  "SIGKILL active NVA a1: flow a<->b on standby a2/b2"
  "SIGTERM active NVA a1: flow a<->b on standby a2/b2"
  "a1 restarted: traffic back on the active NVAs")
readonly LOOP_CHECKS=(
  "underlay BGP a1 <-> b1: remote spoke via the other NVA's hub address"
  "without tunnel: loop between fabric a and NVA a1"
  "UDRs on the NVA subnets: spoke a <-> spoke b again")
# With Prometheus installed the runner scrapes every NVA and reads figures back.
PROMETHEUS_CHECKS=()
command -v prometheus >/dev/null && PROMETHEUS_CHECKS=(
  "Prometheus scraped every NVA over the management net"
  "Prometheus: Established sessions match isthmusctl")
readonly PROMETHEUS_CHECKS

# run_seed TAG TUNNEL SCENARIOS CHECK...: one runner invocation, asserted.
run_seed() {
  local tag="$1" tunnel="$2" scenarios="$3"
  shift 3
  local log="${TEST_TMP}/seed-${tag}.txt" pid status=0
  info "deploy/testbed/seed/run --tunnel ${tunnel} --scenarios ${scenarios}"
  start_bg - "${log}" env IT_PREFIX="${IT_PREFIX}-${tag}" SEED_QUICK=1 "${RUNNER}" \
    --tunnel "${tunnel}" --scenarios "${scenarios}"
  pid=${BG_PID}
  wait "${pid}" || status=$?
  sed -n '/^== report/,$p' "${log}" | sed 's/^/  | /'
  assert_eq 0 "${status}" "${tag}: runner exit status"
  local fails
  fails="$(grep -E '^  FAIL ' "${log}" | sort -u)"
  assert_eq "" "${fails}" "${tag}: FAIL lines in the report"
  local name
  for name in "$@"; do
    grep -qF -- "  PASS ${name}" "${log}" || fail "${tag}: no PASS line for '${name}'"
  done
  check "${tag}: all $# expected checks passed"
  if ((${#PROMETHEUS_CHECKS[@]})); then
    # The figures section: a row per NVA with its sessions, read from Prometheus.
    grep -qE '^    a1 +1 +3 of 3 ' "${log}" || fail "${tag}: no Prometheus row 'a1 up 1, 3 of 3 sessions' in the report"
    grep -qE '^    alerts: [0-9]+ firing' "${log}" || fail "${tag}: no alerts line in the Prometheus section"
    check "${tag}: the report quotes Prometheus' figures (a1: 3 of 3 sessions Established)"
  fi
  # The runner's cleanup removed what it created.
  ! ip netns list | grep -qF "${IT_PREFIX}-${tag}-" ||
    fail "${tag}: namespaces left behind: $(ip netns list | grep -F "${IT_PREFIX}-${tag}-" | xargs)"
  check "${tag}: no namespace left behind"
}

# seed_ns_count: how many seed/up namespaces (seed-*) exist.
seed_ns_count() { ip netns list | awk '{ print $1 }' | grep -c '^seed-'; }

# up_down_teardown: seed/down if this test's seed/up left something (its
# processes run detached, outside this script's records).
UP_STARTED=0
up_down_teardown() { ((UP_STARTED)) && "${SEED_DOWN}" >/dev/null 2>&1; return 0; }

# check_up_down: seed/up leaves a working testbed (a spoke reaches the other
# region, isthmusctl answers with the command it printed); seed/down removes
# every namespace and process it recorded; a second down is harmless.
check_up_down() {
  if [[ -e "${SEED_STATE}" ]] || (($(seed_ns_count))); then
    info "seed/up: a seed testbed is already up on this host; up/down not exercised"
    return
  fi
  local log="${TEST_TMP}/seed-up.txt" pids
  UP_STARTED=1
  on_cleanup up_down_teardown
  "${SEED_UP}" >"${log}" 2>&1 || { sed 's/^/  | /' "${log}"; fail "seed/up failed"; }
  [[ -s "${SEED_STATE}" ]] || fail "seed/up wrote no ${SEED_STATE}"
  ip netns exec seed-spa ping -c 1 -W 2 198.19.100.10 >/dev/null || fail "seed/up returned before spoke a reaches spoke b"
  local ctl
  ctl="$(grep -m 1 -E 'isthmusctl --socket .* show bgp summary$' "${log}")" || fail "seed/up printed no isthmusctl command"
  # shellcheck disable=SC2086  # the printed command line, split as a person's shell would
  [[ "$(${ctl} | grep -c Established)" == 3 ]] || fail "seed/up: '${ctl}' does not show 3 Established sessions"
  check "seed/up: testbed running ($(seed_ns_count) namespaces), spoke a reaches spoke b, printed isthmusctl works"
  pids="$(sed -nE 's/^_IT_SAVED_PIDS=\((.*)\)$/\1/p' "${SEED_STATE}" | tr ' ' '\n' | sed -nE 's/^([0-9]+):.*/\1/p')"
  "${SEED_DOWN}" >/dev/null 2>&1 || fail "seed/down failed"
  "${SEED_DOWN}" >/dev/null 2>&1 || fail "seed/down failed the second time"
  UP_STARTED=0
  assert_eq 0 "$(seed_ns_count)" "seed-* namespaces after seed/down (twice)"
  local pid alive=()
  for pid in ${pids}; do kill -0 "${pid}" 2>/dev/null && alive+=("${pid}"); done
  assert_eq "" "${alive[*]}" "processes seed/up recorded still running after seed/down"
  [[ ! -e /run/isthmus-seed ]] || fail "seed/down left /run/isthmus-seed"
  check "seed/down: $(wc -w <<<"${pids}") recorded processes stopped, namespaces and state removed, rerun harmless"
}

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
command -v traceroute >/dev/null || skip "traceroute not installed"
T0=${SECONDS}
run_seed vx vxlan cross-region,anycast,nva-failure,loop "${CROSS_REGION_CHECKS[@]}" "${ANYCAST_CHECKS[@]}" \
  "${NVA_FAILURE_CHECKS[@]}" "${LOOP_CHECKS[@]}" "${PROMETHEUS_CHECKS[@]}"
run_seed ip ipsec cross-region "${CROSS_REGION_CHECKS[@]}" "${PROMETHEUS_CHECKS[@]}"
check_up_down
pass "seed testbed: cross-region over VXLAN and IPsec, anycast failover/failback, NVA SIGKILL/SIGTERM to the standby, underlay loop and UDR fix, Prometheus figures, up/down ($((SECONDS - T0)) s)"
