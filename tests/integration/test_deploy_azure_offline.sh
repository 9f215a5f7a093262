#!/usr/bin/env bash
# deploy/azure, validated offline (no Azure account, no provider download):
#  - `terraform fmt -check`;
#  - the variables' validation rules accept the defaults and refuse reserved
#    and 4-byte ASNs, overlapping VNets, a small RouteServerSubnet, a VIP
#    inside a VNet... (`terraform console` on a copy of variables.tf and
#    locals.tf, which need no provider);
#  - the real cloud-init template rendered by terraform's templatefile(), for
#    both data-plane drivers, accepted by `cloud-init schema`;
#  - the isthmusd.yaml it writes accepted by `isthmusd --check-config` once
#    the first-boot script has filled in the data NIC (the af_xdp one refused
#    before), and a reserved ASN in it refused;
#  - the scripts it installs pass `bash -n` and shellcheck; its units and
#    deploy/systemd/isthmusd.service pass `systemd-analyze verify`.
# No namespaces. A missing tool makes the test SKIP, naming the tool, after
# every check that could run has run; any failed check fails it.
set -uo pipefail
# shellcheck source=tests/lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
readonly REPO_ROOT
readonly AZURE_DIR="${REPO_ROOT}/deploy/azure"
readonly TEMPLATE="${AZURE_DIR}/cloud-init.yaml.tftpl"
readonly UNIT="${REPO_ROOT}/deploy/systemd/isthmusd.service"
readonly INSTALLED_ISTHMUSD=/usr/local/sbin/isthmusd
ISTHMUS_BUILD_DIR="${ISTHMUS_BUILD_DIR:-${REPO_ROOT}/build}"
ISTHMUSD="${ISTHMUSD:-${ISTHMUS_BUILD_DIR}/control/daemon/isthmusd}"
# What the first-boot script writes into the config in place of the markers.
readonly SAMPLE_VMBUS_ID=7a5b0e7c-1b2d-4c1e-9d9f-0123456789ab
readonly SAMPLE_INTERFACE=eth1
readonly SAMPLE_MAC=00:0d:3a:00:00:01
readonly ROUTE_SERVER_ASN=65515

have() { command -v "$1" >/dev/null 2>&1; }
[[ -x "${ISTHMUSD}" ]] || fail "isthmusd not built: ${ISTHMUSD} (run deploy/deps/build)"
have terraform || skip "terraform not installed (deploy/azure cannot be checked without it)"
missing=()
for tool in cloud-init shellcheck systemd-analyze; do
  have "${tool}" || missing+=("${tool}")
done
# terraform warns on stderr about a missing CLI config; an empty one is enough.
export TF_CLI_CONFIG_FILE="${TEST_TMP}/terraformrc"
: >"${TF_CLI_CONFIG_FILE}"
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# ------------------------------------------------------------ terraform fmt

out="$(terraform fmt -check -recursive -diff "${AZURE_DIR}" 2>&1)" ||
  fail "terraform fmt -check -recursive deploy/azure: ${out}"
check "terraform fmt -check -recursive deploy/azure"

# ------------------------------------------------ variables and their rules

# variables.tf and locals.tf need no provider, so terraform console can
# evaluate them (and run every validation rule) without downloading one.
readonly TF_DIR="${TEST_TMP}/tf"
mkdir -p "${TF_DIR}"
cp "${AZURE_DIR}/variables.tf" "${AZURE_DIR}/locals.tf" "${TF_DIR}/"
# The three variables without a default, with values that pass their rules.
cat >"${TF_DIR}/sample.tfvars" <<'EOF'
ssh_public_key     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfflineTestKeyNotARealKey000000000000000"
admin_source_cidrs = ["203.0.113.7/32"]
isthmus_source_url = "https://git.example.invalid/isthmus.git"
EOF

# tf_eval EXPR [TERRAFORM ARGS...]: the value of EXPR (one line) with the
# sample variables; the exit status is terraform's.
tf_eval() {
  local expr="$1"
  shift
  printf '%s\n' "${expr}" |
    terraform -chdir="${TF_DIR}" console -no-color -var-file=sample.tfvars "$@" 2>&1
}

