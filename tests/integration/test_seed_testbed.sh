#!/usr/bin/env bash
# The two-region seed testbed (issue 6, item 4): deploy/testbed/seed/run,
# short (SEED_QUICK=1), once over VXLAN with every scenario (cross-region,
# anycast, nva-failure, loop) and once over IPsec with cross-region only. Asserts outcomes, not timings: the runner
# exits 0, prints no FAIL line, and every expected check appears as PASS
# (a scenario that silently stopped early would lack some).
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
  # The runner's cleanup removed what it created.
  ! ip netns list | grep -qF "${IT_PREFIX}-${tag}-" ||
    fail "${tag}: namespaces left behind: $(ip netns list | grep -F "${IT_PREFIX}-${tag}-" | xargs)"
  check "${tag}: no namespace left behind"
}

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
command -v traceroute >/dev/null || skip "traceroute not installed"
T0=${SECONDS}
run_seed vx vxlan cross-region,anycast,nva-failure,loop "${CROSS_REGION_CHECKS[@]}" "${ANYCAST_CHECKS[@]}" \
  "${NVA_FAILURE_CHECKS[@]}" "${LOOP_CHECKS[@]}"
run_seed ip ipsec cross-region "${CROSS_REGION_CHECKS[@]}"
pass "seed testbed: cross-region over VXLAN and IPsec, anycast failover/failback, NVA SIGKILL/SIGTERM to the standby, underlay loop and UDR fix ($((SECONDS - T0)) s)"
