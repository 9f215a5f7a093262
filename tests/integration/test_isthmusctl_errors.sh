#!/usr/bin/env bash
# isthmusctl mistakes (issue 7 item 6): every operator error prints one line
# on stderr that names what was wrong and what is accepted, and exits
# non-zero: 2 for a bad command line (found before anything is sent), 1 when
# the daemon cannot be reached or refuses the request. With --json the
# failure is also an error object on stdout ({"error", "exit_status"}), never
# an empty result.
#
# First without a daemon (usage errors, socket missing), then against a
# running isthmusd with one BGP peer and no services (permission denied on
# the socket, unknown peer, unknown service, BGP answers with an error
# inside an "ok" result).
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly EXIT_FAILURE=1 EXIT_USAGE=2
readonly NOBODY_UID=65534
readonly PEER_NAME=rs-east

# run_ctl ARGS...: isthmusctl in nva, as the user AS_USER sets (a command
# prefix; empty: root); sets STATUS, OUT and ERR.
AS_USER=()
run_ctl() {
  local out_file="${TEST_TMP}/ctl.out" err_file="${TEST_TMP}/ctl.err"
  STATUS=0
  ns_exec nva "${AS_USER[@]}" "${ISTHMUSCTL}" "$@" >"${out_file}" 2>"${err_file}" || STATUS=$?
  OUT="$(cat "${out_file}")"
  ERR="$(cat "${err_file}")"
}

# expect_error EXIT_STATUS WHAT NEEDLE... -- ARGS...: isthmusctl ARGS exits
# with EXIT_STATUS, prints exactly one line on stderr containing every
# NEEDLE, and nothing on stdout; with --json added, the same line on stderr
# and {"error": that line, "exit_status": EXIT_STATUS} on stdout.
expect_error() {
  local want="$1" what="$2"
  shift 2
  local needles=()
  while [[ "$1" != "--" ]]; do needles+=("$1"); shift; done
  shift
  run_ctl "$@"
  [[ ${STATUS} -eq ${want} ]] || fail "${what}: exit status ${STATUS}, wanted ${want} (stderr: ${ERR})"
  [[ -z "${OUT}" ]] || fail "${what}: printed on stdout: ${OUT}"
  [[ "$(wc -l <<<"${ERR}")" -eq 1 && -n "${ERR}" ]] || fail "${what}: wanted one line on stderr, got: ${ERR}"
  local needle
  for needle in "${needles[@]}"; do
    [[ "${ERR}" == *"${needle}"* ]] || fail "${what}: '${needle}' missing from: ${ERR}"
  done
  local line="${ERR}"
  run_ctl --json "$@"
  [[ ${STATUS} -eq ${want} ]] || fail "${what} --json: exit status ${STATUS}, wanted ${want}"
  [[ "${ERR}" == "${line}" ]] || fail "${what} --json: stderr changed to: ${ERR}"
  jq -e --arg e "${line}" --argjson s "${want}" '.error == $e and .exit_status == $s and (keys | length) == 2' \
    <<<"${OUT}" >/dev/null || fail "${what} --json: stdout is not the error object: ${OUT}"
  check "${what}: exit ${want}, one line: ${line}"
}

topo_require_daemon
topo_build
readonly ABSENT_SOCKET="${TEST_TMP}/absent.sock"

# ------------------------------------------------ the command line, no daemon
expect_error "${EXIT_USAGE}" "unknown command" \
  'unknown command "frobnicate"' "accepted: show ports" "service drain NAME" -- \
  --socket "${ABSENT_SOCKET}" frobnicate
expect_error "${EXIT_USAGE}" "unknown show target" \
  'unknown command "show bogus"' "show bgp routes [PREFIX]" -- --socket "${ABSENT_SOCKET}" show bogus
expect_error "${EXIT_USAGE}" "unknown option" \
  "unknown option --colour" "accepted: --socket PATH, --json, --timeout SEC" -- \
  --socket "${ABSENT_SOCKET}" --colour show ports
