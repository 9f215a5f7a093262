#!/usr/bin/env bash
# SIGTERM stops isthmusd cleanly: exit status 0 within 5 s, no XDP program
# left on its interfaces, no punt TAP, no admin socket, nothing left in
# RUNTIME_DIRECTORY or in hugepage mounts.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly STOP_TIMEOUT_S=5

xdp_attached() { ns_exec nva ip -d link show dev "$1" | grep -q 'prog/xdp'; }

# hugepage_files: every file in every hugetlbfs mount (DPDK's leftovers live
# there when it does not clean up).
hugepage_files() {
  local mnt
  awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts | while read -r mnt; do
    find "${mnt}" -type f 2>/dev/null
  done | sort
}

topo_require_daemon
hugepages_before="$(hugepage_files)"
topo_up
ns_exec a ping -c 5 -i 0.2 -W 1 "${B_HOST}" >/dev/null || fail "ping A -> B failed"

if [[ "${IT_DRIVER}" == af_xdp ]]; then
  xdp_attached nva-w || fail "no XDP program on nva-w while running (af_xdp)"
  check "XDP program attached to nva-w while running"
fi
ns_exec nva ip link show dev "${TOPO_PUNT_IF}" >/dev/null 2>&1 ||
  fail "punt TAP ${TOPO_PUNT_IF} missing while running"
[[ -S "${TOPO_SOCKET}" ]] || fail "admin socket ${TOPO_SOCKET} missing while running"

start=${EPOCHREALTIME}
kill -s TERM "${ISTHMUSD_PID}"
if ! wait_until "${STOP_TIMEOUT_S}" _it_not_running "${ISTHMUSD_PID}"; then
  fail "isthmusd still running ${STOP_TIMEOUT_S} s after SIGTERM"
fi
status=0
wait "${ISTHMUSD_PID}" || status=$?
elapsed="$(awk -v a="${start}" -v b="${EPOCHREALTIME}" 'BEGIN { printf "%.2f", b - a }')"
assert_eq 0 "${status}" "isthmusd exit status after SIGTERM (stopped in ${elapsed} s)"

for ifname in nva-w nva-e; do
  xdp_attached "${ifname}" && fail "XDP program still attached to ${ifname}"
done
check "no XDP program left on nva-w, nva-e"
ns_exec nva ip link show dev "${TOPO_PUNT_IF}" >/dev/null 2>&1 &&
  fail "punt TAP ${TOPO_PUNT_IF} left behind"
check "punt TAP ${TOPO_PUNT_IF} removed"
[[ -e "${TOPO_SOCKET}" ]] && fail "admin socket ${TOPO_SOCKET} left behind"
check "admin socket removed"
# Files (config, sockets, fbarray and lock files) must go; DPDK 22.11 keeps
# its empty per-prefix directory, which is harmless and only reported.
leftovers="$(find "${TOPO_RUNTIME_DIR}" -mindepth 1 ! -type d 2>/dev/null)"
[[ -z "${leftovers}" ]] || fail "files left in RUNTIME_DIRECTORY: ${leftovers}"
check "no files left in RUNTIME_DIRECTORY"
empty_dirs="$(find "${TOPO_RUNTIME_DIR}" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')"
[[ -z "${empty_dirs}" ]] || info "empty directories left in RUNTIME_DIRECTORY: ${empty_dirs}"
assert_eq "${hugepages_before}" "$(hugepage_files)" "files in hugepage mounts (unchanged)"
pass "SIGTERM: exit 0 in ${elapsed} s, nothing left behind"
