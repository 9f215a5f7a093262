#pragma once
// Process-wide crypto resources for ESP: the software AES-GCM crypto device
// (`crypto_aesni_gcm`, Intel ipsec-mb with AES-NI/VAES) used synchronously
// through CPU crypto (RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO: no queues, no
// crypto ops, the worker does the crypto inline), and the session mempool
// every SA draws its crypto session from.
//
// One per process, created by the control side after rte_eal_init. Every
// EspSa made from it must be destroyed before it.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct rte_mempool;

namespace isthmus {

inline constexpr const char* kEspCryptoDeviceName = "crypto_aesni_gcm";
inline constexpr uint32_t kEspDefaultMaxSessions = 1024;

class EspContext {
 public:
  // Finds the crypto device, creating the vdev when EAL arguments did not,
  // and checks it offers synchronous CPU crypto. `max_sessions` bounds the
  // number of SA directions alive at once (make-before-break needs old +
  // new per tunnel).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EspContext>> Create(
      int socket_id, uint32_t max_sessions = kEspDefaultMaxSessions);
  ~EspContext();
  EspContext(const EspContext&) = delete;
  EspContext& operator=(const EspContext&) = delete;

  uint8_t crypto_dev_id() const { return dev_id_; }
  rte_mempool* session_pool() const { return session_pool_; }
  int socket_id() const { return socket_id_; }

 private:
  EspContext(uint8_t dev_id, bool created_device, rte_mempool* pool, int socket_id)
      : dev_id_(dev_id), created_device_(created_device), session_pool_(pool), socket_id_(socket_id) {}

  uint8_t dev_id_;
  bool created_device_;  // we called rte_vdev_init, so we uninit it
  rte_mempool* session_pool_;
  int socket_id_;
};

}  // namespace isthmus
