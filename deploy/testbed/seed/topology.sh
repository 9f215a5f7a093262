# shellcheck shell=bash
# The two-region seed topology (issue 6, item 1) in network namespaces,
# sourced by deploy/testbed/seed/run and tests/integration/test_seed_testbed.sh
# after nothing else: it sources tests/lib/{topo,bgp,esp}.sh itself.
#
# Per region R (a, b; region b uses 198.19.x.y where region a uses 198.18.x.y):
#
#   ns spR (spoke)            ns fR (fabric: the VNet)           ns rsR (Route Server)
#   sp0 198.18.100.10/24 --- f-sp 198.18.100.1/24
#   app: traffic.py           f-rs 198.18.2.1/24  ------------- rs0 198.18.2.4/24 ars1 (FRR, AS 65515)
#        http-serve :8080                                             198.18.2.5/24 ars2 (FRR, AS 65515)
#                             f-nva 198.18.1.1/24 (bridge)
#                               f-n1 ---------------------- ns nvaR1: isthmusd "R1", port hub 198.18.1.4/24
#                               f-n2 ---------------------- ns nvaR2: isthmusd "R2", port hub 198.18.1.5/24
#                                                           (SEED_NVAS_PER_REGION=2)
#                             f-gp 192.0.2.1/30   ------------- (fabric b, 192.0.2.2/30): the global peering
#                             f-ms 192.0.2.6/30   ------------- ns ms: MSEE 192.0.2.5 (a) / .9 (b), AS 12076
#
#   ns ms (MSEE, FRR AS 12076) ms-op 192.0.2.13/30 --- ns op: on-premises, op0 192.0.2.14/30,
#                                                      client 203.0.113.10 on lo, FRR AS 65100
#                                                      originating 203.0.113.0/25
#
#   ns mg (management)  mg-br 198.18.250.1/24 (bridge) --- mgmt 198.18.250.11 in nvaa1,
#                       Prometheus on 127.0.0.1:9090        .12 nvaa2, .21 nvab1, .22 nvab2
#                       (prometheus.sh)                     isthmusd metrics.listen there, :9470
#
# Hub VNet R = 198.18.0.0/20 (NVA subnet .1.0/24, RouteServerSubnet .2.0/24),
# spoke VNet R = 198.18.100.0/24. The fabric knows its own subnets (connected),
# the other hub through the global peering (static 198.19.0.0/20 via
# 192.0.2.2: hubs peer globally, spokes do not, so the remote spoke is
# reachable only through the NVAs) and, like the VNet with Route Server,
# every route its Route Server learned, installed with the BGP next hop
# (the NVA, or the MSEE) by seed_rib_sync. That applies to every packet the
# fabric forwards, including those coming from the NVA's own subnet: the
# property that creates the loop of the multi-region seed when the NVAs
# exchange routes on the underlay.
#
# The NVAs of the two regions are joined by a tunnel (TUNNEL=vxlan|ipsec,
# named xr, overlay 192.0.2.253/30 in a, .254 in b) across the fabrics and
# the global peering, with their BGP session inside it. Each NVA peers with
# both Route Server instances of its region with the multi-region policy of
# docs/configuration.md (learn from ARS; send to the remote NVA; strip 65515
# from what the remote NVA sent; never echo ARS's own routes to it) and runs
# the anycast service "web" (VIP 198.51.100.10:80 -> the spoke's app on
# 8080, SNAT to a per-NVA address it announces, so replies come back to it).
# Region b announces the VIP with an AS-path prepend (SEED_VIP_PREPEND_B):
# on-premises prefers region a.
#
# Kernel routes from BGP: the ARS/MSEE/on-prem bgpd run without zebra (as in
# tests/lib/bgp.sh), so seed_rib_sync polls a bgpd and installs its best
# routes into a namespace's kernel (protocol SEED_RIB_PROTO), resolving a
# multihop next hop through the kernel table as zebra would.
#
# The management network stands for the NVAs' management NICs: only
# Prometheus (and a person exploring with curl) uses it; it carries no data
# traffic and no route leads there from the data plane (isthmusd's ports are
# `hub` only; `mgmt` is a plain kernel interface).
#
# Everything is torn down by netns.sh's cleanup (EXIT, INT, TERM), or kept
# running by deploy/testbed/seed/up (IT_DETACH=1) until seed/down.

