/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded cursor parsing for the fast path (the xdp-tools parsing_helpers.h idea, written for
 * what synwarden needs). Every read is preceded by a bounds check against data_end the verifier
 * can see, every loop has a compile-time bound, and each layer's result says whether the frame
 * is usable, so the caller decides per layer what an error means (an unreadable IPv4 header is
 * the stack's business; a bad TCP header to a protected host is dropped).
 */
#ifndef SYNWARDEN_PARSE_BPF_H
#define SYNWARDEN_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../synwarden_shared.h"

/* struct vlan_hdr is kernel-internal (include/linux/if_vlan.h); this is its wire layout. */
struct sw_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* IPv6 fragment header (RFC 8200 4.5); struct frag_hdr is kernel-internal. */
struct sw_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 identification;
};

#define SW_VLAN_VID_MASK 0x0fff
#define SW_IP_MF 0x2000
#define SW_IP_OFFSET 0x1fff
#define SW_IPV6_FRAG_OFFSET 0xfff8
#define SW_IPV6_FRAG_MORE 0x0001
#define SW_IPPROTO_NONE6 59 /* IPv6 "no next header" */

/*
 * bpf_ntohs() compiles to a BPF byte swap, whose result the verifier of Linux 6.1 (Debian 12)
 * treats as unbounded, so "packet pointer + length" is then refused; later kernels track the
 * swap. The empty asm hides the value's range from the compiler, which would otherwise drop
 * the mask as redundant, and the mask gives the old verifier its 16-bit bound.
 */
static __always_inline __u32 ntohs_bounded(__be16 v)
{
	__u32 x = bpf_ntohs(v);
	asm volatile("" : "+r"(x));
	return x & 0xffff;
}

struct cursor {
	void *pos;
	void *end;
};

/* What the L3 walk found once a protected destination made it worth looking further. */
struct l3_info {
	void *l4;       /* first byte after the IP header chain */
	__u32 l4_len;   /* upper-layer bytes according to the IP length fields */
	__u8 proto;     /* upper-layer protocol number */
	__u8 fragment;  /* any IPv4/IPv6 fragment, first or not */
};

enum l3_result {
	L3_OK = 0,
	L3_MALFORMED,       /* lengths or version inconsistent, or frame shorter than they claim */
	L3_EXT_TOO_LONG,    /* more IPv6 extension headers than SW_MAX_IPV6_EXT_HEADERS */
};

/*
 * Ethernet plus up to SW_MAX_VLAN_TAGS 802.1Q/802.1ad tags. Returns the inner EtherType in
 * network order, or -1 when the frame ends inside these headers. VLAN ids go into the flow key,
 * outer first. A third tag is left in place and its TPID returned: not IP, so XDP_PASS.
 */
static __always_inline int parse_l2(struct cursor *c, struct sw_flow_key *key)
{
	struct ethhdr *eth = c->pos;
	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	__be16 proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < SW_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct sw_vlan_hdr *vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return -1;
		c->pos = vh + 1;
		__u16 vid = bpf_ntohs(vh->tci) & SW_VLAN_VID_MASK;
		if (i == 0)
			key->vlan_outer = vid;
		else
			key->vlan_inner = vid;
		proto = vh->encap_proto;
	}
	return proto;
}

/* The fixed IPv4 header, far enough to know the addresses. 0, or -1 if the frame ends first. */
static __always_inline int read_ipv4_addresses(struct cursor *c, struct sw_flow_key *key,
					       struct sw_host_key *hk)
{
	struct iphdr *iph = c->pos;
	if ((void *)(iph + 1) > c->end)
		return -1;
	key->family = SW_FAMILY_IPV4;
	key->saddr[0] = iph->saddr;
	key->daddr[0] = iph->daddr;
	hk->family = SW_FAMILY_IPV4;
	hk->addr[0] = iph->daddr;
	return 0;
}

static __always_inline int read_ipv6_addresses(struct cursor *c, struct sw_flow_key *key,
					       struct sw_host_key *hk)
{
	struct ipv6hdr *ip6h = c->pos;
	if ((void *)(ip6h + 1) > c->end)
		return -1;
	key->family = SW_FAMILY_IPV6;
	__builtin_memcpy(key->saddr, &ip6h->saddr, sizeof(key->saddr));
	__builtin_memcpy(key->daddr, &ip6h->daddr, sizeof(key->daddr));
	hk->family = SW_FAMILY_IPV6;
	__builtin_memcpy(hk->addr, &ip6h->daddr, sizeof(hk->addr));
	return 0;
}

/*
 * The rest of an IPv4 header whose fixed 20 bytes read_ipv4_addresses() saw. Mirrors the
 * checks of the kernel's ip_rcv_core(): version 4, IHL >= 5, total length covering the header
 * and not exceeding the frame (trailing Ethernet padding is allowed).
 */
