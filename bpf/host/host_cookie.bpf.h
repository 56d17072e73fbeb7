/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SipHash-2-4 and the Linux SYN-cookie formulas for the host's tc program. These must agree bit
 * for bit with the firewall's engine (userspace/core/include/synwarden/{siphash,cookie,
 * tcp_timestamp}.h), which mirrors the kernel: the firewall mints cookies with the agent's keys
 * exactly as a Linux host would with its own, so it needs no special case for BPF-mode hosts.
 * The bpf-tier test (tests/integration/agent_bpf_cookie_test.cpp) checks that agreement.
 *
 * Addresses and ports are raw network-order values (the header bytes loaded as native
 * integers), which is what the kernel hashes with (__force u32).
 */
#ifndef SYNWARDEN_HOST_COOKIE_BPF_H
#define SYNWARDEN_HOST_COOKIE_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "../common/sw_siphash.bpf.h"
#include "host_shared.h"

/* SipHash-2-4: the one BPF copy (../common/sw_siphash.bpf.h), with this file's key type. */
#define sw_sip sws_sip
#define sw_sip_compress sws_compress
#define sw_sip_finish sws_finish
#define sw_words sws_words

static __always_inline void sw_sip_init(struct sws_sip *s, const struct sw_sipkey *k)
{
	sws_init(s, k->k0, k->k1);
}

/* A connection as the cookie sees it; addresses hold 1 (IPv4) or 4 (IPv6) words. */
struct sw_conn {
	__u32 client[4];
	__u32 host[4];
	__u16 client_port; /* raw __be16 */
	__u16 host_port;   /* raw __be16 */
	__u8 ipv6;
};

/* cookie_hash(): IPv4 siphash_4u32(saddr, daddr, sport << 16 | dport, count); IPv6 siphash()
 * over {saddr, daddr, u32 count, __be16 sport, dport} (40 bytes). Truncated to u32. */
/* Out of line (a BPF-to-BPF call): it is needed four times per ACK path and inlining each copy
 * would multiply the program's size for no measurable gain. */
static __noinline __u32 sw_cookie_hash(const struct sw_conn *c, const struct sw_sipkey *k,
					    __u32 count)
{
	struct sw_sip s;

	sw_sip_init(&s, k);
	if (!c->ipv6) {
		sw_sip_compress(&s, sw_words(c->client[0], c->host[0]));
		sw_sip_compress(&s, sw_words(((__u32)c->client_port << 16) | c->host_port, count));
		return (__u32)sw_sip_finish(&s, 16ULL << 56);
	}
	sw_sip_compress(&s, sw_words(c->client[0], c->client[1]));
	sw_sip_compress(&s, sw_words(c->client[2], c->client[3]));
	sw_sip_compress(&s, sw_words(c->host[0], c->host[1]));
	sw_sip_compress(&s, sw_words(c->host[2], c->host[3]));
	sw_sip_compress(&s, (__u64)count | ((__u64)c->client_port << 32) |
				    ((__u64)c->host_port << 48));
	return (__u32)sw_sip_finish(&s, 40ULL << 56);
}

#define SW_COOKIE_BITS 24
#define SW_COOKIE_MASK ((1U << SW_COOKIE_BITS) - 1)
#define SW_MAX_SYNCOOKIE_AGE 2

/* check_tcp_syn_cookie(): the MSS index (0..3) the cookie carries, or -1. `cookie` is
 * ack_seq - 1 and `sseq` is seq - 1 of the ACK (host order). */
static __always_inline int sw_cookie_check(const struct sw_conn *c, const struct sw_sipkey keys[2],
					   __u32 cookie, __u32 sseq, __u32 count)
{
	__u32 diff, data;

	cookie -= sw_cookie_hash(c, &keys[0], 0) + sseq;
	diff = (count - (cookie >> SW_COOKIE_BITS)) & (0xffffffffU >> SW_COOKIE_BITS);
	if (diff >= SW_MAX_SYNCOOKIE_AGE)
		return -1;
	data = (cookie - sw_cookie_hash(c, &keys[1], count - diff)) & SW_COOKIE_MASK;
	return data < 4 ? (int)data : -1;
}

/* The per-connection timestamp offset (secure_tcp_seq_and_ts_off() /
 * secure_tcpv6_seq_and_ts_off(), the high half of the hash), keyed with the agent's ts key.
 * IPv4: siphash_3u32(host, client, host_port << 16 | client_port); IPv6: siphash() over
 * {host, client, __be16 host_port, __be16 client_port} (36 bytes). */
static __noinline __u32 sw_ts_off(const struct sw_conn *c, const struct sw_sipkey *k)
{
	struct sw_sip s;

	sw_sip_init(&s, k);
	if (!c->ipv6) {
		sw_sip_compress(&s, sw_words(c->host[0], c->client[0]));
		return (__u32)(sw_sip_finish(&s, (12ULL << 56) |
						     (((__u32)c->host_port << 16) | c->client_port)) >> 32);
	}
	sw_sip_compress(&s, sw_words(c->host[0], c->host[1]));
	sw_sip_compress(&s, sw_words(c->host[2], c->host[3]));
	sw_sip_compress(&s, sw_words(c->client[0], c->client[1]));
	sw_sip_compress(&s, sw_words(c->client[2], c->client[3]));
	return (__u32)(sw_sip_finish(&s, (36ULL << 56) | c->host_port |
					     ((__u64)c->client_port << 16)) >> 32);
}

/* TS_OPT_* in net/ipv4/syncookies.c: the SYN's options in the low 6 bits of the timestamp. */
#define SW_TS_OPT_WSCALE_MASK 0xf
#define SW_TS_OPT_SACK (1U << 4)
#define SW_TS_OPT_ECN (1U << 5)
#define SW_TS_OPT_BITS 0x3f

#endif /* SYNWARDEN_HOST_COOKIE_BPF_H */
