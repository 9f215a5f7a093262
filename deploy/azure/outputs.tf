output "route_server_peer_ips" {
  description = "Per region: Route Server's two instance addresses (AS 65515). Each NVA peers with both."
  value       = local.route_server_ips
}

output "route_servers" {
  description = "Per region: the resource group and Route Server name, for the az commands in README.md."
  value = {
    for rk, ars in azurerm_route_server.hub : rk => {
      resource_group = azurerm_resource_group.region[rk].name
      name           = ars.name
    }
  }
}

output "nvas" {
  description = "Per NVA: its ASN, data address (BGP peer of Route Server), SNAT address, management addresses and how to log in."
  value = {
    for k, n in local.nvas : k => {
      region         = n.region
      vm_name        = n.name
      asn            = n.asn
      data_ip        = n.data_ip
      snat_ip        = n.snat_ip
      mgmt_private   = n.mgmt_ip
      mgmt_public    = var.nva_public_ip ? azurerm_public_ip.nva_mgmt[k].ip_address : null
      ssh            = var.nva_public_ip ? "ssh ${var.admin_username}@${azurerm_public_ip.nva_mgmt[k].ip_address}" : "no public IP (nva_public_ip = false): ssh ${var.admin_username}@${n.mgmt_ip} through a bastion or VPN"
      first_boot_log = "sudo tail -f /var/log/isthmus-bootstrap.log"
      metrics        = "http://${n.mgmt_ip}:9470/metrics"
    }
  }
}

output "spoke_test_vms" {
  description = "Per region: the spoke test VM (anycast backend) and its NIC, for the effective-route check."
  value = {
    for rk, vm in azurerm_linux_virtual_machine.spoke : rk => {
      private_ip     = local.spoke_vm_ip[rk]
      resource_group = azurerm_resource_group.region[rk].name
      nic_name       = azurerm_network_interface.spoke[rk].name
    }
  }
}

output "anycast_vip" {
  description = "The /32 every NVA announces to its Route Server while a backend is healthy."
  value       = "${var.anycast_vip}/32"
}

output "check_commands" {
  description = "Commands that show whether it worked (README.md explains the expected output)."
  value = merge(
    {
      for k, n in local.nvas : "${k}-bgp" =>
      "ssh ${var.admin_username}@${var.nva_public_ip ? azurerm_public_ip.nva_mgmt[k].ip_address : n.mgmt_ip} sudo isthmusctl show bgp summary"
    },
    {
      for rk, ars in azurerm_route_server.hub : "${rk}-route-server-learned" => join(" ", [
        "az network routeserver peering list-learned-routes",
        "--resource-group ${azurerm_resource_group.region[rk].name}",
        "--routeserver ${ars.name}",
        "--name ${local.nvas["${rk}-1"].name}",
        "-o json",
      ])
    },
    {
      for rk, nic in azurerm_network_interface.spoke : "${rk}-spoke-effective-routes" => join(" ", [
        "az network nic show-effective-route-table",
        "--resource-group ${azurerm_resource_group.region[rk].name}",
        "--name ${nic.name}",
        "-o table",
      ])
    },
  )
}
