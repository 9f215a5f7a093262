#!/usr/bin/env bash
# Hardening of a running isthmusd (docs/security.md):
#
# 1. Capabilities: isthmusd runs with exactly the capability set of
#    deploy/systemd/isthmusd.service (CapabilityBoundingSet, the same as
#    AmbientCapabilities), under no_new_privs, as systemd would start it, and
#    everything basic works: AF_XDP ports, the kernel TAP, an ESP tunnel,
#    routes in the kernel, BGP on port 179 with TCP-MD5 to FRR, traffic from
#    A to B, the admin socket and /metrics. Its effective set is that set.
# 2. Core dumps: RLIMIT_CORE is 0 for the running daemon.
# 3. The admin socket has mode 0600 and its directory is not writable by
#    group or others.
# 4. Key material never leaks: with known ESP keys and a known TCP-MD5
#    password, the daemon log, /metrics, every `show ... --json`, and the
#    messages of refused reloads (key file of mode 0644, key file of the
#    wrong length) contain no key or password bytes, as hex (either case)
#    or raw.
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "$(dirname "$0")/../lib/bgp.sh"
# shellcheck source=tests/lib/esp.sh
source "$(dirname "$0")/../lib/esp.sh"

# ISTHMUS_UNIT_FILE: another unit to take the capabilities from (used to
# check that each listed capability is needed: drop one, see what fails).
readonly UNIT="${ISTHMUS_UNIT_FILE:-${_TOPO_REPO_ROOT}/deploy/systemd/isthmusd.service}"
readonly NVA_AS=65010 B_AS=65020
readonly MD5_PASSWORD='Sec-Md5-7f3a9c'
readonly SHOW_COMMANDS=("ports" "routes" "fib" "drops" "stats" "bgp summary" "bgp neighbors" "bgp routes"
  "tunnels" "services" "flows")
KEYS="${TEST_TMP}/keys"
MD5_KEY_FILE="${KEYS}/md5.key"
declare -A KEY_HEX SALT_HEX

