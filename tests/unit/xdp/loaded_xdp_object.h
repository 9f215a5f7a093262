#pragma once
// isthmus_xdp.bpf.o opened and loaded with libbpf, as the tests use it in
// place of DPDK. Owns the bpf_object; fds stay valid while it lives.

#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/xdp/xdp_punt_maps.h"

namespace isthmus::test {

class LoadedXdpObject {
 public:
  // Loads the object DefaultXdpProgramPath() names.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LoadedXdpObject>> Load();
  ~LoadedXdpObject();
  LoadedXdpObject(const LoadedXdpObject&) = delete;
  LoadedXdpObject& operator=(const LoadedXdpObject&) = delete;

  int ProgramFd() const;
  // -1 if the object has no map of that name.
  int MapFd(const char* name) const;
  XdpPuntMaps::MapFds MapFds() const;
  const std::string& path() const { return path_; }

 private:
  LoadedXdpObject(bpf_object* object, std::string path)
      : object_(object), path_(std::move(path)) {}

  bpf_object* object_;
  std::string path_;
};

}  // namespace isthmus::test
