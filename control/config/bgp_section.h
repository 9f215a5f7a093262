#pragma once
// Reads the `bgp:` section of the configuration (internal to control/config;
// the schema is documented in docs/configuration.md).

#include <yaml-cpp/yaml.h>

#include <string>

#include "bgp/config/bgp_config.h"
#include "control/config/yaml_reader.h"

namespace isthmus::config_internal {

// Parses and validates `node` (the value of the `bgp` key at `path`) into
// *out, which is reset and marked enabled. Problems go to `diag`, all of
// them; *out is only meaningful when none were added.
void ReadBgpSection(const YAML::Node& node, const std::string& path,
                    Diagnostics& diag, bgp::BgpConfig* out);

}  // namespace isthmus::config_internal
