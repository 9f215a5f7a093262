#!/usr/bin/env bash
# tests/run: alone
# Connection affinity without shared state (issue 5, item 4): two isthmusd
# with the same UDP service and the same four backends pick the same backend
# for the same 5-tuple, and removing one of the four backends moves about a
# quarter of the new flows (its own), while established flows stay put; the
# flows of a backend that goes down move, and only those.
#
#   ns cl                          ns n1 (isthmusd "n1")        ns sw          ns be
#   client 192.0.2.10/32 (lo)
#   cl-1 198.18.1.2/24 ----------- n1-w 198.18.1.1/24
#                                  n1-e 198.18.2.1/24 ------ sw-1 \
#                                                                  br0 -- sw-be -- be0 198.18.2.11-14/24
#                                  n2-e 198.18.2.2/24 ------ sw-2 /               (be1..be4)
#   cl-2 198.18.3.2/24 ----------- n2-w 198.18.3.1/24
#                                  ns n2 (isthmusd "n2")
#
# Both appliances run service "aff": UDP, VIP 203.0.113.20:5000, backends
# be1..be4 port 5000, TCP-connect health checks on port 6000 (one small
# listener per backend address), no SNAT, so a backend sees the client's
# own source port and can tell which flow it got. The client reaches the
# VIP through n1 or n2 depending on its route to the VIP/32; one flow is one
# source port, one datagram.
#
# Checks:
#   1. FLOWS flows through n1, then the same flows through n2 (each
#      appliance sees them for the first time): every flow seen reaches
#      exactly one backend, at most MAX_LOSS_PERMILLE of them are lost, each backend
#      gets about a quarter, and every flow seen through both appliances
#      went to the same backend (full agreement);
#   2. be2 removed from n1's configuration (`isthmusctl reload`): the same
#      flows again through n1 keep their backends (the flow table pins them,
#      no new entry) if that backend survived; where be2's flows go is only
#      reported;
#   3. FLOWS new flows through n1 (3 backends) and through n2 (still 4):
#      n1 sends none to be2, between MIN_MOVED and MAX_MOVED of the flows get
#      a different backend (1/4 expected: be2's share), and at least
#      MIN_SURVIVOR_KEPT of the flows n2 sends to a surviving backend get
#      that same backend on n1 (Maglev disrupts little beyond the removed
#      backend's own slots);
#   4. be4 goes down for n1 only (its health replies to n1 refused): the old
#      flows again through n1: none reaches be4, its flows reach be1 or be3,
#      and every flow of be1 and be3 keeps its backend.
#
# IT_DRIVER (af_xdp, af_packet) picks the port driver of both appliances.
# shellcheck disable=SC2317  # predicates are called through wait_until
set -uo pipefail
# shellcheck source=tests/lib/topo.sh
source "$(dirname "$0")/../lib/topo.sh"

readonly CLIENT=192.0.2.10
readonly CL1=198.18.1.2 N1_WEST=198.18.1.1 N1_EAST=198.18.2.1
readonly CL2=198.18.3.2 N2_WEST=198.18.3.1 N2_EAST=198.18.2.2
readonly BACKEND_LEN=24
readonly -A BACKEND=([be1]=198.18.2.11 [be2]=198.18.2.12 [be3]=198.18.2.13 [be4]=198.18.2.14)
readonly BACKENDS=(be1 be2 be3 be4)
readonly REMOVED=be2  # not the last one: the survivors' indexes shift in n1
readonly DEAD=be4     # then goes down for n1 only
readonly VIP=203.0.113.20 SERVICE_PORT=5000 HEALTH_PORT=6000
readonly SERVICE=aff
readonly FLOWS=10000
readonly OLD_SPORTS="20000-$((20000 + FLOWS - 1))"
readonly NEW_SPORTS="30000-$((30000 + FLOWS - 1))"
readonly RATE_PPS=3000
# Flows lost anywhere (veth, AF_XDP ring, socket buffer): under 1%.
readonly MAX_LOSS_PERMILLE=10
# Each of 4 equal backends gets a quarter of the Maglev slots; 10,000 flows
# keep a backend's share within a few points of it.
readonly MIN_SHARE_PERMILLE=200 MAX_SHARE_PERMILLE=300
# With 1 of 4 backends removed, its quarter of the flows must move; Maglev
# moves only a little more (docs/configuration.md: under 1% of all flows).
readonly MIN_MOVED=0.18 MAX_MOVED=0.32
readonly MIN_SURVIVOR_KEPT=0.97
readonly RECV_IDLE_S=2
# A receiver that gets nothing (be2 behind n1) ends at its max time: long
# enough for the whole send (FLOWS / RATE_PPS s) and the sockets' set-up.
readonly RECV_MAX_S=$((FLOWS / RATE_PPS + 12))
readonly HEALTH_UP_TIMEOUT_S=15
readonly RELOAD_TIMEOUT_S=10
readonly NAMES=(n1 n2)
# Drop reasons of the NAT stage; none may count anything in this test.
readonly NAT_DROP_PREFIX=nat_

