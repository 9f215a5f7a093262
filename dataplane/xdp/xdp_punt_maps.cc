#include "dataplane/xdp/xdp_punt_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/worker/punt_limiter.h"
#include "spdlog/spdlog.h"

namespace isthmus {
namespace {

// Closes an fd that discovery opened but does not hand over.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&&) = delete;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// What a map of isthmus_xdp.bpf.o must look like (see xdp_abi.h).
struct MapSpec {
  const char* name;
  uint32_t type;
  uint32_t key_size;
  uint32_t value_size;
  int XdpPuntMaps::MapFds::*slot;
};

constexpr std::array<MapSpec, 8> kMapSpecs = {{
    {"local_addrs", BPF_MAP_TYPE_HASH, sizeof(uint32_t), sizeof(uint8_t),
     &XdpPuntMaps::MapFds::local_addrs},
    {"punt_tcp_ports", BPF_MAP_TYPE_HASH, sizeof(uint16_t), sizeof(uint8_t),
     &XdpPuntMaps::MapFds::punt_tcp_ports},
    {"punt_udp_ports", BPF_MAP_TYPE_HASH, sizeof(uint16_t), sizeof(uint8_t),
     &XdpPuntMaps::MapFds::punt_udp_ports},
    {"xdp_stats", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t), sizeof(uint64_t),
     &XdpPuntMaps::MapFds::xdp_stats},
    {"tunnel_endpts", BPF_MAP_TYPE_HASH, sizeof(isthmus_xdp_tunnel_key), sizeof(uint8_t),
     &XdpPuntMaps::MapFds::tunnel_endpoints},
    {"ctrl_peers", BPF_MAP_TYPE_HASH, sizeof(uint32_t), sizeof(uint8_t),
     &XdpPuntMaps::MapFds::control_peers},
    {"punt_limits", BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), sizeof(isthmus_xdp_punt_limit),
     &XdpPuntMaps::MapFds::punt_limits},
    {"punt_buckets", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t), sizeof(isthmus_xdp_punt_bucket),
     &XdpPuntMaps::MapFds::punt_buckets},
}};

// The map key as a hashable value (the C struct has no operator==).
struct TunnelKey {
  isthmus_xdp_tunnel_key key{};
  friend bool operator==(const TunnelKey& a, const TunnelKey& b) {
    return std::memcmp(&a.key, &b.key, sizeof(a.key)) == 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const TunnelKey& k) {
    return H::combine(std::move(h), k.key.addr, k.key.port, k.key.protocol);
  }
};

constexpr uint8_t kEntryPresent = ISTHMUS_XDP_ENTRY_PRESENT;

// The workers and the XDP program hold the same peers.
static_assert(ControlPeers::kCapacity == ISTHMUS_XDP_MAX_CONTROL_PEERS);

absl::Status ErrnoStatus(int error, const std::string& what) {
  return absl::ErrnoToStatus(error, what);
}

absl::StatusOr<bpf_map_info> MapInfo(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bpf_obj_get_info_by_fd(map fd ", fd, ")"));
  }
  return info;
}

absl::Status CheckMap(int fd, const MapSpec& spec) {
  absl::StatusOr<bpf_map_info> info = MapInfo(fd);
  if (!info.ok()) return info.status();
  if (info->type != spec.type || info->key_size != spec.key_size ||
      info->value_size != spec.value_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "map '%s' (fd %d, named '%s') has type %u key %u value %u bytes; "
        "expected type %u key %u value %u (see dataplane/xdp/xdp_abi.h)",
        spec.name, fd, info->name, info->type, info->key_size, info->value_size,
        spec.type, spec.key_size, spec.value_size));
  }
  return absl::OkStatus();
}

// The program the kernel runs on `ifindex`, whatever the attach mode.
absl::StatusOr<uint32_t> AttachedProgramId(int ifindex) {
  bpf_xdp_query_opts opts{};
  opts.sz = sizeof(opts);
  if (int err = bpf_xdp_query(ifindex, 0, &opts); err != 0) {
    return ErrnoStatus(-err, absl::StrCat("bpf_xdp_query(ifindex ", ifindex, ")"));
  }
  for (uint32_t id : {opts.prog_id, opts.drv_prog_id, opts.skb_prog_id, opts.hw_prog_id}) {
    if (id != 0) return id;
  }
  return absl::NotFoundError(absl::StrCat("no XDP program on ifindex ", ifindex));
}

struct ProgramMaps {
  std::string program_name;
  std::vector<uint32_t> map_ids;
};

