// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Isthmus XDP classifier, loaded by DPDK's net_af_xdp PMD (devarg xdp_prog=).
 *
 * Splits the frames of one interface between the kernel and the data plane:
 * the kernel keeps what it must answer itself (ARP and other non-IPv4, ICMP
 * and control-protocol ports addressed to the appliance, multicast and
 * broadcast); everything else, including malformed frames, goes to the
 * AF_XDP socket so the data plane can forward it or count it under a named
 * drop reason. The only drops here are frames for the kernel over their
 * punt class's rate (a per-CPU token bucket per class, counted as
 * limited_<class>), so a flood aimed at the appliance cannot starve BGP.
 *
 * The control side (XdpPuntMaps) fills local_addrs, punt_*_ports,
 * ctrl_peers and punt_limits; the layout of maps and counters is in
 * xdp_abi.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dataplane/xdp/xdp_abi.h"

/* RFC 791 section 3.1: the low 13 bits of the flags/offset word are the
 * fragment offset; zero means first (or only) fragment. */
#define IPV4_FRAGMENT_OFFSET_MASK 0x1fff
/* RFC 791: IHL counts 32-bit words; 5 words = header without options. */
#define IPV4_MIN_IHL 5
#define IPV4_IHL_UNIT_BYTES 4
/* RFC 919 limited broadcast and RFC 5771 multicast 224.0.0.0/4. */
#define IPV4_LIMITED_BROADCAST 0xffffffffU
#define IPV4_MULTICAST_MASK 0xf0000000U
#define IPV4_MULTICAST_PREFIX 0xe0000000U
#define NSEC_PER_SEC 1000000000ULL

/* DPDK inserts its AF_XDP socket here, keyed by rx queue; the name is fixed
 * by the PMD. */
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, ISTHMUS_XDP_MAX_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ISTHMUS_XDP_MAX_LOCAL_ADDRS);
  __type(key, __u32);
  __type(value, __u8);
} local_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ISTHMUS_XDP_MAX_PUNT_PORTS);
  __type(key, __u16);
  __type(value, __u8);
} punt_tcp_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ISTHMUS_XDP_MAX_PUNT_PORTS);
  __type(key, __u16);
  __type(value, __u8);
} punt_udp_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ISTHMUS_XDP_MAX_TUNNEL_ENDPOINTS);
  __type(key, struct isthmus_xdp_tunnel_key);
  __type(value, __u8);
} tunnel_endpts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ISTHMUS_XDP_MAX_CONTROL_PEERS);
  __type(key, __u32);
  __type(value, __u8);
} ctrl_peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, ISTHMUS_XDP_PUNT_CLASS_COUNT);
  __type(key, __u32);
  __type(value, struct isthmus_xdp_punt_limit);
} punt_limits SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, ISTHMUS_XDP_PUNT_CLASS_COUNT);
  __type(key, __u32);
  __type(value, struct isthmus_xdp_punt_bucket);
} punt_buckets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, ISTHMUS_XDP_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} xdp_stats SEC(".maps");

static __always_inline void count(__u32 index) {
  __u64 *counter = bpf_map_lookup_elem(&xdp_stats, &index);
  if (counter)
    *counter += 1; /* per-CPU slot: no other writer */
}

static __always_inline int is_kernel_reason(__u32 reason) {
  return reason >= ISTHMUS_XDP_STAT_KERNEL_ARP &&
         reason <= ISTHMUS_XDP_STAT_KERNEL_LOCAL_FRAGMENT;
}

/* Token bucket of `punt_class` on this CPU: 1 if the frame may go to the
 * kernel. Same arithmetic as the data plane's TokenBucket (punt_limiter.h)
 * with a nanosecond clock: refill only when empty, carry fractions over,
 * an idle second refills completely (and bounds the multiplication). */
