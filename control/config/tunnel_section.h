#pragma once
// Reads the `tunnels:` section of the configuration (internal to
// control/config; the schema is documented in docs/configuration.md).

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "control/config/config.h"
#include "control/config/yaml_reader.h"

namespace isthmus::config_internal {

// Parses and validates `node` (the value of `tunnels` at `path`) into *out.
// `config` holds the sections read before (routes, bgp): a tunnel whose
// remote endpoint lies inside a prefix that is routed into a tunnel or
// advertised by BGP is refused (the underlay route to the endpoint would
// lead into the tunnel itself). Interface names are claimed in
// `interface_owners` (shared with ports and the punt TAP).
void ReadTunnelsSection(const YAML::Node& node, const std::string& path, const Config& config,
                        absl::flat_hash_map<std::string, std::string>& interface_owners, Diagnostics& diag,
                        std::vector<TunnelConfig>* out);

// The host interface name a tunnel gets when `interface` is not set.
std::string DefaultTunnelInterface(const std::string& tunnel_name);

}  // namespace isthmus::config_internal
