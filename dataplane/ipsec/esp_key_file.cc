#include "dataplane/ipsec/esp_key_file.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "control/config/secret_file.h"

namespace isthmus {
namespace {

// A key file is a line of hex; anything much larger is not a key file.
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr char kWhat[] = "ESP key file";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

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
  // The file's text stays in a SecretBytes (no core dump, wiped on return).
  absl::StatusOr<SecretBytes> text = ReadSecretFile(path, kWhat, kMaxKeyFileBytes);
  if (!text.ok()) return text.status();
  return ParseEspKeyHex(text->view(), cipher, "file " + path);
}

}  // namespace isthmus
