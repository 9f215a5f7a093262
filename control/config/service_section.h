#pragma once
// Reads the `nat:` and `services:` sections of the configuration (internal
// to control/config; the schema is documented in docs/configuration.md).

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "control/config/config.h"
#include "control/config/yaml_reader.h"

namespace isthmus::config_internal {

// Parses and validates `node` (the value of `nat` at `path`) into *out.
void ReadNatSection(const YAML::Node& node, const std::string& path, Diagnostics& diag, NatConfig* out);

// Parses and validates `node` (the value of `services` at `path`) into
// *out. `config` holds the sections read before: `nat` (the default flow
// timeouts), `bgp` (announce.peers must name its peers) and the addresses
// of ports, tunnels and BGP sessions, none of which may be a VIP.
void ReadServicesSection(const YAML::Node& node, const std::string& path, const Config& config, Diagnostics& diag,
                         std::vector<ServiceConfig>* out);

}  // namespace isthmus::config_internal
