# Every input of the deployment. Defaults use only 198.18.0.0/15 (RFC 2544)
# and 203.0.113.0/24 (RFC 5737): Azure accepts them as VNet space, and the
# project ships no other addresses. Replace them with your own plan.

variable "name_prefix" {
  description = "Prefix of every resource name and of the resource groups (<prefix>-<region key>)."
  type        = string
  default     = "isthmus"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name_prefix))
    error_message = "name_prefix must be 2-16 characters of a-z, 0-9 and '-', starting with a letter."
  }
}

variable "regions" {
  description = <<-EOT
    One hub-and-spoke per entry, keyed by a short name used in resource names.
      location            Azure region (az account list-locations -o table)
      hub_cidr            hub VNet address space
      route_server_subnet RouteServerSubnet, inside hub_cidr, /26 or larger (Azure's minimum)
      nva_subnet          NVA data NICs, inside hub_cidr, /27 or larger
      mgmt_subnet         NVA management NICs, inside hub_cidr, /28 or larger
      spoke_cidr          spoke VNet address space (peered to the hub, uses its Route Server)
      spoke_subnet        workload subnet inside spoke_cidr, /29 or larger
      nva_asn             the NVAs' BGP AS number in this region (16-bit, see nva_asn rules)
  EOT
  type = map(object({
    location            = string
    hub_cidr            = string
    route_server_subnet = string
    nva_subnet          = string
    mgmt_subnet         = string
    spoke_cidr          = string
    spoke_subnet        = string
    nva_asn             = number
  }))
  default = {
    weu = {
      location            = "westeurope"
      hub_cidr            = "198.18.0.0/20"
      route_server_subnet = "198.18.0.0/26"
      nva_subnet          = "198.18.1.0/24"
      mgmt_subnet         = "198.18.2.0/24"
      spoke_cidr          = "198.18.16.0/20"
      spoke_subnet        = "198.18.16.0/24"
      nva_asn             = 65010
    }
    neu = {
      location            = "northeurope"
      hub_cidr            = "198.18.32.0/20"
      route_server_subnet = "198.18.32.0/26"
      nva_subnet          = "198.18.33.0/24"
      mgmt_subnet         = "198.18.34.0/24"
      spoke_cidr          = "198.18.48.0/20"
      spoke_subnet        = "198.18.48.0/24"
      nva_asn             = 65020
    }
  }

  validation {
    condition     = length(var.regions) >= 1 && alltrue([for k in keys(var.regions) : can(regex("^[a-z][a-z0-9]{0,7}$", k))])
    error_message = "regions needs at least one entry; each key is 1-8 characters of a-z and 0-9, starting with a letter (it becomes part of resource names)."
  }

  # Every address block is an IPv4 CIDR with its host bits zero.
  validation {
    condition = alltrue(flatten([for r in values(var.regions) : [
      for c in [r.hub_cidr, r.route_server_subnet, r.nva_subnet, r.mgmt_subnet, r.spoke_cidr, r.spoke_subnet] :
      can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$", c)) && try(cidrsubnet(c, 0, 0) == c, false)
    ]]))
    error_message = "Every CIDR in regions must be an IPv4 prefix ADDRESS/LEN with the host bits zero (e.g. 198.18.0.0/20, not 198.18.0.1/20)."
  }

  # Subnets sit inside their VNet: re-masking the subnet's address with the
  # VNet's length must give the VNet's own network address.
  validation {
    condition = alltrue(flatten([for r in values(var.regions) : [
      for pair in [[r.hub_cidr, r.route_server_subnet], [r.hub_cidr, r.nva_subnet], [r.hub_cidr, r.mgmt_subnet], [r.spoke_cidr, r.spoke_subnet]] :
      try(
        tonumber(split("/", pair[1])[1]) >= tonumber(split("/", pair[0])[1]) &&
        cidrhost("${split("/", pair[1])[0]}/${split("/", pair[0])[1]}", 0) == cidrhost(pair[0], 0),
      false)
    ]]))
    error_message = "route_server_subnet, nva_subnet and mgmt_subnet must lie inside hub_cidr, and spoke_subnet inside spoke_cidr."
  }

  # Sizes: Azure's RouteServerSubnet minimum is /26; the NVA subnet holds up to
  # 8 data addresses from host 4 and 8 SNAT addresses from host 16 (Azure
  # reserves hosts 0-3 and the last one); mgmt holds up to 8 from host 4.
  validation {
    condition = alltrue([for r in values(var.regions) : try(
      tonumber(split("/", r.route_server_subnet)[1]) <= 26 &&
      tonumber(split("/", r.nva_subnet)[1]) <= 27 &&
      tonumber(split("/", r.mgmt_subnet)[1]) <= 28 &&
      tonumber(split("/", r.spoke_subnet)[1]) <= 29,
    false)])
    error_message = "route_server_subnet must be /26 or larger (Azure's minimum), nva_subnet /27 or larger, mgmt_subnet /28 or larger, spoke_subnet /29 or larger."
  }

  # Hubs are globally peered and spokes use the hubs' Route Servers: Azure
  # refuses to peer VNets whose address spaces overlap.
  validation {
    condition = alltrue([
      for pair in setproduct(
        flatten([for k, r in var.regions : [{ id = "${k}/hub", cidr = r.hub_cidr }, { id = "${k}/spoke", cidr = r.spoke_cidr }]]),
        flatten([for k, r in var.regions : [{ id = "${k}/hub", cidr = r.hub_cidr }, { id = "${k}/spoke", cidr = r.spoke_cidr }]])
        ) : pair[0].id == pair[1].id || try(
        cidrhost("${split("/", pair[1].cidr)[0]}/${min(tonumber(split("/", pair[0].cidr)[1]), tonumber(split("/", pair[1].cidr)[1]))}", 0) !=
        cidrhost("${split("/", pair[0].cidr)[0]}/${min(tonumber(split("/", pair[0].cidr)[1]), tonumber(split("/", pair[1].cidr)[1]))}", 0),
      false)
    ])
    error_message = "No two VNets (hub_cidr and spoke_cidr of every region) may overlap: peered VNets need distinct address spaces."
  }

  # Azure Route Server speaks 16-bit ASNs only and refuses reserved ones
  # (docs/configuration.md lists the same set for bgp.asn):
  #   0, 65535 (RFC 7300), 23456 (AS_TRANS, RFC 6793), 64496-64511
  #   (documentation, RFC 5398), 8074, 8075 (Microsoft), 12076 (ExpressRoute),
  #   65515 (Route Server itself), 65517-65520 (reserved by Azure).
  validation {
    condition = alltrue([for r in values(var.regions) :
      r.nva_asn == floor(r.nva_asn) && r.nva_asn >= 1 && r.nva_asn <= 65534 &&
      !contains([8074, 8075, 12076, 23456, 65515], r.nva_asn) &&
      !(r.nva_asn >= 64496 && r.nva_asn <= 64511) &&
      !(r.nva_asn >= 65517 && r.nva_asn <= 65520)
    ])
    error_message = "nva_asn must be a 16-bit ASN 1-65534 that Azure Route Server accepts: not 8074, 8075, 12076, 23456, 64496-64511, 65515 or 65517-65520."
  }

  # The regions' NVAs speak eBGP to each other over the overlay, and the
  # anycast seed relies on on-premises seeing distinct AS paths per region.
  validation {
    condition     = length(distinct([for r in values(var.regions) : r.nva_asn])) == length(var.regions)
    error_message = "Each region needs its own nva_asn (the regions' NVAs peer with eBGP)."
  }
}

variable "nva_count" {
  description = "NVA VMs per region. Each one peers with both instances of its region's Route Server (Azure allows 8 peers per Route Server)."
  type        = number
  default     = 2
  validation {
    condition     = var.nva_count == floor(var.nva_count) && var.nva_count >= 1 && var.nva_count <= 8
    error_message = "nva_count must be an integer from 1 to 8 (Azure Route Server takes at most 8 BGP peers)."
  }
}

variable "nva_mode" {
  description = "ecmp: every NVA of a region advertises the same AS path, so Route Server spreads flows over them. active_standby: NVAs 2..N prepend their ASN twice, so NVA 1 carries the traffic while it is up."
  type        = string
  default     = "ecmp"
  validation {
    condition     = contains(["ecmp", "active_standby"], var.nva_mode)
    error_message = "nva_mode must be ecmp or active_standby."
  }
}

variable "nva_vm_size" {
  description = "NVA VM size. It must support accelerated networking with the mlx5 VF that the netvsc PMD drives (e.g. Standard_D4s_v5); MANA-only sizes (v6) need a different PMD."
  type        = string
  default     = "Standard_D4s_v5"
  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.nva_vm_size))
    error_message = "nva_vm_size must be an Azure size name such as Standard_D4s_v5."
  }
}

