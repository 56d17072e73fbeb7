// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * synwarden outbound stamp: tc egress and ingress programs on a protected host (both agent
 * modes, any kernel with tc BPF). docs/outbound-stamp.md explains the scheme.
 *
 * Egress: every SYN the host sends (SYN without ACK) that carries a timestamp gets, in place of
 * its TSval, the largest value not above it whose low SW_OUTBOUND_STAMP_BITS bits are the MAC of
 * the connection (sw_outbound_mac()). The connection, its ISN and the real TSval are remembered
 * in sw_stamp_syns.
 * Ingress: a SYN-ACK of a remembered connection whose ACK number and TSecr match the stamp gets
 * the real TSval of the connection's first SYN back as TSecr, so the kernel's SYN-SENT check
 * (TSecr between the first SYN's timestamp and now) and RTT sample see what they would have
 * without the stamp.
 *
 * Neither program ever drops or redirects: anything unexpected is left as it is (TC_ACT_UNSPEC,
 * later tc filters still run) and counted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../common/sw_siphash.bpf.h"
#include "stamp_shared.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The key, written once by the agent before it attaches the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_stamp_key);
} sw_stamp_key SEC(".maps");

/* SYNs in flight. Only the host's own SYNs insert here, so nobody outside can churn it; LRU
 * ages out connections that were answered long ago. The agent sizes it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_stamp_conn);
	__type(value, struct sw_stamp_syn);
} sw_stamp_syns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_SC_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sw_stamp_counters SEC(".maps");

#define SW_TH_SYN 0x02
#define SW_TH_RST 0x04
#define SW_TH_ACK 0x10
#define SW_OPT_EOL 0
#define SW_OPT_NOP 1
#define SW_OPT_TS 8
#define SW_OPT_TS_LEN 10
#define SW_MAX_OPTLEN 40

static __always_inline void sw_stamp_count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&sw_stamp_counters, &which);

	if (c)
		*c += 1;
}

/* A TCP segment's fields the programs need. */
struct sw_seg {
	struct sw_stamp_conn conn;
	__u32 seq;     /* host order */
	__u32 ack;     /* host order */
	__u32 l4_off;  /* TCP header offset from skb->data */
	__u32 opt_len; /* 0..40 */
	__u8 flags;
};

/* Ethernet + IPv4 (no fragment) or IPv6 (TCP next) + TCP. `egress`: the host is the source.
 * Returns 0 for a parsed segment, 1 for "not ours", -1 for unreadable. */
static __always_inline int sw_stamp_parse(struct __sk_buff *skb, struct sw_seg *g, int egress)
{
	__u32 need = sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr);

	if (skb->len < sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))
		return 1;
	if (need > skb->len)
		need = skb->len;
	if ((__u32)(skb->data_end - skb->data) < need && bpf_skb_pull_data(skb, need))
		return -1;

	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 l4_off;
	__u32 *src = egress ? g->conn.host : g->conn.remote;
	__u32 *dst = egress ? g->conn.remote : g->conn.host;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return -1;
		if (iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return 1;
		l4_off = sizeof(*eth) + iph->ihl * 4;
		src[0] = iph->saddr;
		dst[0] = iph->daddr;
		g->conn.v6 = 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (ip6->nexthdr != IPPROTO_TCP)
			return 1;
		l4_off = sizeof(*eth) + sizeof(*ip6);
		__builtin_memcpy(src, &ip6->saddr, 16);
		__builtin_memcpy(dst, &ip6->daddr, 16);
		g->conn.v6 = 1;
	} else {
		return 1;
	}
	if (l4_off > 80)
		return -1;
	struct tcphdr *th = data + l4_off;
	if ((void *)(th + 1) > data_end)
		return -1;
	g->flags = ((__u8 *)th)[13];
	if (egress) {
		g->conn.host_port = th->source;
		g->conn.remote_port = th->dest;
	} else {
		g->conn.host_port = th->dest;
		g->conn.remote_port = th->source;
	}
	g->seq = bpf_ntohl(th->seq);
	g->ack = bpf_ntohl(th->ack_seq);
	g->l4_off = l4_off;
	g->opt_len = th->doff > 5 ? th->doff * 4 - sizeof(*th) : 0;
	return 0;
}

/* Offset of the timestamp option's body (TSval) from the TCP header, or 0 if there is none,
 * -1 if the options cannot be read. tcp_parse_options() rules: EOL ends, NOP is one byte, a
 * length < 2 or past the end stops. A global function: the verifier checks the loop once. */
__noinline int sw_stamp_ts_offset(struct __sk_buff *skb, __u32 l4_off, __u32 opt_len)
{
	__u8 buf[64] = {};
	__u32 i = 0, len;
	int n;

	if (!skb)
		return -1;
	if (opt_len == 0)
		return 0;
	if (opt_len > SW_MAX_OPTLEN)
		return -1;
	/* 1..64 by construction (the same value for 1..40): older verifiers (Debian's 6.1) do not
	 * learn "not zero" from the test above, and the helper refuses a size that may be 0. */
	len = ((opt_len - 1) & 63) + 1;
	if (bpf_skb_load_bytes(skb, l4_off + 20, buf, len))
		return -1;
	for (n = 0; n < SW_MAX_OPTLEN; n++) {
		__u8 kind;

		if (i >= opt_len || i >= SW_MAX_OPTLEN - 1)
			break;
		kind = buf[i & 63];
		if (kind == SW_OPT_EOL)
			break;
		if (kind == SW_OPT_NOP) {
			i++;
			continue;
		}
		__u8 size = buf[(i + 1) & 63];
		if (size < 2 || i + size > opt_len)
			break;
		if (kind == SW_OPT_TS && size == SW_OPT_TS_LEN)
			return (int)(20 + i + 2);
		i += size;
	}
	return 0;
}