expect_error "${EXIT_USAGE}" "no command" "no command given" "accepted: show ports" -- --socket "${ABSENT_SOCKET}"
expect_error "${EXIT_USAGE}" "option without its value" "--socket needs a value" "--socket PATH" -- show ports --socket
expect_error "${EXIT_USAGE}" "bad timeout" '--timeout "-3"' "above 0 and at most 3600" -- \
  --socket "${ABSENT_SOCKET}" --timeout -3 show ports
expect_error "${EXIT_USAGE}" "missing argument" '"service drain" needs NAME' "accepted: service drain NAME" -- \
  --socket "${ABSENT_SOCKET}" service drain
expect_error "${EXIT_USAGE}" "argument to a command that takes none" \
  '"show ports" takes no argument, got "west"' "accepted: show ports" -- --socket "${ABSENT_SOCKET}" show ports west
expect_error "${EXIT_USAGE}" "two arguments" '"show bgp routes" takes one PREFIX, got 2 arguments' -- \
  --socket "${ABSENT_SOCKET}" show bgp routes 198.51.100.0/24 203.0.113.0/24
expect_error "${EXIT_USAGE}" "malformed prefix" '"198.51.100.0/33" is not a prefix or an address' \
  "accepted: a.b.c.d/len with no host bits" -- --socket "${ABSENT_SOCKET}" show bgp routes 198.51.100.0/33
expect_error "${EXIT_USAGE}" "prefix with host bits" "did you mean 198.51.100.0/24?" -- \
  --socket "${ABSENT_SOCKET}" show bgp routes 198.51.100.7/24
expect_error "${EXIT_FAILURE}" "daemon not running (socket missing)" \
  "cannot connect to ${ABSENT_SOCKET}" "No such file or directory" "is isthmusd running?" -- \
  --socket "${ABSENT_SOCKET}" show stats

# ------------------------------------------------ against a running daemon
topo_write_config "${TOPO_CONFIG}"
# One passive peer that never connects: enough for `show bgp neighbors`.
cat >>"${TOPO_CONFIG}" <<EOF
bgp:
  asn: 65010
  router_id: ${NVA_EAST_ADDR}
  peers:
    - {name: ${PEER_NAME}, address: ${B_EAST_ADDR}, remote_as: 65020, passive: true}
EOF
topo_start_daemon

# The socket is 0600 (docs/operations.md, Admin API); root may connect to
# anything, so the caller drops to nobody. The test directory is opened for
# search meanwhile so that the socket's own mode is what refuses.
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to run isthmusctl unprivileged"
chmod o+x "${TEST_TMP}" || fail "cannot open ${TEST_TMP} for search"
AS_USER=(setpriv --reuid="${NOBODY_UID}" --regid="${NOBODY_UID}" --clear-groups)
expect_error "${EXIT_FAILURE}" "permission denied on the socket" \
  "cannot connect to ${TOPO_SOCKET}" "Permission denied" "run as root or as the daemon's user" -- \
  --socket "${TOPO_SOCKET}" show stats
AS_USER=()
chmod o-x "${TEST_TMP}"

expect_error "${EXIT_FAILURE}" "unknown peer" "no such peer: rs-west" "(configured peers: ${PEER_NAME})" -- \
  --socket "${TOPO_SOCKET}" show bgp neighbors rs-west
expect_error "${EXIT_FAILURE}" "unknown service" "no service named 'web' (configured: none)" -- \
  --socket "${TOPO_SOCKET}" service drain web

# The same daemon still answers good requests with exit 0.
run_ctl --socket "${TOPO_SOCKET}" --json show bgp neighbors "${PEER_NAME}"
[[ ${STATUS} -eq 0 ]] || fail "show bgp neighbors ${PEER_NAME}: exit ${STATUS}: ${ERR}"
assert_eq "${PEER_NAME}" "$(jq -r '.neighbors[0].name' <<<"${OUT}")" "a known peer is shown (exit 0)"
run_ctl --socket "${TOPO_SOCKET}" show bgp routes 198.51.100.0/24
[[ ${STATUS} -eq 0 ]] || fail "show bgp routes with a good prefix: exit ${STATUS}: ${ERR}"
check "a good prefix is accepted (exit 0)"
pass "isthmusctl errors: one line naming the mistake and what is accepted, exit 1 or 2, --json error object"
