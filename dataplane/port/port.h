#pragma once
// Creating and starting DPDK ports: the driver-specific device arguments
// (af_xdp with our XDP program, af_packet, free-form pmd devargs) and the
// exception TAP through which the kernel sees what the data plane punts.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "control/config/config.h"
#include "dataplane/packet/ipv4_check.h"

struct rte_mempool;

namespace isthmus {

// The EAL device string for a configured port.
std::string PortDevargs(const PortConfig& port, const std::string& xdp_program);
// The EAL device string for an exception TAP named `ifname` (optionally with a fixed MAC).
std::string TapDevargs(const std::string& vdev_suffix, const std::string& ifname, const MacAddr* mac);

// Hot-plugs the device described by `devargs` and returns its port id.
absl::StatusOr<uint16_t> ProbePort(const std::string& devargs);

struct QueueSetup {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint32_t mtu = 0;   // 0: leave as is
};
// Configures queues and starts the port.
absl::Status StartPort(uint16_t port_id, const QueueSetup& setup, rte_mempool* pool);
// Stops, closes and removes the device (AF_XDP detaches its program here).
void RemovePort(uint16_t port_id);

MacAddr PortMac(uint16_t port_id);
std::string FormatMac(const MacAddr& mac);

}  // namespace isthmus
