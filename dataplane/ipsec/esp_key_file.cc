#include "dataplane/ipsec/esp_key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

// Group and other permission bits: any of them lets someone else read or
// replace the key.
constexpr mode_t kForeignAccessBits = S_IRWXG | S_IRWXO;
// A key file is a line of hex; anything much larger is not a key file.
constexpr size_t kMaxKeyFileBytes = 4096;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Wipes a buffer that held key text on every exit path.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  ~WipeOnExit() { explicit_bzero(s_.data(), s_.size()); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& s_;
};

absl::StatusOr<std::string> ReadProtectedFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrFormat("ESP key file %s: cannot open: %s", path, std::strerror(errno)));
  }
  struct stat st {};
  // fstat on the open descriptor: the checked file is the file we read.
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrFormat("ESP key file %s: stat failed: %s", path, std::strerror(err)));
  }
  const unsigned mode = st.st_mode & 07777;
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrFormat(
        "ESP key file %s is not a regular file (mode %04o); a regular file with mode 0600 or 0400 is required",
        path, mode));
  }
  if ((st.st_mode & kForeignAccessBits) != 0) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrFormat(
        "ESP key file %s has mode %04o, which gives group or others access; accepted: 0600 or stricter "
        "(no group/other bits), e.g. chmod 600 %s",
        path, mode, path));
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      explicit_bzero(text.data(), text.size());
      return absl::InternalError(absl::StrFormat("ESP key file %s: read failed: %s", path, std::strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got > kMaxKeyFileBytes) {
    explicit_bzero(text.data(), text.size());
    return absl::InvalidArgumentError(
        absl::StrFormat("ESP key file %s is larger than %u bytes; it must hold one hex key", path, kMaxKeyFileBytes));
  }
  // Shrink without reallocating so the wipe covers every byte read.
  std::string result(text.data(), got);
  explicit_bzero(text.data(), text.size());
  return result;
}

}  // namespace

EspKey& EspKey::operator=(const EspKey& other) {
  if (this != &other) {
    Wipe();
    key = other.key;
    salt = other.salt;
  }
  return *this;
}

EspKey& EspKey::operator=(EspKey&& other) noexcept {
  if (this != &other) {
    Wipe();
    key = std::move(other.key);
    salt = other.salt;
    other.Wipe();
  }
  return *this;
}

EspKey::~EspKey() { Wipe(); }

void EspKey::Wipe() {
  if (!key.empty()) explicit_bzero(key.data(), key.size());
  explicit_bzero(salt.data(), salt.size());
}

absl::StatusOr<EspKey> ParseEspKeyHex(std::string_view text, EspCipher cipher, std::string_view origin) {
  const size_t want = EspCipherKeyLen(cipher) + kEspSaltLen;
  size_t pos = 0;
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
  if (text.size() - pos >= 2 && text[pos] == '0' && (text[pos + 1] == 'x' || text[pos + 1] == 'X')) pos += 2;

  EspKey out;
  out.key.reserve(EspCipherKeyLen(cipher));
  size_t digits = 0;
  size_t bytes = 0;
  int high = 0;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (IsSpace(c)) continue;
    const int v = HexValue(c);
    if (v < 0) {
      // Report the position only: the character may be part of the key.
      return absl::InvalidArgumentError(absl::StrFormat(
          "ESP key %s: character at offset %u is not a hex digit; expected %u bytes of hex (%s key || 4-byte salt)",
          origin, pos, want, EspCipherName(cipher)));
    }
    if (digits++ % 2 == 0) {
      high = v;
      continue;
    }
    const auto byte = static_cast<uint8_t>(high << 4 | v);
    if (bytes < EspCipherKeyLen(cipher)) {
      out.key.push_back(byte);
    } else if (bytes < want) {
      out.salt[bytes - EspCipherKeyLen(cipher)] = byte;
    }
    ++bytes;
  }
  high = 0;
  if (digits % 2 != 0 || bytes != want) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ESP key %s holds %u hex digits; %s needs exactly %u bytes (%u hex digits: %u-byte key || 4-byte salt, "
        "RFC 4106)",
        origin, digits, EspCipherName(cipher), want, want * 2, EspCipherKeyLen(cipher)));
  }
  return out;
}

absl::StatusOr<EspKey> LoadEspKeyFile(const std::string& path, EspCipher cipher) {
  absl::StatusOr<std::string> text = ReadProtectedFile(path);
  if (!text.ok()) return text.status();
  WipeOnExit wipe(*text);
  return ParseEspKeyHex(*text, cipher, "file " + path);
}

}  // namespace isthmus
