#include "dataplane/ipsec/esp_seq_reservations.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace isthmus {
namespace {

// Domain separation: this hash is used for nothing else.
constexpr absl::string_view kFingerprintLabel = "isthmus esp outbound sequence v1";
constexpr char kHeader[] =
    "# isthmusd: ESP outbound sequence numbers reserved per key (see docs/configuration.md).\n"
    "# Do not edit. Deleting it makes restarted SAs start at 1 again: only with new keys.\n";
constexpr char kVersionLine[] = "v1";
constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;
constexpr mode_t kGroupOtherAccess = 077;
constexpr size_t kRecordFields = 4;  // fingerprint reserved spi tunnel

std::string ErrnoText() { return std::strerror(errno); }

// Debian's abseil has its own string_view type.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Hex(const EspKeyFingerprint& fp) {
  std::string s;
  for (uint8_t b : fp) absl::StrAppendFormat(&s, "%02x", b);
  return s;
}

bool ParseHex(absl::string_view text, EspKeyFingerprint* fp) {
  if (text.size() != 2 * fp->size()) return false;
  for (size_t i = 0; i < fp->size(); ++i) {
    int v = 0;
    if (!absl::SimpleHexAtoi(text.substr(2 * i, 2), &v)) return false;
    (*fp)[i] = static_cast<uint8_t>(v);
  }
  return true;
}

// Closes an fd on every exit path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<EspKeyFingerprint> FingerprintEspKey(EspCipher cipher, const EspKey& key) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return absl::ResourceExhaustedError("key fingerprint: no memory for a SHA-256 context");
  const std::string_view name = EspCipherName(cipher);
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, kFingerprintLabel.data(), kFingerprintLabel.size()) == 1 &&
                  EVP_DigestUpdate(ctx, name.data(), name.size()) == 1 &&
                  EVP_DigestUpdate(ctx, key.key.data(), key.key.size()) == 1 &&
                  EVP_DigestUpdate(ctx, key.salt.data(), key.salt.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);  // clears the hash state, which saw the key
  if (!ok || len < kEspKeyFingerprintLen) return absl::InternalError("key fingerprint: SHA-256 failed");
  EspKeyFingerprint fp{};
  std::copy_n(digest.begin(), fp.size(), fp.begin());
  return fp;
}

// ---------------------------------------------------------------------------
// EspSeqFileStorage

EspSeqFileStorage::EspSeqFileStorage(std::string dir, int dir_fd, int lock_fd)
    : dir_(std::move(dir)), path_(absl::StrCat(dir_, "/", kFileName)), dir_fd_(dir_fd), lock_fd_(lock_fd) {}

EspSeqFileStorage::~EspSeqFileStorage() {
  ::close(lock_fd_);  // drops the flock
  ::close(dir_fd_);
}

absl::StatusOr<std::unique_ptr<EspSeqFileStorage>> EspSeqFileStorage::Open(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat("ESP state directory \"", dir, "\" is not an absolute path"));
  }
  if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ESP state directory ", dir, ": ", ErrnoText()));
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot open ESP state directory ", dir, ": ", ErrnoText()));
  }
  const std::string lock_path = absl::StrCat(dir, "/", kLockName);
  Fd lock_fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (lock_fd.get() < 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot open ", lock_path, ": ", ErrnoText()));
  }
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(lock_path, " is locked: another isthmusd uses the ESP state directory ", dir,
                     " (each daemon needs its own; set STATE_DIRECTORY)"));
  }
  return std::unique_ptr<EspSeqFileStorage>(new EspSeqFileStorage(dir, dir_fd.release(), lock_fd.release()));
}

absl::StatusOr<std::string> EspSeqFileStorage::Read() {
  Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path_, " does not exist"));
    return absl::PermissionDeniedError(absl::StrCat("cannot open ", path_, ": ", ErrnoText()));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " is not a regular file"));
  }
  if ((st.st_mode & kGroupOtherAccess) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o: group and others must have no access (0600): it identifies keys", path_,
        st.st_mode & 07777));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat("cannot read ", path_, ": ", ErrnoText()));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

absl::Status EspSeqFileStorage::WriteDurably(std::string_view contents) {
  // Write a temporary file, fsync it, rename it over the old one and fsync
  // the directory: a crash leaves either the old or the new file, whole.
  const std::string tmp = absl::StrCat(path_, ".tmp");
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (fd.get() < 0) return absl::UnavailableError(absl::StrCat("cannot create ", tmp, ": ", ErrnoText()));
  size_t off = 0;
  while (off < contents.size()) {
    const ssize_t n = ::write(fd.get(), contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", ErrnoText()));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return absl::UnavailableError(absl::StrCat("fsync ", tmp, ": ", ErrnoText()));
  if (::close(fd.release()) != 0) return absl::UnavailableError(absl::StrCat("close ", tmp, ": ", ErrnoText()));
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path_, ": ", ErrnoText()));
  }
  if (::fsync(dir_fd_) != 0) return absl::UnavailableError(absl::StrCat("fsync ", dir_, ": ", ErrnoText()));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// EspSeqReservations

absl::StatusOr<std::unique_ptr<EspSeqReservations>> EspSeqReservations::Open(std::unique_ptr<EspSeqStorage> storage,
                                                                              uint64_t block) {
  if (block == 0) return absl::InvalidArgumentError("ESP sequence reservation block must be at least 1");
  std::unique_ptr<EspSeqReservations> r(new EspSeqReservations(std::move(storage), block));
  absl::StatusOr<std::string> text = r->storage_->Read();
  if (absl::IsNotFound(text.status())) return r;
  if (!text.ok()) return text.status();
  if (absl::Status s = r->Parse(*text); !s.ok()) return s;
  return r;
}

