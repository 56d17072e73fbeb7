/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source allow/deny lists and the per-source SYN-ACK budget.
 *
 * Lists: one LPM trie per source family (synwarden_shared.h, sw_list_v4_key/sw_list_v6_key).
 * For a frame to a protected host the program looks up (host, source) and, if no prefix of the
 * host's lists covers the source, (global, source). The longest prefix found decides:
 *   deny  -> dropped here (DROP_DENY_HOST / DROP_DENY_GLOBAL), whatever the host's protection
 *   allow -> the frame is handled as in pass mode (forwarded, ACK flows learnt, never challenged)
 * A prefix in both lists of the same scope is denied.
 *
 * Budget: before a SYN is answered (XDP cookie datapath) or steered to a worker that answers
 * it, a token is taken from its source prefix's bucket (per-CPU LRU hash); no token -> the SYN
 * is dropped (DROP_SYN_BUDGET) and counted in the bucket's `dropped`, which user space sums for
 * the top-N of limited prefixes.
 *
 * Included by fastpath.bpf.c after xdp_cookie.bpf.h (swc_bucket_take, DROP, ctx_state).
 */
#ifndef SYNWARDEN_LISTS_BPF_H
#define SYNWARDEN_LISTS_BPF_H

/* Sizes are set by XdpFastpath (LoadOptions::list_prefixes, syn_budget_table_size). LPM tries
 * must not be preallocated: they take memory per prefix actually stored. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_list_v4_key);
	__type(value, __u32);
} sw_list_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sw_list_v6_key);
	__type(value, __u32);
} sw_list_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_LIST_HIT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sw_list_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_budget_cfg);
} sw_budget_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_host_key);
	__type(value, struct sw_budget);
} sw_syn_budget SEC(".maps");

/* The list bits of the longest prefix covering `key`'s source in the lists of `host` (a zero
 * host = global); 0 when none covers it. */
static __always_inline __u32 swl_lookup(const struct sw_flow_key *key, const __u32 *host)
{
	const __u32 *v;
	if (key->family == SW_FAMILY_IPV4) {
		struct sw_list_v4_key k = { .prefixlen = 64, .host = host[0], .src = key->saddr[0] };
		v = bpf_map_lookup_elem(&sw_list_v4, &k);
	} else {
		struct sw_list_v6_key k = { .prefixlen = 256 };
		__builtin_memcpy(k.host, host, sizeof(k.host));
		__builtin_memcpy(k.src, key->saddr, sizeof(k.src));
		v = bpf_map_lookup_elem(&sw_list_v6, &k);
	}
	return v ? *v : 0;
}

static __always_inline void swl_count_allow(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&sw_list_hits, &slot);
	if (c)
		(*c)++; /* this CPU's slot, XDP does not nest: no atomics */
}

/* What the lists say about a frame (swl_verdict()): bit 0 = allowed, 2/4 = denied by the host's /
 * the global lists. Bit values, so the caller applies an allow without a branch. */
#define SWL_ALLOW 1u
#define SWL_DENY_HOST 2u
#define SWL_DENY_GLOBAL 4u

/*
 * The lists' verdict on a frame for a protected host (key: its addresses). A global function,
 * verified once: inlined, its branches multiplied the states the verifier explores through
 * everything after it.
 */
__noinline __u32 swl_verdict(const struct sw_flow_key *key)
{
	const __u32 global[4] = {};
	if (!key)
		return 0;
	int scope_host = 1;
	__u32 bits = swl_lookup(key, key->daddr);
	if (!bits) {
		scope_host = 0;
		bits = swl_lookup(key, global);
	}
	if (bits & SW_LIST_DENY)
		return scope_host ? SWL_DENY_HOST : SWL_DENY_GLOBAL;
	if (bits & SW_LIST_ALLOW) {
		swl_count_allow(scope_host ? SW_LIST_HIT_ALLOW_HOST : SW_LIST_HIT_ALLOW_GLOBAL);
		return SWL_ALLOW;
	}
	return 0;
}

/*
 * Applies the lists to a frame for a protected host. Returns a DROP decision for a denied
 * source, else 0; for an allowed source it clears the protection bit of the frame's copy of the
 * host (s->pass_host, which s->host points to), so everything after handles it as in pass mode.
 */
static __always_inline __u64 swl_check(struct ctx_state *s, const struct sw_flow_key *key)
{
	const __u32 zero = 0;
	const struct sw_budget_cfg *cfg = bpf_map_lookup_elem(&sw_budget_cfg, &zero);
	if (!cfg || !(cfg->lists & (key->family == SW_FAMILY_IPV4 ? SW_LISTS_V4 : SW_LISTS_V6)))
		return 0; /* no list of this family: no lookup, no call */
	const __u32 v = swl_verdict(key);
	if (v & (SWL_DENY_HOST | SWL_DENY_GLOBAL))
		return DROP((v & SWL_DENY_HOST) ? SW_R_DROP_DENY_HOST : SW_R_DROP_DENY_GLOBAL);
	/* An allowed source is handled as in pass mode whatever the host's mode: neither
	 * protected nor judged by monitor mode. */
	if (v & SWL_ALLOW)
		s->pass_host.flags &= (__u8)~(SW_HOST_PROTECT | SW_HOST_MONITOR);
	return 0;
}

/* Takes one SYN-ACK token from the bucket of the SYN's source prefix: 1 = answer it. A global
 * function for the same reason as swl_verdict(); swl_syn_allowed() skips the call without a
 * budget. */
__noinline int swl_budget_take(const struct sw_flow_key *key)
{
	const __u32 zero = 0;
	if (!key)
		return 1;
	const struct sw_budget_cfg *cfg = bpf_map_lookup_elem(&sw_budget_cfg, &zero);
	if (!cfg || !cfg->cost_ns)
		return 1;
	struct sw_host_key bk = { .family = key->family };
	if (key->family == SW_FAMILY_IPV4) {
		bk.addr[0] = key->saddr[0] & cfg->mask_v4;
	} else {
#pragma unroll
		for (int i = 0; i < 4; i++)
			bk.addr[i] = key->saddr[i] & cfg->mask_v6[i];
	}
	struct sw_budget *b = bpf_map_lookup_elem(&sw_syn_budget, &bk);
	if (!b) {
		const struct sw_budget fresh = {}; /* last_ns 0: the bucket starts full */
		bpf_map_update_elem(&sw_syn_budget, &bk, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&sw_syn_budget, &bk);
		if (!b)
			return 1; /* the LRU could not hold it: never drop for our own failure */
	}
	if (swc_bucket_take(&b->bucket, cfg->cost_ns, cfg->burst_ns)) {
		b->answered++;
		return 1;
	}
	b->dropped++;
	return 0;
}

static __always_inline int swl_syn_allowed(const struct sw_flow_key *key)
{
	const __u32 zero = 0;
	const struct sw_budget_cfg *cfg = bpf_map_lookup_elem(&sw_budget_cfg, &zero);
	if (!cfg || !cfg->cost_ns)
		return 1;
	return swl_budget_take(key);
}

#endif /* SYNWARDEN_LISTS_BPF_H */
