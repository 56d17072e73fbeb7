// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark meter on the bridge-side peer of the firewall's veth: everything the firewall (or,
 * in the baseline runs, the kernel answering in its namespace) sends onto the segment passes
 * here first. Counts TCP SYN-ACKs per CPU and drops those addressed to the sink MAC (the
 * attacker's), so answering the flood costs the generator's core nothing beyond this count: the
 * bridge and the attacker's stack never see them. All other frames, including the legitimate
 * client's SYN-ACKs, go on with XDP_PASS.
 *
 * The peer needs an XDP program anyway: veth only kicks its NAPI to drain frames the firewall
 * sent with XDP_TX when it has one (see tests/integration/xdp_pass.bpf.c), so this replaces that
 * XDP_PASS program one for one.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum sink_counter {
	SINK_SYNACK_DROPPED = 0, /* SYN-ACKs to the sink MAC: the flood's answers */
	SINK_SYNACK_PASSED = 1,  /* SYN-ACKs to anyone else (the legitimate client) */
	SINK_OTHER = 2,          /* every other frame */
	SINK_COUNTERS = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} sink_counters SEC(".maps");

/* Key 0: bytes 0-5 the MAC whose SYN-ACKs are dropped, byte 6 non-zero once that is set. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_mac SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&sink_counters, &which);
	if (c)
		*c += 1;
}

static __always_inline int is_synack(void *l4, void *end)
{
	struct tcphdr *tcp = l4;
	return (void *)(tcp + 1) <= end && tcp->syn && tcp->ack;
}

static __always_inline int same_mac(const __u8 *a, const __u8 *b)
{
	__u8 diff = 0;
#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

SEC("xdp")
int bench_synack_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int synack = 0;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) <= end && ip->protocol == IPPROTO_TCP)
			synack = is_synack((__u8 *)ip + ip->ihl * 4, end);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) <= end && ip6->nexthdr == IPPROTO_TCP)
			synack = is_synack(ip6 + 1, end);
	}
	if (!synack) {
		count(SINK_OTHER);
		return XDP_PASS;
	}
	__u32 zero = 0;
	__u8 *mac = bpf_map_lookup_elem(&sink_mac, &zero);
	if (mac && mac[6] && same_mac(mac, eth->h_dest)) {
		count(SINK_SYNACK_DROPPED);
		return XDP_DROP;
	}
	count(SINK_SYNACK_PASSED);
	return XDP_PASS;
}
