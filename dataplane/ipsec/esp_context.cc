#include "dataplane/ipsec/esp_context.h"

#include <rte_bus_vdev.h>
#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_mempool.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

// The one queue pair is never used for traffic (CPU crypto is synchronous).
constexpr uint32_t kQueueDescriptors = 64;
// Session pool names must be unique per process.
std::atomic<uint32_t> g_pool_serial{0};

absl::StatusOr<std::pair<uint8_t, bool>> FindOrCreateDevice(int socket_id) {
  int id = rte_cryptodev_get_dev_id(kEspCryptoDeviceName);
  bool created = false;
  if (id < 0) {
    const std::string args = socket_id >= 0 ? absl::StrFormat("socket_id=%d", socket_id) : "";
    const int rc = rte_vdev_init(kEspCryptoDeviceName, args.c_str());
    if (rc != 0) {
      return absl::UnavailableError(absl::StrFormat(
          "cannot create crypto device %s (rte_vdev_init: %s); is the DPDK ipsec_mb crypto PMD installed?",
          kEspCryptoDeviceName, rte_strerror(-rc)));
    }
    created = true;
    id = rte_cryptodev_get_dev_id(kEspCryptoDeviceName);
    if (id < 0) {
      return absl::InternalError(absl::StrFormat("crypto device %s created but not found", kEspCryptoDeviceName));
    }
  }
  return std::make_pair(static_cast<uint8_t>(id), created);
}

// CPU crypto needs no queues, but the ipsec_mb PMD sets up its per-device
// state (the multi-buffer manager) when the device is configured and
// started. A device someone else already configured is left as it is.
absl::Status StartDevice(uint8_t dev_id, int socket_id, rte_mempool* pool) {
  if (rte_cryptodev_queue_pair_count(dev_id) != 0) return absl::OkStatus();
  rte_cryptodev_config conf{};
  conf.socket_id = socket_id;
  conf.nb_queue_pairs = 1;
  rte_cryptodev_qp_conf qp{};
  qp.nb_descriptors = kQueueDescriptors;
  qp.mp_session = pool;
  int rc = rte_cryptodev_configure(dev_id, &conf);
  if (rc == 0) rc = rte_cryptodev_queue_pair_setup(dev_id, 0, &qp, socket_id);
  if (rc == 0) rc = rte_cryptodev_start(dev_id);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrFormat("cannot start crypto device %s: %s", kEspCryptoDeviceName, rte_strerror(-rc)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EspContext>> EspContext::Create(int socket_id, uint32_t max_sessions) {
  absl::StatusOr<std::pair<uint8_t, bool>> dev = FindOrCreateDevice(socket_id);
  if (!dev.ok()) return dev.status();
  const auto [dev_id, created] = *dev;

  rte_cryptodev_info info{};
  rte_cryptodev_info_get(dev_id, &info);
  if ((info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) == 0) {
    if (created) rte_vdev_uninit(kEspCryptoDeviceName);
    return absl::FailedPreconditionError(
        absl::StrFormat("crypto device %s does not offer synchronous CPU crypto", kEspCryptoDeviceName));
  }

  const std::string pool_name = absl::StrFormat("esp_sess_%u", g_pool_serial.fetch_add(1));
  const unsigned private_size = rte_cryptodev_sym_get_private_session_size(dev_id);
  rte_mempool* pool = rte_cryptodev_sym_session_pool_create(pool_name.c_str(), max_sessions, private_size,
                                                            /*cache_size=*/0, /*priv_size=*/0, socket_id);
  if (pool == nullptr) {
    if (created) rte_vdev_uninit(kEspCryptoDeviceName);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cannot create ESP session pool for %u sessions: %s", max_sessions, rte_strerror(rte_errno)));
  }
  if (absl::Status st = StartDevice(dev_id, socket_id, pool); !st.ok()) {
    rte_mempool_free(pool);
    if (created) rte_vdev_uninit(kEspCryptoDeviceName);
    return st;
  }
  spdlog::info("ipsec: crypto device {} (id {}{}), room for {} SA sessions", kEspCryptoDeviceName, dev_id,
               created ? ", created" : "", max_sessions);
  return std::unique_ptr<EspContext>(new EspContext(dev_id, created, pool, socket_id));
}

EspContext::~EspContext() {
  if (created_device_) {
    rte_cryptodev_stop(dev_id_);
    rte_cryptodev_close(dev_id_);
    rte_vdev_uninit(kEspCryptoDeviceName);
  }
  rte_mempool_free(session_pool_);
}

}  // namespace isthmus