_SEED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_SEED_REPO_ROOT="$(cd "${_SEED_DIR}/../../.." && pwd)"
# shellcheck source=tests/lib/topo.sh
source "${_SEED_REPO_ROOT}/tests/lib/topo.sh"
# shellcheck source=tests/lib/bgp.sh
source "${_SEED_REPO_ROOT}/tests/lib/bgp.sh"
# shellcheck source=tests/lib/esp.sh
source "${_SEED_REPO_ROOT}/tests/lib/esp.sh"
# shellcheck source=deploy/testbed/seed/prometheus.sh
source "${_SEED_DIR}/prometheus.sh"

TUNNEL="${TUNNEL:-vxlan}"
# 2 = a second NVA per region, paired with the other region's second NVA
# by a tunnel of its own; SEED_HA says how Route Server chooses between
# them: prepend (NVA 2 is the standby: it prepends its ASN twice towards
# ARS) or ecmp (equal paths: the fabric spreads flows over both).
SEED_NVAS_PER_REGION="${SEED_NVAS_PER_REGION:-1}"
SEED_HA="${SEED_HA:-prepend}"
SEED_VIP_PREPEND_B="${SEED_VIP_PREPEND_B:-3}"

# shellcheck disable=SC2034  # the constants are the scenarios' vocabulary
{
  readonly SEED_REGIONS=(a b)
  readonly ARS_ASN=65515 MSEE_ASN=12076 ONPREM_ASN=65100
  readonly -A NVA_ASN=([a]=65010 [b]=65020)
  readonly -A OCTET2=([a]=18 [b]=19)
  readonly -A OTHER=([a]=b [b]=a)
  readonly -A GP_ADDR=([a]=192.0.2.1 [b]=192.0.2.2)
  readonly -A MSEE_LINK=([a]=192.0.2.5 [b]=192.0.2.9)
  readonly -A FABRIC_MS_ADDR=([a]=192.0.2.6 [b]=192.0.2.10)
  # Overlay of each tunnel pair: NVA a1 <-> b1 and (standby) a2 <-> b2.
  readonly -A OVERLAY=([a1]=192.0.2.253 [b1]=192.0.2.254 [a2]=192.0.2.249 [b2]=192.0.2.250)
  readonly -A SNAT_ADDR=([a1]=198.51.100.21 [a2]=198.51.100.22 [b1]=198.51.100.23 [b2]=198.51.100.24)
  readonly MSEE_OP=192.0.2.13 OP_LINK=192.0.2.14
  readonly ONPREM_PREFIX=203.0.113.0/25 ONPREM_CLIENT=203.0.113.10
  readonly VIP=198.51.100.10 VIP_PORT=80
  readonly APP_PORT=8080
  readonly OVERLAY_LEN=30
  readonly XR=xr
  readonly VNI=4242 VXLAN_PORT=4789
  readonly SEED_HOLD_S=9 SEED_KEEPALIVE_S=3 SEED_CONNECT_RETRY_S=2
  readonly SEED_RIB_PROTO=201
  readonly SEED_RIB_POLL_S=0.3
  readonly MGMT_GW=198.18.250.1 MGMT_LEN=24 METRICS_PORT=9470
  readonly -A MGMT_HOST_BASE=([a]=10 [b]=20)
}

# Addresses of region R.
hub_net() { echo "198.$((OCTET2[$1])).0.0/20"; }
nva_subnet() { echo "198.$((OCTET2[$1])).1.0/24"; }
rs_subnet() { echo "198.$((OCTET2[$1])).2.0/24"; }
fabric_nva_gw() { echo "198.$((OCTET2[$1])).1.1"; }
fabric_rs_gw() { echo "198.$((OCTET2[$1])).2.1"; }
# nva_addr R I: the hub address of NVA I (1, 2) of region R.
nva_addr() { echo "198.$((OCTET2[$1])).1.$((3 + $2))"; }
# ars_addr R K: Route Server instance K (1, 2) of region R.
ars_addr() { echo "198.$((OCTET2[$1])).2.$((3 + $2))"; }
spoke_prefix() { echo "198.$((OCTET2[$1])).100.0/24"; }
spoke_gw() { echo "198.$((OCTET2[$1])).100.1"; }
app_addr() { echo "198.$((OCTET2[$1])).100.10"; }
# mgmt_addr R I: the management address of NVA I of region R; isthmusd's
# metrics listen there (nva_metrics_listen).
mgmt_addr() { echo "198.18.250.$((MGMT_HOST_BASE[$1] + $2))"; }
nva_metrics_listen() { echo "$(mgmt_addr "$1" "$2"):${METRICS_PORT}"; }

