/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP cookie datapath (settings flag SW_SETTINGS_XDP_COOKIES, config datapath "xdp"): a SYN
 * for a protected host is answered here with the host's cookie SYN-ACK (XDP_TX back to the
 * client), an unknown ACK's cookie is checked here and, when valid, its flow learned and the
 * ACK forwarded. The decisions and their order are the AF_XDP worker's
 * (userspace/daemon/src/io/packet_handler.cpp): option parse, port list, fail policy without keys,
 * SYN checksums, rate limit, then the cookie; ACKs are checked with the current keys and, during
 * their grace, the previous ones.
 *
 * What this datapath leaves to the AF_XDP worker (or drops, counted, when none is bound):
 * a SYN carrying payload (its checksum covers bytes the program would have to walk), any
 * segment behind IPv6 extension headers (the worker drops those as unparsable), and a SYN whose
 * frame cannot grow to its SYN-ACK's size (no tailroom). IPv4 options
 * and every TCP option layout are handled here.
 *
 * Included by fastpath.bpf.c after its maps, record() actions, steer() and
 * learn_and_forward().
 */
#ifndef SYNWARDEN_XDP_COOKIE_BPF_H
#define SYNWARDEN_XDP_COOKIE_BPF_H

#include "synack.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_host_key);
	__type(value, struct sw_host_cookie);
} sw_host_cookies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_host_port_key);
	__type(value, __u8);
} sw_cookie_ports SEC(".maps");

/* Per-host counters (synwarden_shared.h): slot = sw_host_cookie.counter_slot. An array, so the
 * host's counters cost one index lookup on the value the program already holds, not a second
 * hash lookup; per CPU, so plain increments and no shared cache line. XdpFastpath sizes it to
 * host_table_size (the daemon's number of counter slots). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sw_host_xdp_counters);
} sw_host_stats SEC(".maps");

/* Actions beyond XDP's own, resolved by cookie_or_steer() (SW_ACT_REPLY: by record()). */
#define SW_ACT_LEARN 0x200      /* forward and learn the flow (origin cookie) */
#define SW_ACT_LEARN_OPEN 0x300 /* forward and learn the flow (fail open, origin learned) */
#define SW_ACT_STEER 0x400      /* not for this datapath: the AF_XDP socket, else drop */

/* Token bucket in nanoseconds of credit, one per CPU (the slot is this CPU's: no atomics, no
 * shared cache line): credit accrues 1 ns per ns up to `burst`, a packet costs `cost`; cost 0 =
 * unlimited. Shared by the forwarded-SYN-ACK and the XDP-built-SYN-ACK limits. */
static __always_inline int swc_bucket_take(struct sw_token_bucket *b, __u64 cost, __u64 burst)
{
	if (!cost)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 credit = burst;
	if (b->last_ns) {
		credit = b->credit_ns + (now - b->last_ns);
		if (credit > burst)
			credit = burst;
	}
	b->last_ns = now;
	if (credit < cost) {
		b->credit_ns = credit;
		return 0;
	}
	b->credit_ns = credit - cost;
	return 1;
}

#include "confirm.bpf.h"

static __always_inline int swc_port_protected(const struct sw_host_cookie *hc,
					      const struct swc_frame *f)
{
	if (!(hc->flags & SW_HC_PORTS_LISTED))
		return 1;
	struct sw_host_port_key pk = {};
	pk.host.family = f->v6 ? SW_FAMILY_IPV6 : SW_FAMILY_IPV4;
	__builtin_memcpy(pk.host.addr, f->host, sizeof(pk.host.addr));
	pk.port = f->host_port;
	return bpf_map_lookup_elem(&sw_cookie_ports, &pk) != NULL;
}

/* The SYN's IPv4 header and TCP segment checksums (tcp_v4_rcv()'s tcp_checksum_complete());
 * sc->tcp holds the TCP header, which is the whole segment (no payload on this path). */
static __always_inline int swc_syn_checksums_ok(struct xdp_md *ctx, const struct swc_frame *f,
						struct swc_scratch *sc)
{
	__u32 hlen = swc_opaque(f->tcp_hlen);
	SWC_BOUND(hlen, 20, 60, return 0);
	__u64 sum;
	if (!f->v6) {
		__u32 ip_hlen = swc_opaque(f->ip_hlen_ok);
		SWC_BOUND(ip_hlen, 20, 60, return 0);
		__s64 ipc = bpf_csum_diff(NULL, 0, (__be32 *)sc->ip, ip_hlen, 0);
		if (ipc < 0 || swc_fold((__u32)ipc) != 0xffff)
			return 0;
		sum = (__u64)f->client[0] + f->host[0] + bpf_htonl(((__u32)IPPROTO_TCP << 16) | hlen);
	} else {
		sum = (__u64)bpf_htonl(hlen) + bpf_htonl(IPPROTO_TCP);
#pragma unroll
		for (int i = 0; i < 4; i++)
			sum += (__u64)f->client[i] + f->host[i];
	}
	__s64 tc = bpf_csum_diff(NULL, 0, (__be32 *)sc->tcp, hlen, 0);
	if (tc < 0)
		return 0;
	return swc_fold(sum + (__u32)tc) == 0xffff;
}

