#include "control/config/secret_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

// Group and other permission bits: any of them lets someone else read or
// replace the secret.
constexpr mode_t kForeignAccessBits = S_IRWXG | S_IRWXO;
constexpr uid_t kRootUid = 0;

std::string ErrnoString(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof(buf));  // GNU variant: may not use buf
}

// Closes a descriptor on every return path.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<SecretBytes> SecretBytes::Allocate(size_t capacity) {
  const long page = sysconf(_SC_PAGESIZE);
  const size_t page_size = page > 0 ? static_cast<size_t>(page) : 4096;
  const size_t mapped = ((capacity == 0 ? 1 : capacity) + page_size - 1) / page_size * page_size;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot map %u bytes for a secret: %s", mapped, ErrnoString(errno)));
  }
  // Without DONTDUMP the secret would be in any core dump that is allowed;
  // without DONTFORK a child (none is forked today) would inherit a copy.
  if (madvise(p, mapped, MADV_DONTDUMP) != 0 || madvise(p, mapped, MADV_DONTFORK) != 0) {
    const int err = errno;
    munmap(p, mapped);
    return absl::InternalError(absl::StrFormat("madvise on a secret buffer failed: %s", ErrnoString(err)));
  }
  SecretBytes out;
  out.data_ = static_cast<uint8_t*>(p);
  out.mapped_ = mapped;
  return out;
}

absl::StatusOr<SecretBytes> SecretBytes::Copy(std::string_view bytes) {
  absl::StatusOr<SecretBytes> out = Allocate(bytes.size());
  if (!out.ok()) return out.status();
  if (!bytes.empty()) std::memcpy(out->data_, bytes.data(), bytes.size());
  out->size_ = bytes.size();
  return out;
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  explicit_bzero(data_, mapped_);
  munmap(data_, mapped_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
}

bool SecretBytes::SameBytes(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < size_; ++i) diff |= static_cast<uint8_t>(data_[i] ^ other.data_[i]);
  return diff == 0;
}

absl::Status CheckSecretFileStat(const std::string& path, std::string_view what, mode_t mode, uid_t owner,
                                 uid_t daemon_uid) {
  const unsigned perm = mode & 07777;
  if (!S_ISREG(mode)) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s is not a regular file (mode %04o); accepted: a regular file with mode 0600 or 0400", what,
        path, perm));
  }
  if ((mode & kForeignAccessBits) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s has mode %04o, which gives group or others access; accepted: 0600 or stricter "
        "(no group/other bits), e.g. chmod 600 %s",
        what, path, perm, path));
  }
  if (owner != kRootUid && owner != daemon_uid) {
    // The owner can chmod the file open again or swap the key at will.
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s is owned by uid %u; accepted: owned by root (uid 0) or by the daemon's user (uid %u), "
        "e.g. chown root %s",
        what, path, owner, daemon_uid, path));
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, std::string_view what, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrFormat("%s %s: cannot open: %s", what, path, ErrnoString(errno)));
  }
  FdCloser closer(fd);
  struct stat st {};
  // fstat on the open descriptor: the file checked is the file read.
  if (fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrFormat("%s %s: stat failed: %s", what, path, ErrnoString(errno)));
  }
  if (absl::Status s = CheckSecretFileStat(path, what, st.st_mode, st.st_uid, geteuid()); !s.ok()) return s;
  // One byte more than allowed tells an oversized file from a full one.
  absl::StatusOr<SecretBytes> out = SecretBytes::Allocate(max_bytes + 1);
  if (!out.ok()) return out.status();
  size_t got = 0;
  while (got <= max_bytes) {
    const ssize_t n = read(fd, out->data_ + got, max_bytes + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrFormat("%s %s: read failed: %s", what, path, ErrnoString(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s %s is larger than %u bytes; accepted: one key of at most %u bytes", what, path,
                        max_bytes, max_bytes));
  }
  out->size_ = got;
  return out;
}

absl::Status DisableCoreDumps() {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    return absl::InternalError(absl::StrFormat("setrlimit(RLIMIT_CORE, 0): %s", ErrnoString(errno)));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::InternalError(absl::StrFormat("prctl(PR_SET_DUMPABLE, 0): %s", ErrnoString(errno)));
  }
  return absl::OkStatus();
}

}  // namespace isthmus
