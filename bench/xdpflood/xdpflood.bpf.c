// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpflood's frame randomiser, run by BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES, Linux >= 5.18): the kernel feeds this program copies of one
 * template frame in page-pool pages, and every frame it redirects is transmitted for real out
 * of `out_ifindex` with ndo_xdp_xmit, in batches, without an skb. That is how a NIC's RX ring
 * hands frames to the firewall, and it is several times cheaper per frame than an AF_PACKET
 * send, which is what lets one generator core outrun one firewall core.
 *
 * The kernel recycles those pages without restoring their bytes, and whoever received a frame
 * may have rewritten it in place (an XDP_TX reflector turns it into a SYN-ACK), so every run
 * first copies the whole template frame back over the page, then randomises the source
 * address, port and sequence number and patches the template's checksums incrementally
 * (RFC 1624 eqn. 3, as csum_replace4() in the kernel).
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_FRAME 128 /* two VLAN tags + IPv6 + TCP with 40 bytes of options = 122 */

/* Set by xdpflood before loading (frozen .rodata: the verifier sees constants). */
const volatile __u64 frame_template[MAX_FRAME / 8] = {};
const volatile __u32 frame_len = 0;    /* bytes of template in use; the test-run frame length */
const volatile __u32 out_ifindex = 0;
const volatile __u32 l3_off = 14;     /* IP header offset (after any VLAN tags) */
const volatile __u32 l4_off = 34;     /* TCP header offset */
const volatile __u8 is_ipv6 = 0;
const volatile __u8 ack_mode = 0;     /* also randomise the ACK number (wrong-cookie ACKs) */
/* Source prefix as 4 network-order words: fixed bits from src_base where src_keep is set. */
const volatile __u32 src_base[4] = {};
const volatile __u32 src_keep[4] = {};

/* Frames handed to the redirect, per CPU: what the generator offered. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpflood_sent SEC(".maps");

/* Longest header stack the offsets may describe: two VLAN tags, IPv6, TCP. */
#define MAX_L4_OFF (14 + 8 + 40)

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* HC' = ~(~HC + ~m + m') for one 32-bit field, both halves at once. */
static __always_inline void csum_replace4(__u16 *check, __u32 old, __u32 new_val)
{
	__u32 sum = (__u16)~*check;
	sum += (__u16)~(old & 0xffff) + (__u16)~(old >> 16);
	sum += (new_val & 0xffff) + (new_val >> 16);
	*check = (__u16)~csum_fold32(sum);
}

static __always_inline __u32 random_word(int i)
{
	__u32 r = bpf_get_prandom_u32();
	return (src_base[i] & src_keep[i]) | (r & ~src_keep[i]);
}

SEC("xdp")
int xdpflood_randomise(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 l3 = l3_off, l4 = l4_off;

	if (l4 > MAX_L4_OFF || l3 > l4)
		return XDP_ABORTED;
	/* Restore the template: whole 8-byte words, then the tail bytewise. */
	__u32 len = frame_len;
	__u64 *words = data;
#pragma unroll
	for (int i = 0; i < MAX_FRAME / 8; i++) {
		if ((__u32)(i + 1) * 8 > len)
			break;
		if ((void *)(words + i + 1) > end)
			return XDP_ABORTED;
		words[i] = frame_template[i];
	}
	__u8 *bytes = data;
	const volatile __u8 *tbytes = (const volatile __u8 *)frame_template;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		__u32 j = (len & ~7u) + i;
		if (j >= len || j >= MAX_FRAME)
			break;
		if ((void *)(bytes + j + 1) > end)
			return XDP_ABORTED;
		bytes[j] = tbytes[j];
	}
	__u8 *tcp = data + l4;
	if ((void *)(tcp + 20) > end)
		return XDP_ABORTED;
	__u16 *tcp_check = (__u16 *)(tcp + 16);

	if (is_ipv6) {
		__u32 *saddr = data + l3 + 8;
		if ((void *)(saddr + 4) > end)
			return XDP_ABORTED;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			__u32 old = saddr[i], new_val = random_word(i);
			saddr[i] = new_val;
			csum_replace4(tcp_check, old, new_val);
		}
	} else {
		__u8 *ip = data + l3;
		if ((void *)(ip + 20) > end)
			return XDP_ABORTED;
		__u32 *saddr = (__u32 *)(ip + 12);
		__u32 old = *saddr, new_val = random_word(0);
		*saddr = new_val;
		csum_replace4((__u16 *)(ip + 10), old, new_val);
		csum_replace4(tcp_check, old, new_val); /* the pseudo-header carries it too */
	}

	/* Source port in 1024..65535 and the sequence number, like synflood. */
	__u32 r = bpf_get_prandom_u32();
	__u16 *sport = (__u16 *)tcp;
	__u16 old_port = *sport;
	__u16 new_port = bpf_htons((__u16)(1024 + r % 64512));
	*sport = new_port;
	csum_replace4(tcp_check, old_port, new_port);

	__u32 *seq = (__u32 *)(tcp + 4);
	__u32 old_seq = *seq, new_seq = bpf_get_prandom_u32();
	*seq = new_seq;
	csum_replace4(tcp_check, old_seq, new_seq);
	if (ack_mode) {
		__u32 *ack = (__u32 *)(tcp + 8);
		__u32 old_ack = *ack, new_ack = bpf_get_prandom_u32();
		*ack = new_ack;
		csum_replace4(tcp_check, old_ack, new_ack);
	}

	__u32 zero = 0;
	__u64 *sent = bpf_map_lookup_elem(&xdpflood_sent, &zero);
	if (sent)
		*sent += 1;
	return bpf_redirect(out_ifindex, 0);
}