# Names: namespaces fR rsR spR nvaRI ms op; isthmusd instances RI; FRR
# instances ars-RK, msee, onprem.
nva_ns() { echo "nva$1$2"; }
ars_name() { echo "ars-$1$2"; }

# ------------------------------------------------------------ topology

seed_build() {
  local r other i
  ns_create ms op mg
  ns_exec mg ip link add mg-br type bridge || fail "cannot create the management bridge in mg"
  ns_exec mg ip link set mg-br up
  addr mg mg-br "${MGMT_GW}/${MGMT_LEN}"
  for r in "${SEED_REGIONS[@]}"; do
    ns_create "f${r}" "rs${r}" "sp${r}"
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do ns_create "$(nva_ns "${r}" "${i}")"; done
  done
  veth_pair fa f-gp fb f-gp
  veth_pair op op0 ms ms-op
  addr op op0 "${OP_LINK}/30"
  addr ms ms-op "${MSEE_OP}/30"
  ns_exec op ip addr add "${ONPREM_CLIENT}/32" dev lo || fail "cannot add ${ONPREM_CLIENT} to op/lo"
  for r in "${SEED_REGIONS[@]}"; do
    other="${OTHER[${r}]}"
    veth_pair "f${r}" f-rs "rs${r}" rs0
    veth_pair "f${r}" f-sp "sp${r}" sp0
    veth_pair "f${r}" f-ms ms "ms-${r}"
    addr "f${r}" f-gp "${GP_ADDR[${r}]}/30"
    addr "f${r}" f-rs "$(fabric_rs_gw "${r}")/24"
    addr "f${r}" f-sp "$(spoke_gw "${r}")/24"
    addr "f${r}" f-ms "${FABRIC_MS_ADDR[${r}]}/30"
    addr "rs${r}" rs0 "$(ars_addr "${r}" 1)/24"
    addr "rs${r}" rs0 "$(ars_addr "${r}" 2)/24"
    addr "sp${r}" sp0 "$(app_addr "${r}")/24"
    addr ms "ms-${r}" "${MSEE_LINK[${r}]}/30"
    route "rs${r}" default "$(fabric_rs_gw "${r}")"
    route "sp${r}" default "$(spoke_gw "${r}")"
    # Global peering: the other hub (not its spokes) is reachable.
    route "f${r}" "$(hub_net "${other}")" "${GP_ADDR[${other}]}"
    # The ExpressRoute gateway reaches the Route Server (multihop sessions).
    route ms "$(rs_subnet "${r}")" "${FABRIC_MS_ADDR[${r}]}"
    # The NVA subnet is one segment (a bridge) however many NVAs it holds.
    ns_exec "f${r}" ip link add f-nva type bridge || fail "cannot create the NVA subnet bridge in f${r}"
    ns_exec "f${r}" ip link set f-nva up
    addr "f${r}" f-nva "$(fabric_nva_gw "${r}")/24"
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
      local nns
      nns="$(nva_ns "${r}" "${i}")"
      veth_pair "f${r}" "f-n${i}" "${nns}" hub
      ns_exec "f${r}" ip link set "f-n${i}" master f-nva || fail "cannot attach f-n${i} to f-nva in f${r}"
      [[ "${IT_DRIVER}" == pmd ]] || addr "${nns}" hub "$(nva_addr "${r}" "${i}")/24"
      veth_no_offload "f${r}" "f-n${i}"
      veth_no_offload "${nns}" hub
      # The data plane forwards; the NVA's kernel only answers for itself.
      ns_exec "${nns}" sysctl -qw net.ipv4.conf.all.forwarding=0
      veth_pair mg "m-${r}${i}" "${nns}" mgmt
      ns_exec mg ip link set "m-${r}${i}" master mg-br || fail "cannot attach m-${r}${i} to mg-br"
      addr "${nns}" mgmt "$(mgmt_addr "${r}" "${i}")/${MGMT_LEN}"
    done
    _seed_router "f${r}"
  done
  _seed_router ms
}

