#include "tests/unit/xdp/loaded_xdp_object.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "dataplane/xdp/xdp_program_path.h"

namespace isthmus::test {
namespace {
constexpr char kProgramName[] = "isthmus_xdp";
}  // namespace

absl::StatusOr<std::unique_ptr<LoadedXdpObject>> LoadedXdpObject::Load() {
  std::string path = DefaultXdpProgramPath();
  bpf_object* object = bpf_object__open_file(path.c_str(), nullptr);
  if (object == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bpf_object__open_file(", path, ")"));
  }
  std::unique_ptr<LoadedXdpObject> loaded(new LoadedXdpObject(object, path));
  if (int err = bpf_object__load(object); err != 0) {
    return absl::ErrnoToStatus(-err, absl::StrCat("bpf_object__load(", path, ")"));
  }
  if (loaded->ProgramFd() < 0) {
    return absl::NotFoundError(absl::StrCat(path, " has no program ", kProgramName));
  }
  return loaded;
}

LoadedXdpObject::~LoadedXdpObject() { bpf_object__close(object_); }

int LoadedXdpObject::ProgramFd() const {
  bpf_program* prog = bpf_object__find_program_by_name(object_, kProgramName);
  return prog == nullptr ? -1 : bpf_program__fd(prog);
}

int LoadedXdpObject::MapFd(const char* name) const {
  return bpf_object__find_map_fd_by_name(object_, name);
}

XdpPuntMaps::MapFds LoadedXdpObject::MapFds() const {
  return XdpPuntMaps::MapFds{
      .local_addrs = MapFd("local_addrs"),
      .punt_tcp_ports = MapFd("punt_tcp_ports"),
      .punt_udp_ports = MapFd("punt_udp_ports"),
      .xdp_stats = MapFd("xdp_stats"),
      .tunnel_endpoints = MapFd("tunnel_endpts"),
      .control_peers = MapFd("ctrl_peers"),
      .punt_limits = MapFd("punt_limits"),
      .punt_buckets = MapFd("punt_buckets"),
  };
}

}  // namespace isthmus::test