die() {
  local name
  for name in "${NAMES[@]}"; do
    [[ -n "$(nva_pid "${name}")" ]] || continue
    nva_diag "${name}" "services" "drops"
    printf '  ---- %s: flow table\n  | %s\n' "${name}" \
      "$(nva_ctl "${name}" show flows --json 2>&1 | jq -c 'del(.flows)' 2>&1)"
  done
  fail "$@"
}

# ------------------------------------------------------------ topology

build() {
  ns_create cl n1 n2 sw be
  veth_pair cl cl-1 n1 n1-w
  veth_pair cl cl-2 n2 n2-w
  veth_pair n1 n1-e sw sw-1
  veth_pair n2 n2-e sw sw-2
  veth_pair be be0 sw sw-be
  ns_exec sw ip link add br0 type bridge || fail "cannot create bridge br0 in sw"
  ns_exec sw ip link set br0 up
  local port
  for port in sw-1 sw-2 sw-be; do
    ns_exec sw ip link set "${port}" master br0 || fail "cannot add ${port} to br0"
  done
  addr cl cl-1 "${CL1}/24"
  addr cl cl-2 "${CL2}/24"
  addr cl lo "${CLIENT}/32"
  addr n1 n1-w "${N1_WEST}/24"
  addr n1 n1-e "${N1_EAST}/${BACKEND_LEN}"
  addr n2 n2-w "${N2_WEST}/24"
  addr n2 n2-e "${N2_EAST}/${BACKEND_LEN}"
  local name
  for name in "${BACKENDS[@]}"; do addr be be0 "${BACKEND[${name}]}/${BACKEND_LEN}"; done
  local entry
  for entry in "cl cl-1" "cl cl-2" "n1 n1-w" "n1 n1-e" "n2 n2-w" "n2 n2-e" "be be0" \
    "sw sw-1" "sw sw-2" "sw sw-be"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
  # The data planes forward; the appliances' kernels only answer for themselves.
  ns_exec n1 sysctl -qw net.ipv4.conf.all.forwarding=0
  ns_exec n2 sysctl -qw net.ipv4.conf.all.forwarding=0
}

# via_appliance NAME: the client's route to the VIP goes through NAME.
via_appliance() {
  case "$1" in
    n1) ns_exec cl ip route replace "${VIP}/32" via "${N1_WEST}" dev cl-1 ;;
    n2) ns_exec cl ip route replace "${VIP}/32" via "${N2_WEST}" dev cl-2 ;;
  esac || fail "cannot route ${VIP} via $1 in cl"
}