nvas="$(tf_eval 'length(local.nvas)')" || fail "the default variables do not evaluate: ${nvas}"
assert_eq 4 "${nvas}" "defaults: NVAs (2 regions x nva_count 2)"
peerings="$(tf_eval 'length(local.hub_pairs)')" || fail "hub_pairs: ${peerings}"
assert_eq 2 "${peerings}" "defaults: global hub peerings (one each way)"

# A region with every field valid except what a case overrides.
region() {
  local asn="${1:-65010}" hub="${2:-198.18.0.0/20}" ars="${3:-198.18.0.0/26}"
  printf '{location="westeurope",hub_cidr="%s",route_server_subnet="%s",nva_subnet="198.18.1.0/24",' "${hub}" "${ars}"
  printf 'mgmt_subnet="198.18.2.0/24",spoke_cidr="198.18.16.0/20",spoke_subnet="198.18.16.0/24",nva_asn=%s}' "${asn}"
}
second_region() {
  printf '{location="northeurope",hub_cidr="%s",route_server_subnet="198.18.32.0/26",nva_subnet="198.18.33.0/24",' "$1"
  printf 'mgmt_subnet="198.18.34.0/24",spoke_cidr="198.18.48.0/20",spoke_subnet="198.18.48.0/24",nva_asn=%s}' "$2"
}

# "description|terraform -var argument|text the refusal must contain"
readonly REFUSED_CASES=(
  "Route Server's own ASN 65515|regions={a=$(region 65515)}|nva_asn must be a 16-bit ASN"
  "ASN 65518 (reserved by Azure)|regions={a=$(region 65518)}|nva_asn must be a 16-bit ASN"
  "ASN 12076 (ExpressRoute)|regions={a=$(region 12076)}|nva_asn must be a 16-bit ASN"
  "ASN 23456 (AS_TRANS)|regions={a=$(region 23456)}|nva_asn must be a 16-bit ASN"
  "ASN 0|regions={a=$(region 0)}|nva_asn must be a 16-bit ASN"
  "4-byte ASN 4200000000|regions={a=$(region 4200000000)}|nva_asn must be a 16-bit ASN"
  "the same ASN in two regions|regions={a=$(region 65010),b=$(second_region 198.18.32.0/20 65010)}|Each region needs its own nva_asn"
  "overlapping hubs|regions={a=$(region),b=$(second_region 198.18.0.0/19 65020)}|No two VNets"
  "CIDR with host bits|regions={a=$(region 65010 198.18.0.1/20)}|host bits zero"
  "subnet outside its hub|regions={a=$(region 65010 198.18.4.0/22 198.18.4.0/26)}|must lie inside hub_cidr"
  "RouteServerSubnet /27|regions={a=$(region 65010 198.18.0.0/20 198.18.0.0/27)}|/26 or larger"
  "VIP inside a spoke|anycast_vip=198.18.16.9|outside every hub_cidr and spoke_cidr"
  "nva_count 9 (8 peers per Route Server)|nva_count=9|from 1 to 8"
  "nva_count 0|nva_count=0|from 1 to 8"
  "dataplane_driver dpdk|dataplane_driver=dpdk|netvsc or af_xdp"
  "source URL with a command substitution|isthmus_source_url=https://x/\$(reboot)|URL characters"
)
for entry in "${REFUSED_CASES[@]}"; do
  IFS='|' read -r what assignment expected <<<"${entry}"
  # Any expression runs every rule; a constant keeps terraform from
  # evaluating locals built on the refused value. Terraform wraps messages.
  out="$(tf_eval '1' -var "${assignment}" | tr -s '[:space:]' ' ')"
  [[ "${out}" == *"Invalid value for variable"* && "${out}" == *"${expected}"* ]] ||
    fail "variables accept ${what} (${assignment}): ${out}"
  check "variables refuse ${what}"
done
out="$(tf_eval 'length(local.nvas)' -var "regions={a=$(region 65516)}")" ||
  fail "variables refuse the valid ASN 65516: ${out}"
assert_eq 2 "${out}" "variables accept ASN 65516 (one region, 2 NVAs)"

# ------------------------------------------------ render the real template