variable "nva_image" {
  description = "Marketplace image of the NVAs (and of the spoke test VMs). Isthmus targets Debian 12."
  type = object({
    publisher = string
    offer     = string
    sku       = string
    version   = string
  })
  default = {
    publisher = "Debian"
    offer     = "debian-12"
    sku       = "12-gen2"
    version   = "latest"
  }
}

variable "admin_username" {
  description = "Login user on every VM (SSH key only, no password)."
  type        = string
  default     = "isthmus"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.admin_username)) && !contains(["root", "admin", "administrator"], var.admin_username)
    error_message = "admin_username must be a Linux user name (a-z, 0-9, _ and -, at most 32) and not one Azure reserves (root, admin, administrator)."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed for admin_username on every VM (the contents, e.g. file(\"~/.ssh/id_ed25519.pub\"))."
  type        = string
  validation {
    condition     = can(regex("^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+", var.ssh_public_key))
    error_message = "ssh_public_key must be an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)."
  }
}

variable "admin_source_cidrs" {
  description = "Addresses allowed to reach the management NICs (SSH, port 22, and Prometheus metrics, port 9470). Use your own public address as a /32."
  type        = list(string)
  validation {
    condition = length(var.admin_source_cidrs) >= 1 && alltrue([for c in var.admin_source_cidrs :
    can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "admin_source_cidrs needs at least one IPv4 prefix with the host bits zero (e.g. 203.0.113.7/32)."
  }
}

variable "nva_public_ip" {
  description = "Give each NVA's management NIC a Standard static public IP for SSH. Without it, reach the NVAs through a bastion or VPN."
  type        = bool
  default     = true
}

variable "route_server_branch_to_branch" {
  description = "branch_to_branch_traffic_enabled on each Route Server: exchange routes between the NVAs and VPN/ExpressRoute gateways in the hub (needed for the anycast VIP to reach on-premises over a gateway)."
  type        = bool
  default     = false
}

variable "route_server_hub_routing_preference" {
  description = "How Route Server picks among routes to the same prefix learned from ExpressRoute, VPN and NVAs: ExpressRoute, VpnGateway or ASPath."
  type        = string
  default     = "ExpressRoute"
  validation {
    condition     = contains(["ExpressRoute", "VpnGateway", "ASPath"], var.route_server_hub_routing_preference)
    error_message = "route_server_hub_routing_preference must be ExpressRoute, VpnGateway or ASPath."
  }
}

variable "anycast_vip" {
  description = "The anycast service address every NVA announces as a /32 to its Route Server while a backend is healthy. It must lie outside every VNet (Route Server does not install routes that override VNet routes)."
  type        = string
  default     = "203.0.113.10"
  validation {
    condition = can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", var.anycast_vip)) && try(cidrhost("${var.anycast_vip}/32", 0) == var.anycast_vip, false) && alltrue(flatten([
      for r in values(var.regions) : [for c in [r.hub_cidr, r.spoke_cidr] :
      try(cidrhost("${var.anycast_vip}/${split("/", c)[1]}", 0) != cidrhost(c, 0), false)]
    ]))
    error_message = "anycast_vip must be one IPv4 address outside every hub_cidr and spoke_cidr."
  }
}

