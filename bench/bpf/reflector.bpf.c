// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline (d): the cheapest possible SYN answerer on the firewall's NIC, i.e. the
 * ceiling of the topology. Every untagged IPv4/IPv6 TCP SYN (no ACK) is turned around in place
 * with XDP_TX: MACs, addresses and ports swapped, flags set to SYN+ACK and the ACK number set to
 * the SYN's sequence + 1, so the frame is a well-formed SYN-ACK the attacker side can count.
 * No cookie, no options, no state. Everything else: XDP_PASS.
 *
 * The checksums stay valid without recomputing them over the packet: swapping fields inside the
 * pseudo-header and header does not change a one's-complement sum, and the two 16-bit words that
 * really change (the flags word, the two halves of the ACK number) are patched incrementally
 * (RFC 1624, eqn. 3), as the kernel's csum_replace2()/inet_proto_csum_replace4() do.
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

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), all in 16-bit one's complement. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new_word)
{
	__u32 sum = (__u16)~check;
	sum += (__u16)~old;
	sum += new_word;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void swap_bytes(__u8 *a, __u8 *b, int len)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (i >= len)
			break;
		__u8 t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* Turns the SYN at `tcp` into a SYN-ACK answering it; addresses were already swapped. */
static __always_inline void make_synack(struct tcphdr *tcp)
{
	__u16 *flag_word = (__u16 *)((__u8 *)tcp + 12);
	__u16 old_flags = *flag_word;
	tcp->ack = 1;
	tcp->check = csum_replace16(tcp->check, old_flags, *flag_word);

	__u32 old_ack = tcp->ack_seq;
	__u32 new_ack = bpf_htonl(bpf_ntohl(tcp->seq) + 1);
	tcp->ack_seq = new_ack;
	tcp->check = csum_replace16(tcp->check, (__u16)old_ack, (__u16)new_ack);
	tcp->check = csum_replace16(tcp->check, (__u16)(old_ack >> 16), (__u16)(new_ack >> 16));

	__u16 t = tcp->source;
	tcp->source = tcp->dest;
	tcp->dest = t;
}

SEC("xdp")
int bench_reflector(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		tcp = (void *)(ip + 1);
		if ((void *)(tcp + 1) > end || !tcp->syn || tcp->ack)
			return XDP_PASS;
		__u32 t = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = t;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return XDP_PASS;
		tcp = (void *)(ip6 + 1);
		if ((void *)(tcp + 1) > end || !tcp->syn || tcp->ack)
			return XDP_PASS;
		swap_bytes((__u8 *)&ip6->saddr, (__u8 *)&ip6->daddr, 16);
	} else {
		return XDP_PASS;
	}
	make_synack(tcp);
	swap_bytes(eth->h_source, eth->h_dest, ETH_ALEN);
	return XDP_TX;
}
