/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SipHash-2-4 as the kernel computes it (lib/siphash.c), for BPF programs, and the outbound SYN
 * stamp's MAC built on it (userspace/core/include/synwarden/outbound_stamp.h is the reference;
 * docs/outbound-stamp.md explains the scheme). Straight-line code, no loops: every verifier
 * since 5.x accepts it inline.
 */
#ifndef SYNWARDEN_SW_SIPHASH_BPF_H
#define SYNWARDEN_SW_SIPHASH_BPF_H

#include <linux/types.h>

struct sws_sip {
	__u64 v0, v1, v2, v3;
};

#define SWS_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static __always_inline void sws_round(struct sws_sip *s)
{
	s->v0 += s->v1;
	s->v1 = SWS_ROTL64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = SWS_ROTL64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = SWS_ROTL64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = SWS_ROTL64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = SWS_ROTL64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = SWS_ROTL64(s->v2, 32);
}

/* k0 = key bytes 0..7 read little-endian, k1 = bytes 8..15 (siphash_key_t). */
static __always_inline void sws_init(struct sws_sip *s, __u64 k0, __u64 k1)
{
	s->v0 = 0x736f6d6570736575ULL ^ k0;
	s->v1 = 0x646f72616e646f6dULL ^ k1;
	s->v2 = 0x6c7967656e657261ULL ^ k0;
	s->v3 = 0x7465646279746573ULL ^ k1;
}

static __always_inline void sws_compress(struct sws_sip *s, __u64 m)
{
	s->v3 ^= m;
	sws_round(s);
	sws_round(s);
	s->v0 ^= m;
}

/* b = (total length << 56) | trailing bytes. */
static __always_inline __u64 sws_finish(struct sws_sip *s, __u64 b)
{
	sws_compress(s, b);
	s->v2 ^= 0xff;
	sws_round(s);
	sws_round(s);
	sws_round(s);
	sws_round(s);
	return (s->v0 ^ s->v1) ^ (s->v2 ^ s->v3);
}

static __always_inline __u64 sws_words(__u32 lo, __u32 hi)
{
	return ((__u64)hi << 32) | lo;
}

#define SW_OUTBOUND_STAMP_BITS 14
#define SW_OUTBOUND_STAMP_MASK ((1U << SW_OUTBOUND_STAMP_BITS) - 1)

/*
 * The stamp's MAC for a connection the protected host opened: SipHash over
 *   IPv4 {u32 host, u32 remote, u32 isn, __be16 host_port, __be16 remote_port}   (16 bytes)
 *   IPv6 {in6 host, in6 remote, u32 isn, __be16 host_port, __be16 remote_port}   (40 bytes)
 * Addresses and ports are raw network-order values as read from the headers, isn in host order.
 */
static __always_inline __u32 sw_outbound_mac(__u64 k0, __u64 k1, const __u32 *host,
					     const __u32 *remote, __u16 host_port,
					     __u16 remote_port, __u32 isn, int v6)
{
	struct sws_sip s;
	__u64 tail = (__u64)isn | ((__u64)host_port << 32) | ((__u64)remote_port << 48);

	sws_init(&s, k0, k1);
	if (!v6) {
		sws_compress(&s, sws_words(host[0], remote[0]));
		sws_compress(&s, tail);
		return (__u32)sws_finish(&s, 16ULL << 56) & SW_OUTBOUND_STAMP_MASK;
	}
	sws_compress(&s, sws_words(host[0], host[1]));
	sws_compress(&s, sws_words(host[2], host[3]));
	sws_compress(&s, sws_words(remote[0], remote[1]));
	sws_compress(&s, sws_words(remote[2], remote[3]));
	sws_compress(&s, tail);
	return (__u32)sws_finish(&s, 40ULL << 56) & SW_OUTBOUND_STAMP_MASK;
}

#endif /* SYNWARDEN_SW_SIPHASH_BPF_H */
