/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The protected host's SYN-cookie arithmetic for the XDP datapath: SipHash-2-4, the IPv4/IPv6
 * cookie (make and check), ts_off in both kernel variants, the host clock model, and the SYN
 * option walk. Each function mirrors one of the C++ engine's (userspace/core: siphash.h,
 * cookie.h, tcp_timestamp.h, clock.cpp, synack_planner.cpp, codec_parse.cpp), which mirror the
 * kernel; the bpf tier (tests/bpf/xdp_cookie_exactness_test.cpp) holds them to bit equality.
 *
 * Verifier notes: no loop without a constant bound; the option walk runs in bpf_loop() (one
 * option per call, Linux >= 5.17) so its body is verified once; SipHash is straight-line code in
 * BPF-to-BPF subprograms so the three to five hashes of a frame share one copy.
 */
#ifndef SYNWARDEN_COOKIE_BPF_H
#define SYNWARDEN_COOKIE_BPF_H

#include "parse.bpf.h"
#include "../common/sw_siphash.bpf.h"

/* ---- SipHash-2-4: the one BPF copy (../common/sw_siphash.bpf.h), with this file's key type ---- */

#define swc_sip sws_sip
#define swc_sip_compress sws_compress
#define swc_sip_finish sws_finish
#define swc_words sws_words

static __always_inline void swc_sip_init(struct sws_sip *s, const struct sw_sip_key *k)
{
	sws_init(s, k->k0, k->k1);
}

/* ---- the frame as the cookie code sees it ---- */

/* Filled by the fast path once a TCP segment to a protected host is parsed. Addresses and ports
 * are raw network-order values (what the kernel hashes, (__force u32)); offsets from the start
 * of the frame. */
struct swc_frame {
	__u32 client[4]; /* SYN/ACK source; IPv4 in [0] */
	__u32 host[4];   /* destination: the protected host */
	__be16 client_port;
	__be16 host_port;
	__u16 l3_off;    /* 14, 18 or 22 (0..2 VLAN tags) */
	__u16 l4_off;
	__u16 l4_len;    /* TCP bytes per the IP length fields */
	__u16 tcp_hlen;  /* doff * 4, 20..60 */
	__u8 v6;
	__u8 ip_hlen_ok; /* IPv4: IHL*4; IPv6: 40 when no extension header precedes TCP, else 0 */
	__u8 monitor;    /* monitor mode (mode.bpf.h): decide, never write a SYN-ACK */
	__u8 pad[1];
};

/* The options of a segment, as the codec's parse_tcp_options() reports them (SynOptions). */
struct swc_opts {
	__u32 seq; /* the segment's sequence and acknowledgement numbers, host order */
	__u32 ack;
	__u32 tsval;
	__u32 tsecr;
	__u16 mss;
	__u8 has_mss;
	__u8 has_wscale;
	__u8 wscale;
	__u8 sack_perm;
	__u8 has_ts;
	__u8 bad; /* an option's length is < 2 or runs past the header: the codec's kBadTcpOption */
};

struct swc_plan {
	__u32 seq;
	__u32 ack;
	__u32 tsval;
	__u32 tsecr;
	__u16 window;
	__u16 mss;
	__u8 sack_perm;
	__u8 has_ts;
	__u8 has_wscale;
	__u8 wscale;
	__u8 ece;
	__u8 pad[3];
};

/* Fields of the SYN the plan reads besides its options (codec's ParsedFrame). */
struct swc_syn_bits {
	__u32 isn;
	__u8 ece_cwr;  /* both ECE and CWR set */
	__u8 ip_ecn;   /* ECN field of the IP header */
	__u8 tcp_res1; /* any reserved TCP bit */
	__u8 pad;
};

/* Per-CPU scratch: the frame's description, header copies, the SYN-ACK under construction.
 * Map memory rather than stack: the 512-byte stack limit covers the whole call chain (the 6.1
 * verifier counts global functions in it too). */
struct swc_scratch {
	struct swc_frame frame;
	struct swc_opts opts;
	struct swc_syn_bits syn;
	struct swc_plan plan;
	__u8 tcp[64]; /* the segment's TCP header, doff * 4 bytes */
	__u8 ip[64];  /* its IP header: IPv4 with options, or the fixed IPv6 header */
	__u8 hdr[128]; /* the SYN-ACK from the IP header on, padded with zeros */
	__u8 mac[16];  /* the SYN-ACK's two MAC addresses */
	/* The option walk's state. Kept in map memory on purpose: values loaded from a map are
	 * unknown to the verifier, so every bpf_loop() step looks alike and is verified once
	 * instead of once per possible offset (which exceeds the 1M-instruction budget). */
	struct swc_opts walk_opts;
	__u32 walk_pos;
	__u32 walk_hlen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct swc_scratch);
} sw_cookie_scratch SEC(".maps");