static __always_inline int punt_allowed(__u32 punt_class) {
  struct isthmus_xdp_punt_limit *limit =
      bpf_map_lookup_elem(&punt_limits, &punt_class);
  if (!limit || limit->rate_pps == 0)
    return 1;
  struct isthmus_xdp_punt_bucket *bucket =
      bpf_map_lookup_elem(&punt_buckets, &punt_class);
  if (!bucket)
    return 1;
  if (bucket->tokens == 0) {
    __u64 now = bpf_ktime_get_ns();
    __u64 elapsed = now - bucket->last_ns;
    if (elapsed >= NSEC_PER_SEC) {
      bucket->tokens = limit->burst;
      bucket->last_ns = now;
    } else {
      __u64 earned = elapsed * limit->rate_pps / NSEC_PER_SEC;
      if (earned == 0)
        return 0;
      bucket->tokens = earned > limit->burst ? limit->burst : earned;
      bucket->last_ns += earned * NSEC_PER_SEC / limit->rate_pps;
    }
  }
  bucket->tokens -= 1;
  return 1;
}

static __always_inline int port_is_punted(void *ports_map, __be16 source,
                                          __be16 dest) {
  __u16 port = bpf_ntohs(dest);
  if (bpf_map_lookup_elem(ports_map, &port))
    return 1;
  /* Replies to connections the kernel opened (e.g. its active BGP connect
   * to a peer's port 179) carry the punt port as their source. */
  port = bpf_ntohs(source);
  return bpf_map_lookup_elem(ports_map, &port) != 0;
}

/* TCP or UDP to a local address: the ports decide. Both headers start with
 * source port, destination port (RFC 793 3.1, RFC 768). The fixed header
 * must lie inside the IPv4 total length (Ethernet padding does not count)
 * and inside the frame (which the verifier checks), or the data plane gets
 * the packet as malformed. */
static __always_inline int is_tunnel_endpoint(__u32 daddr, __u16 port,
                                              __u8 protocol) {
  struct isthmus_xdp_tunnel_key key = {
      .addr = daddr, .port = port, .protocol = protocol, .pad = 0};
  return bpf_map_lookup_elem(&tunnel_endpts, &key) != 0;
}

static __always_inline __u32 classify_local_l4(void *l4, void *data_end,
                                               __u32 l4_len, __u8 protocol,
                                               __u32 daddr) {
  if (protocol == IPPROTO_TCP) {
    struct tcphdr *tcp = l4;
    if (l4_len < sizeof(*tcp) || (void *)(tcp + 1) > data_end)
      return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;
    return port_is_punted(&punt_tcp_ports, tcp->source, tcp->dest)
               ? ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT
               : ISTHMUS_XDP_STAT_DATAPLANE_LOCAL;
  }
  struct udphdr *udp = l4;
  if (l4_len < sizeof(*udp) || (void *)(udp + 1) > data_end)
    return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;
  /* Tunnel traffic is the data plane's even if a punt port matches (a
   * VXLAN source port is any port in 49152-65535, RFC 7348 section 5). */
  if (is_tunnel_endpoint(daddr, bpf_ntohs(udp->dest), IPPROTO_UDP))
    return ISTHMUS_XDP_STAT_DATAPLANE_TUNNEL;
  return port_is_punted(&punt_udp_ports, udp->source, udp->dest)
             ? ISTHMUS_XDP_STAT_KERNEL_LOCAL_PUNT_PORT
             : ISTHMUS_XDP_STAT_DATAPLANE_LOCAL;
}

/*
 * IPv4 header (RFC 791 3.1), options follow when IHL > 5:
 *   0                   1                   2                   3
 *  |Version|  IHL  |Type of Service|          Total Length         |
 *  |         Identification        |Flags|      Fragment Offset    |
 *  |  Time to Live |    Protocol   |         Header Checksum       |
 *  |                       Source Address                          |
 *  |                    Destination Address                        |
 *  |                    Options                    |    Padding    |
 */
/* The punt class of a frame for the kernel that is addressed to us: a
 * configured BGP peer's traffic has a budget of its own. */
static __always_inline void set_local_class(struct iphdr *ip, __u32 *punt_class) {
  __u32 saddr = ip->saddr; /* ctrl_peers is keyed in network byte order */
  if (bpf_map_lookup_elem(&ctrl_peers, &saddr))
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_CONTROL;
  else if (ip->protocol == IPPROTO_ICMP)
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_ICMP;
  else
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_LOCAL;
}

