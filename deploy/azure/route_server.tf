# One Azure Route Server per hub. It always uses AS 65515 and two instance
# addresses in RouteServerSubnet; every NVA peers with both.

resource "azurerm_public_ip" "route_server" {
  for_each            = var.regions
  name                = "${var.name_prefix}-${each.key}-ars-pip"
  resource_group_name = azurerm_resource_group.region[each.key].name
  location            = each.value.location
  # Route Server requires a Standard, static public address (its control
  # plane; it carries no data traffic).
  allocation_method = "Static"
  sku               = "Standard"
  tags              = var.tags
}

resource "azurerm_route_server" "hub" {
  for_each                         = var.regions
  name                             = "${var.name_prefix}-${each.key}-ars"
  resource_group_name              = azurerm_resource_group.region[each.key].name
  location                         = each.value.location
  sku                              = "Standard"
  public_ip_address_id             = azurerm_public_ip.route_server[each.key].id
  subnet_id                        = azurerm_subnet.route_server[each.key].id
  branch_to_branch_traffic_enabled = var.route_server_branch_to_branch
  hub_routing_preference           = var.route_server_hub_routing_preference
  tags                             = var.tags
}

# Route Server's side of each session: peer_ip is the NVA's data NIC, where
# isthmusd's BGP speaker listens (the kernel owns TCP 179 through the
# exception path).
resource "azurerm_route_server_bgp_connection" "nva" {
  for_each        = local.nvas
  name            = each.value.name
  route_server_id = azurerm_route_server.hub[each.value.region].id
  peer_asn        = each.value.asn
  peer_ip         = each.value.data_ip
}

locals {
  # virtual_router_ips is a set: sort it so ars-1/ars-2 stay stable in
  # isthmusd.yaml and a re-read never reorders (and so never replaces) the VMs.
  route_server_ips = { for rk, ars in azurerm_route_server.hub : rk => sort(tolist(ars.virtual_router_ips)) }
}
