#pragma once
// Value types shared by the ESP building block: cipher choice, key material,
// SA parameters and the per-packet verdicts (each a named drop reason).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace isthmus {

// AES-GCM with a 16-octet ICV (RFC 4106). The only ciphers we offer: AEAD
// needs one pass and no separate integrity key.
enum class EspCipher : uint8_t { kAes128Gcm, kAes256Gcm };

inline constexpr size_t kEspSaltLen = 4;  // RFC 4106 §8.1: key || 4-octet salt

constexpr size_t EspCipherKeyLen(EspCipher c) { return c == EspCipher::kAes128Gcm ? 16 : 32; }
constexpr std::string_view EspCipherName(EspCipher c) {
  return c == EspCipher::kAes128Gcm ? "aes128gcm16" : "aes256gcm16";
}

// Key material for one SA direction. Never logged or printed; the bytes are
// wiped when the object dies (copies wipe their own bytes too).
struct EspKey {
  std::vector<uint8_t> key;                 // 16 or 32 bytes
  std::array<uint8_t, kEspSaltLen> salt{};  // nonce salt (RFC 4106 §4)

  EspKey() = default;
  EspKey(const EspKey&) = default;
  EspKey(EspKey&&) noexcept = default;
  EspKey& operator=(const EspKey& other);
  EspKey& operator=(EspKey&& other) noexcept;
  ~EspKey();

  void Wipe();
};

// Lifetime limits (RFC 4301 §4.4.2.1). 0 means "no limit" for that unit.
// Packets and bytes count what the SA authenticated: packets it protected
// (outbound) or verified (inbound); bytes are the ESP encrypted payload
// (inner packet + padding + trailer), the same figure on both ends.
struct EspLifetime {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t seconds = 0;
};

// Anti-replay window bounds (RFC 4303 §3.4.3: at least 32, default 64;
// rte_ipsec keeps the window in 64-bit buckets, so powers of two).
inline constexpr uint32_t kEspMinReplayWindow = 32;
inline constexpr uint32_t kEspMaxReplayWindow = 65536;
inline constexpr uint32_t kEspDefaultReplayWindow = 1024;
inline constexpr uint16_t kEspNatTraversalPort = 4500;  // RFC 3948 §2

struct EspSaParams {
  uint32_t spi = 0;  // host order; 1..255 are reserved (RFC 4303 §2.1)
  EspCipher cipher = EspCipher::kAes128Gcm;
  EspKey key;
  uint32_t local_ip = 0;   // host order: outer source for outbound, expected destination inbound
  uint32_t remote_ip = 0;  // host order: outer destination outbound, required source inbound
  bool esn = false;        // 64-bit extended sequence numbers (RFC 4303 §2.2.1)
  uint32_t replay_window = kEspDefaultReplayWindow;  // inbound only
  bool udp_encap = false;  // outbound: wrap ESP in UDP (RFC 3948)
  uint16_t udp_src_port = kEspNatTraversalPort;
  bool dont_fragment = true;  // DF on the outer header (RFC 4301 §8.1)
  EspLifetime soft;           // crossing it raises SoftExpired(): time to rekey
  EspLifetime hard;           // crossing it stops the SA: verdict kExpired
  // Outbound: the first sequence number to send (RFC 4303 3.3.3 starts at
  // 1). A restarted daemon passes one above what it durably reserved
  // before (EspSeqReservations) so a key never numbers two packets alike:
  // the GCM IV is the sequence number (RFC 4106 3.1).
  uint64_t first_seq = 1;
};

// What happened to one packet. Every value but kOk is a drop with its own
// reason name (the label exported by the worker).
#define ISTHMUS_ESP_VERDICTS(X)                                                        \
  X(kOk, "ok", "processed")                                                           \
  X(kReplayed, "esp_replayed",                                                        \
    "sequence number already received inside the anti-replay window (RFC 4303 3.4.3)") \
  X(kOutsideWindow, "esp_outside_window",                                             \
    "sequence number older than the anti-replay window (RFC 4303 3.4.3)")              \
  X(kAuthFailed, "esp_auth_failed", "ICV did not verify: tampered packet or wrong key (RFC 4303 3.4.4)") \
  X(kWrongSpi, "esp_wrong_spi", "SPI matches no inbound SA (RFC 4303 3.4.2)")           \
  X(kWrongSource, "esp_wrong_source", "outer source is not the SA's remote endpoint")  \
  X(kWrongDestination, "esp_wrong_destination", "outer destination is not the SA's local endpoint") \
  X(kNotEsp, "esp_not_esp",                                                           \
    "neither ESP nor UDP/4500 ESP (includes the RFC 3948 non-ESP marker used by IKE)")  \
  X(kFragment, "esp_fragment",                                                        \
    "outer IPv4 fragment: ESP is verified only on whole packets (RFC 4303 3.4.1)")     \
  X(kMalformed, "esp_malformed",                                                      \
    "truncated or inconsistent headers, bad length, padding or next header")          \
  X(kExpired, "esp_sa_expired", "SA hard lifetime reached (RFC 4301 4.4.2.1): rekey needed") \
  X(kSeqExhausted, "esp_seq_exhausted",                                               \
    "outbound sequence number space used up (RFC 4303 3.3.3): rekey needed")          \
  X(kSeqUnreserved, "esp_seq_unreserved",                                             \
    "outbound sequence number beyond the durably reserved range: the state file could not be written") \
  X(kNoRoom, "esp_no_room", "mbuf lacks headroom or tailroom for the ESP encapsulation") \
  X(kCryptoError, "esp_crypto_error", "the crypto device failed the operation")

enum class EspVerdict : uint8_t {
#define ISTHMUS_X(id, name, help) id,
  ISTHMUS_ESP_VERDICTS(ISTHMUS_X)
#undef ISTHMUS_X
  kCount
};

inline constexpr size_t kEspVerdictCount = static_cast<size_t>(EspVerdict::kCount);

struct EspVerdictInfo {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<EspVerdictInfo, kEspVerdictCount> kEspVerdictInfo = {{
#define ISTHMUS_X(id, name, help) {name, help},
    ISTHMUS_ESP_VERDICTS(ISTHMUS_X)
#undef ISTHMUS_X
}};

constexpr std::string_view EspVerdictName(EspVerdict v) {
  return kEspVerdictInfo[static_cast<size_t>(v)].name;
}

}  // namespace isthmus