static __always_inline int swc_load_ip(struct xdp_md *ctx, const struct swc_frame *f,
				       struct swc_scratch *sc)
{
	__u32 len = swc_opaque(f->v6 ? 40 : f->ip_hlen_ok);
	SWC_BOUND(len, 20, 60, return -1);
	return bpf_xdp_load_bytes(ctx, f->l3_off, sc->ip, len) ? -1 : 0;
}

__noinline __u64 swc_syn(struct xdp_md *ctx, const struct swc_frame *f,
			 const struct sw_host_cookie *hc, struct sw_cpu_stats *st,
			 const struct sw_settings *set)
{
	const __u32 zero = 0;
	struct swc_scratch *sc = bpf_map_lookup_elem(&sw_cookie_scratch, &zero);
	if (!f || !hc || !st || !set)
		return DROP(SW_R_NONE);
	if (!sc || !f->ip_hlen_ok || f->l4_len != f->tcp_hlen)
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	struct swc_opts *o = &sc->opts;
	if (swc_load_and_parse(ctx, f, sc, o))
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	if (o->bad)
		return DROP(SW_R_DROP_BAD_TCP_OPTION);
	if (!swc_port_protected(hc, f))
		return FORWARD(SW_R_FWD_UNPROTECTED_PORT);
	if (!(hc->flags & SW_HC_HAS_KEYS))
		return (hc->flags & SW_HC_FAIL_OPEN) ? FORWARD(SW_R_FWD_NO_KEYS)
						     : DROP(SW_R_DROP_NO_KEYS);
	if (swc_load_ip(ctx, f, sc))
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	if (!swc_syn_checksums_ok(ctx, f, sc))
		return DROP(SW_R_DROP_SYN_CHECKSUM);
	if (!swc_bucket_take(f->monitor ? &st->would_cookie_synack : &st->cookie_synack,
			     set->cookie_synack_cost_ns,
			     set->cookie_synack_burst_ns))
		return DROP(SW_R_DROP_COOKIE_SYN_RATE);

	struct swc_syn_bits *syn = &sc->syn;
	__u8 dsfield = f->v6 ? (__u8)(((sc->ip[0] & 0x0f) << 4) | (sc->ip[1] >> 4)) : sc->ip[1];
	syn->isn = o->seq;
	syn->ece_cwr = (sc->tcp[13] & 0xc0) == 0xc0;
	syn->ip_ecn = dsfield & 0x3;
	syn->tcp_res1 = (sc->tcp[12] & 0x0f) != 0;
	if (swc_plan_synack(&hc->current, f, o, syn, &sc->plan))
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	if (f->monitor) /* monitor mode (mode.bpf.h): the verdict, the frame untouched */
		return DECIDE(SW_R_XDP_SYNACK, SW_ACT_REPLY);
	/* The frame could not grow (a driver or generic XDP without tailroom): the worker can. The
	 * token is spent, as the worker will spend its own: both limits hold. */
	if (swc_build_synack(ctx, f, sc, &sc->plan, set))
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	return DECIDE(SW_R_XDP_SYNACK, SW_ACT_REPLY);
}

/* The engine's check_ack(): the cookie, then for an ACK with a timestamp the options the TSecr
 * names against the host's sysctls. ts_off is only needed when a sysctl could refuse them. */
__noinline int swc_ack_verdict(const struct sw_cookie_keys *k, const struct swc_frame *f,
				      const struct swc_opts *o, __u64 now_ms)
{
	struct swc_reading clock;
	if (!k || !f || !o || swc_clock_at(&k->clock, now_ms, &clock))
		return SWC_BAD_HASH;
	int c = swc_check_cookie(k, f, o->seq, o->ack, clock.cookie_count);
	if (c != SWC_VALID)
		return c;
	if (!o->has_ts || !k->tcp_timestamps)
		return SWC_VALID;
	if (k->tcp_sack && k->tcp_window_scaling)
		return SWC_VALID; /* cookie_timestamp_decode() refuses nothing then */
	__u32 tsecr = o->tsecr;
	if (tsecr)
		tsecr -= swc_ts_off(k, f);
	if ((tsecr & SWC_TS_OPT_SACK) && !k->tcp_sack)
		return SWC_OPTION_DISABLED;
	if ((tsecr & SWC_TS_OPT_WSCALE_MASK) != SWC_TS_OPT_WSCALE_MASK && !k->tcp_window_scaling)
		return SWC_OPTION_DISABLED;
	return SWC_VALID;
}

