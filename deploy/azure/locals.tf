locals {
  # Where each NVA sits. Azure reserves hosts 0-3 of every subnet, so the
  # first NVA gets host 4. Static addresses let the Route Server BGP
  # connections and isthmusd.yaml be written before the VMs boot.
  nva_data_host_base = 4
  nva_snat_host_base = 16
  mgmt_host_base     = 4
  spoke_vm_host      = 4

  # Route Server's AS number: fixed by Azure, cannot be changed.
  route_server_asn = 65515

  # Extra copies of our ASN the standby NVAs prepend (nva_mode = active_standby).
  standby_prepend = 2

  nvas = merge([
    for rk, r in var.regions : {
      for i in range(var.nva_count) : "${rk}-${i + 1}" => {
        region    = rk
        index     = i
        name      = "${var.name_prefix}-${rk}-nva${i + 1}"
        data_ip   = cidrhost(r.nva_subnet, local.nva_data_host_base + i)
        snat_ip   = cidrhost(r.nva_subnet, local.nva_snat_host_base + i)
        mgmt_ip   = cidrhost(r.mgmt_subnet, local.mgmt_host_base + i)
        data_plen = tonumber(split("/", r.nva_subnet)[1])
        # Azure's gateway of a subnet is its first host.
        data_gateway = cidrhost(r.nva_subnet, 1)
        asn          = r.nva_asn
        prepend      = var.nva_mode == "active_standby" && i > 0 ? local.standby_prepend : 0
      }
    }
  ]...)

  spoke_vm_ip = { for rk, r in var.regions : rk => cidrhost(r.spoke_subnet, local.spoke_vm_host) }

  # Every ordered pair of distinct regions: one global peering each way.
  hub_pairs = {
    for pair in setproduct(keys(var.regions), keys(var.regions)) :
    "${pair[0]}-to-${pair[1]}" => { from = pair[0], to = pair[1] } if pair[0] != pair[1]
  }
}