# write_config NAME BACKEND...: NAME's config with service "aff" over the
# given backends; written aside and renamed, so a reload never reads half.
write_config() {
  local name="$1" client_via
  shift
  [[ "${name}" == n1 ]] && client_via="${CL1}" || client_via="${CL2}"
  local file tmp backend
  file="$(nva_config "${name}")"
  tmp="${file}.new"
  {
    nva_dataplane_yaml "${name}" appliance
    cat <<EOF
  - {name: west, driver: ${IT_DRIVER}, interface: ${name}-w}
  - {name: east, driver: ${IT_DRIVER}, interface: ${name}-e}
routes:
  - prefix: ${CLIENT}/32
    via: [${client_via}]
nat:
  capacity: 65536
services:
  - name: ${SERVICE}
    vip: ${VIP}
    protocol: udp
    ports: [${SERVICE_PORT}]
    backends:
EOF
    for backend in "$@"; do
      printf '      - {address: %s, port: %d}\n' "${BACKEND[${backend}]}" "${SERVICE_PORT}"
    done
    cat <<EOF
    health: {type: tcp, port: ${HEALTH_PORT}}
$(nva_admin_yaml "${name}")
EOF
  } >"${tmp}" || fail "cannot write ${tmp}"
  mv -f "${tmp}" "${file}" || fail "cannot replace ${file}"
}

# start_health_listeners: one TCP listener per backend address, for the
# appliances' health probes (the UDP receivers come and go per run).
start_health_listeners() {
  local name
  for name in "${BACKENDS[@]}"; do
    start_bg be "${TEST_TMP}/health-${name}.log" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
      --bind "${BACKEND[${name}]}" --port "${HEALTH_PORT}" --name "${name}"
  done
  for name in "${BACKENDS[@]}"; do
    wait_until 10 grep -q ready "${TEST_TMP}/health-${name}.log" || fail "health listener of ${name} did not start"
  done
  # Only now: Python's HTTP server looks its address up in DNS when it
  # starts, which with a default route waits for a resolver it cannot reach.
  # UDP needs no replies here, but a backend must have a way back to the
  # clients (through one appliance, which holds the flow's reverse entry).
  route be default "${N1_EAST}"
}

start_appliances() {
  local name
  for name in "${NAMES[@]}"; do
    nva_prepare "${name}" "${name}"
    write_config "${name}" "${BACKENDS[@]}"
  done
  for name in "${NAMES[@]}"; do nva_start "${name}" "${name}-w" "${name}-e"; done
  for name in "${NAMES[@]}"; do nva_wait_ready "${name}" west east; done
}

# ------------------------------------------------------------ queries

service_q() {
  nva_ctl "$1" show services --json 2>/dev/null |
    jq -er --arg n "${SERVICE}" "first(.[] | select(.name == \$n)) | $2" 2>/dev/null
}
backends_up_is() { [[ "$(service_q "$1" .backends_up)" == "$2" ]]; }

# nat_drops NAME: "reason=count" for every NAT drop reason that counted.
nat_drops() {
  nva_ctl "$1" show drops --json | jq -r --arg p "${NAT_DROP_PREFIX}" \
    '.drops[] | select(.packets > 0 and (.reason | startswith($p))) | "\(.reason)=\(.packets)"' | tr '\n' ' '
}

# flows_created NAME: flow entries NAME's NAT table has created so far.
flows_created() { nva_ctl "$1" show flows --json 2>/dev/null | jq -er .created; }

# ------------------------------------------------------------ one run

# Resolves every neighbour the data paths need before the first flow, so no
# flow is lost to address resolution: the client's next hops, the
# backends from both appliances, the appliances from the backends.
warm_up() {
  ns_exec cl ping -c 1 -W 1 "${N1_WEST}" >/dev/null 2>&1
  ns_exec cl ping -c 1 -W 1 "${N2_WEST}" >/dev/null 2>&1
  local name appliance
  for appliance in "${NAMES[@]}"; do
    for name in "${BACKENDS[@]}"; do
      wait_until 5 ns_exec "${appliance}" ping -c 1 -W 1 "${BACKEND[${name}]}" ||
        die "${appliance} cannot reach backend ${name} (${BACKEND[${name}]})"
    done
  done
  ns_exec be ping -c 1 -W 1 "${N1_EAST}" >/dev/null 2>&1
  ns_exec be ping -c 1 -W 1 "${N2_EAST}" >/dev/null 2>&1
  check "neighbours resolved: client -> appliances, appliances <-> ${#BACKENDS[@]} backends"
}

