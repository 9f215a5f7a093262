// XDP program for the sink end of perf/veth_forward.sh: drops UDP/IPv4 at
// the driver so the sink's kernel spends no CPU on the flood (the 2 vCPUs
// are shared with the generator and the forwarder); everything else (ARP,
// ICMP) goes to the stack. The veth still counts every frame it received.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>

#define SEC(name) __attribute__((section(name), used))

SEC("xdp")
int sink_drop(struct xdp_md* ctx) {
  const void* data = (const void*)(long)ctx->data;
  const void* end = (const void*)(long)ctx->data_end;
  const struct ethhdr* eth = data;
  if ((const void*)(eth + 1) > end) return XDP_PASS;
  if (eth->h_proto != __builtin_bswap16(ETH_P_IP)) return XDP_PASS;
  const struct iphdr* ip = (const void*)(eth + 1);
  if ((const void*)(ip + 1) > end) return XDP_PASS;
  return ip->protocol == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
