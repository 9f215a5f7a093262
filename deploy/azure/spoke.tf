# One small VM per spoke (optional): the anycast service's backend (nginx on
# port 80) and a NIC whose effective routes show what Route Server programmed
# (`az network nic show-effective-route-table`, see README.md).

resource "azurerm_network_interface" "spoke" {
  for_each            = var.spoke_test_vm ? var.regions : {}
  name                = "${var.name_prefix}-${each.key}-spoke-vm"
  resource_group_name = azurerm_resource_group.region[each.key].name
  location            = each.value.location
  tags                = var.tags

  ip_configuration {
    name                          = "workload"
    subnet_id                     = azurerm_subnet.spoke[each.key].id
    private_ip_address_allocation = "Static"
    private_ip_address            = local.spoke_vm_ip[each.key]
  }
}

resource "azurerm_linux_virtual_machine" "spoke" {
  for_each                        = var.spoke_test_vm ? var.regions : {}
  name                            = "${var.name_prefix}-${each.key}-spoke-vm"
  computer_name                   = "${var.name_prefix}-${each.key}-spoke-vm"
  resource_group_name             = azurerm_resource_group.region[each.key].name
  location                        = each.value.location
  size                            = var.spoke_vm_size
  admin_username                  = var.admin_username
  network_interface_ids           = [azurerm_network_interface.spoke[each.key].id]
  disable_password_authentication = true
  # nginx answers GET / with 200: what the NVAs' health probes expect.
  custom_data = base64encode(join("\n", ["#cloud-config", yamlencode({
    package_update = true
    packages       = ["nginx"]
  })]))
  tags = var.tags

  admin_ssh_key {
    username   = var.admin_username
    public_key = var.ssh_public_key
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }

  source_image_reference {
    publisher = var.nva_image.publisher
    offer     = var.nva_image.offer
    sku       = var.nva_image.sku
    version   = var.nva_image.version
  }
}