/* recover_by_timestamp() of userspace timestamp_recovery.h: the ACK of a connection the firewall
 * forgot (restart without its map, a flow moved here) echoes a TSval the host sent not long ago. */
#define SWC_RECOVERY_AHEAD_MS 1000
__noinline int swc_recover(const struct sw_cookie_keys *k, const struct swc_frame *f,
			   const struct swc_opts *o, __u64 now_ms)
{
	struct swc_reading clock;
	if (!k || !f || !o || !k->recovery_window_s || k->tcp_timestamps != 1 || !o->has_ts ||
	    !o->tsecr || swc_clock_at(&k->clock, now_ms, &clock))
		return 0;
	__u32 then = o->tsecr - swc_ts_off(k, f);
	__s32 behind = (__s32)((__u32)clock.tcp_ms - then);
	return behind >= -SWC_RECOVERY_AHEAD_MS && behind <= (__s32)k->recovery_window_s * 1000;
}

__noinline __u64 swc_ack(struct xdp_md *ctx, const struct swc_frame *f,
			 const struct sw_host_cookie *hc)
{
	const __u32 zero = 0;
	struct swc_scratch *sc = bpf_map_lookup_elem(&sw_cookie_scratch, &zero);
	if (!f || !hc)
		return DROP(SW_R_NONE);
	if (!sc || !f->ip_hlen_ok)
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	struct swc_opts *o = &sc->opts;
	if (swc_load_and_parse(ctx, f, sc, o))
		return DECIDE(SW_R_NONE, SW_ACT_STEER);
	if (o->bad)
		return DROP(SW_R_DROP_BAD_TCP_OPTION);
	if (!swc_port_protected(hc, f))
		return FORWARD(SW_R_FWD_UNPROTECTED_PORT);
	if (!(hc->flags & SW_HC_HAS_KEYS))
		return (hc->flags & SW_HC_FAIL_OPEN) ? DECIDE(SW_R_FWD_NO_KEYS, SW_ACT_LEARN_OPEN)
						     : DROP(SW_R_DROP_NO_KEYS);
	__u64 now_ms = bpf_ktime_get_ns() / 1000000;
	int v = swc_ack_verdict(&hc->current, f, o, now_ms);
	if (v != SWC_VALID && (hc->flags & SW_HC_HAS_PREVIOUS) && now_ms < hc->previous_until_ms &&
	    swc_ack_verdict(&hc->previous, f, o, now_ms) == SWC_VALID)
		return DECIDE(SW_R_XDP_ACK_VALID_PREVIOUS, SW_ACT_LEARN);
	if (v == SWC_VALID)
		return DECIDE(SW_R_XDP_ACK_VALID, SW_ACT_LEARN);
	if (swc_recover(&hc->current, f, o, now_ms))
		return DECIDE(SW_R_XDP_ACK_RECOVERED, SW_ACT_LEARN);
	if (v == SWC_OUT_OF_WINDOW)
		return DROP(SW_R_DROP_COOKIE_EXPIRED);
	if (v == SWC_OPTION_DISABLED)
		return DROP(SW_R_DROP_COOKIE_OPTION);
	return DROP(SW_R_DROP_COOKIE_BAD);
}

/* The worker's per-host outcome (HostCounter) of a reason this datapath decides; SW_HX_COUNT for
 * a reason that is no outcome of the cookie code. */
static __always_inline __u32 swc_host_outcome(__u32 reason)
{
	switch (reason) {
	case SW_R_XDP_SYNACK:
		return SW_HX_SYNACK;
	case SW_R_XDP_ACK_VALID:
	case SW_R_XDP_ACK_VALID_PREVIOUS:
		return SW_HX_ACK_VALID;
	case SW_R_DROP_COOKIE_EXPIRED:
	case SW_R_DROP_COOKIE_BAD:
	case SW_R_DROP_COOKIE_OPTION:
		return SW_HX_ACK_INVALID;
	case SW_R_FWD_NO_KEYS:
	case SW_R_FWD_UNPROTECTED_PORT:
	case SW_R_XDP_ACK_RECOVERED:
		return SW_HX_FORWARDED;
	case SW_R_DROP_COOKIE_SYN_RATE:
		return SW_HX_RATE_LIMITED;
	case SW_R_DROP_NO_KEYS:
	case SW_R_DROP_SYN_CHECKSUM:
	case SW_R_DROP_BAD_TCP_OPTION:
		return SW_HX_DROPPED;
	default:
		return SW_HX_COUNT;
	}
}