static __always_inline __u32 classify_ipv4(struct iphdr *ip, void *data_end,
                                           __u32 *punt_class) {
  if ((void *)(ip + 1) > data_end)
    return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;
  if (ip->version != 4 || ip->ihl < IPV4_MIN_IHL)
    return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;
  __u32 header_len = ip->ihl * IPV4_IHL_UNIT_BYTES; /* 20..60, verifier-bounded */
  __u32 total_len = bpf_ntohs(ip->tot_len);
  /* Ethernet padding may make the frame longer than total_len, never
   * shorter (RFC 1812 5.2.2 checks). */
  if (total_len < header_len || (void *)ip + total_len > data_end)
    return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;

  __u32 dst = bpf_ntohl(ip->daddr);
  if (dst == IPV4_LIMITED_BROADCAST ||
      (dst & IPV4_MULTICAST_MASK) == IPV4_MULTICAST_PREFIX) {
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_MULTICAST_BROADCAST;
    return ISTHMUS_XDP_STAT_KERNEL_MULTICAST_BROADCAST;
  }

  __u32 key = ip->daddr; /* local_addrs is keyed in network byte order */
  if (!bpf_map_lookup_elem(&local_addrs, &key))
    return ISTHMUS_XDP_STAT_DATAPLANE_TRANSIT;
  set_local_class(ip, punt_class);
  /* Later fragments carry no L4 header: the kernel reassembles them with
   * the first one (which it gets only if its ports are punted; otherwise
   * reassembly times out, as it would for any data-plane protocol). */
  if (ip->frag_off & bpf_htons(IPV4_FRAGMENT_OFFSET_MASK))
    return ISTHMUS_XDP_STAT_KERNEL_LOCAL_FRAGMENT;

  switch (ip->protocol) {
    case IPPROTO_ICMP:
      return ISTHMUS_XDP_STAT_KERNEL_LOCAL_ICMP;
    case IPPROTO_TCP:
    case IPPROTO_UDP:
      return classify_local_l4((void *)ip + header_len, data_end,
                               total_len - header_len, ip->protocol,
                               ip->daddr);
    default:
      if (is_tunnel_endpoint(ip->daddr, 0, ip->protocol))
        return ISTHMUS_XDP_STAT_DATAPLANE_TUNNEL;
      return ISTHMUS_XDP_STAT_DATAPLANE_LOCAL;
  }
}

/* The xdp_stats reason of the frame; for a frame the kernel gets
 * (KERNEL_*), also its punt class. */
static __always_inline __u32 classify(void *data, void *data_end,
                                      __u32 *punt_class) {
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end)
    return ISTHMUS_XDP_STAT_DATAPLANE_MALFORMED;
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_ARP;
    return ISTHMUS_XDP_STAT_KERNEL_ARP;
  }
  if (eth->h_proto != bpf_htons(ETH_P_IP)) {
    *punt_class = ISTHMUS_XDP_PUNT_CLASS_NON_IPV4;
    return ISTHMUS_XDP_STAT_KERNEL_NON_IPV4;
  }
  return classify_ipv4((struct iphdr *)(eth + 1), data_end, punt_class);
}

SEC("xdp")
int isthmus_xdp(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;

  __u32 punt_class = ISTHMUS_XDP_PUNT_CLASS_LOCAL;
  __u32 reason = classify(data, data_end, &punt_class);
  count(reason);
  if (is_kernel_reason(reason)) {
    if (!punt_allowed(punt_class)) {
      count(ISTHMUS_XDP_STAT_RATE_LIMITED);
      count(ISTHMUS_XDP_STAT_LIMITED_CONTROL + punt_class);
      return XDP_DROP;
    }
    count(ISTHMUS_XDP_STAT_TO_KERNEL);
    return XDP_PASS;
  }
  count(ISTHMUS_XDP_STAT_TO_DATAPLANE);
  /* With no socket on this queue (the PMD not started yet) the frame falls
   * back to the kernel instead of being lost. */
  return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