# run_flows RUN APPLIANCE SPORTS: sends one datagram per source port in
# SPORTS to the VIP through APPLIANCE while a receiver on every backend
# records the flows it got; leaves "SPORT BACKEND" lines, sorted, in
# ${TEST_TMP}/flows-RUN.txt (kept with the test's artifacts), the count of flows sent in SENT, and APPLIANCE's NAT
# drops and flows created before the run in DROPS_BEFORE and CREATED_BEFORE.
run_flows() {
  local run="$1" appliance="$2" sports="$3" dir="${TEST_TMP}/$1" name
  mkdir -p "${dir}" || fail "cannot create ${dir}"
  via_appliance "${appliance}"
  DROPS_BEFORE="$(nat_drops "${appliance}")"
  CREATED_BEFORE="$(flows_created "${appliance}")" || die "${appliance}: no flow counters in show flows --json"
  local -A recv_pid=()
  for name in "${BACKENDS[@]}"; do
    start_bg be "${dir}/${run}-recv-${name}.log" "${PY}" "${IT_LIB_DIR}/traffic.py" recv \
      --bind "${BACKEND[${name}]}" --port "${SERVICE_PORT}" --idle-timeout "${RECV_IDLE_S}" \
      --max-time "${RECV_MAX_S}" --flows-out "${dir}/${name}.flows"
    recv_pid[${name}]=${BG_PID}
  done
  for name in "${BACKENDS[@]}"; do
    wait_until 10 grep -q ready "${dir}/${run}-recv-${name}.log" || fail "${run}: UDP receiver on ${name} did not start"
  done
  local out
  out="$(ns_exec cl "${PY}" "${IT_LIB_DIR}/traffic.py" send --src "${CLIENT}" --dst "${VIP}" \
    --dport "${SERVICE_PORT}" --sports "${sports}" --count 1 --rate "${RATE_PPS}")" ||
    fail "${run}: traffic.py send failed: ${out}"
  SENT="$(jq -r .sent <<<"${out}")"
  local seconds
  seconds="$(jq -r .seconds <<<"${out}")"
  awk -v s="${seconds}" -v max="$((RECV_MAX_S - RECV_IDLE_S))" 'BEGIN { exit !(s < max) }' ||
    fail "${run}: sending took ${seconds} s, receivers stop after ${RECV_MAX_S} s: raise RECV_MAX_S"
  for name in "${BACKENDS[@]}"; do
    wait_until $((RECV_MAX_S + 5)) _it_not_running "${recv_pid[${name}]}" ||
      fail "${run}: UDP receiver on ${name} did not finish"
    [[ -f "${dir}/${name}.flows" ]] || fail "${run}: receiver on ${name} wrote no flow list: $(cat "${dir}/${run}-recv-${name}.log")"
  done
  for name in "${BACKENDS[@]}"; do
    sed -e 's/^.*://' -e "s/\$/ ${name}/" "${dir}/${name}.flows"
  done | sort -n >"${TEST_TMP}/flows-${run}.txt"
  info "${run}: ${SENT} flows sent through ${appliance} in ${seconds} s (${sports}), per backend:" \
    "$(for name in "${BACKENDS[@]}"; do printf '%s=%s ' "${name}" "$(wc -l <"${dir}/${name}.flows")"; done)"
}

# flows_to RUN BACKEND: how many flows of RUN reached BACKEND.
flows_to() { awk -v b="$2" '$2 == b { n++ } END { print n + 0 }' "${TEST_TMP}/flows-$1.txt"; }

# check_single_backend RUN: every flow seen reached one backend only.
check_single_backend() {
  assert_eq "${FLOWS}" "${SENT}" "$1: flows sent"
  assert_eq 0 "$(cut -d' ' -f1 "${TEST_TMP}/flows-$1.txt" | uniq -d | wc -l)" "$1: flows that reached more than one backend"
}

