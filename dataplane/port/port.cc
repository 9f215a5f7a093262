#include "dataplane/port/port.h"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace isthmus {

std::string PortDevargs(const PortConfig& port, const std::string& xdp_program) {
  switch (port.driver) {
    case PortDriver::kAfXdp:
      // One queue: veth exposes separate rx/tx channels, so queue_count > 1 fails.
      return absl::StrCat("net_af_xdp_", port.name, ",iface=", port.interface,
                          ",start_queue=0,queue_count=1,xdp_prog=", xdp_program);
    case PortDriver::kAfPacket:
      return absl::StrCat("net_af_packet_", port.name, ",iface=", port.interface, ",qpairs=1");
    case PortDriver::kPmd:
      return port.devargs;
  }
  return {};
}

std::string TapDevargs(const std::string& vdev_suffix, const std::string& ifname, const MacAddr* mac) {
  std::string args = absl::StrCat("net_tap_", vdev_suffix, ",iface=", ifname);
  if (mac != nullptr) absl::StrAppend(&args, ",mac=", FormatMac(*mac));
  return args;
}

absl::StatusOr<uint16_t> ProbePort(const std::string& devargs) {
  const int rc = rte_dev_probe(devargs.c_str());
  if (rc < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create device '", devargs, "': ", rte_strerror(-rc)));
  }
  // The device name is what precedes the first comma.
  const std::string name = devargs.substr(0, devargs.find(','));
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    // Bus devices (PCI, VMBus) may be named without their bus prefix.
    const auto colon = name.find(':');
    const std::string bare = colon == std::string::npos ? name : name.substr(colon + 1);
    if (rte_eth_dev_get_port_by_name(bare.c_str(), &port_id) != 0) {
      return absl::NotFoundError(absl::StrCat("device '", name, "' was probed but has no ethdev port"));
    }
  }
  return port_id;
}

absl::Status StartPort(uint16_t port_id, const QueueSetup& setup, rte_mempool* pool) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port_id, setup.rx_queues, setup.tx_queues, &conf);
  if (rc < 0) return absl::InternalError(absl::StrCat("port ", port_id, ": configure: ", rte_strerror(-rc)));
  uint16_t rx_desc = setup.rx_descriptors, tx_desc = setup.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
  if (rc < 0) return absl::InternalError(absl::StrCat("port ", port_id, ": descriptors: ", rte_strerror(-rc)));
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < setup.rx_queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, rx_desc, socket_id, nullptr, pool);
    if (rc < 0) return absl::InternalError(absl::StrCat("port ", port_id, ": rx queue ", q, ": ", rte_strerror(-rc)));
  }
  for (uint16_t q = 0; q < setup.tx_queues; ++q) {
    rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, socket_id, nullptr);
    if (rc < 0) return absl::InternalError(absl::StrCat("port ", port_id, ": tx queue ", q, ": ", rte_strerror(-rc)));
  }
  if (setup.mtu != 0) {
    uint16_t current = 0;
    if (rte_eth_dev_get_mtu(port_id, &current) == 0 && current != setup.mtu) {
      rc = rte_eth_dev_set_mtu(port_id, static_cast<uint16_t>(setup.mtu));
      if (rc < 0 && rc != -ENOTSUP) {
        return absl::InvalidArgumentError(absl::StrCat("port ", port_id, ": MTU ", setup.mtu, ": ", rte_strerror(-rc)));
      }
    }
  }
  rc = rte_eth_dev_start(port_id);
  if (rc < 0) return absl::InternalError(absl::StrCat("port ", port_id, ": start: ", rte_strerror(-rc)));
  rte_eth_promiscuous_disable(port_id);
  return absl::OkStatus();
}

void RemovePort(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

MacAddr PortMac(uint16_t port_id) {
  rte_ether_addr addr{};
  rte_eth_macaddr_get(port_id, &addr);
  MacAddr mac;
  std::copy(std::begin(addr.addr_bytes), std::end(addr.addr_bytes), mac.begin());
  return mac;
}

std::string FormatMac(const MacAddr& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

}  // namespace isthmus