variable "vip_ports" {
  description = "TCP ports of the anycast service; each NVA forwards new flows to a healthy backend (the spoke test VMs of its region)."
  type        = list(number)
  default     = [80]
  validation {
    condition     = length(var.vip_ports) >= 1 && length(var.vip_ports) <= 64 && length(distinct(var.vip_ports)) == length(var.vip_ports) && alltrue([for p in var.vip_ports : p == floor(p) && p >= 1 && p <= 65535])
    error_message = "vip_ports must hold 1 to 64 distinct ports from 1 to 65535."
  }
}

variable "vip_health_path" {
  description = "HTTP path the NVAs probe on each backend (GET, expecting 200)."
  type        = string
  default     = "/"
  validation {
    # URL characters only: the path is written inside a quoted YAML string.
    condition     = length(var.vip_health_path) <= 1024 && can(regex("^/[A-Za-z0-9._~!&'()*+,;=:@%/?-]*$", var.vip_health_path))
    error_message = "vip_health_path must be an absolute URL path (letters, digits and ._~!&'()*+,;=:@%/?-), e.g. /healthz."
  }
}

variable "spoke_test_vm" {
  description = "Create one small VM per spoke running nginx: the anycast service's backend, and a NIC whose effective routes show what Route Server programmed."
  type        = bool
  default     = true
}