# The variables nva.tf passes to the template; the renders below pass the
# same set, so a variable added on one side only is caught here.
template_keys_in_nva_tf() {
  awk '/templatefile\("\$\{path.module\}\/cloud-init.yaml.tftpl"/ { inside = 1; next }
       inside && /^[[:space:]]*\}\)/ { exit }
       inside && match($0, /^[[:space:]]*[a-z0-9_]+[[:space:]]*=/) {
         key = substr($0, RSTART, RLENGTH); gsub(/[[:space:]=]/, "", key); print key }' \
    "${AZURE_DIR}/nva.tf" | sort
}

# template_vars NVA_KEY DRIVER: the template's variables for one NVA of the
# defaults, as nva.tf computes them; Route Server's instance IPs are the
# ones Azure usually assigns (hosts 4 and 5 of RouteServerSubnet). Commas,
# not newlines, separate the attributes: the console reads one line.
template_vars() {
  local nva="$1" driver="$2"
  cat <<EOF
{
  hostname           = local.nvas["${nva}"].name,
  isthmus_source_url = var.isthmus_source_url,
  isthmus_source_ref = var.isthmus_source_ref,
  dataplane_driver   = "${driver}",
  hugepages_2m       = var.hugepages_2m,
  workers            = var.isthmusd_workers,
  data_mac           = "${SAMPLE_MAC}",
  data_ip            = local.nvas["${nva}"].data_ip,
  data_plen          = local.nvas["${nva}"].data_plen,
  data_gateway       = local.nvas["${nva}"].data_gateway,
  mgmt_ip            = local.nvas["${nva}"].mgmt_ip,
  snat_ip            = local.nvas["${nva}"].snat_ip,
  asn                = local.nvas["${nva}"].asn,
  prepend            = local.nvas["${nva}"].prepend,
  route_server_asn   = local.route_server_asn,
  route_server_ips   = [for h in [4, 5] : cidrhost(var.regions[local.nvas["${nva}"].region].route_server_subnet, h)],
  route_server_cidr  = var.regions[local.nvas["${nva}"].region].route_server_subnet,
  vip                = var.anycast_vip,
  vip_ports          = var.vip_ports,
  vip_health_path    = var.vip_health_path,
  vip_backends       = var.spoke_test_vm ? [local.spoke_vm_ip[local.nvas["${nva}"].region]] : [],
}
EOF
}

nva_tf_keys="$(template_keys_in_nva_tf)"
test_keys="$(template_vars x y | sed -n 's/^  \([a-z0-9_]*\) *=.*/\1/p' | sort)"
[[ -n "${nva_tf_keys}" ]] || fail "cannot find the templatefile() call in deploy/azure/nva.tf"
[[ "${nva_tf_keys}" == "${test_keys}" ]] ||
  fail "nva.tf and this test pass different template variables: $(diff <(echo "${nva_tf_keys}") <(echo "${test_keys}") | tr '\n' ' ')"
check "the renders pass the same $(wc -l <<<"${test_keys}") template variables as nva.tf"

# render NAME NVA_KEY DRIVER [TERRAFORM ARGS...]: renders the template into
# TEST_TMP/NAME/user-data and unpacks its write_files into TEST_TMP/NAME/files.
# base64 keeps the console's string quoting out of the way.
render() {
  local name="$1" nva="$2" driver="$3"
  shift 3
  local dir="${TEST_TMP}/${name}" expr encoded
  mkdir -p "${dir}/files"
  expr="base64encode(templatefile(\"${TEMPLATE}\", $(template_vars "${nva}" "${driver}" | tr '\n' ' ')))"
  encoded="$(tf_eval "${expr}" "$@")" || fail "${name}: templatefile failed: ${encoded}"
  base64 -d <<<"${encoded//\"/}" >"${dir}/user-data" || fail "${name}: cannot decode the render: ${encoded}"
  "${PY}" - "${dir}/user-data" "${dir}/files" <<'EOF' || fail "${name}: user-data is not YAML with write_files"
import os, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for entry in doc["write_files"]:
    with open(os.path.join(sys.argv[2], os.path.basename(entry["path"])), "w") as out:
        out.write(entry["content"])
EOF
  head -n 1 "${dir}/user-data" | grep -qx '#cloud-config' || fail "${name}: first line is not #cloud-config"
  check "${name}: rendered $(wc -l <"${dir}/user-data") lines of user-data"
}

