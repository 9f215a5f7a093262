#pragma once
// Secrets the daemon reads from files (ESP keys, TCP-MD5 passwords): the
// permission rules every key file must meet, and a byte buffer that keeps
// the secret out of core dumps and wipes it when released.
//
// A key file is accepted only if it is a regular file that neither group
// nor others may read or write (mode 0600, 0400 or stricter) and that is
// owned by root or by the user the daemon runs as: anyone else who owns
// the file could chmod it open or replace the key. Error messages name the
// file, what was found and what is accepted, and never contain file bytes.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace isthmus {

// Bytes in their own anonymous mapping, marked MADV_DONTDUMP so a core
// dump never contains them even when dumps are enabled for debugging, and
// wiped (explicit_bzero) before the mapping is released. Move-only: share a
// secret between owners with std::shared_ptr<const SecretBytes>.
class SecretBytes {
 public:
  SecretBytes() = default;
  // Copies `bytes` into a new protected mapping.
  [[nodiscard]] static absl::StatusOr<SecretBytes> Copy(std::string_view bytes);
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // Equal length and bytes; the comparison does not stop at the first
  // difference, so its duration says nothing about where keys differ.
  bool SameBytes(const SecretBytes& other) const;

 private:
  friend absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, std::string_view what,
                                                    size_t max_bytes);
  [[nodiscard]] static absl::StatusOr<SecretBytes> Allocate(size_t capacity);
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // bytes mapped (a whole number of pages)
};

// The permission rule on a file's stat data, separate from any I/O so it
// can be tested for every mode and owner. `what` names the kind of file
// ("ESP key file"), `daemon_uid` the effective uid of the daemon.
[[nodiscard]] absl::Status CheckSecretFileStat(const std::string& path, std::string_view what,
                                               mode_t mode, uid_t owner, uid_t daemon_uid);

// Opens `path`, checks the open file (fstat: the file checked is the file
// read) with CheckSecretFileStat against geteuid(), and reads at most
// `max_bytes` straight into a SecretBytes. Larger files are refused.
[[nodiscard]] absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, std::string_view what,
                                                         size_t max_bytes);

// Makes the whole process non-dumpable (prctl PR_SET_DUMPABLE 0) and sets
// RLIMIT_CORE to 0: no core file is written, and /proc/PID/mem and ptrace
// are closed to other non-root processes of the same user. Key bytes also
// live in memory this process does not allocate itself (DPDK cryptodev
// sessions, the kernel's copy of TCP-MD5 keys is never in user memory),
// which MADV_DONTDUMP on our own buffers cannot cover.
[[nodiscard]] absl::Status DisableCoreDumps();

}  // namespace isthmus
