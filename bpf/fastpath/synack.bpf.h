/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cookie SYN-ACK in XDP: what the host's kernel would answer (the engine's plan_synack()
 * in userspace/core/src/synack_planner.cpp) and its bytes written over the SYN (the codec's
 * build_synack_in_place() in userspace/core/src/codec.cpp with the daemon's frame parameters:
 * TOS 0, TTL/hop limit 64, IPv6 flow label FlowLabelPolicy::kAuto, padding to 60 bytes).
 */
#ifndef SYNWARDEN_SYNACK_BPF_H
#define SYNWARDEN_SYNACK_BPF_H

#include "cookie.bpf.h"

#define SWC_TS_OPT_WSCALE_MASK 0xf
#define SWC_TS_OPT_SACK (1U << 4)
#define SWC_TS_OPT_ECN (1U << 5)

/* plan<Family>() of the engine: tcp_conn_request() with want_cookie, tcp_make_synack(). */
__noinline int swc_plan_synack(const struct sw_cookie_keys *k, const struct swc_frame *f,
				      const struct swc_opts *o, const struct swc_syn_bits *syn,
				      struct swc_plan *p)
{
	struct swc_reading clock;
	if (!k || !f || !o || !syn || !p)
		return -1;
	__u64 now_ms = bpf_ktime_get_ns() / 1000000;
	if (swc_clock_at(&k->clock, now_ms, &clock))
		return -1;

	__u32 mss_clamp = o->has_mss ? o->mss : (f->v6 ? 1220 : 536);
	int tstamp_ok = o->has_ts && k->tcp_timestamps;
	int sack_ok = tstamp_ok && o->sack_perm && k->tcp_sack;
	int wscale_ok = tstamp_ok && o->has_wscale && k->tcp_window_scaling;
	__u32 snd_wscale = wscale_ok ? (o->wscale < 14 ? o->wscale : 14) : 0;
	int ecn_setup = syn->ece_cwr && (syn->ip_ecn == 0 || syn->tcp_res1);
	int ecn_ok = ecn_setup && k->tcp_ecn && tstamp_ok;

	__builtin_memset(p, 0, sizeof(*p));
	p->seq = swc_make_cookie(k, f, syn->isn, clock.cookie_count,
				 swc_mss_index(mss_clamp, f->v6));
	p->ack = syn->isn + 1;
	p->mss = f->v6 ? k->mss6 : k->mss;
	p->window = k->window[(f->v6 ? 2 : 0) + (tstamp_ok ? 1 : 0)];
	p->sack_perm = sack_ok;
	p->has_wscale = wscale_ok;
	p->wscale = wscale_ok ? k->rcv_wscale : 0;
	p->has_ts = tstamp_ok;
	if (tstamp_ok) {
		/* cookie_init_timestamp() + ts_off, in 32 bits. */
		__u32 options = wscale_ok ? (snd_wscale & SWC_TS_OPT_WSCALE_MASK)
					  : SWC_TS_OPT_WSCALE_MASK;
		if (sack_ok)
			options |= SWC_TS_OPT_SACK;
		if (ecn_ok)
			options |= SWC_TS_OPT_ECN;
		__u64 ts = ((clock.tcp_ms >> 6) << 6) | options;
		if (ts > clock.tcp_ms)
			ts -= 64;
		p->tsval = (__u32)ts + swc_ts_off(k, f);
		p->tsecr = o->tsval;
	}
	p->ece = ecn_ok;
	return 0;
}

/* One's-complement fold of a 64-bit sum of raw words, as the codec's checksum_fold() before
 * its byte swap: the result's bytes in memory order. */
static __always_inline __u16 swc_fold(__u64 sum)
{
	__u32 lo = (__u32)sum;
	__u32 hi = (__u32)(sum >> 32);
	__u32 r = lo + hi;
	r += r < lo ? 1 : 0;
	r = (r & 0xffff) + (r >> 16);
	r = (r & 0xffff) + (r >> 16);
	return (__u16)r;
}

/* auto_flow_label() of the codec (a keyed mix of the SYN's 4-tuple). */
static __always_inline __u32 swc_flow_label(const struct swc_frame *f, __u32 seed)
{
	__u64 h = sw_mix64((__u64)seed ^ 0x9E3779B97F4A7C15ULL);
	h = sw_mix64(h ^ swc_words(f->client[0], f->client[1]) ^
		      (swc_words(f->client[2], f->client[3]) << 1));
	h = sw_mix64(h ^ swc_words(f->host[0], f->host[1]) ^
		      (swc_words(f->host[2], f->host[3]) << 1));
	h = sw_mix64(h ^ ((__u64)f->client_port << 16) ^ f->host_port);
	return (__u32)(h >> 44) & 0xfffff;
}

/* Stores host-order `v` big-endian as word `i` of the header buffer and adds the stored raw
 * word to `sum` (the codec's put32()). */
static __always_inline void swc_put32(__u32 *w, __u32 i, __u32 v, __u64 *sum)
{
	__u32 raw = bpf_htonl(v);
	w[i & 31] = raw;
	*sum += raw;
}