# netvsc, a standby NVA (prepend), hugepages, two VIP ports, a backend.
render netvsc weu-2 netvsc -var nva_mode=active_standby -var 'vip_ports=[80,443]'
# af_xdp, no hugepages, no spoke VM and so no service.
render af_xdp neu-1 af_xdp -var hugepages_2m=0 -var spoke_test_vm=false

# ------------------------------------------------------------ cloud-init

if have cloud-init; then
  for name in netvsc af_xdp; do
    out="$(cloud-init schema --config-file "${TEST_TMP}/${name}/user-data" 2>&1)" ||
      fail "${name}: cloud-init schema: ${out}"
    check "${name}: cloud-init schema: ${out##*$'\n'}"
  done
  # The schema check itself must be able to fail.
  sed 's/^runcmd:$/runcmd: 5\nunused_runcmd:/' "${TEST_TMP}/netvsc/user-data" >"${TEST_TMP}/bad-user-data"
  cloud-init schema --config-file "${TEST_TMP}/bad-user-data" >/dev/null 2>&1 &&
    fail "cloud-init schema accepts runcmd: 5"
  check "cloud-init schema refuses a broken copy (runcmd: 5)"
fi

# ------------------------------------------------------------ isthmusd.yaml

netvsc_yaml="${TEST_TMP}/netvsc/files/isthmusd.yaml"
af_xdp_yaml="${TEST_TMP}/af_xdp/files/isthmusd.yaml"
yaml="$(cat "${netvsc_yaml}")"
assert_contains "${yaml}" 'devargs: "__DATA_NIC_VMBUS_ID__"' "netvsc config: VMBus id left to the first-boot script"
assert_eq 2 "$(grep -c "remote_as: ${ROUTE_SERVER_ASN}" <<<"${yaml}")" "netvsc config: Route Server peers with AS ${ROUTE_SERVER_ASN}"
assert_eq 2 "$(grep -c 'role: route_server' <<<"${yaml}")" "netvsc config: peers with role route_server"
assert_eq 2 "$(grep -c 'multihop: 2' <<<"${yaml}")" "netvsc config: peers with multihop 2"
assert_contains "${yaml}" "vip: 203.0.113.10" "netvsc config: the anycast VIP"
assert_contains "${yaml}" "ports: [80, 443]" "netvsc config: the VIP ports"
assert_contains "${yaml}" "prepend: 2" "netvsc config: the standby NVA prepends"
assert_contains "${yaml}" "hugepages: true" "netvsc config: hugepages on"
yaml="$(cat "${af_xdp_yaml}")"
assert_contains "${yaml}" "driver: af_xdp" "af_xdp config: AF_XDP port"
assert_contains "${yaml}" "hugepages: false" "af_xdp config: hugepages off"
[[ "${yaml}" != *"services:"* && "${yaml}" != *"prepend"* ]] ||
  fail "af_xdp config: a service or a prepend without backends or standby role"
check "af_xdp config: no service without backends, no prepend on the active NVA"
[[ ! -e "${TEST_TMP}/af_xdp/files/60-isthmus-hugepages.conf" ]] ||
  fail "af_xdp: hugepages reserved although hugepages_2m = 0"
check "af_xdp: no hugepage sysctl with hugepages_2m = 0"
assert_contains "$(cat "${TEST_TMP}/netvsc/files/60-isthmus-hugepages.conf")" "vm.nr_hugepages = 1024" \
  "netvsc: hugepage sysctl"

# check_config FILE: isthmusd's own parser and validator.
check_config() { "${ISTHMUSD}" --check-config "$1" 2>&1; }

out="$(check_config "${af_xdp_yaml}")" && fail "isthmusd accepts the af_xdp config before the first boot filled in the interface"
assert_contains "${out}" "ports[0].interface" "af_xdp config refused until the first-boot script names the interface"

# What isthmus-azure-dataplane does at first boot (the same sed).
sed "s/__DATA_NIC_VMBUS_ID__/${SAMPLE_VMBUS_ID}/" "${netvsc_yaml}" >"${TEST_TMP}/netvsc.yaml"
sed "s/__DATA_NIC_INTERFACE__/${SAMPLE_INTERFACE}/" "${af_xdp_yaml}" >"${TEST_TMP}/af_xdp.yaml"
for marker in __DATA_NIC_VMBUS_ID__ __DATA_NIC_INTERFACE__; do
  grep -q "sed -i \"s/${marker}/" "${TEMPLATE}" || fail "the first-boot script does not replace ${marker}"