# check_run RUN APPLIANCE: every flow seen reached one backend only, loss is
# under MAX_LOSS_PERMILLE, APPLIANCE created a flow entry for each flow (all
# are new to it) and its NAT stage dropped nothing during the run.
check_run() {
  local run="$1" appliance="$2" seen drops created
  check_single_backend "${run}"
  seen="$(wc -l <"${TEST_TMP}/flows-${run}.txt")"
  assert_ge "$((seen * 1000))" "$((FLOWS * (1000 - MAX_LOSS_PERMILLE)))" \
    "${run}: flows that reached a backend (${seen} of ${FLOWS}) x 1000"
  created="$(($(flows_created "${appliance}") - CREATED_BEFORE))"
  assert_ge "${created}" "${seen}" "${run}: flow entries ${appliance} created"
  assert_lt "${created}" "$((SENT + 1))" "${run}: flow entries ${appliance} created"
  drops="$(nat_drops "${appliance}")"
  [[ "${drops}" == "${DROPS_BEFORE}" ]] ||
    die "${run}: ${appliance} dropped packets in the NAT stage: before '${DROPS_BEFORE}', after '${drops}'"
}

# compare A B [REMOVED]: for the flows that both runs saw,
# "BOTH AGREE B_ON_REMOVED B_ON_SURVIVORS KEPT A_ON_REMOVED": how many agree,
# how many B sent to REMOVED, how many to other backends and of those how
# many A sent to the same backend, and how many A sent to REMOVED.
compare() {
  awk -v removed="${3:-}" '
    NR == FNR { a[$1] = $2; if ($2 == removed) a_removed++; next }
    ($1 in a) {
      both++
      if (a[$1] == $2) agree++
      if ($2 == removed) { on_removed++ } else { survivors++; if (a[$1] == $2) kept++ }
    }
    END { printf "%d %d %d %d %d %d\n", both, agree, on_removed, survivors, kept, a_removed }' \
    "${TEST_TMP}/flows-$1.txt" "${TEST_TMP}/flows-$2.txt"
}

# ------------------------------------------------------------ checks

wait_healthy() {
  local name
  for name in "${NAMES[@]}"; do
    wait_until "${HEALTH_UP_TIMEOUT_S}" backends_up_is "${name}" "${#BACKENDS[@]}" ||
      die "${name}: service ${SERVICE} does not see ${#BACKENDS[@]} healthy backends: $(service_q "${name}" .)"
  done
  check "both appliances: service ${SERVICE} up with ${#BACKENDS[@]} healthy backends"
}

check_agreement() {
  run_flows old-n1 n1 "${OLD_SPORTS}"
  check_run old-n1 n1
  local name count
  for name in "${BACKENDS[@]}"; do
    count="$(flows_to old-n1 "${name}")"
    assert_ge "$((count * 1000))" "$((FLOWS * MIN_SHARE_PERMILLE))" "old-n1: flows to ${name} x 1000 (a quarter expected)"
    assert_lt "$((count * 1000))" "$((FLOWS * MAX_SHARE_PERMILLE))" "old-n1: flows to ${name} x 1000"
  done
  run_flows old-n2 n2 "${OLD_SPORTS}"
  check_run old-n2 n2
  local both agree
  read -r both agree _ <<<"$(compare old-n1 old-n2)"
  assert_ge "$((both * 1000))" "$((FLOWS * (1000 - 2 * MAX_LOSS_PERMILLE)))" "flows seen through both appliances x 1000"
  assert_eq "${both}" "${agree}" "flows given the same backend by n1 and n2 (of ${both} seen through both)"
  check "full agreement: n1 and n2 chose the same backend for all ${both} flows, with no shared state"
}

remove_backend() {
  local survivors=() name out
  for name in "${BACKENDS[@]}"; do [[ "${name}" == "${REMOVED}" ]] || survivors+=("${name}"); done
  write_config n1 "${survivors[@]}"
  out="$(nva_ctl n1 reload 2>&1)" || die "n1: isthmusctl reload failed: ${out}"
  info "n1: ${out//$'\n'/; }"
  wait_until "${RELOAD_TIMEOUT_S}" backends_up_is n1 "${#survivors[@]}" ||
    die "n1: service ${SERVICE} not down to ${#survivors[@]} backends after the reload: $(service_q n1 .)"
  check "n1: ${REMOVED} (${BACKEND[${REMOVED}]}) removed by reload, ${#survivors[@]} backends left"
  backends_up_is n2 "${#BACKENDS[@]}" || die "n2 changed too: $(service_q n2 .)"
}

