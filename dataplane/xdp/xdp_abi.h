#pragma once
/*
 * The contract between isthmus_xdp.bpf.c (compiled by clang -target bpf) and
 * the C++ control side (XdpPuntMaps). Plain C on purpose: both compilers read
 * it, so the map sizes, map value flags and counter indices cannot drift.
 *
 * Maps (names are what XdpPuntMaps looks up, BPF_OBJ_NAME_LEN = 16 max):
 *   xsks_map        XSKMAP       rx queue index -> AF_XDP socket (DPDK fills it)
 *   local_addrs     HASH         __u32 IPv4, network byte order -> __u8 flags
 *   punt_tcp_ports  HASH         __u16 port, host byte order   -> __u8 flags
 *   punt_udp_ports  HASH         __u16 port, host byte order   -> __u8 flags
 *   tunnel_endpts   HASH         struct isthmus_xdp_tunnel_key  -> __u8 flags
 *   xdp_stats       PERCPU_ARRAY __u32 index (enum below)      -> __u64 count
 *   ctrl_peers      HASH         __u32 IPv4, network byte order -> __u8 flags
 *   punt_limits     ARRAY        __u32 punt class (enum below)  -> struct isthmus_xdp_punt_limit
 *   punt_buckets    PERCPU_ARRAY __u32 punt class               -> struct isthmus_xdp_punt_bucket
 */

#include <linux/types.h>

/* A tunnel endpoint of ours: tunnel packets to it go to the data plane even
 * when their ports are also punt ports. UDP (VXLAN, and later UDP-encapsulated
 * ESP on 4500) is keyed by destination port; a protocol without ports (ESP,
 * 50) uses port 0. */
struct isthmus_xdp_tunnel_key {
  __u32 addr;     /* IPv4, network byte order */
  __u16 port;     /* host byte order; 0 for protocols without ports */
  __u8 protocol;  /* IPPROTO_UDP, IPPROTO_ESP */
  __u8 pad;       /* always 0 */
};

/* What the kernel gets is charged to one punt class, each with a token
 * bucket per CPU, so a flood of one kind (pings, SYNs from strangers to port
 * 179) cannot starve another (BGP from a configured peer). The names are
 * the data plane's punt classes (dataplane/drop_reason.h); the control side
 * maps between the two. */
enum isthmus_xdp_punt_class {
  ISTHMUS_XDP_PUNT_CLASS_CONTROL,             /* from a ctrl_peers address */
  ISTHMUS_XDP_PUNT_CLASS_ARP,
  ISTHMUS_XDP_PUNT_CLASS_ICMP,                /* ICMP to a local address */
  ISTHMUS_XDP_PUNT_CLASS_LOCAL,               /* punt ports, local fragments */
  ISTHMUS_XDP_PUNT_CLASS_MULTICAST_BROADCAST,
  ISTHMUS_XDP_PUNT_CLASS_NON_IPV4,
  ISTHMUS_XDP_PUNT_CLASS_COUNT
};

/* A class's rate, written by the control side; rate_pps 0 = unlimited.
 * burst is the most tokens a bucket holds. */
struct isthmus_xdp_punt_limit {
  __u64 rate_pps;
  __u64 burst;
};

/* A class's bucket on one CPU (only that CPU writes it). It refills from
 * last_ns only once empty; a bucket never used starts full. */
struct isthmus_xdp_punt_bucket {
  __u64 tokens;
  __u64 last_ns;
};

enum isthmus_xdp_limits {
  /* Queues of one port DPDK may bind sockets to (veth has one). */
  ISTHMUS_XDP_MAX_QUEUES = 64,
  /* Addresses the appliance answers on: interface, loopback and VIPs. */
  ISTHMUS_XDP_MAX_LOCAL_ADDRS = 1024,
  /* Ports per protocol whose traffic the kernel handles (BGP, SSH, BFD…). */
  ISTHMUS_XDP_MAX_PUNT_PORTS = 64,
  /* Tunnel endpoints (local address, protocol, port). */
  ISTHMUS_XDP_MAX_TUNNEL_ENDPOINTS = 256,
  /* BGP peers whose traffic is punt class control (ControlPeers::kCapacity
   * in punt_limiter.h is the same). */
  ISTHMUS_XDP_MAX_CONTROL_PEERS = 256,
};

