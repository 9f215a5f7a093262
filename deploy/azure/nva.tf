# The NVA VMs: a management NIC that stays with the kernel (SSH, metrics,
# package downloads; never accelerated: DPDK must not grab it) and a data NIC
# with accelerated networking and IP forwarding that isthmusd drives.

resource "azurerm_public_ip" "nva_mgmt" {
  for_each            = var.nva_public_ip ? local.nvas : {}
  name                = "${each.value.name}-mgmt-pip"
  resource_group_name = azurerm_resource_group.region[each.value.region].name
  location            = var.regions[each.value.region].location
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = var.tags
}

resource "azurerm_network_interface" "nva_mgmt" {
  for_each                       = local.nvas
  name                           = "${each.value.name}-mgmt"
  resource_group_name            = azurerm_resource_group.region[each.value.region].name
  location                       = var.regions[each.value.region].location
  accelerated_networking_enabled = false
  ip_forwarding_enabled          = false
  tags                           = var.tags

  ip_configuration {
    name                          = "mgmt"
    subnet_id                     = azurerm_subnet.mgmt[each.value.region].id
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.mgmt_ip
    public_ip_address_id          = var.nva_public_ip ? azurerm_public_ip.nva_mgmt[each.key].id : null
  }
}

resource "azurerm_network_interface" "nva_data" {
  for_each            = local.nvas
  name                = "${each.value.name}-data"
  resource_group_name = azurerm_resource_group.region[each.value.region].name
  location            = var.regions[each.value.region].location
  # The VF (mlx5) that the netvsc PMD uses for the fast path.
  accelerated_networking_enabled = true
  # Without it Azure drops packets whose destination is not this NIC's own
  # address, i.e. everything an NVA forwards.
  ip_forwarding_enabled = true
  tags                  = var.tags

  ip_configuration {
    name                          = "data"
    primary                       = true
    subnet_id                     = azurerm_subnet.nva[each.value.region].id
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.data_ip
  }

  # This NVA's own SNAT address for the anycast service: replies from the
  # backends come back to the NVA that holds the flow. isthmusd answers for
  # it in the data plane; the kernel never configures it.
  ip_configuration {
    name                          = "snat"
    primary                       = false
    subnet_id                     = azurerm_subnet.nva[each.value.region].id
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.snat_ip
  }
}

locals {
  # The anycast service's backends per region: the spoke test VM, when there is one.
  vip_backends = { for rk, r in var.regions : rk => var.spoke_test_vm ? [local.spoke_vm_ip[rk]] : [] }

  nva_cloud_init = {
    for k, n in local.nvas : k => templatefile("${path.module}/cloud-init.yaml.tftpl", {
      hostname           = n.name
      isthmus_source_url = var.isthmus_source_url
      isthmus_source_ref = var.isthmus_source_ref
      dataplane_driver   = var.dataplane_driver
      hugepages_2m       = var.hugepages_2m
      workers            = var.isthmusd_workers
      # Azure reports MACs as 00-0D-3A-...; Linux shows 00:0d:3a:...
      data_mac          = lower(replace(azurerm_network_interface.nva_data[k].mac_address, "-", ":"))
      data_ip           = n.data_ip
      data_plen         = n.data_plen
      data_gateway      = n.data_gateway
      mgmt_ip           = n.mgmt_ip
      snat_ip           = n.snat_ip
      asn               = n.asn
      prepend           = n.prepend
      route_server_asn  = local.route_server_asn
      route_server_ips  = local.route_server_ips[n.region]
      route_server_cidr = var.regions[n.region].route_server_subnet
      vip               = var.anycast_vip
      vip_ports         = var.vip_ports
      vip_health_path   = var.vip_health_path
      vip_backends      = local.vip_backends[n.region]
    })
  }
}

resource "azurerm_linux_virtual_machine" "nva" {
  for_each            = local.nvas
  name                = each.value.name
  computer_name       = each.value.name
  resource_group_name = azurerm_resource_group.region[each.value.region].name
  location            = var.regions[each.value.region].location
  size                = var.nva_vm_size
  admin_username      = var.admin_username
  # The first NIC is the primary one: it holds the default route, so
  # management traffic never depends on the data plane.
  network_interface_ids = [
    azurerm_network_interface.nva_mgmt[each.key].id,
    azurerm_network_interface.nva_data[each.key].id,
  ]
  disable_password_authentication = true
  custom_data                     = base64encode(local.nva_cloud_init[each.key])
  tags                            = var.tags

  admin_ssh_key {
    username   = var.admin_username
    public_key = var.ssh_public_key
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
    disk_size_gb         = 64
  }

  source_image_reference {
    publisher = var.nva_image.publisher
    offer     = var.nva_image.offer
    sku       = var.nva_image.sku
    version   = var.nva_image.version
  }

  # The Route Server sessions are configured from its instance addresses,
  # which exist only once it is provisioned (about 20 minutes).
  depends_on = [azurerm_route_server.hub]
}
