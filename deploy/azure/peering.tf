# Spokes use their hub's Route Server ("use remote gateways or Route
# Server"): that is how Route Server programs the NVAs' routes into the
# spoke. Azure accepts use_remote_gateways only once the hub holds a gateway
# or a Route Server, hence the explicit depends_on.

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  for_each                     = var.regions
  name                         = "hub-to-spoke"
  resource_group_name          = azurerm_resource_group.region[each.key].name
  virtual_network_name         = azurerm_virtual_network.hub[each.key].name
  remote_virtual_network_id    = azurerm_virtual_network.spoke[each.key].id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  allow_gateway_transit        = true
  depends_on                   = [azurerm_route_server.hub]
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  for_each                     = var.regions
  name                         = "spoke-to-hub"
  resource_group_name          = azurerm_resource_group.region[each.key].name
  virtual_network_name         = azurerm_virtual_network.spoke[each.key].name
  remote_virtual_network_id    = azurerm_virtual_network.hub[each.key].id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  use_remote_gateways          = true
  depends_on                   = [azurerm_route_server.hub, azurerm_virtual_network_peering.hub_to_spoke]
}

# Global peering between the hubs: the underlay that carries the NVAs'
# inter-region overlay (IPsec or VXLAN). Neither side uses the other's
# Route Server: each region's routes reach the other only through its NVAs,
# with 65515 removed from the AS path (docs/configuration.md, multi-region).
resource "azurerm_virtual_network_peering" "hub_to_hub" {
  for_each                     = local.hub_pairs
  name                         = "hub-to-${each.value.to}"
  resource_group_name          = azurerm_resource_group.region[each.value.from].name
  virtual_network_name         = azurerm_virtual_network.hub[each.value.from].name
  remote_virtual_network_id    = azurerm_virtual_network.hub[each.value.to].id
  allow_virtual_network_access = true
  allow_forwarded_traffic      = true
  allow_gateway_transit        = false
  use_remote_gateways          = false
}
