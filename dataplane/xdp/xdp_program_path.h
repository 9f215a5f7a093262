#pragma once
// Where isthmusd finds isthmus_xdp.bpf.o when the config does not say.

#include <string>

namespace isthmus {

// Environment variable that overrides every other location.
inline constexpr char kXdpProgramEnv[] = "ISTHMUS_XDP_PROG";

// In order: $ISTHMUS_XDP_PROG if set and non-empty; the object in the build
// tree the running binary belongs to (found by walking up from
// /proc/self/exe to a directory holding dataplane/xdp/isthmus_xdp.bpf.o, so
// build/control/daemon/isthmusd and build/tests/unit/<area>/<test> both find
// it); otherwise the installed <prefix>/<libdir>/isthmus/isthmus_xdp.bpf.o,
// returned even if missing so the loader's error names the path it tried.
std::string DefaultXdpProgramPath();

}  // namespace isthmus