# _seed_router NS: forwards, no ICMP redirects (a redirect would teach the
# NVA a path around the fabric) and no reverse-path filter (the NVA and the
# MSEE are legitimate sources of other subnets' addresses).
_seed_router() {
  # fib_multipath_hash_policy 1: ECMP (SEED_HA=ecmp) hashes on the 5-tuple,
  # as Azure spreads flows over equal Route Server paths.
  ns_exec "$1" sysctl -qw net.ipv4.fib_multipath_hash_policy=1
  ns_exec "$1" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  local ifname
  for ifname in $(ns_exec "$1" ls /sys/class/net); do
    ns_exec "$1" sysctl -qw "net.ipv4.conf.${ifname}.send_redirects=0" "net.ipv4.conf.${ifname}.rp_filter=0"
  done
}

# ------------------------------------------------------------ BGP peers

# seed_start_ars R: both Route Server instances of region R (FRR, AS 65515,
# eBGP multihop to every NVA of the region and to the MSEE, originating the
# spoke VNet's prefix). Timers 3/9 instead of ARS's 60/180, so that a
# killed NVA is noticed within a demo's patience.
seed_start_ars() {
  local r="$1" k i self body nva
  for k in 1 2; do
    self="$(ars_addr "${r}" "${k}")"
    body=""
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
      nva="$(nva_addr "${r}" "${i}")"
      body+=" neighbor ${nva} remote-as ${NVA_ASN[${r}]}
 neighbor ${nva} ebgp-multihop 2
 neighbor ${nva} update-source ${self}
 neighbor ${nva} timers ${SEED_KEEPALIVE_S} ${SEED_HOLD_S}
 neighbor ${nva} timers connect ${SEED_CONNECT_RETRY_S}
"
    done
    body+=" neighbor ${MSEE_LINK[${r}]} remote-as ${MSEE_ASN}
 neighbor ${MSEE_LINK[${r}]} ebgp-multihop 2
 neighbor ${MSEE_LINK[${r}]} update-source ${self}
 neighbor ${MSEE_LINK[${r}]} timers connect ${SEED_CONNECT_RETRY_S}
 address-family ipv4 unicast
  network $(spoke_prefix "${r}")
  maximum-paths 8
 exit-address-family"
    frr_start "rs${r}" "$(ars_name "${r}" "${k}")" "${self}" "${ARS_ASN}" "${self}" "${body}"
  done
}

# seed_start_msee: the MSEE-like router (AS 12076) between on-premises and
# both regions' Route Servers (in Azure: via the ExpressRoute gateway).
seed_start_msee() {
  local r k body=""
  for r in "${SEED_REGIONS[@]}"; do
    for k in 1 2; do
      body+=" neighbor $(ars_addr "${r}" "${k}") remote-as ${ARS_ASN}
 neighbor $(ars_addr "${r}" "${k}") ebgp-multihop 2
 neighbor $(ars_addr "${r}" "${k}") update-source ${MSEE_LINK[${r}]}
 neighbor $(ars_addr "${r}" "${k}") timers connect ${SEED_CONNECT_RETRY_S}
"
    done
  done
  body+=" neighbor ${OP_LINK} remote-as ${ONPREM_ASN}
 neighbor ${OP_LINK} timers connect ${SEED_CONNECT_RETRY_S}"
  frr_start ms msee 0.0.0.0 "${MSEE_ASN}" "${MSEE_OP}" "${body}"
}

seed_start_onprem() {
  frr_start op onprem "${OP_LINK}" "${ONPREM_ASN}" "${ONPREM_CLIENT}" \
    " neighbor ${MSEE_OP} remote-as ${MSEE_ASN}
 neighbor ${MSEE_OP} timers connect ${SEED_CONNECT_RETRY_S}
 address-family ipv4 unicast
  network ${ONPREM_PREFIX}
 exit-address-family"
}

# ------------------------------------------------------------ kernel routes from bgpd