// Asks twice: once for the number of maps, once with room for their ids.
absl::StatusOr<ProgramMaps> MapsOfProgram(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) {
    return ErrnoStatus(errno, "bpf_obj_get_info_by_fd(program)");
  }
  ProgramMaps maps{.program_name = info.name, .map_ids = {}};
  maps.map_ids.resize(info.nr_map_ids);
  if (maps.map_ids.empty()) return maps;

  bpf_prog_info ids_info{};
  ids_info.nr_map_ids = static_cast<uint32_t>(maps.map_ids.size());
  ids_info.map_ids = reinterpret_cast<uint64_t>(maps.map_ids.data());
  len = sizeof(ids_info);
  if (bpf_obj_get_info_by_fd(prog_fd, &ids_info, &len) != 0) {
    return ErrnoStatus(errno, "bpf_obj_get_info_by_fd(program map ids)");
  }
  // A map could only be added by reloading, which gives a new program; keep
  // what the kernel filled in.
  maps.map_ids.resize(std::min<size_t>(ids_info.nr_map_ids, maps.map_ids.size()));
  return maps;
}

// Opens every map of the program and keeps the ones kMapSpecs names.
absl::StatusOr<XdpPuntMaps::MapFds> OpenNamedMaps(const ProgramMaps& program,
                                                  int ifindex) {
  XdpPuntMaps::MapFds found;
  std::vector<ScopedFd> owned;  // closes everything if we return an error
  for (uint32_t id : program.map_ids) {
    ScopedFd fd(bpf_map_get_fd_by_id(id));
    if (fd.get() < 0) return ErrnoStatus(errno, absl::StrCat("bpf_map_get_fd_by_id(", id, ")"));
    absl::StatusOr<bpf_map_info> info = MapInfo(fd.get());
    if (!info.ok()) return info.status();
    for (const MapSpec& spec : kMapSpecs) {
      if (std::string_view(spec.name) == info->name && found.*spec.slot < 0) {
        found.*spec.slot = fd.get();
        owned.emplace_back(fd.release());
      }
    }
  }
  for (const MapSpec& spec : kMapSpecs) {
    if (found.*spec.slot < 0) {
      return absl::NotFoundError(absl::StrFormat(
          "program '%s' on ifindex %d has no map '%s' (is it isthmus_xdp.bpf.o?)",
          program.program_name, ifindex, spec.name));
    }
  }
  for (ScopedFd& fd : owned) fd.release();
  return found;
}

absl::StatusOr<uint32_t> MaxEntries(int fd) {
  absl::StatusOr<bpf_map_info> info = MapInfo(fd);
  if (!info.ok()) return info.status();
  return info->max_entries;
}