variable "spoke_vm_size" {
  description = "Size of the spoke test VMs."
  type        = string
  default     = "Standard_B1s"
  validation {
    condition     = can(regex("^Standard_[A-Za-z0-9_]+$", var.spoke_vm_size))
    error_message = "spoke_vm_size must be an Azure size name such as Standard_B1s."
  }
}

variable "dataplane_driver" {
  description = "How isthmusd drives the data NIC. netvsc: the DPDK netvsc PMD on the NIC's VMBus device bound to uio_hv_generic (Microsoft's recommendation; survives VF revocation). af_xdp: AF_XDP on the kernel's hv_netvsc interface (no rebinding; slower)."
  type        = string
  default     = "netvsc"
  validation {
    condition     = contains(["netvsc", "af_xdp"], var.dataplane_driver)
    error_message = "dataplane_driver must be netvsc or af_xdp."
  }
}

variable "hugepages_2m" {
  description = "2 MiB hugepages reserved at boot for DPDK (isthmusd runs with dataplane.hugepages: true when this is above 0). 1024 = 2 GiB."
  type        = number
  default     = 1024
  validation {
    condition     = var.hugepages_2m == floor(var.hugepages_2m) && var.hugepages_2m >= 0 && var.hugepages_2m <= 65536
    error_message = "hugepages_2m must be an integer from 0 to 65536."
  }
}

variable "isthmusd_workers" {
  description = "isthmusd worker lcores. Keep one vCPU for the control thread and the kernel: 2 on a 4-vCPU size."
  type        = number
  default     = 2
  validation {
    condition     = var.isthmusd_workers == floor(var.isthmusd_workers) && var.isthmusd_workers >= 1 && var.isthmusd_workers <= 64
    error_message = "isthmusd_workers must be an integer from 1 to 64 (dataplane.workers)."
  }
}

variable "isthmus_source_url" {
  description = "Git URL the NVAs clone Isthmus from at first boot (https://… of your fork or mirror). The NVAs build it with deploy/deps/install and deploy/deps/build."
  type        = string
  validation {
    # URL characters only: the URL is written into a shell script.
    condition     = can(regex("^(https://|git@)[A-Za-z0-9._~:/?#@!&+,;=%-]+$", var.isthmus_source_url))
    error_message = "isthmus_source_url must be an https:// or git@ Git URL made of URL characters (no spaces, quotes, $ or backquotes)."
  }
}

variable "isthmus_source_ref" {
  description = "Branch, tag or commit of isthmus_source_url to build."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,200}$", var.isthmus_source_ref))
    error_message = "isthmus_source_ref must be a branch, tag or commit name (A-Z, a-z, 0-9, ., _, / and -)."
  }
}

variable "tags" {
  description = "Tags put on every resource."
  type        = map(string)
  default     = { project = "isthmus" }
}