done
for name in netvsc af_xdp; do
  out="$(check_config "${TEST_TMP}/${name}.yaml")" || fail "isthmusd --check-config refuses the ${name} config: ${out}"
  check "isthmusd --check-config accepts the ${name} config: ${out}"
done
sed "s/^  asn: .*/  asn: ${ROUTE_SERVER_ASN}/" "${TEST_TMP}/netvsc.yaml" >"${TEST_TMP}/reserved-asn.yaml"
out="$(check_config "${TEST_TMP}/reserved-asn.yaml")" && fail "isthmusd accepts asn ${ROUTE_SERVER_ASN}"
assert_contains "${out}" "bgp.asn" "isthmusd --check-config refuses the config with asn ${ROUTE_SERVER_ASN}"

# ------------------------------------------------------------ scripts

for name in netvsc af_xdp; do
  for script in isthmus-azure-dataplane isthmus-azure-bootstrap; do
    file="${TEST_TMP}/${name}/files/${script}"
    out="$(bash -n "${file}" 2>&1)" || fail "${name}: bash -n ${script}: ${out}"
    if have shellcheck; then
      out="$(shellcheck -s bash "${file}" 2>&1)" || fail "${name}: shellcheck ${script}: ${out}"
    fi
  done
  check "${name}: first-boot scripts pass bash -n$(have shellcheck && echo ' and shellcheck')"
done

# ------------------------------------------------------------ systemd units

# verify_units DIR UNIT...: systemd-analyze verify with DIR first in the unit
# path (so drop-ins and Requires= resolve there). It exits 0 on warnings
# such as unknown keys, so any output counts as a failure too.
verify_units() {
  local dir="$1" out status=0
  shift
  out="$(SYSTEMD_UNIT_PATH="${dir}:" systemd-analyze verify "$@" 2>&1)" || status=$?
  [[ ${status} -eq 0 && -z "${out}" ]] || { printf '%s\n' "${out}"; return 1; }
}

if have systemd-analyze; then
  # ExecStart must name an executable that exists here: the built isthmusd
  # stands in for the installed one, the extracted script for its copy.
  units="${TEST_TMP}/units"
  mkdir -p "${units}/isthmusd.service.d"
  sed "s|${INSTALLED_ISTHMUSD}|${ISTHMUSD}|g" "${UNIT}" >"${units}/isthmusd.service"
  out="$(verify_units "${units}" "${units}/isthmusd.service")" ||
    fail "systemd-analyze verify deploy/systemd/isthmusd.service: ${out}"
  check "systemd-analyze verify deploy/systemd/isthmusd.service"

  files="${TEST_TMP}/netvsc/files"
  chmod +x "${files}/isthmus-azure-dataplane"
  sed "s|/usr/local/sbin/isthmus-azure-dataplane|${files}/isthmus-azure-dataplane|" \
    "${files}/isthmus-azure-dataplane.service" >"${units}/isthmus-azure-dataplane.service"
  cp "${files}/azure.conf" "${units}/isthmusd.service.d/azure.conf"
  out="$(verify_units "${units}" "${units}/isthmusd.service" "${units}/isthmus-azure-dataplane.service")" ||
    fail "systemd-analyze verify of isthmusd.service with the Azure drop-in and isthmus-azure-dataplane.service: ${out}"
  check "systemd-analyze verify isthmusd.service + azure.conf drop-in + isthmus-azure-dataplane.service"
  # The drop-in is really read: a Requires= on a unit that does not exist fails.
  echo "Requires=isthmus-no-such-unit.service" >>"${units}/isthmusd.service.d/azure.conf"
  verify_units "${units}" "${units}/isthmusd.service" >/dev/null && fail "systemd-analyze verify ignores the drop-in"
  check "systemd-analyze verify reads the drop-in (a missing Requires= fails)"
fi

((${#missing[@]} == 0)) || skip "every available check passed; not installed: ${missing[*]}"
pass "deploy/azure checked offline"