static __always_inline enum l3_result parse_ipv4_rest(struct cursor *c, struct l3_info *out)
{
	struct iphdr *iph = c->pos;
	if ((void *)(iph + 1) > c->end)
		return L3_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return L3_MALFORMED;
	__u32 hdr_len = iph->ihl * 4;
	__u32 tot_len = ntohs_bounded(iph->tot_len);
	if (tot_len < hdr_len)
		return L3_MALFORMED;
	if ((void *)iph + tot_len > c->end)
		return L3_MALFORMED;
	out->l4 = (void *)iph + hdr_len;
	out->l4_len = tot_len - hdr_len;
	out->proto = iph->protocol;
	out->fragment = (iph->frag_off & bpf_htons(SW_IP_MF | SW_IP_OFFSET)) != 0;
	return L3_OK;
}

static __always_inline int ipv6_is_ext_header(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH ||
	       nexthdr == IPPROTO_FRAGMENT;
}

/*
 * The rest of an IPv6 packet: payload length against the frame, then the extension header
 * chain (hop-by-hop, routing, destination options, AH, fragment), at most
 * SW_MAX_IPV6_EXT_HEADERS of them, in the spirit of the kernel's ipv6_skip_exthdr(). A
 * fragment header with offset 0 and M clear is an atomic fragment (RFC 6946), i.e. not a
 * fragment. Behind a non-first fragment there is no further header to walk.
 */
static __always_inline enum l3_result parse_ipv6_rest(struct cursor *c, struct l3_info *out)
{
	struct ipv6hdr *ip6h = c->pos;
	if ((void *)(ip6h + 1) > c->end)
		return L3_MALFORMED;
	if (ip6h->version != 6)
		return L3_MALFORMED;
	__u32 remaining = ntohs_bounded(ip6h->payload_len);
	/* 0 means a jumbogram (hop-by-hop option), which cannot occur on Ethernet. */
	if (remaining == 0)
		return L3_MALFORMED;
	void *pos = ip6h + 1;
	if (pos + remaining > c->end)
		return L3_MALFORMED;
	__u8 nexthdr = ip6h->nexthdr;
	out->fragment = 0;

#pragma unroll
	for (int i = 0; i < SW_MAX_IPV6_EXT_HEADERS; i++) {
		if (!ipv6_is_ext_header(nexthdr))
			break;
		struct ipv6_opt_hdr *oh = pos;
		if ((void *)(oh + 1) > c->end)
			return L3_MALFORMED;
		__u32 len;
		if (nexthdr == IPPROTO_FRAGMENT) {
			struct sw_ipv6_frag_hdr *fh = pos;
			if ((void *)(fh + 1) > c->end)
				return L3_MALFORMED;
			len = sizeof(*fh);
			__u16 frag = bpf_ntohs(fh->frag_off);
			if (frag & (SW_IPV6_FRAG_OFFSET | SW_IPV6_FRAG_MORE))
				out->fragment = 1;
			if (frag & SW_IPV6_FRAG_OFFSET) {
				/* Non-first fragment: what follows is payload, not headers. */
				if (len > remaining)
					return L3_MALFORMED;
				out->l4 = pos + len;
				out->l4_len = remaining - len;
				out->proto = fh->nexthdr;
				return L3_OK;
			}
		} else if (nexthdr == IPPROTO_AH) {
			len = ((__u32)oh->hdrlen + 2) * 4; /* RFC 4302: 4-octet units, minus 2 */
		} else {
			len = ((__u32)oh->hdrlen + 1) * 8; /* RFC 8200: 8-octet units, minus 1 */
		}
		if (len > remaining)
			return L3_MALFORMED;
		nexthdr = oh->nexthdr;
		pos += len;
		remaining -= len;
	}
	if (ipv6_is_ext_header(nexthdr))
		return L3_EXT_TOO_LONG;
	out->l4 = pos;
	out->l4_len = remaining;
	out->proto = nexthdr;
	return L3_OK;
}

/*
 * The TCP header at l3->l4: present in the frame, data offset >= 5 and within the upper-layer
 * length (the kernel's tcp_v4_rcv()/tcp_v6_rcv() checks, minus the checksum which the host
 * verifies). Returns the header or NULL when malformed.
 */
static __always_inline struct tcphdr *parse_tcp(struct cursor *c, const struct l3_info *l3)
{
	struct tcphdr *th = l3->l4;
	if ((void *)(th + 1) > c->end)
		return NULL;
	if (l3->l4_len < sizeof(*th))
		return NULL;
	__u32 doff = th->doff;
	if (doff < 5 || doff * 4 > l3->l4_len)
		return NULL;
	return th;
}

#endif /* SYNWARDEN_PARSE_BPF_H */