# _seed_best_routes NS NAME: "PREFIX NEXT_HOP" for every best (or multipath)
# route bgpd NAME learned from a peer (its own `network`s are left out).
# Fails when bgpd did not answer, so that a missed poll never reads as
# "no routes" (which would delete them all).
_seed_best_routes() {
  local json
  json="$(frr_vtysh "$1" "$2" 'show bgp ipv4 unicast json' 2>/dev/null)" || return 1
  jq -e 'has("routes")' <<<"${json}" >/dev/null 2>&1 || return 1
  jq -r '.routes | to_entries[] | .key as $p | .value[]
         | select(.valid == true and (.bestpath == true or .multipath == true) and (.path // "") != "")
         | "\($p) \(.nexthops[0].ip)"' <<<"${json}" | sort -u
}

# _seed_gateway NS NEXT_HOP: the directly connected gateway NS uses towards
# NEXT_HOP (NEXT_HOP itself when connected); empty when unreachable.
_seed_gateway() {
  local out
  out="$(ns_exec "$1" ip -o route get "$2" 2>/dev/null)" || return 0
  if [[ "${out}" =~ via\ ([0-9.]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo "$2"
  fi
}

# seed_rib_sync_once NS FRR_NS FRR_NAME...: makes NS's kernel routes of
# protocol SEED_RIB_PROTO equal to the union of the best routes of the
# bgpd FRR_NAMEs that answer, as the VNet programs what either Route Server
# instance holds: one instance restarting takes nothing away while the
# other keeps its routes. When none answers, nothing changes.
seed_rib_sync_once() {
  local ns="$1" frr_ns="$2"
  shift 2
  local -A want=()
  local prefix nh gw best="" one frr_name answered=0
  for frr_name in "$@"; do
    one="$(_seed_best_routes "${frr_ns}" "${frr_name}")" || continue
    answered=1
    best+="${one}"$'\n'
  done
  ((answered)) || return 0
  while read -r prefix nh; do
    [[ -n "${prefix}" ]] || continue
    gw="$(_seed_gateway "${ns}" "${nh}")"
    [[ -n "${gw}" ]] || continue
    want[${prefix}]+="${want[${prefix}]:+ }${gw}"
  done <<<"${best}"
  local -A have=()
  local line
  while read -r line; do
    [[ -n "${line}" ]] || continue
    prefix="${line%% *}"
    [[ "${prefix}" == */* ]] || prefix+=/32  # ip prints a host route without its length
    have[${prefix}]="$(grep -oE 'via [0-9.]+' <<<"${line}" | awk '{ print $2 }' | sort -u | xargs)"
  done < <(ns_exec "${ns}" ip -o route show proto "${SEED_RIB_PROTO}")
  for prefix in "${!have[@]}"; do
    [[ -n "${want[${prefix}]+x}" ]] || ns_exec "${ns}" ip route del "${prefix}" proto "${SEED_RIB_PROTO}"
  done
  local gws args
  for prefix in "${!want[@]}"; do
    gws="$(tr ' ' '\n' <<<"${want[${prefix}]}" | sort -u | xargs)"
    [[ "${have[${prefix}]:-}" == "${gws}" ]] && continue
    args=()
    for gw in ${gws}; do args+=(nexthop via "${gw}"); done
    ns_exec "${ns}" ip route replace "${prefix}" proto "${SEED_RIB_PROTO}" "${args[@]}"
  done
}

# seed_rib_sync_loop NS FRR_NS FRR_NAME...: seed_rib_sync_once every
# SEED_RIB_POLL_S, forever (started in the background by seed_start_rib_sync).
seed_rib_sync_loop() {
  while true; do
    seed_rib_sync_once "$@"
    sleep "${SEED_RIB_POLL_S}"
  done
}

# _seed_rib_sync_bg NS FRR_NS FRR_NAME...: seed_rib_sync_loop in the
# background. It is a shell function, so start_bg cannot put it in a session
# of its own with setsid (IT_DETACH=1, seed/up): instead it ignores the
# terminal's SIGINT and SIGHUP itself (its children inherit that), and is
# stopped by its PID with SIGTERM like everything else.
_seed_rib_sync_bg() {
  IT_DETACH=0 start_bg - "${TEST_TMP}/rib-sync-$1.log" _seed_rib_sync_immune "$@"
}
_seed_rib_sync_immune() {
  trap '' INT HUP
  seed_rib_sync_loop "$@"
}

# seed_start_rib_sync: the fabrics follow both instances of their Route
# Server, the MSEE and on-premises their own bgpd.
seed_start_rib_sync() {
  local r
  for r in "${SEED_REGIONS[@]}"; do
    _seed_rib_sync_bg "f${r}" "rs${r}" "$(ars_name "${r}" 1)" "$(ars_name "${r}" 2)"
  done
  _seed_rib_sync_bg ms ms msee
  _seed_rib_sync_bg op op onprem
}

# ------------------------------------------------------------ NVAs

_seed_keys_dir() { echo "${TEST_TMP}/keys"; }

# seed_make_keys: one ESP key per direction (TUNNEL=ipsec).
seed_make_keys() {
  KEYS="$(_seed_keys_dir)"
  declare -gA KEY_HEX=() SALT_HEX=()
  mkdir -p "${KEYS}" || fail "cannot create ${KEYS}"
  new_key ab 16
  new_key ba 16
}

# _seed_tunnel_yaml R I: the tunnel from NVA RI to NVA I of the other region.
_seed_tunnel_yaml() {
  local r="$1" i="$2" other="${OTHER[$1]}"
  printf 'tunnels:\n  - name: %s\n    type: %s\n    local: %s\n    remote: %s\n' \
    "${XR}" "${TUNNEL}" "$(nva_addr "${r}" "${i}")" "$(nva_addr "${other}" "${i}")"
  printf '    overlay: %s/%s\n    mss_clamp: auto\n    interface: %s-%s%s\n' \
    "${OVERLAY[${r}${i}]}" "${OVERLAY_LEN}" "${XR}" "${r}" "${i}"
  case "${TUNNEL}" in
    vxlan) printf '    vni: %s\n    dst_port: %s\n' "${VNI}" "${VXLAN_PORT}" ;;
    ipsec)
      local out="${r}${other}" in="${other}${r}" out_spi=4097 in_spi=8193
      [[ "${r}" == b ]] && { out_spi=8193; in_spi=4097; }
      printf '    ipsec:\n      cipher: aes-128-gcm\n      outbound: {spi: %s, key_file: %s/%s.key}\n' \
        "${out_spi}" "$(_seed_keys_dir)" "${out}"
      printf '      inbound:\n        - {spi: %s, key_file: %s/%s.key}\n' "${in_spi}" "$(_seed_keys_dir)" "${in}"
      ;;
    *) fail "TUNNEL='${TUNNEL}': expected vxlan or ipsec" ;;
  esac
}

# seed_write_nva_config R I: the config of NVA I of region R. NVA 2 is the
# standby: it prepends its ASN twice towards Route Server.
seed_write_nva_config() {
  local r="$1" i="$2" other="${OTHER[$1]}" name="$1$2"
  local standby_term="" vip_term=""
  ((i > 1)) && [[ "${SEED_HA}" == prepend ]] && standby_term="
        - {name: standby, actions: {prepend: 2}, result: continue}"
  [[ "${r}" == b ]] && vip_term="
        - {name: backup-region-vip, match: {origins: [service_vip]}, actions: {prepend: ${SEED_VIP_PREPEND_B}}, result: continue}"
  {
    nva_dataplane_yaml "${name}" "region ${r}, NVA"
    if [[ "${IT_DRIVER}" == pmd ]]; then
      printf '  - {name: hub, driver: pmd, devargs: "net_af_packet_hub,iface=hub", interface: hub-x, address: %s/24}\n' \
        "$(nva_addr "${r}" "${i}")"
    else
      printf '  - {name: hub, driver: %s, interface: hub}\n' "${IT_DRIVER}"
    fi
    cat <<EOF
punt:
  tcp_ports: [179]
  udp_ports: []
routes:
  - {prefix: $(rs_subnet "${r}"), via: [$(fabric_nva_gw "${r}")]}
  - {prefix: $(hub_net "${other}"), via: [$(fabric_nva_gw "${r}")]}
EOF
    ((${SEED_UNDERLAY:-0})) || _seed_tunnel_yaml "${r}" "${i}"
    cat <<EOF
$(nva_admin_yaml "${name}" "$(nva_metrics_listen "${r}" "${i}")")
bgp:
  asn: ${NVA_ASN[${r}]}
  router_id: $(nva_addr "${r}" "${i}")
  # The SNAT address: the fabric must send the backends' replies back here.
  networks: [${SNAT_ADDR[${name}]}/32]
  policies:
    - name: from-ars
      terms:
        - {name: vnet, match: {as_path_contains: [${ARS_ASN}]}, result: accept}
    - name: to-remote
      terms:
        # Each region announces its own VIP and SNAT address to its ARS.
        - {name: local-only, match: {origins: [service_vip, static]}, result: reject}
      default: accept
    - name: from-remote
      terms:
        - {name: strip, actions: {as_path_exclude: [${ARS_ASN}]}, result: accept}
    - name: to-ars
      terms:
        - {name: no-echo, match: {as_path_contains: [${ARS_ASN}]}, result: reject}${standby_term}${vip_term}
      default: accept
  peers:
EOF
    local k
    for k in 1 2; do
      printf '    - {name: ars%s, address: %s, remote_as: %s, role: route_server, hold_time: %s, keepalive: %s,\n' \
        "${k}" "$(ars_addr "${r}" "${k}")" "${ARS_ASN}" "${SEED_HOLD_S}" "${SEED_KEEPALIVE_S}"
      printf '       connect_retry: %s, graceful_restart: false, import: [from-ars], export: [to-ars]}\n' \
        "${SEED_CONNECT_RETRY_S}"
    done
    if ((${SEED_UNDERLAY:-0})); then
      # No tunnel: the session runs between the hub addresses, across both
      # fabrics (two routed hops), and its routes point at the underlay.
      printf '    - {name: remote, address: %s, remote_as: %s, source: %s, multihop: 3, hold_time: %s, keepalive: %s,\n' \
        "$(nva_addr "${other}" "${i}")" "${NVA_ASN[${other}]}" "$(nva_addr "${r}" "${i}")" "${SEED_HOLD_S}" "${SEED_KEEPALIVE_S}"
    else
      printf '    - {name: remote, address: %s, remote_as: %s, source: %s, hold_time: %s, keepalive: %s,\n' \
        "${OVERLAY[${other}${i}]}" "${NVA_ASN[${other}]}" "${OVERLAY[${r}${i}]}" "${SEED_HOLD_S}" "${SEED_KEEPALIVE_S}"
    fi
    printf '       connect_retry: %s, graceful_restart: false, import: [from-remote], export: [to-remote]}\n' \
      "${SEED_CONNECT_RETRY_S}"
    cat <<EOF
services:
  - name: web
    vip: ${VIP}
    protocol: tcp
    ports: [${VIP_PORT}]
    backends:
      - {address: $(app_addr "${r}"), port: ${APP_PORT}}
    health: {type: http, path: /healthz, expect_status: 200}
    snat: {pool: [${SNAT_ADDR[${name}]}]}
EOF
  } >"$(nva_config "${name}")"
}

# seed_start_nva R I: writes the config and starts isthmusd RI (returns at
# once; seed_wait_nva waits for its port).
seed_start_nva() {
  local r="$1" i="$2"
  nva_prepare "$1$2" "$(nva_ns "${r}" "${i}")"
  seed_write_nva_config "${r}" "${i}"
  nva_start "$1$2" hub
}
seed_wait_nva() { nva_wait_ready "$1$2" hub; }

# seed_udr_apply: the seed's alternative to a tunnel, UDRs with BGP route
# propagation disabled on the NVA subnets: traffic leaving an NVA for the
# other region's spoke goes to that region's NVA 1 instead of following
# what Route Server programmed (which points back at the sender). Modelled
# with policy routing: from the NVA subnet (iif f-nva) table 100 sends the
# remote spoke over the global peering; arriving from the global peering
# (iif f-gp) table 101 hands the local spoke to the local NVA, as Azure's
# SDN delivers a UDR's packets to its next hop's NIC. Other destinations
# fall through to the main table.
seed_udr_apply() {
  local r other
  for r in "${SEED_REGIONS[@]}"; do
    other="${OTHER[${r}]}"
    ns_exec "f${r}" ip route replace "$(spoke_prefix "${other}")" via "${GP_ADDR[${other}]}" table 100 ||
      fail "f${r}: cannot add the UDR for $(spoke_prefix "${other}")"
    ns_exec "f${r}" ip route replace "$(spoke_prefix "${r}")" via "$(nva_addr "${r}" 1)" table 101 ||
      fail "f${r}: cannot add the delivery route for $(spoke_prefix "${r}")"
    ns_exec "f${r}" ip rule add iif f-nva lookup 100 pref 100 || fail "f${r}: ip rule iif f-nva failed"
    ns_exec "f${r}" ip rule add iif f-gp lookup 101 pref 101 || fail "f${r}: ip rule iif f-gp failed"
  done
}

# ------------------------------------------------------------ applications

declare -gA SEED_APP_PID=()

# seed_start_app R: the application server in spoke R (answers "appR CLIENT").
seed_start_app() {
  local r="$1" log="${TEST_TMP}/app-$1.log"
  : >"${log}"
  start_bg "sp${r}" "${log}" "${PY}" "${IT_LIB_DIR}/traffic.py" http-serve \
    --bind "$(app_addr "${r}")" --port "${APP_PORT}" --name "app${r}"
  SEED_APP_PID[${r}]=${BG_PID}
  wait_until 10 grep -q ready "${log}" || fail "application in spoke ${r} did not start: $(cat "${log}")"
}

# seed_kill_app R: SIGKILL, as a crash.
seed_kill_app() {
  { kill -KILL "${SEED_APP_PID[$1]}" && wait "${SEED_APP_PID[$1]}"; } 2>/dev/null
  unset "SEED_APP_PID[$1]"
}

# ------------------------------------------------------------ queries

# seed_peer_state NAME PEER: the state of NVA NAME's session PEER.
seed_peer_state() {
  nva_ctl "$1" show bgp summary --json 2>/dev/null |
    jq -r --arg p "$2" 'first(.peers[] | select(.name == $p) | .state) // "none"' 2>/dev/null
}
seed_established() { [[ "$(seed_peer_state "$1" "$2")" == Established ]]; }

# seed_all_established: every NVA session (both ARS, the remote NVA) is up.
seed_all_established() {
  local r i peer
  for r in "${SEED_REGIONS[@]}"; do
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
      for peer in ars1 ars2; do seed_established "${r}${i}" "${peer}" || return 1; done
      seed_established "${r}${i}" remote || return 1
    done
  done
}

# seed_ars_routes R K: "PREFIX AS_PATH" lines held by ARS instance K of R.
seed_ars_routes() { frr_routes "rs$1" "$(ars_name "$1" "$2")"; }

# seed_ars_path R K PREFIX: the AS path of the best route to PREFIX at that
# ARS instance (empty when it has none).
seed_ars_path() {
  frr_vtysh "rs$1" "$(ars_name "$1" "$2")" "show bgp ipv4 unicast $3 json" 2>/dev/null |
    jq -r 'first(.paths[]? | select(.bestpath.overall == true) | .aspath.string) // empty' 2>/dev/null
}

# seed_reaches NS ADDR: one ping answered.
seed_reaches() { ns_exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# seed_http NS URL [CURL_ARGS...]: the body of one GET (3 s at most).
seed_http() {
  local ns="$1" url="$2"
  shift 2
  ns_exec "${ns}" curl -sf --max-time 3 "$@" "${url}"
}

# seed_nva_diag: every NVA's view, for a failure report.
seed_nva_diag() {
  local r i
  for r in "${SEED_REGIONS[@]}"; do
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do
      [[ -n "$(nva_pid "${r}${i}")" ]] && nva_diag "${r}${i}" "bgp summary" "fib" "tunnels"
    done
  done
}

# ------------------------------------------------------------ all of it

# seed_up: builds the topology, starts every peer, NVA, application, the
# route installers and (when installed) Prometheus; returns once every
# NVA's port is up (not waiting for BGP: the caller times convergence).
seed_up() {
  topo_require_daemon
  [[ -x "${FRR_BGPD}" ]] || skip "FRR bgpd not installed"
  case "${TUNNEL}" in vxlan | ipsec) ;; *) fail "TUNNEL='${TUNNEL}': expected vxlan or ipsec" ;; esac
  case "${SEED_HA}" in prepend | ecmp) ;; *) fail "SEED_HA='${SEED_HA}': expected prepend or ecmp" ;; esac
  seed_build
  [[ "${TUNNEL}" == ipsec ]] && seed_make_keys
  local r i
  for r in "${SEED_REGIONS[@]}"; do
    seed_start_ars "${r}"
    seed_start_app "${r}"
  done
  seed_start_msee
  seed_start_onprem
  seed_start_rib_sync
  for r in "${SEED_REGIONS[@]}"; do
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do seed_start_nva "${r}" "${i}"; done
  done
  seed_prom_installed && seed_start_prometheus
  for r in "${SEED_REGIONS[@]}"; do
    for ((i = 1; i <= SEED_NVAS_PER_REGION; i++)); do seed_wait_nva "${r}" "${i}"; done
  done
}
