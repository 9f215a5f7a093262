# Per region: a resource group, the hub VNet (RouteServerSubnet, NVA data
# subnet, management subnet) and a spoke VNet with one workload subnet.

resource "azurerm_resource_group" "region" {
  for_each = var.regions
  name     = "${var.name_prefix}-${each.key}"
  location = each.value.location
  tags     = var.tags
}

resource "azurerm_virtual_network" "hub" {
  for_each            = var.regions
  name                = "${var.name_prefix}-${each.key}-hub"
  resource_group_name = azurerm_resource_group.region[each.key].name
  location            = each.value.location
  address_space       = [each.value.hub_cidr]
  tags                = var.tags
}

# Azure requires this exact name; no NSG or route table may be attached to it.
resource "azurerm_subnet" "route_server" {
  for_each             = var.regions
  name                 = "RouteServerSubnet"
  resource_group_name  = azurerm_resource_group.region[each.key].name
  virtual_network_name = azurerm_virtual_network.hub[each.key].name
  address_prefixes     = [each.value.route_server_subnet]
}

resource "azurerm_subnet" "nva" {
  for_each             = var.regions
  name                 = "nva"
  resource_group_name  = azurerm_resource_group.region[each.key].name
  virtual_network_name = azurerm_virtual_network.hub[each.key].name
  address_prefixes     = [each.value.nva_subnet]
}

resource "azurerm_subnet" "mgmt" {
  for_each             = var.regions
  name                 = "mgmt"
  resource_group_name  = azurerm_resource_group.region[each.key].name
  virtual_network_name = azurerm_virtual_network.hub[each.key].name
  address_prefixes     = [each.value.mgmt_subnet]
  # First boot downloads packages and the sources. Azure is retiring implicit
  # outbound access for new subnets: say so explicitly (a NAT gateway is the
  # production answer, see README.md).
  default_outbound_access_enabled = true
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = var.regions
  name                = "${var.name_prefix}-${each.key}-spoke"
  resource_group_name = azurerm_resource_group.region[each.key].name
  location            = each.value.location
  address_space       = [each.value.spoke_cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "spoke" {
  for_each             = var.regions
  name                 = "workload"
  resource_group_name  = azurerm_resource_group.region[each.key].name
  virtual_network_name = azurerm_virtual_network.spoke[each.key].name
  address_prefixes     = [each.value.spoke_subnet]
  # The test VMs install nginx at first boot (see mgmt above).
  default_outbound_access_enabled = true
}

# Management: SSH and Prometheus scrapes from the admin addresses only.
resource "azurerm_network_security_group" "mgmt" {
  for_each            = var.regions
  name                = "${var.name_prefix}-${each.key}-mgmt"
  resource_group_name = azurerm_resource_group.region[each.key].name
  location            = each.value.location
  tags                = var.tags

  security_rule {
    name                       = "admin-ssh-metrics"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_ranges    = ["22", "9470"]
    source_address_prefixes    = var.admin_source_cidrs
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "mgmt" {
  for_each                  = var.regions
  subnet_id                 = azurerm_subnet.mgmt[each.key].id
  network_security_group_id = azurerm_network_security_group.mgmt[each.key].id
}

# The data subnet keeps Azure's default rules (VNet and load-balancer traffic
# in, nothing from the Internet): the NVAs forward traffic between VNets,
# peered VNets and gateways, all of which the VirtualNetwork tag covers, and
# the data NICs have no public address.