# destinies OLD NEW BACKEND: where the flows that went to BACKEND in run
# OLD went in run NEW ("be1=N be3=M ", empty when none was seen again).
destinies() {
  awk -v b="$3" 'NR == FNR { if ($2 == b) had[$1] = 1; next }
    ($1 in had) { n[$2]++ } END { for (x in n) printf "%s=%d ", x, n[x] }' \
    "${TEST_TMP}/flows-$1.txt" "${TEST_TMP}/flows-$2.txt"
}

# check_kept OLD NEW GONE: the flows of run OLD on backends other than GONE
# came back in run NEW (but for MAX_LOSS_PERMILLE) each on its old backend.
check_kept() {
  local had both survivors kept
  had="$(awk -v g="$3" '$2 != g { n++ } END { print n + 0 }' "${TEST_TMP}/flows-$1.txt")"
  read -r both _ _ survivors kept _ <<<"$(compare "$2" "$1" "$3")"
  assert_ge "$((survivors * 1000))" "$((had * (1000 - MAX_LOSS_PERMILLE)))" \
    "$2: established flows not on $3 seen again (${survivors} of ${had}) x 1000"
  assert_eq "${survivors}" "${kept}" "$2: established flows not on $3 that kept their backend (of ${survivors})"
}

# The flows of run old-n1 again through n1, be2 now removed from its
# config: its flow table pins each flow of a surviving backend to that
# backend (the survivors' positions in the config shifted, their flows must
# not), and the flows be2 had were removed with it (docs/configuration.md,
# services: a removed backend's flows pick anew), so none reaches be2.
check_established_stay() {
  run_flows again-n1 n1 "${OLD_SPORTS}"
  check_single_backend again-n1
  check_kept old-n1 again-n1 "${REMOVED}"
  # The survivors' flows hit their entries: only flows of the removed
  # backend (and flows lost in old-n1) may have needed a new one.
  local may_create=$((FLOWS - $(awk -v r="${REMOVED}" '$2 != r { n++ } END { print n + 0 }' "${TEST_TMP}/flows-old-n1.txt")))
  assert_lt "$(($(flows_created n1) - CREATED_BEFORE))" "$((may_create + 1))" \
    "again-n1: flow entries n1 created (at most the ${may_create} flows ${REMOVED} had or that were lost)"
  info "again-n1: the $(flows_to old-n1 "${REMOVED}") flows that ${REMOVED} had in old-n1 went to:" \
    "$(destinies old-n1 again-n1 "${REMOVED}")(NAT drops before '${DROPS_BEFORE}', after '$(nat_drops n1)')"
  assert_eq "0" "$(flows_to again-n1 "${REMOVED}")" "again-n1: flows sent to ${REMOVED}, removed from n1's config"
}

check_new_flows_move() {
  run_flows new-n1 n1 "${NEW_SPORTS}"
  check_run new-n1 n1
  run_flows new-n2 n2 "${NEW_SPORTS}"
  check_run new-n2 n2
  local both agree on_removed survivors kept a_removed moved kept_ratio
  read -r both agree on_removed survivors kept a_removed <<<"$(compare new-n1 new-n2 "${REMOVED}")"
  assert_eq 0 "${a_removed}" "new flows n1 sent to the removed ${REMOVED}"
  assert_ge "$((both * 1000))" "$((FLOWS * (1000 - 2 * MAX_LOSS_PERMILLE)))" "new flows seen through both x 1000"
  moved="$(awk -v b="${both}" -v a="${agree}" 'BEGIN { printf "%.4f", (b - a) / b }')"
  kept_ratio="$(awk -v s="${survivors}" -v k="${kept}" 'BEGIN { printf "%.4f", k / s }')"
  info "new flows seen through both: ${both}; n2 (4 backends) sent ${on_removed} to ${REMOVED};" \
    "of its other ${survivors}, n1 (3 backends) sent ${kept} to the same backend"
  assert_ge "${moved}" "${MIN_MOVED}" "share of new flows whose backend differs with ${REMOVED} removed"
  assert_lt "${moved}" "${MAX_MOVED}" "share of new flows whose backend differs with ${REMOVED} removed"
  assert_ge "${kept_ratio}" "${MIN_SURVIVOR_KEPT}" \
    "share of new flows on a surviving backend (n2) that n1 sends to the same one"
}

