#!/usr/bin/env bash
# A broken config is refused as a whole: `isthmusctl reload` fails with a
# message naming the file, each bad key and what would be accepted; the
# running routes do not change; `isthmusd --check-config` lists every error.
# A good config reloads afterwards, and traffic still flows.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly BAD_PREFIX=198.51.100.0/33
readonly BAD_DRIVER=af_carrier_pigeon
readonly BAD_KEY=bogus_key
readonly NEW_PREFIX=203.0.113.0/24

routes_normalized() { ctl show routes --json | jq -S -c .; }

# write_bad_config FILE: the good config with three independent mistakes.
write_bad_config() {
  topo_write_config "$1"
  sed -i -e "s|prefix: ${B_PREFIX}|prefix: ${BAD_PREFIX}|" \
    -e "0,/driver: ${IT_DRIVER}/s|driver: ${IT_DRIVER}|driver: ${BAD_DRIVER}|" \
    -e "s|^  burst: 32|  burst: 32\n  ${BAD_KEY}: 1|" "$1"
  local needle
  for needle in "${BAD_PREFIX}" "${BAD_DRIVER}" "${BAD_KEY}"; do
    grep -q "${needle}" "$1" || fail "could not write the bad config (${needle})"
  done
}

# check_names_errors WHAT TEXT: TEXT names the file, and each key with what
# it accepts.
check_names_errors() {
  local what="$1" text="$2"
  assert_contains "${text}" "${TOPO_CONFIG}:" "${what} names the file"
  assert_contains "${text}" "routes[0].prefix" "${what} names the key path of the bad prefix"
  assert_contains "${text}" "${BAD_PREFIX}" "${what} quotes the bad prefix"
  assert_contains "${text}" "dataplane.${BAD_KEY}" "${what} names the unknown key"
  assert_contains "${text}" "ports[0].driver" "${what} names the key path of the bad driver"
  assert_contains "${text}" "af_xdp" "${what} lists the accepted drivers"
  assert_contains "${text}" "accepted" "${what} says what would be accepted"
}

topo_require_daemon
topo_up
routes_before="$(routes_normalized)" || fail "show routes --json failed"
[[ -n "${routes_before}" && "${routes_before}" != "[]" ]] || fail "no routes before the reload"
cp "${TOPO_CONFIG}" "${TEST_TMP}/good.yaml"

write_bad_config "${TOPO_CONFIG}"
status=0
out="$(ctl reload 2>&1)" || status=$?
printf '%s\n' "${out}" >"${TEST_TMP}/reload-output.txt"
[[ ${status} -ne 0 ]] || fail "isthmusctl reload accepted the bad config: ${out}"
check "isthmusctl reload of a bad config exits ${status}"
check_names_errors "reload message" "${out}"
assert_eq "${routes_before}" "$(routes_normalized)" "show routes --json unchanged after the refused reload"

topo_reload_signal
sleep 1
is_running "${ISTHMUSD_PID}" || fail "isthmusd died on SIGHUP with a bad config"
assert_eq "${routes_before}" "$(routes_normalized)" "show routes --json unchanged after SIGHUP with the bad config"

status=0
out="$(ns_exec nva "${ISTHMUSD}" --check-config "${TOPO_CONFIG}" 2>&1)" || status=$?
printf '%s\n' "${out}" >"${TEST_TMP}/check-config-output.txt"
[[ ${status} -ne 0 ]] || fail "isthmusd --check-config accepted the bad config"
check "isthmusd --check-config on the bad config exits ${status}"
check_names_errors "--check-config" "${out}"
errors="$(grep -c "${TOPO_CONFIG}:" <<<"${out}")"
assert_ge "${errors}" 3 "--check-config lists every error (lines naming the file)"

ns_exec nva "${ISTHMUSD}" --check-config "${TEST_TMP}/good.yaml" >/dev/null 2>&1 ||
  fail "isthmusd --check-config rejects the good config"
check "isthmusd --check-config accepts the good config"

# The good config plus one route: reload works, and the route shows up.
topo_write_config "${TOPO_CONFIG}" "${NEW_PREFIX} ${B_EAST_ADDR}"
out="$(ctl reload 2>&1)" || fail "reload of a good config failed: ${out}"
ctl show routes --json | jq -e --arg p "${NEW_PREFIX}" '[.. | strings] | index($p) != null' \
  >/dev/null || fail "route ${NEW_PREFIX} missing after a good reload"
check "a good config reloads afterwards (${NEW_PREFIX} added)"
out="$(ns_exec a ping -c 3 -i 0.2 -W 1 "${B_HOST}")"
assert_contains "${out}" "3 received" "A still reaches B"
pass "bad config refused with file/key/accepted values, routes kept, good reload applied"