// Makes the key set of hash map `fd` exactly `wanted`. Stale keys are
// collected first and deleted afterwards: deleting while walking with
// get_next_key can restart the walk.
template <typename Key>
absl::Status ReplaceKeys(int fd, const char* map_name,
                         const absl::flat_hash_set<Key>& wanted) {
  static_assert(std::is_trivially_copyable_v<Key>);
  absl::StatusOr<uint32_t> max_entries = MaxEntries(fd);
  if (!max_entries.ok()) return max_entries.status();
  if (wanted.size() > *max_entries) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%d entries for map '%s', which holds at most %u (xdp_abi.h)",
        wanted.size(), map_name, *max_entries));
  }
  std::vector<Key> stale;
  Key key{};
  Key next{};
  const Key* cursor = nullptr;  // nullptr asks for the first key
  while (bpf_map_get_next_key(fd, cursor, &next) == 0) {
    if (!wanted.contains(next)) stale.push_back(next);
    key = next;
    cursor = &key;
  }
  for (const Key& gone : stale) {
    if (bpf_map_delete_elem(fd, &gone) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("delete from map '", map_name, "'"));
    }
  }
  for (const Key& add : wanted) {
    if (bpf_map_update_elem(fd, &add, &kEntryPresent, BPF_ANY) != 0) {
      return ErrnoStatus(errno, absl::StrCat("update of map '", map_name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::flat_hash_set<uint16_t> PortSet(const std::vector<uint16_t>& ports) {
  return absl::flat_hash_set<uint16_t>(ports.begin(), ports.end());
}

}  // namespace

absl::StatusOr<XdpPuntMaps> XdpPuntMaps::FromInterface(int ifindex) {
  absl::StatusOr<uint32_t> prog_id = AttachedProgramId(ifindex);
  if (!prog_id.ok()) return prog_id.status();
  ScopedFd prog_fd(bpf_prog_get_fd_by_id(*prog_id));
  if (prog_fd.get() < 0) {
    return ErrnoStatus(errno, absl::StrCat("bpf_prog_get_fd_by_id(", *prog_id,
                                           ") for ifindex ", ifindex));
  }
  absl::StatusOr<ProgramMaps> program = MapsOfProgram(prog_fd.get());
  if (!program.ok()) return program.status();
  absl::StatusOr<MapFds> fds = OpenNamedMaps(*program, ifindex);
  if (!fds.ok()) return fds.status();
  XdpPuntMaps maps(*fds);  // owns the fds from here on
  for (const MapSpec& spec : kMapSpecs) {
    if (absl::Status s = CheckMap(maps.fds_.*spec.slot, spec); !s.ok()) return s;
  }
  spdlog::debug("xdp: using maps of program '{}' (id {}) on ifindex {}",
                program->program_name, *prog_id, ifindex);
  return maps;
}

absl::StatusOr<XdpPuntMaps> XdpPuntMaps::FromMapFds(const MapFds& fds) {
  for (const MapSpec& spec : kMapSpecs) {
    if (absl::Status s = CheckMap(fds.*spec.slot, spec); !s.ok()) return s;
  }
  MapFds dups;
  XdpPuntMaps maps(dups);  // closes whatever was duplicated on error
  for (const MapSpec& spec : kMapSpecs) {
    int dup = fcntl(fds.*spec.slot, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return ErrnoStatus(errno, absl::StrCat("dup of map '", spec.name, "'"));
    maps.fds_.*spec.slot = dup;
  }
  return maps;
}

XdpPuntMaps::XdpPuntMaps(XdpPuntMaps&& other) noexcept
    : fds_(std::exchange(other.fds_, MapFds{})) {}

XdpPuntMaps& XdpPuntMaps::operator=(XdpPuntMaps&& other) noexcept {
  if (this != &other) {
    Close();
    fds_ = std::exchange(other.fds_, MapFds{});
  }
  return *this;
}

XdpPuntMaps::~XdpPuntMaps() { Close(); }

void XdpPuntMaps::Close() {
  for (const MapSpec& spec : kMapSpecs) {
    int& fd = fds_.*spec.slot;
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

absl::Status XdpPuntMaps::SetLocalAddresses(
    const std::vector<uint32_t>& addrs_host_order) {
  absl::flat_hash_set<uint32_t> keys;  // network byte order, as the program reads it
  for (uint32_t addr : addrs_host_order) keys.insert(htonl(addr));
  return ReplaceKeys(fds_.local_addrs, "local_addrs", keys);
}

absl::Status XdpPuntMaps::SetPuntPorts(const std::vector<uint16_t>& tcp,
                                       const std::vector<uint16_t>& udp) {
  if (absl::Status s = ReplaceKeys(fds_.punt_tcp_ports, "punt_tcp_ports", PortSet(tcp));
      !s.ok()) {
    return s;
  }
  return ReplaceKeys(fds_.punt_udp_ports, "punt_udp_ports", PortSet(udp));
}

absl::Status XdpPuntMaps::SetTunnelEndpoints(
    const std::vector<TunnelEndpoint>& endpoints) {
  absl::flat_hash_set<TunnelKey> keys;
  for (const TunnelEndpoint& e : endpoints) {
    TunnelKey k;
    k.key.addr = htonl(e.addr_host_order);
    k.key.port = e.port;
    k.key.protocol = e.protocol;
    keys.insert(k);
  }
  return ReplaceKeys(fds_.tunnel_endpoints, "tunnel_endpts", keys);
}

absl::Status XdpPuntMaps::SetControlPeers(const std::vector<uint32_t>& addrs_host_order) {
  absl::flat_hash_set<uint32_t> keys;  // network byte order, as the program reads it
  for (uint32_t addr : addrs_host_order) keys.insert(htonl(addr));
  return ReplaceKeys(fds_.control_peers, "ctrl_peers", keys);
}

absl::Status XdpPuntMaps::SetPuntRates(const std::array<uint32_t, kPuntReasonCount>& rates_pps) {
  for (uint32_t cls = 0; cls < ISTHMUS_XDP_PUNT_CLASS_COUNT; ++cls) {
    const uint32_t rate = rates_pps[static_cast<size_t>(kXdpPuntClassReason[cls])];
    const isthmus_xdp_punt_limit limit{.rate_pps = rate, .burst = PuntBurst(rate)};
    if (bpf_map_update_elem(fds_.punt_limits, &cls, &limit, BPF_ANY) != 0) {
      return ErrnoStatus(errno, absl::StrCat("update of map 'punt_limits' (class ", cls, ")"));
    }
  }
  return absl::OkStatus();
}

std::array<uint64_t, kPuntReasonCount> LimitedByPuntReason(const XdpStats& stats) {
  std::array<uint64_t, kPuntReasonCount> limited{};
  for (uint32_t cls = 0; cls < ISTHMUS_XDP_PUNT_CLASS_COUNT; ++cls) {
    const XdpStatInfo& slot = kXdpStatInfo[ISTHMUS_XDP_STAT_LIMITED_CONTROL + cls];
    limited[static_cast<size_t>(kXdpPuntClassReason[cls])] += stats.*slot.field;
  }
  return limited;
}

absl::StatusOr<XdpStats> XdpPuntMaps::ReadStats() const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return ErrnoStatus(-cpus, "libbpf_num_possible_cpus");
  // A per-CPU lookup fills one 8-byte-aligned value per possible CPU.
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  XdpStats stats;
  for (const XdpStatInfo& stat : kXdpStatInfo) {
    if (bpf_map_lookup_elem(fds_.xdp_stats, &stat.index, per_cpu.data()) != 0) {
      return ErrnoStatus(errno, absl::StrCat("lookup of xdp_stats[", stat.index, "]"));
    }
    uint64_t sum = 0;
    for (uint64_t v : per_cpu) sum += v;
    stats.*stat.field = sum;
  }
  return stats;
}

}  // namespace isthmus
