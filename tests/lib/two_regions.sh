# Shared by the two-region tunnel tests (test_vxlan_two_regions.sh,
# test_ipsec_two_regions.sh): the topology, its addresses and the FIB
# queries that do not depend on the tunnel type. Source after topo.sh.
#
#   ns ha --- ns nvaa (isthmusd "a") --- ns ul (underlay router) --- ns nvab (isthmusd "b") --- ns hb
#   192.0.2.10    lan 192.0.2.1 / wan 198.18.0.1     198.18.0.2 | .6     wan 198.18.0.5 / lan 198.51.100.1    198.51.100.10
# shellcheck shell=bash
# shellcheck disable=SC2034  # the constants are read by the tests that source this file

readonly TUNNEL=xr
readonly HOLD_S=9 KEEPALIVE_S=3 CONNECT_RETRY_S=2
readonly A_ASN=65001 B_ASN=65002
readonly HA_ADDR=192.0.2.10 A_LAN=192.0.2.1 A_PREFIX=192.0.2.0/24
readonly HB_ADDR=198.51.100.10 B_LAN=198.51.100.1 B_HOST_PREFIX=198.51.100.0/24
readonly A_WAN=198.18.0.1 UL_A=198.18.0.2 A_WAN_NET=198.18.0.0/30
readonly B_WAN=198.18.0.5 UL_B=198.18.0.6 B_WAN_NET=198.18.0.4/30
readonly WAN_LEN=30
readonly A_OVERLAY=198.18.250.1 B_OVERLAY=198.18.250.2 OVERLAY_LEN=30

build() {
  ns_create ha nvaa ul nvab hb
  veth_pair ha ha0 nvaa a-lan
  veth_pair nvaa a-wan ul ul-a
  veth_pair ul ul-b nvab b-wan
  veth_pair nvab b-lan hb hb0
  addr ha ha0 "${HA_ADDR}/24"
  addr hb hb0 "${HB_ADDR}/24"
  addr ul ul-a "${UL_A}/${WAN_LEN}"
  addr ul ul-b "${UL_B}/${WAN_LEN}"
  if [[ "${IT_DRIVER}" != "pmd" ]]; then
    # With pmd the addresses go on the exception TAPs, from the config.
    addr nvaa a-lan "${A_LAN}/24"
    addr nvaa a-wan "${A_WAN}/${WAN_LEN}"
    addr nvab b-lan "${B_LAN}/24"
    addr nvab b-wan "${B_WAN}/${WAN_LEN}"
  fi
  local entry
  for entry in "ha ha0" "nvaa a-lan" "nvaa a-wan" "ul ul-a" "ul ul-b" "nvab b-wan" "nvab b-lan" "hb hb0"; do
    # shellcheck disable=SC2086  # "NS IF" splits into two arguments
    veth_no_offload ${entry}
  done
  route ha default "${A_LAN}"
  route hb default "${B_LAN}"
  ns_exec ul sysctl -qw net.ipv4.conf.all.forwarding=1
  # The appliances' kernels only answer for themselves: the data planes forward.
  ns_exec nvaa sysctl -qw net.ipv4.conf.all.forwarding=0
  ns_exec nvab sysctl -qw net.ipv4.conf.all.forwarding=0
}

# port_yaml NAME IFNAME ADDRESS/LEN
port_yaml() {
  if [[ "${IT_DRIVER}" == "pmd" ]]; then
    printf '  - name: %s\n    driver: pmd\n    devargs: "net_af_packet_%s,iface=%s"\n    interface: %s-x\n    address: %s\n' \
      "$1" "$1" "$2" "$1" "$3"
  else
    printf '  - name: %s\n    driver: %s\n    interface: %s\n' "$1" "${IT_DRIVER}" "$2"
  fi
}

# fib_tunnel_via NAME PREFIX VIA: NAME's FIB sends PREFIX into the tunnel to VIA.
fib_tunnel_via() {
  nva_ctl "$1" show fib --json 2>/dev/null | jq -e --arg p "$2" --arg v "$3" \
    'first(.entries[] | select(.prefix == $p)) | .nexthops | length == 1 and .[0].kind == "tunnel" and .[0].via == $v' \
    >/dev/null 2>&1
}

fib_lacks() {
  nva_ctl "$1" show fib --json 2>/dev/null | jq -e --arg p "$2" '[.entries[] | select(.prefix == $p)] | length == 0' \
    >/dev/null 2>&1
}