// The file, after comment lines:
//   v1
//   <fingerprint: 32 hex digits> <reserved up to, decimal> <spi, decimal> <tunnel name>
absl::Status EspSeqReservations::Parse(std::string_view file) {
  const absl::string_view text = Sv(file);
  bool versioned = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(storage_->Describe(), " line ", line_no, ": ", why,
                                              " (expected \"<32 hex digits> <reserved> <spi> <tunnel>\" after \"",
                                              kVersionLine, "\"); refusing to guess where sequence numbers stopped"));
    };
    if (!versioned) {
      if (line != kVersionLine) return bad(absl::StrCat("unknown format \"", line, "\""));
      versioned = true;
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', kRecordFields - 1));
    EspKeyFingerprint fp{};
    Record rec;
    if (f.size() != kRecordFields || !ParseHex(f[0], &fp)) return bad("bad fingerprint");
    if (!absl::SimpleAtoi(f[1], &rec.reserved) || rec.reserved == 0) return bad("bad reservation");
    if (!absl::SimpleAtoi(f[2], &rec.spi)) return bad("bad SPI");
    rec.tunnel = std::string(f[3]);
    if (rec.tunnel.empty()) return bad("no tunnel name");
    // A key listed twice keeps its highest reservation (an upper bound is
    // what matters).
    Record& slot = records_[fp];
    if (rec.reserved >= slot.reserved) slot = std::move(rec);
  }
  if (!versioned) return absl::DataLossError(absl::StrCat(storage_->Describe(), ": no \"", kVersionLine, "\" line"));
  return absl::OkStatus();
}

std::string EspSeqReservations::Serialize() const {
  std::string s(kHeader);
  absl::StrAppend(&s, kVersionLine, "\n");
  for (const auto& [fp, rec] : records_) absl::StrAppend(&s, Hex(fp), " ", rec.reserved, " ", rec.spi, " ", rec.tunnel, "\n");
  return s;
}

absl::Status EspSeqReservations::Store(const EspKeyFingerprint& fp, uint64_t reserved, std::string_view tunnel,
                                       uint32_t spi) {
  auto it = records_.find(fp);
  const bool existed = it != records_.end();
  const Record old = existed ? it->second : Record{};
  records_[fp] = Record{reserved, spi, std::string(tunnel)};
  if (absl::Status s = storage_->WriteDurably(Serialize()); !s.ok()) {
    if (existed) {
      records_[fp] = old;
    } else {
      records_.erase(fp);
    }
    return s;
  }
  return absl::OkStatus();
}

uint64_t EspSeqReservations::ReservedFor(const EspKeyFingerprint& fp) const {
  auto it = records_.find(fp);
  return it == records_.end() ? 0 : it->second.reserved;
}

absl::StatusOr<std::unique_ptr<EspSeqLease>> EspSeqReservations::Begin(std::string_view tunnel, uint32_t spi,
                                                                       const EspKeyFingerprint& fp,
                                                                       uint64_t max_seq) {
  if (live_.contains(fp)) {
    const Record& holder = records_.at(fp);
    return absl::FailedPreconditionError(absl::StrFormat(
        "tunnel %s outbound SPI %u uses the same key as tunnel %s outbound SPI %u: two SAs under one AES-GCM key "
        "would repeat nonces (RFC 4106 3.1); give each outbound SA its own key file",
        Sv(tunnel), spi, holder.tunnel, holder.spi));
  }
  const uint64_t used = ReservedFor(fp);  // every number up to here may have been sent
  if (used >= max_seq) {
    return absl::OutOfRangeError(absl::StrFormat(
        "tunnel %s outbound SPI %u: this key has already reserved sequence numbers up to %u, the end of its "
        "sequence space (RFC 4303 3.3.3; %s): configure a new key file",
        Sv(tunnel), spi, used, storage_->Describe()));
  }
  const uint64_t first = used + 1;
  const uint64_t limit = max_seq - used < block_ ? max_seq : used + block_;
  if (absl::Status s = Store(fp, limit, tunnel, spi); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("tunnel ", Sv(tunnel), " outbound SPI ", spi,
                                               ": cannot reserve sequence numbers: ", s.message()));
  }
  live_.insert(fp);
  return std::unique_ptr<EspSeqLease>(new EspSeqLease(this, fp, first, limit, max_seq));
}

absl::StatusOr<uint64_t> EspSeqReservations::Extend(const EspKeyFingerprint& fp, uint64_t used, uint64_t limit,
                                                    uint64_t max_seq) {
  // Extend once less than half a block is left, so the new bound is on
  // disk long before the worker can reach the old one.
  const uint64_t low_water = block_ / 2;
  if (limit >= max_seq || limit - std::min(used, limit) > low_water) return limit;
  const uint64_t next = max_seq - used < block_ ? max_seq : used + block_;
  if (next <= limit) return limit;
  const Record& rec = records_.at(fp);
  if (absl::Status s = Store(fp, next, std::string(rec.tunnel), rec.spi); !s.ok()) return s;
  return next;
}

EspSeqLease::~EspSeqLease() { owner_->Release(fp_); }

absl::StatusOr<uint64_t> EspSeqLease::Extend(uint64_t used) {
  absl::StatusOr<uint64_t> next = owner_->Extend(fp_, used, limit_, max_seq_);
  if (next.ok()) limit_ = *next;
  return next;
}

}  // namespace isthmus