# A backend that goes down for n1 only (its health replies to n1 are
# refused by a policy rule in be; n2 still sees it up): its UDP flows are
# removed and their next datagram picks a healthy backend
# (docs/configuration.md, on_backend_down); every other flow stays.
check_dead_backend() {
  ns_exec be ip rule add from "${BACKEND[${DEAD}]}/32" to "${N1_EAST}/32" prohibit pref 100 ||
    fail "cannot block ${DEAD}'s health replies to n1"
  local up=$((${#BACKENDS[@]} - 2))
  wait_until "${HEALTH_UP_TIMEOUT_S}" backends_up_is n1 "${up}" ||
    die "n1: ${DEAD} not marked down within ${HEALTH_UP_TIMEOUT_S} s: $(service_q n1 .)"
  check "n1: ${DEAD} marked down (its probes from n1 fail), ${up} backends up"
  backends_up_is n2 "${#BACKENDS[@]}" || die "n2 lost a backend too: $(service_q n2 .)"
  run_flows dead-n1 n1 "${OLD_SPORTS}"
  check_single_backend dead-n1
  local to_dead
  to_dead="$(flows_to dead-n1 "${DEAD}")"
  ((to_dead == 0)) || die "dead-n1: n1 sent ${to_dead} flows to ${DEAD}, which it has marked down" \
    "(their last run there: $(flows_to again-n1 "${DEAD}"); new flow entries: $(($(flows_created n1) - CREATED_BEFORE)))"
  check "dead-n1: no flow sent to the dead ${DEAD}"
  local had went moved=0 entry
  # The reference is n1's last run of the same flows (again-n1): since
  # the reload, the flows ${REMOVED} had are on the other backends.
  had="$(flows_to again-n1 "${DEAD}")"
  went="$(destinies again-n1 dead-n1 "${DEAD}")"
  info "dead-n1: the ${had} flows that ${DEAD} had in again-n1 went to: ${went}"
  for entry in ${went}; do
    [[ "${entry%=*}" == "${REMOVED}" ]] && die "dead-n1: flows of ${DEAD} moved to ${REMOVED}, which n1 no longer has: ${went}"
    moved=$((moved + ${entry#*=}))
  done
  assert_ge "$((moved * 1000))" "$((had * (1000 - MAX_LOSS_PERMILLE)))" \
    "dead-n1: flows of ${DEAD} that reached a healthy backend (${moved} of ${had}) x 1000"
  # Exactly the dead backend's flows were removed and started anew (and
  # flows lost in again-n1, which n1 may never have seen).
  local created lost_old
  created="$(($(flows_created n1) - CREATED_BEFORE))"
  lost_old="$((FLOWS - $(wc -l <"${TEST_TMP}/flows-again-n1.txt")))"
  assert_ge "${created}" "${moved}" "dead-n1: flow entries n1 created"
  assert_lt "${created}" "$((had + lost_old + 1))" \
    "dead-n1: flow entries n1 created (at most the ${had} flows of ${DEAD} and ${lost_old} lost in again-n1)"
  check_kept again-n1 dead-n1 "${DEAD}"
}

topo_require_daemon
case "${IT_DRIVER}" in
  af_xdp | af_packet) ;;
  pmd) skip "IT_DRIVER=pmd: this test configures af_xdp or af_packet ports" ;;
  *) fail "IT_DRIVER='${IT_DRIVER}': expected af_xdp or af_packet" ;;
esac
T0=${SECONDS}
build
start_health_listeners
start_appliances
wait_healthy
warm_up
check_agreement
remove_backend
check_established_stay
check_new_flows_move
check_dead_backend
pass "two isthmusd (${IT_DRIVER}) agree on the backend of all ${FLOWS} flows with no shared state; removing 1 of 4 backends moves only its share of new flows and no established flow; a dead backend's flows move, only they ($((SECONDS - T0)) s)"