/*
 * Rewrites the SYN of `f` into the SYN-ACK of `p`: MACs swapped (source = the firewall's), VLAN
 * tags kept, a fresh 20-byte IPv4 (options dropped) or 40-byte IPv6 header, TCP header and
 * options in Linux's order, checksums, padding to 60 bytes, the frame resized with
 * bpf_xdp_adjust_tail(). 0, or -1 if the frame could not be resized or written.
 */
__noinline int swc_build_synack(struct xdp_md *ctx, const struct swc_frame *f,
				       struct swc_scratch *sc, const struct swc_plan *p,
				       const struct sw_settings *set)
{
	if (!f || !sc || !p || !set)
		return -1;
	__u32 ip_len = f->v6 ? 40 : 20;
	__u32 opt_len = (p->mss ? 4 : 0) + (p->has_ts ? 12 : (p->sack_perm ? 4 : 0)) +
			(p->has_wscale ? 4 : 0);
	__u32 tcp_len = 20 + opt_len;
	__u32 l3_off = swc_opaque(f->l3_off);
	if (l3_off > 22)
		return -1;
	__u32 total = l3_off + ip_len + tcp_len;
	__u32 out_len = total < 60 ? 60 : total;

	if (bpf_xdp_load_bytes(ctx, 0, sc->mac, 12))
		return -1;
	__builtin_memcpy(sc->mac, sc->mac + 6, 6);
	__builtin_memcpy(sc->mac + 6, set->fw_mac, 6);

	__u32 *w = (__u32 *)sc->hdr;
	__builtin_memset(sc->hdr, 0, sizeof(sc->hdr));
	__u64 tcp_sum = 0;
	__u32 t; /* word index of the TCP header */
	if (!f->v6) {
		__u64 ip_sum = 0;
		swc_put32(w, 0, (0x45U << 24) | (ip_len + tcp_len), &ip_sum);
		swc_put32(w, 1, 0x4000, &ip_sum); /* ID 0, DF */
		swc_put32(w, 2, (64U << 24) | ((__u32)IPPROTO_TCP << 16), &ip_sum);
		w[3] = f->host[0];
		w[4] = f->client[0];
		ip_sum += (__u64)f->client[0] + f->host[0];
		((__u16 *)sc->hdr)[5] = (__u16)~swc_fold(ip_sum);
		tcp_sum += (__u64)f->client[0] + f->host[0];
		tcp_sum += bpf_htonl(((__u32)IPPROTO_TCP << 16) | tcp_len);
		t = 5;
	} else {
		w[0] = bpf_htonl((6U << 28) | swc_flow_label(f, set->flow_label_seed));
		w[1] = bpf_htonl((tcp_len << 16) | ((__u32)IPPROTO_TCP << 8) | 64);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			w[2 + i] = f->host[i];
			w[6 + i] = f->client[i];
			tcp_sum += (__u64)f->client[i] + f->host[i];
		}
		tcp_sum += (__u64)bpf_htonl(tcp_len) + bpf_htonl(IPPROTO_TCP);
		t = 10;
	}
	w[t] = (__u32)f->host_port | ((__u32)f->client_port << 16);
	tcp_sum += (__u64)f->host_port + f->client_port;
	swc_put32(w, t + 1, p->seq, &tcp_sum);
	swc_put32(w, t + 2, p->ack, &tcp_sum);
	__u32 flags = 0x12 | (p->ece ? 0x40 : 0); /* SYN ACK [ECE] */
	swc_put32(w, t + 3, ((tcp_len / 4) << 28) | (flags << 16) | p->window, &tcp_sum);
	/* word t + 4: checksum and urgent pointer, zero for now */
	__u32 o = t + 5;
	if (p->mss) {
		swc_put32(w, o, 0x02040000U | p->mss, &tcp_sum);
		o++;
	}
	if (p->has_ts) {
		swc_put32(w, o, p->sack_perm ? 0x0402080aU : 0x0101080aU, &tcp_sum);
		swc_put32(w, o + 1, p->tsval, &tcp_sum);
		swc_put32(w, o + 2, p->tsecr, &tcp_sum);
		o += 3;
	} else if (p->sack_perm) {
		swc_put32(w, o, 0x01010402U, &tcp_sum);
		o++;
	}
	if (p->has_wscale)
		swc_put32(w, o, 0x01030300U | p->wscale, &tcp_sum);
	((__u16 *)sc->hdr)[((t + 4) * 2) & 63] = (__u16)~swc_fold(tcp_sum);

	__s32 delta = (__s32)out_len -
		      (__s32)((long)ctx->data_end - (long)ctx->data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, sc->mac, 12))
		return -1;
	__u32 hdr_len = swc_opaque(out_len - l3_off);
	SWC_BOUND(hdr_len, 20, sizeof(sc->hdr), return -1);
	if (bpf_xdp_store_bytes(ctx, l3_off, sc->hdr, hdr_len))
		return -1;
	return 0;
}

#endif /* SYNWARDEN_SYNACK_BPF_H */
