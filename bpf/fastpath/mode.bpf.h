/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-host modes beyond protect/pass (docs/modes.md):
 *
 * monitor (SW_HOST_MONITOR): the classifier judges every frame as protection would (the same
 *   code, `sw_host_judges()` is true) with three side effects suppressed — the cookie SYN-ACK is
 *   planned but never written over the frame (swc_syn's `dry`), the rate limits draw from
 *   monitor-only buckets, and the per-host outcome counters are left alone — then
 *   sw_monitor_outcome() counts that verdict in sw_cpu_stats.would and does what pass mode
 *   does: forward, learning the flow of a pure ACK (a malformed frame is dropped, as in pass). What protection forwards is forwarded the
 *   same way (and counted under its own reason); everything else counts as fwd_monitor.
 *
 * auto (SW_HOST_AUTO): the daemon sets or clears SW_HOST_PROTECT from the host's SYN rate,
 *   which this file counts per CPU in sw_host_syns (the daemon creates the host's entry; no
 *   entry, no count). While the host is in pass, each forwarded SYN's 4-tuple is remembered in
 *   sw_pass_syns; after a switch to protect, the first ACK of such a 4-tuple within
 *   sw_knob_pass_syn_window_ns is learnt and forwarded (fwd_pass_handshake) instead of being
 *   judged as a cookie ACK: the host answered that SYN itself, so no cookie of ours is in it.
 *
 * Included by fastpath.bpf.c after xdp_cookie.bpf.h (uses learn_and_forward(), sw_flows).
 */
#ifndef SYNWARDEN_MODE_BPF_H
#define SYNWARDEN_MODE_BPF_H

/* How long a SYN forwarded in pass mode vouches for its 4-tuple's first ACK. Covers the
 * handshake's round trip and the host's first SYN-ACK retransmissions (1 s, 3 s). */
const volatile __u64 sw_knob_pass_syn_window_ns = 5000000000ull;

/* 4-tuples of SYNs forwarded while an auto host was in pass (value: bpf_ktime_get_ns()). LRU:
 * a spoofed flood in the on_ms before the switch churns this table and nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_flow_key);
	__type(value, __u64);
} sw_pass_syns SEC(".maps");

/* SYNs per auto host, per CPU: plain increments, the daemon sums the CPUs every poll. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_host_key);
	__type(value, __u64);
} sw_host_syns SEC(".maps");

/* Protect and monitor both judge frames; only protect acts on the verdict. */
static __always_inline int sw_host_judges(const struct sw_host *h)
{
	return h->flags & (SW_HOST_PROTECT | SW_HOST_MONITOR);
}

static __always_inline int sw_host_monitors(const struct sw_host *h)
{
	return (h->flags & (SW_HOST_PROTECT | SW_HOST_MONITOR)) == SW_HOST_MONITOR;
}

/* A SYN (no ACK/RST/FIN) to a host: counted for an auto host; remembered while it is in pass. */
static __always_inline void sw_mode_syn(const struct ctx_state *s, const struct sw_flow_key *key)
{
	if (!(s->host->flags & SW_HOST_AUTO))
		return;
	struct sw_host_key hk = {};
	hk.family = key->family;
	__builtin_memcpy(hk.addr, key->daddr, sizeof(hk.addr));
	__u64 *n = bpf_map_lookup_elem(&sw_host_syns, &hk);
	if (n)
		*n += 1; /* this CPU's slot; XDP does not nest on a CPU */
	if (!(s->host->flags & SW_HOST_PROTECT)) {
		__u64 now = bpf_ktime_get_ns();
		bpf_map_update_elem(&sw_pass_syns, key, &now, BPF_ANY);
	}
}

/* An unknown ACK to an auto host in protect: the handshake of a SYN it forwarded in pass? */
static __always_inline __u64 sw_mode_pass_handshake(const struct ctx_state *s,
						    struct sw_flow_key *key)
{
	if (!(s->host->flags & SW_HOST_AUTO))
		return 0;
	__u64 *seen = bpf_map_lookup_elem(&sw_pass_syns, key);
	if (!seen)
		return 0;
	const __u64 age = bpf_ktime_get_ns() - *seen;
	/* First ACK only: the entry vouches once, a replay meets the cookie check. */
	bpf_map_delete_elem(&sw_pass_syns, key);
	if (age > sw_knob_pass_syn_window_ns)
		return 0;
	return learn_and_forward(&sw_flows, key, SW_FLOW_LEARNED, SW_R_FWD_PASS_HANDSHAKE);
}

/*
 * Monitor: `d` is protection's verdict on the frame. Records it (counted in `would` by record())
 * and returns pass mode's: protection's own if it forwards, otherwise forward, learning the flow
 * of a pure ACK as pass mode does. `key` is NULL for non-TCP frames.
 */
static __always_inline __u64 sw_monitor_outcome(struct ctx_state *s, struct sw_flow_key *key,
						__u8 tcp_flags, __u64 d)
{
	s->mode->would = (__u32)(d >> 32);
	/* Malformed frames to a host are dropped in pass mode too (the host would drop them). */
	if ((__u32)d == XDP_TX || s->mode->would == SW_R_DROP_MALFORMED)
		return d;
	if (key && sw_knob_learn_in_pass_mode &&
	    (tcp_flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_ACK)
		return learn_and_forward(&sw_flows, key, SW_FLOW_LEARNED, SW_R_FWD_MONITOR);
	return FORWARD(SW_R_FWD_MONITOR);
}

#endif /* SYNWARDEN_MODE_BPF_H */