topo_require_daemon
[[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
command -v capsh >/dev/null || skip "capsh (libcap2-bin) not installed"

# unit_caps KEY: the capabilities a unit line lists, lower case without
# the cap_ prefix, one per line, sorted.
unit_caps() {
  sed -n "s/^$1=//p" "${UNIT}" | tr ' ' '\n' | sed -n 's/^CAP_//p' | tr '[:upper:]' '[:lower:]' | sort -u
}

# write_wrapper CAPS...: a launcher that applies the unit's capability
# settings the way systemd does for a root service, then execs isthmusd.
write_wrapper() {
  local list="-all" c
  for c in "$@"; do list+=",+${c}"; done
  cat >"${TEST_TMP}/isthmusd-caps" <<SH
#!/bin/sh
exec setpriv --no-new-privs --bounding-set=${list} --inh-caps=${list} --ambient-caps=${list} \\
  ${REAL_ISTHMUSD} "\$@"
SH
  chmod 0755 "${TEST_TMP}/isthmusd-caps"
}

write_config() {
  topo_write_config "${TOPO_CONFIG}"
  cat >>"${TOPO_CONFIG}" <<CONF
tunnels:
  - name: esp
    type: ipsec
    local: ${NVA_EAST_ADDR}
    remote: ${B_EAST_ADDR}
    overlay: 198.18.250.1/30
    interface: es-${IT_PREFIX: -6}
    ipsec:
      cipher: aes-256-gcm
      outbound: {spi: 4097, key_file: ${KEYS}/out.key}
      inbound:
        - {spi: 8193, key_file: ${KEYS}/in.key}
bgp:
  asn: ${NVA_AS}
  router_id: ${NVA_EAST_ADDR}
  peers:
    - name: b
      address: ${B_EAST_ADDR}
      remote_as: ${B_AS}
      connect_retry: 2
      tcp_md5_key_file: ${MD5_KEY_FILE}
CONF
}

# scan_for_secrets FILE...: fails listing every file that holds a key or
# password: hex in either case, the raw bytes, the password text.
scan_for_secrets() {
  local needles=() n
  for n in out in; do needles+=("${KEY_HEX[${n}]}" "${SALT_HEX[${n}]}"); done
  "${PY}" - "${MD5_PASSWORD}" "${needles[@]}" -- "$@" <<'PY'
import sys
args = sys.argv[1:]
sep = args.index("--")
password, hexes, files = args[0], args[1:sep], args[sep + 1:]
needles = {"md5 password": password.encode()}
for i, h in enumerate(hexes):
    needles[f"secret {i} hex"] = h.lower().encode()
    needles[f"secret {i} HEX"] = h.upper().encode()
    needles[f"secret {i} raw"] = bytes.fromhex(h)
hits = []
for path in files:
    data = open(path, "rb").read()
    for what, needle in needles.items():
        if len(needle) >= 4 and needle in data:
            hits.append(f"{path}: {what}")
print("\n".join(hits))
sys.exit(1 if hits else 0)
PY
}

# ------------------------------------------------------------------- setup
topo_build
mkdir -p "${KEYS}" && chmod 0700 "${KEYS}"
new_key out 32
new_key in 32
(umask 077 && printf '%s\n' "${MD5_PASSWORD}" >"${MD5_KEY_FILE}")
write_config

mapfile -t CAPS < <(unit_caps CapabilityBoundingSet)
((${#CAPS[@]} > 0)) || fail "no CapabilityBoundingSet in ${UNIT}"
assert_eq "${CAPS[*]}" "$(unit_caps AmbientCapabilities | tr '\n' ' ' | sed 's/ $//')" \
  "AmbientCapabilities equals CapabilityBoundingSet in the unit"
grep -qx 'NoNewPrivileges=yes' "${UNIT}" || fail "the unit does not set NoNewPrivileges=yes"
grep -qx 'LimitCORE=0' "${UNIT}" || fail "the unit does not set LimitCORE=0"
REAL_ISTHMUSD="${ISTHMUSD}"
write_wrapper "${CAPS[@]}"
ISTHMUSD="${TEST_TMP}/isthmusd-caps"
info "capabilities from the unit: ${CAPS[*]}"

frr_start b b "${B_EAST_ADDR}" "${B_AS}" "${B_EAST_ADDR}" \
  "$(printf ' neighbor %s remote-as %s\n neighbor %s timers connect 2\n neighbor %s password %s\n' \
    "${NVA_EAST_ADDR}" "${NVA_AS}" "${NVA_EAST_ADDR}" "${NVA_EAST_ADDR}" "${MD5_PASSWORD}")"
topo_start_daemon
topo_warmup

# ------------------------------------------------------- 1. capabilities
eff_hex="$(awk '/^CapEff:/ {print $2}' "/proc/${ISTHMUSD_PID}/status")"
eff="$(capsh --decode="${eff_hex}" | sed 's/^.*=//' | tr ',' '\n' | sed 's/^cap_//' | sort -u | tr '\n' ' ' | sed 's/ $//')"
assert_eq "${CAPS[*]}" "${eff}" "isthmusd's effective capabilities are the unit's"
[[ "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/${ISTHMUSD_PID}/status")" == 1 ]] || fail "no_new_privs not set"
wait_until "${BGP_WAIT_S}" peer_established b || fail "BGP (port 179, TCP-MD5) not Established under the unit's capabilities"
check "BGP on port 179 with TCP-MD5 Established with only the unit's capabilities"
ctl show tunnels --json | jq -e '.[] | select(.name == "esp")' >/dev/null ||
  fail "the ESP tunnel is missing"
ns_exec nva ip route show proto 212 | grep -q "${B_PREFIX}" || fail "no route of isthmusd in the kernel"
check "ports, ESP tunnel, kernel routes, forwarding A->B work with only the unit's capabilities"

# --------------------------------------------------------- 2. core dumps
core="$(prlimit --pid "${ISTHMUSD_PID}" --core --noheadings --output SOFT,HARD | tr -s ' ' | sed 's/^ //')"
assert_eq "0 0" "${core}" "RLIMIT_CORE of the running daemon (soft hard)"

# ------------------------------------------------------ 3. admin socket
assert_eq "600" "$(stat -c %a "${TOPO_SOCKET}")" "admin socket mode"
dir_mode="$(stat -c %a "$(dirname "${TOPO_SOCKET}")")"
(( (8#${dir_mode} & 8#022) == 0 )) || fail "admin socket directory mode ${dir_mode} lets group or others write"
check "admin socket 0600 in a directory of mode ${dir_mode}"

# ------------------------------------------------- 4. no key bytes leak
out_dir="${TEST_TMP}/outputs"
mkdir -p "${out_dir}"
ns_exec nva curl -sf "${TOPO_METRICS_URL}" -o "${out_dir}/metrics.txt" || fail "cannot scrape /metrics"
for c in "${SHOW_COMMANDS[@]}"; do
  # shellcheck disable=SC2086  # "bgp summary" is two words
  ctl show ${c} --json >"${out_dir}/show-${c// /-}.json" 2>&1 || fail "isthmusctl show ${c} --json failed"
  # shellcheck disable=SC2086
  ctl show ${c} >"${out_dir}/show-${c// /-}.txt" 2>&1 || fail "isthmusctl show ${c} failed"
done
cp "${KEYS}/in.key" "${TEST_TMP}/in.key.good"
chmod 0644 "${KEYS}/in.key"
ctl reload >"${out_dir}/reload-0644.txt" 2>&1 && fail "reload accepted an ESP key file of mode 0644"
assert_contains "$(cat "${out_dir}/reload-0644.txt")" "${KEYS}/in.key" "the refusal names the ESP key file"
assert_contains "$(cat "${out_dir}/reload-0644.txt")" "0644" "the refusal gives its mode"
chmod 0600 "${KEYS}/in.key"
# The right key with one digit too many: the length error must not echo it.
printf '%s%s0\n' "${KEY_HEX[in]}" "${SALT_HEX[in]}" >"${KEYS}/in.key"
ctl reload >"${out_dir}/reload-length.txt" 2>&1 && fail "reload accepted an ESP key of the wrong length"
cp "${TEST_TMP}/in.key.good" "${KEYS}/in.key" && chmod 0600 "${KEYS}/in.key"
chmod 0640 "${MD5_KEY_FILE}"
ctl reload >"${out_dir}/reload-md5-0640.txt" 2>&1 && fail "reload accepted a TCP-MD5 key file of mode 0640"
chmod 0600 "${MD5_KEY_FILE}"
ctl reload >"${out_dir}/reload-good.txt" 2>&1 || fail "reload of the good files failed: $(cat "${out_dir}/reload-good.txt")"
peer_established b || fail "BGP session lost after the refused reloads"
cp "${TOPO_LOG}" "${out_dir}/isthmusd.log"
# The scanner itself: it must find each secret in the files that hold them.
for f in "${KEYS}/in.key" "${KEYS}/out.key" "${MD5_KEY_FILE}"; do
  scan_for_secrets "${f}" >/dev/null && fail "the scanner finds nothing in ${f}"
done
hits="$(scan_for_secrets "${out_dir}"/*)" || fail "key material found: ${hits}"
check "no key or password bytes in $(find "${out_dir}" -type f | wc -l) files (log, metrics, show, refused reloads)"

topo_stop_daemon 10 || fail "isthmusd did not stop cleanly under the unit's capabilities"
pass "runs with the unit's capabilities, no core dumps, admin socket 0600, no key bytes in any output"