static __always_inline void swc_count_host(const struct sw_host_cookie *hc, int syn, __u32 reason)
{
	const __u32 slot = hc->counter_slot;
	struct sw_host_xdp_counters *c = bpf_map_lookup_elem(&sw_host_stats, &slot);
	if (!c)
		return; /* no slot (SW_NO_COUNTER_SLOT) or beyond the table */
	/* Plain increments: the slot is this CPU's and XDP does not nest on a CPU. */
	c->value[syn ? SW_HX_SYN : SW_HX_ACK]++;
	const __u32 outcome = swc_host_outcome(reason);
	if (outcome < SW_HX_COUNT)
		c->value[outcome]++;
}

/*
 * Entry from tcp_segment() for a SYN (syn = 1) or an unknown ACK (syn = 0) to a protected host.
 * The AF_XDP datapath, and a host the daemon has not described in sw_host_cookies, steer as
 * before.
 */
static __always_inline __u64 cookie_or_steer(const struct ctx_state *s, struct sw_flow_key *key,
					     const struct tcphdr *th, int syn)
{
	const __u32 r_ok = syn ? SW_R_XSK_SYN : SW_R_XSK_ACK;
	const __u32 r_missing = syn ? SW_R_XSK_SYN_NO_SOCKET : SW_R_XSK_ACK_NO_SOCKET;
	if (!(s->set->flags & SW_SETTINGS_XDP_COOKIES) || !s->l3)
		return steer(s, r_ok, r_missing);
	struct sw_host_key hk = {};
	hk.family = key->family;
	__builtin_memcpy(hk.addr, key->daddr, sizeof(hk.addr));
	const struct sw_host_cookie *hc = bpf_map_lookup_elem(&sw_host_cookies, &hk);
	if (!hc)
		return steer(s, r_ok, r_missing);

	const __u32 zero = 0;
	struct swc_scratch *sc = bpf_map_lookup_elem(&sw_cookie_scratch, &zero);
	if (!sc)
		return steer(s, r_ok, r_missing);
	void *data = (void *)(long)s->ctx->data;
	struct swc_frame *f = &sc->frame;
	__builtin_memcpy(f->client, key->saddr, sizeof(f->client));
	__builtin_memcpy(f->host, key->daddr, sizeof(f->host));
	f->client_port = key->sport;
	f->host_port = key->dport;
	f->v6 = key->family == SW_FAMILY_IPV6;
	f->l3_off = (__u16)((void *)s->l3 - data);
	f->l4_off = (__u16)((void *)th - data);
	f->l4_len = (__u16)s->l4_len;
	f->tcp_hlen = (__u16)(th->doff * 4);
	__u32 ip_hlen = (__u32)((void *)th - (void *)s->l3);
	f->ip_hlen_ok = f->v6 ? (ip_hlen == 40 ? 40 : 0) : (__u8)ip_hlen;

	f->monitor = (__u8)s->mode->monitor;
	__u64 d = syn ? swc_syn(s->ctx, f, hc, s->stats, s->set) : swc_ack(s->ctx, f, hc);
	__u32 action = (__u32)d;
	__u32 reason = (__u32)(d >> 32);
	/* A frame handed to the worker is the worker's to count; monitor counts nothing per host. */
	if (action != SW_ACT_STEER && !s->mode->monitor)
		swc_count_host(hc, syn, reason);
	/* Every failed cookie check, not only a bad hash: a segment of an established flow reads as
	 * a bad hash while its two directions differ by less than 2^24 bytes (the count field the
	 * check reads stays close), as an expired cookie beyond that. */
	if (!syn && action == XDP_DROP && !s->mode->monitor && (hc->flags & SW_HC_CONFIRM) &&
	    (reason == SW_R_DROP_COOKIE_BAD || reason == SW_R_DROP_COOKIE_EXPIRED ||
	     reason == SW_R_DROP_COOKIE_OPTION))
		sw_report_candidate(key);
	if (action == SW_ACT_LEARN)
		return learn_and_forward(&sw_flows, key, SW_FLOW_COOKIE, reason);
	if (action == SW_ACT_LEARN_OPEN)
		return learn_and_forward(&sw_flows, key, SW_FLOW_LEARNED, reason);
	if (action == SW_ACT_STEER) {
		long r = bpf_redirect_map(&sw_xsks, s->ctx->rx_queue_index, XDP_ABORTED);
		if (r == XDP_REDIRECT)
			return DECIDE(SW_R_XSK_XDP_UNSUPPORTED, XDP_REDIRECT);
		return DROP(SW_R_DROP_XDP_UNSUPPORTED);
	}
	return d;
}

#endif /* SYNWARDEN_XDP_COOKIE_BPF_H */