/* Hides a value's range from the compiler so the bounds checks that follow are not folded away
 * and reach the verifier (the ntohs_bounded() idea). */
static __always_inline __u32 swc_opaque(__u32 x)
{
	asm volatile("" : "+r"(x));
	return x;
}

/*
 * Bounds a length for a helper's size argument: both checks must reach the verifier on the
 * register itself. Written as one range test, clang turns them into "(x - lo) > (hi - lo)" on a
 * copy, which the 6.1 verifier cannot map back onto x (it then sees a possible zero size).
 */
#define SWC_BOUND(x, lo, hi, fail)                                                              \
	do {                                                                                     \
		if ((x) > (hi))                                                                  \
			fail;                                                                    \
		(x) = swc_opaque(x);                                                             \
		if ((x) < (lo))                                                                  \
			fail;                                                                    \
	} while (0)

/* ---- cookie (net/ipv4/syncookies.c, net/ipv6/syncookies.c) ---- */

/* cookie_hash(): IPv4 siphash_4u32(saddr, daddr, sport << 16 | dport, count); IPv6 siphash()
 * over {saddr, daddr, u32 count, __be16 sport, dport} (40 bytes). Truncated to u32. */
__noinline __u32 swc_cookie_hash(const struct swc_frame *f, const struct sw_sip_key *k,
				  __u32 count)
{
	struct swc_sip s;

	if (!f || !k)
		return 0;
	swc_sip_init(&s, k);
	if (!f->v6) {
		swc_sip_compress(&s, swc_words(f->client[0], f->host[0]));
		swc_sip_compress(&s, swc_words(((__u32)f->client_port << 16) | f->host_port, count));
		return (__u32)swc_sip_finish(&s, 16ULL << 56);
	}
	swc_sip_compress(&s, swc_words(f->client[0], f->client[1]));
	swc_sip_compress(&s, swc_words(f->client[2], f->client[3]));
	swc_sip_compress(&s, swc_words(f->host[0], f->host[1]));
	swc_sip_compress(&s, swc_words(f->host[2], f->host[3]));
	swc_sip_compress(&s, (__u64)count | ((__u64)f->client_port << 32) |
				     ((__u64)f->host_port << 48));
	return (__u32)swc_sip_finish(&s, 40ULL << 56);
}

#define SWC_COOKIE_BITS 24
#define SWC_COOKIE_MASK ((1U << SWC_COOKIE_BITS) - 1)

static __always_inline const struct sw_sip_key *swc_cookie_keys(const struct sw_cookie_keys *k,
							       const struct swc_frame *f)
{
	return f->v6 ? k->syncookie6 : k->syncookie;
}

/* secure_tcp_syn_cookie(). */
static __always_inline __u32 swc_make_cookie(const struct sw_cookie_keys *k,
					     const struct swc_frame *f, __u32 isn, __u32 count,
					     __u32 mss_index)
{
	const struct sw_sip_key *keys = swc_cookie_keys(k, f);
	return swc_cookie_hash(f, &keys[0], 0) + isn + (count << SWC_COOKIE_BITS) +
	       ((swc_cookie_hash(f, &keys[1], count) + mss_index) & SWC_COOKIE_MASK);
}

enum swc_check {
	SWC_VALID = 0,
	SWC_OUT_OF_WINDOW = 1,
	SWC_BAD_HASH = 2,
	SWC_OPTION_DISABLED = 3,
};

/* check_tcp_syn_cookie() with cookie = ack_seq - 1 and sseq = seq - 1 (host order). */
static __always_inline int swc_check_cookie(const struct sw_cookie_keys *k,
					    const struct swc_frame *f, __u32 seq, __u32 ack,
					    __u32 count)
{
	const struct sw_sip_key *keys = swc_cookie_keys(k, f);
	__u32 cookie = ack - 1;
	cookie -= swc_cookie_hash(f, &keys[0], 0) + (seq - 1);
	__u32 diff = (count - (cookie >> SWC_COOKIE_BITS)) & (0xffffffffU >> SWC_COOKIE_BITS);
	if (diff >= 2) /* MAX_SYNCOOKIE_AGE */
		return SWC_OUT_OF_WINDOW;
	__u32 data = (cookie - swc_cookie_hash(f, &keys[1], count - diff)) & SWC_COOKIE_MASK;
	return data < 4 ? SWC_VALID : SWC_BAD_HASH;
}

/* msstab[] walks of __cookie_v4_init_sequence() / __cookie_v6_init_sequence(): the largest
 * index whose value is <= mss, 0 below every entry. */
static __always_inline __u32 swc_mss_index(__u32 mss, int v6)
{
	if (v6)
		return mss >= 8940 ? 3 : mss >= 1440 ? 2 : mss >= 1420 ? 1 : 0;
	return mss >= 1460 ? 3 : mss >= 1440 ? 2 : mss >= 1300 ? 1 : 0;
}

