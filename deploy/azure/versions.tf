# Isthmus on Azure: the two seed architectures (multi-region hub and spoke with
# Azure Route Server, and an anycast VIP) in two regions. See README.md.
terraform {
  required_version = ">= 1.9" # validations that refer to other variables
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # The 4.x argument names are used (ip_forwarding_enabled,
      # accelerated_networking_enabled); 4.18 is the oldest release this
      # configuration targets, and 5.x may rename arguments again.
      version = ">= 4.18, < 5.0"
    }
  }
}

# azurerm 4.x needs a subscription: set ARM_SUBSCRIPTION_ID (or run
# `az account set` and export it), see README.md.
provider "azurerm" {
  features {}
}
