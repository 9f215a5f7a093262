#pragma once
// Durable outbound sequence numbers for manually keyed ESP SAs.
//
// With manual keys (no IKE) an SA outlives the daemon: after a restart the
// peer's inbound window (RFC 4303 3.4.3) is still where we left it, and
// restarting the counter at 1 both gets every packet dropped as replayed
// until the counter catches up and — far worse — reuses AES-GCM nonces:
// the IV is the sequence number (RFC 4106 3.1), so the same key would
// encrypt two packets under one nonce. RFC 4303 3.3.3 leaves a manually
// keyed SA's counter reset to the implementation; this class makes it
// never happen.
//
// The state file holds, per key, a sequence number reserved ahead of use
// ("reserved up to"). The worker never sends a number above the limit the
// control thread gave it (EspSa::SetSeqLimit), and the control thread
// raises that limit only after the new reservation is on disk (fsync). So
// after any crash the largest number ever sent is at most the recorded
// value, and a restarted SA starts one above it: an upper bound, never a
// guess. Up to one block of numbers is skipped per restart.
//
// Records are keyed by a fingerprint of the key (SHA-256 over a fixed
// label, the cipher and key || salt, truncated to 128 bits; never the key
// itself), not by SPI: nonce uniqueness is a property of the key, so a key
// reused under a new SPI, or a tunnel switched back to an older key file,
// continues above everything it used before. Tunnel name and SPI are kept
// beside it for people reading the file. Records are never removed: a
// retired key's record costs one line and protects against its return.
//
// Pure logic over EspSeqStorage (an in-memory fake in tests; the real one
// writes a 0600 file with write-temp, fsync, rename, fsync-directory). Not
// thread-safe: the control thread owns it.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/ipsec/esp_types.h"

namespace isthmus {

inline constexpr size_t kEspKeyFingerprintLen = 16;
using EspKeyFingerprint = std::array<uint8_t, kEspKeyFingerprintLen>;

// One-way identity of a key (and its salt) for the state file. Never
// reveals key bits: a truncated SHA-256 of 128+ bits of key material.
[[nodiscard]] absl::StatusOr<EspKeyFingerprint> FingerprintEspKey(EspCipher cipher, const EspKey& key);

// Where the reservations live.
class EspSeqStorage {
 public:
  virtual ~EspSeqStorage() = default;
  // The whole file; NotFound when there is none yet (first start).
  [[nodiscard]] virtual absl::StatusOr<std::string> Read() = 0;
  // Replaces the contents; OK only once they survive a crash or power loss.
  [[nodiscard]] virtual absl::Status WriteDurably(std::string_view contents) = 0;
  // For messages: the file's path.
  virtual std::string Describe() const = 0;
};

// The state file `dir`/esp-sequence.state, mode 0600. Open() creates `dir`
// (0700) if needed and takes an exclusive lock (flock on
// esp-sequence.lock) for the life of the object, so two daemons can never
// share one file.
class EspSeqFileStorage : public EspSeqStorage {
 public:
  static constexpr char kFileName[] = "esp-sequence.state";
  static constexpr char kLockName[] = "esp-sequence.lock";

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspSeqFileStorage>> Open(const std::string& dir);
  ~EspSeqFileStorage() override;
  EspSeqFileStorage(const EspSeqFileStorage&) = delete;
  EspSeqFileStorage& operator=(const EspSeqFileStorage&) = delete;

  absl::StatusOr<std::string> Read() override;
  absl::Status WriteDurably(std::string_view contents) override;
  std::string Describe() const override { return path_; }

 private:
  EspSeqFileStorage(std::string dir, int dir_fd, int lock_fd);

  const std::string dir_;
  const std::string path_;
  const int dir_fd_;
  const int lock_fd_;
};

class EspSeqReservations;

// An outbound SA's claim on its key's sequence numbers. While it lives no
// other SA may use the same key. Must not outlive its EspSeqReservations.
class EspSeqLease {
 public:
  ~EspSeqLease();
  EspSeqLease(const EspSeqLease&) = delete;
  EspSeqLease& operator=(const EspSeqLease&) = delete;

  // The number the SA starts at (EspSaParams::first_seq).
  uint64_t first_seq() const { return first_seq_; }
  // The highest number durably reserved (EspSa::SetSeqLimit).
  uint64_t limit() const { return limit_; }
  // Called with the last number the SA used: when less than half a block
  // is left above it, reserves up to `used` + one block (at most the
  // sequence space) and writes it durably. Returns the new limit, which
  // the caller then hands to the SA; on error the old limit stays.
  [[nodiscard]] absl::StatusOr<uint64_t> Extend(uint64_t used);

 private:
  friend class EspSeqReservations;
  EspSeqLease(EspSeqReservations* owner, const EspKeyFingerprint& fp, uint64_t first, uint64_t limit,
              uint64_t max_seq)
      : owner_(owner), fp_(fp), first_seq_(first), limit_(limit), max_seq_(max_seq) {}

  EspSeqReservations* owner_;
  const EspKeyFingerprint fp_;
  const uint64_t first_seq_;
  uint64_t limit_;
  const uint64_t max_seq_;
};

class EspSeqReservations {
 public:
  // 2^22 numbers: at 1 Mpps the control tick (100 ms) has seconds of
  // headroom before a worker could reach the limit, and a restart skips at
  // most 0.1% of a 32-bit sequence space.
  static constexpr uint64_t kDefaultBlock = uint64_t{1} << 22;

  // Reads the file (none: no records). A file that does not parse is an
  // error, never "start from 1": that would be the nonce reuse this exists
  // to prevent.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspSeqReservations>> Open(
      std::unique_ptr<EspSeqStorage> storage, uint64_t block = kDefaultBlock);

  // Claims key `fp` for the outbound SA `tunnel`/`spi` whose sequence
  // numbers end at `max_seq` (2^32-1, or 2^64-1 with ESN): starts one
  // above the key's recorded reservation (1 for a new key) and durably
  // reserves a block. Fails when another live lease holds the same key (two
  // SAs under one key would repeat nonces), when the key's sequence space
  // is used up, or when the file cannot be written.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<EspSeqLease>> Begin(std::string_view tunnel, uint32_t spi,
                                                                   const EspKeyFingerprint& fp, uint64_t max_seq);

  std::string Describe() const { return storage_->Describe(); }
  // For tests and `show`: the recorded reservation of a key (0: none).
  uint64_t ReservedFor(const EspKeyFingerprint& fp) const;

 private:
  friend class EspSeqLease;
  struct Record {
    uint64_t reserved = 0;
    uint32_t spi = 0;
    std::string tunnel;
  };

  EspSeqReservations(std::unique_ptr<EspSeqStorage> storage, uint64_t block)
      : storage_(std::move(storage)), block_(block) {}
  [[nodiscard]] absl::Status Parse(std::string_view text);
  std::string Serialize() const;
  // Sets the key's reservation to `reserved` and writes the file; on
  // failure the record is left as it was.
  [[nodiscard]] absl::Status Store(const EspKeyFingerprint& fp, uint64_t reserved, std::string_view tunnel,
                                   uint32_t spi);
  absl::StatusOr<uint64_t> Extend(const EspKeyFingerprint& fp, uint64_t used, uint64_t limit, uint64_t max_seq);
  void Release(const EspKeyFingerprint& fp) { live_.erase(fp); }

  std::unique_ptr<EspSeqStorage> storage_;
  const uint64_t block_;
  std::map<EspKeyFingerprint, Record> records_;
  std::set<EspKeyFingerprint> live_;
};

}  // namespace isthmus