/* ---- ts_off (net/core/secure_seq.c) ---- */

/* Per-connection (secure_tcp_seq_and_ts_off(), high half): siphash_3u32(host, client,
 * host_port << 16 | client_port) / IPv6 siphash over {host, client, __be16 host_port,
 * client_port}. Per-host (secure_tcp_ts_off(), low half): siphash_2u32(host, client) / IPv6
 * siphash over {host, client}. Zero unless net.ipv4.tcp_timestamps == 1. */
__noinline __u32 swc_ts_off(const struct sw_cookie_keys *k, const struct swc_frame *f)
{
	struct swc_sip s;

	if (!k || !f || k->tcp_timestamps != 1)
		return 0;
	swc_sip_init(&s, &k->ts_key);
	if (k->ts_mode == SW_TS_PER_HOST) {
		if (!f->v6) {
			swc_sip_compress(&s, swc_words(f->host[0], f->client[0]));
			return (__u32)swc_sip_finish(&s, 8ULL << 56);
		}
		swc_sip_compress(&s, swc_words(f->host[0], f->host[1]));
		swc_sip_compress(&s, swc_words(f->host[2], f->host[3]));
		swc_sip_compress(&s, swc_words(f->client[0], f->client[1]));
		swc_sip_compress(&s, swc_words(f->client[2], f->client[3]));
		return (__u32)swc_sip_finish(&s, 32ULL << 56);
	}
	if (!f->v6) {
		swc_sip_compress(&s, swc_words(f->host[0], f->client[0]));
		return (__u32)(swc_sip_finish(&s, (12ULL << 56) |
						      (((__u32)f->host_port << 16) | f->client_port)) >>
			       32);
	}
	swc_sip_compress(&s, swc_words(f->host[0], f->host[1]));
	swc_sip_compress(&s, swc_words(f->host[2], f->host[3]));
	swc_sip_compress(&s, swc_words(f->client[0], f->client[1]));
	swc_sip_compress(&s, swc_words(f->client[2], f->client[3]));
	return (__u32)(swc_sip_finish(&s, (36ULL << 56) | f->host_port |
					      ((__u64)f->client_port << 16)) >> 32);
}

/* ---- host clock (HostClock::at() in userspace/core/src/clock.cpp) ---- */

#define SWC_MAX_ELAPSED_MS (1LL << 40)

/* floor(a / b) for a possibly negative a, with unsigned divisions only (signed BPF division
 * needs cpu v4, Linux >= 6.6). */
static __always_inline __s64 swc_floor_div(__s64 a, __u64 b)
{
	if (a >= 0)
		return (__s64)((__u64)a / b);
	return -(__s64)(((__u64)(-a) + b - 1) / b);
}

static __always_inline __u64 swc_add_clamped(__u64 base, __s64 delta)
{
	if (delta >= 0) {
		__u64 d = (__u64)delta;
		return base > ~0ULL - d ? ~0ULL : base + d;
	}
	__u64 d = (__u64)(-(delta + 1)) + 1;
	return base < d ? 0 : base - d;
}

struct swc_reading {
	__u64 tcp_ms;       /* host TCP timestamp clock before ts_off, never ahead */
	__u32 cookie_count; /* tcp_cookie_time() biased backwards */
	__u32 pad;
};

/* The reading at firewall CLOCK_MONOTONIC `now_ms`, biased backwards by the margins. */
__noinline int swc_clock_at(const struct sw_host_clock *c, __u64 now_ms, struct swc_reading *out)
{
	if (!c || !out)
		return -1;
	__s64 e = (__s64)(now_ms - c->local_ms);
	if (e > SWC_MAX_ELAPSED_MS)
		e = SWC_MAX_ELAPSED_MS;
	if (e < -SWC_MAX_ELAPSED_MS)
		e = -SWC_MAX_ELAPSED_MS;
	__u64 magnitude = e < 0 ? (__u64)(-e) : (__u64)e;
	__s64 drift = (__s64)((magnitude * c->drift_ppm + 999999) / 1000000);
	__u64 hz = c->hz;
	if (hz == 0)
		return -1; /* the daemon never writes it (HostClock refuses it) */
	__s64 delta_ms = e - (__s64)c->count_margin_ms - drift;
	__u64 jiffies = swc_add_clamped(c->jiffies, swc_floor_div(delta_ms * (__s64)hz, 1000));
	out->cookie_count = (__u32)(jiffies / (60 * hz));
	out->tcp_ms = swc_add_clamped(c->mono_ms, e - (__s64)c->ts_margin_ms - drift);
	return 0;
}

/* ---- TCP options (tcp_parse_options(), as codec_parse.cpp's parse_tcp_options()) ---- */