/* Value stored in local_addrs and punt_*_ports; only presence is tested
 * today, the byte leaves room for per-entry flags later. */
enum isthmus_xdp_entry_flags {
  ISTHMUS_XDP_ENTRY_PRESENT = 1,
};

/*
 * xdp_stats counters: X(ID, field, help). Every frame increments exactly one
 * total (TO_KERNEL, TO_DATAPLANE or RATE_LIMITED) and exactly one reason, so
 * TO_DATAPLANE equals the sum of the DATAPLANE_* reasons and TO_KERNEL +
 * RATE_LIMITED the sum of the KERNEL_* ones. A RATE_LIMITED frame (XDP_DROP)
 * also increments the LIMITED_* slot of its punt class. The KERNEL_* reasons
 * must stay contiguous (KERNEL_ARP .. KERNEL_LOCAL_FRAGMENT): the program
 * tests the range; the LIMITED_* slots follow enum isthmus_xdp_punt_class.
 */
#define ISTHMUS_XDP_STATS(X)                                                   \
  X(TO_KERNEL, to_kernel, "frames left to the kernel (XDP_PASS)")              \
  X(TO_DATAPLANE, to_dataplane,                                                \
    "frames redirected to the data plane's AF_XDP socket")                     \
  X(KERNEL_ARP, kernel_arp, "ARP: the kernel owns neighbour resolution")       \
  X(KERNEL_NON_IPV4, kernel_non_ipv4,                                          \
    "other non-IPv4 frames (IPv6 incl. ND, LLDP, VLAN-tagged)")                \
  X(KERNEL_MULTICAST_BROADCAST, kernel_multicast_broadcast,                    \
    "IPv4 to 255.255.255.255 or 224.0.0.0/4")                                  \
  X(KERNEL_LOCAL_ICMP, kernel_local_icmp, "ICMP to a local address")           \
  X(KERNEL_LOCAL_PUNT_PORT, kernel_local_punt_port,                            \
    "TCP/UDP to a local address with a source or destination punt port")       \
  X(KERNEL_LOCAL_FRAGMENT, kernel_local_fragment,                              \
    "non-first IPv4 fragment to a local address (no ports to classify by)")    \
  X(DATAPLANE_MALFORMED, dataplane_malformed,                                  \
    "truncated or invalid IPv4 (the data plane counts it by drop reason)")     \
  X(DATAPLANE_LOCAL, dataplane_local,                                          \
    "to a local address but not for the kernel (tunnels, other ports)")        \
  X(DATAPLANE_TRANSIT, dataplane_transit, "IPv4 not addressed to the appliance") \
  X(DATAPLANE_TUNNEL, dataplane_tunnel,                                        \
    "tunnel packets to one of our tunnel endpoints (decapsulated there)")       \
  X(RATE_LIMITED, rate_limited,                                                \
    "frames for the kernel dropped over their punt class's rate (XDP_DROP)")   \
  X(LIMITED_CONTROL, limited_control, "rate-limited, punt class control")      \
  X(LIMITED_ARP, limited_arp, "rate-limited, punt class arp")                  \
  X(LIMITED_ICMP, limited_icmp, "rate-limited, punt class icmp")               \
  X(LIMITED_LOCAL, limited_local, "rate-limited, punt class local")            \
  X(LIMITED_MULTICAST_BROADCAST, limited_multicast_broadcast,                  \
    "rate-limited, punt class multicast_broadcast")                            \
  X(LIMITED_NON_IPV4, limited_non_ipv4, "rate-limited, punt class non_ipv4")

enum isthmus_xdp_stat {
#define ISTHMUS_XDP_STAT_ENUM(id, field, help) ISTHMUS_XDP_STAT_##id,
  ISTHMUS_XDP_STATS(ISTHMUS_XDP_STAT_ENUM)
#undef ISTHMUS_XDP_STAT_ENUM
  ISTHMUS_XDP_STAT_COUNT
};