static __always_inline int sw_load_be32(struct __sk_buff *skb, __u32 off, __u32 *out)
{
	__be32 v;

	if (bpf_skb_load_bytes(skb, off, &v, sizeof(v)))
		return -1;
	*out = bpf_ntohl(v);
	return 0;
}

/* Replaces the 4 bytes at `off` (inside the TCP header) and fixes the TCP checksum. */
static __always_inline int sw_rewrite_be32(struct __sk_buff *skb, __u32 l4_off, __u32 off,
					   __u32 old_host, __u32 new_host)
{
	__be32 from = bpf_htonl(old_host), to = bpf_htonl(new_host);

	if (bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0))
		return -1;
	return (int)bpf_l4_csum_replace(skb, l4_off + 16, from, to, sizeof(to));
}

SEC("tc")
int sw_stamp_egress(struct __sk_buff *skb)
{
	struct sw_seg g = {};
	const __u32 zero = 0;
	int r = sw_stamp_parse(skb, &g, 1);

	if (r > 0 || (r == 0 && (g.flags & (SW_TH_SYN | SW_TH_ACK | SW_TH_RST)) != SW_TH_SYN))
		return TC_ACT_UNSPEC;
	if (r < 0) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	sw_stamp_count(SW_SC_SYN);
	const struct sw_stamp_key *k = bpf_map_lookup_elem(&sw_stamp_key, &zero);
	if (!k || !(k->k0 | k->k1)) {
		sw_stamp_count(SW_SC_SYN_NO_KEY);
		return TC_ACT_UNSPEC;
	}
	int ts = sw_stamp_ts_offset(skb, g.l4_off, g.opt_len);
	if (ts < 0) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	if (ts == 0) {
		sw_stamp_count(SW_SC_SYN_NO_TIMESTAMP);
		return TC_ACT_UNSPEC;
	}
	__u32 at = g.l4_off + (__u32)ts;
	__u32 tsval;
	if (sw_load_be32(skb, at, &tsval)) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	__u32 mac = sw_outbound_mac(k->k0, k->k1, g.conn.host, g.conn.remote, g.conn.host_port,
				    g.conn.remote_port, g.seq, g.conn.v6);
	__u32 stamped = tsval - ((tsval - mac) & SW_OUTBOUND_STAMP_MASK);

	/* A retransmitted SYN keeps the ISN: keep the first SYN's real TSval, which is what the
	 * kernel's SYN-SENT check accepts whichever SYN the peer answers. */
	struct sw_stamp_syn rec = { .isn = g.seq, .tsval = tsval, .stamped = stamped };
	const struct sw_stamp_syn *old = bpf_map_lookup_elem(&sw_stamp_syns, &g.conn);
	if (old && old->isn == g.seq)
		rec.tsval = old->tsval;
	/* Remember first: a SYN-ACK may come back before this function returns on another CPU.
	 * If the map update fails the SYN leaves unstamped (nothing to restore then). */
	if (bpf_map_update_elem(&sw_stamp_syns, &g.conn, &rec, BPF_ANY))
		return TC_ACT_UNSPEC;
	if (stamped != tsval && sw_rewrite_be32(skb, g.l4_off, at, tsval, stamped)) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	sw_stamp_count(SW_SC_STAMPED);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int sw_stamp_ingress(struct __sk_buff *skb)
{
	struct sw_seg g = {};
	int r = sw_stamp_parse(skb, &g, 0);

	if (r > 0 || (r == 0 && (g.flags & (SW_TH_SYN | SW_TH_ACK | SW_TH_RST)) !=
					(SW_TH_SYN | SW_TH_ACK)))
		return TC_ACT_UNSPEC;
	if (r < 0) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	sw_stamp_count(SW_SC_SYNACK);
	const struct sw_stamp_syn *rec = bpf_map_lookup_elem(&sw_stamp_syns, &g.conn);
	if (!rec) {
		/* A SYN sent before the programs were attached, one the LRU aged out, or a
		 * spoofed SYN-ACK: the kernel judges it as without us. */
		sw_stamp_count(SW_SC_SYNACK_UNKNOWN);
		return TC_ACT_UNSPEC;
	}
	int ts = sw_stamp_ts_offset(skb, g.l4_off, g.opt_len);
	if (ts < 0) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	__u32 at = g.l4_off + (__u32)ts + 4;
	__u32 tsecr;
	if (ts == 0 || sw_load_be32(skb, at, &tsecr) || g.ack - 1 != rec->isn ||
	    (tsecr & SW_OUTBOUND_STAMP_MASK) != (rec->stamped & SW_OUTBOUND_STAMP_MASK)) {
		sw_stamp_count(SW_SC_SYNACK_MISMATCH);
		return TC_ACT_UNSPEC;
	}
	__u32 real = rec->tsval;
	if (tsecr != real && sw_rewrite_be32(skb, g.l4_off, at, tsecr, real)) {
		sw_stamp_count(SW_SC_UNREADABLE);
		return TC_ACT_UNSPEC;
	}
	sw_stamp_count(SW_SC_RESTORED);
	return TC_ACT_UNSPEC;
}