#define SWC_OPT_EOL 0
#define SWC_OPT_NOP 1
#define SWC_OPT_MSS 2
#define SWC_OPT_WINDOW 3
#define SWC_OPT_SACK_PERM 4
#define SWC_OPT_TIMESTAMP 8

static __always_inline __u32 swc_be32_at(const __u8 *b, __u32 i)
{
	return ((__u32)b[i & 63] << 24) | ((__u32)b[(i + 1) & 63] << 16) |
	       ((__u32)b[(i + 2) & 63] << 8) | b[(i + 3) & 63];
}

/* One option per call: NOP skips a byte, EOL ends the list, known options count only at their
 * exact length, unknown ones are skipped by length, later duplicates win. */
static long swc_opt_step(__u32 index, void *ctx)
{
	const __u32 zero = 0;
	struct swc_scratch *sc = bpf_map_lookup_elem(&sw_cookie_scratch, &zero);
	if (!sc)
		return 1;
	__u32 pos = sc->walk_pos;
	__u32 hlen = sc->walk_hlen;
	if (pos >= hlen || hlen > 60)
		return 1;
	const __u8 *t = sc->tcp;
	__u8 kind = t[pos & 63];
	if (kind == SWC_OPT_EOL)
		return 1;
	if (kind == SWC_OPT_NOP) {
		sc->walk_pos = pos + 1;
		return 0;
	}
	__u32 remaining = hlen - pos;
	__u32 size = remaining >= 2 ? t[(pos + 1) & 63] : 0;
	if (size < 2 || size > remaining) {
		sc->walk_opts.bad = 1;
		return 1;
	}
	__u32 body = pos + 2;
	struct swc_opts *o = &sc->walk_opts;
	if (kind == SWC_OPT_MSS && size == 4) {
		__u16 mss = ((__u16)t[body & 63] << 8) | t[(body + 1) & 63];
		if (mss) { /* tcp_parse_options(): "if (in_mss)" */
			o->has_mss = 1;
			o->mss = mss;
		}
	} else if (kind == SWC_OPT_WINDOW && size == 3) {
		o->has_wscale = 1;
		o->wscale = t[body & 63];
	} else if (kind == SWC_OPT_SACK_PERM && size == 2) {
		o->sack_perm = 1;
	} else if (kind == SWC_OPT_TIMESTAMP && size == 10) {
		o->has_ts = 1;
		o->tsval = swc_be32_at(t, body);
		o->tsecr = swc_be32_at(t, body + 4);
	}
	sc->walk_pos = pos + size;
	return 0;
}

/* Loads the TCP header of `f` into sc->tcp and parses its options into `o` (zeroed first).
 * Returns -1 if the header could not be loaded. */
__noinline int swc_load_and_parse(struct xdp_md *ctx, const struct swc_frame *f,
					 struct swc_scratch *sc, struct swc_opts *o)
{
	if (!f || !sc || !o)
		return -1;
	__builtin_memset(o, 0, sizeof(*o));
	__u32 hlen = swc_opaque(f->tcp_hlen);
	SWC_BOUND(hlen, 20, 60, return -1);
	if (bpf_xdp_load_bytes(ctx, f->l4_off, sc->tcp, hlen))
		return -1;
	o->seq = swc_be32_at(sc->tcp, 4);
	o->ack = swc_be32_at(sc->tcp, 8);
	if (hlen == 20)
		return 0;
	const __u8 *t = sc->tcp;
	/* The layouts Linux clients send (tcp_options_write()): a SYN's MSS, SACK_PERM+TS, NOP+WS
	 * and an ACK's NOP NOP TS. Same result as the walk, without it. */
	if (hlen == 40 && swc_be32_at(t, 20) >> 16 == 0x0204 &&
	    swc_be32_at(t, 24) == 0x0402080a && swc_be32_at(t, 36) >> 8 == 0x010303) {
		__u16 mss = (__u16)swc_be32_at(t, 20);
		o->has_mss = mss != 0;
		o->mss = mss;
		o->sack_perm = 1;
		o->has_ts = 1;
		o->tsval = swc_be32_at(t, 28);
		o->tsecr = swc_be32_at(t, 32);
		o->has_wscale = 1;
		o->wscale = t[39];
		return 0;
	}
	if (hlen == 32 && swc_be32_at(t, 20) == 0x0101080a) {
		o->has_ts = 1;
		o->tsval = swc_be32_at(t, 24);
		o->tsecr = swc_be32_at(t, 28);
		return 0;
	}
	sc->walk_opts = *o;
	sc->walk_pos = 20;
	sc->walk_hlen = hlen;
	/* Every step consumes at least one of the <= 40 option bytes. */
	bpf_loop(40, swc_opt_step, NULL, 0);
	*o = sc->walk_opts;
	return 0;
}

#endif /* SYNWARDEN_COOKIE_BPF_H */
