// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * synwarden XDP fast path: the firewall NIC's first decision for every frame.
 *
 * It implements the packet-flow table of docs/packet-flow.md:
 *   not for a protected IP, ARP, non-IP  -> XDP_PASS (firewall's own stack)
 *   SYN, protection on                   -> AF_XDP socket of the RX queue (cookie SYN-ACK)
 *   segment of an established flow       -> MAC rewrite + XDP_TX to the host
 *   unknown ACK, protection on           -> AF_XDP (cookie check); pass mode: forward + learn
 *   SYN-ACK (host's own outbound conn.)  -> forward, rate-limited when protection is on
 *   unknown RST/FIN, protection on       -> drop
 *   non-TCP                              -> host policy when protection is on, else forward
 * and counts exactly one reason per frame (enum sw_reason). bpf/README.md explains the
 * choices the table leaves open.
 */
#include "parse.bpf.h"
#include "../common/sw_siphash.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs fixed at load time (libbpf-bootstrap style: written through the skeleton's rodata
 * before load, so the verifier prunes the branches they disable). */
/* No AF_XDP socket on the queue: 0 = drop the SYN/ACK (default), 1 = forward it unfiltered. */
const volatile __u8 sw_knob_xsk_fail_open = 0;
/* Pass mode inserts the flow of every forwarded ACK into the established map. */
const volatile __u8 sw_knob_learn_in_pass_mode = 1;

/* Map sizes here are small defaults for raw skeleton users (the VM tier's loader); XdpFastpath
 * sets the configured sizes before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_host_key);
	__type(value, struct sw_host);
} sw_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
} sw_flows SEC(".maps");

/* The established-flow hint (synwarden_shared.h, docs/flow-hint.md): element 0 is the state,
 * then two generations of sw_knob_flow_hint_words words each. Memory-mappable so the daemon
 * marks and rebuilds it without a syscall per word. Never pinned: each program has its own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 + 2 * 1024);
	__type(key, __u32);
	__type(value, __u64);
} sw_flow_hint SEC(".maps");
/* Words per hint generation, a power of two; XdpFastpath sets it with the map's size. */
const volatile __u32 sw_knob_flow_hint_words = 1024;

/* 1 when `key` may be in sw_flows (look it up), 0 when it certainly is not. Global functions
 * (verified once, not at every call site): the hint's branches would otherwise multiply the
 * states of every path that reaches them. */
__noinline int flow_maybe_known(const struct sw_flow_key *key)
{
	if (!key)
		return 1;
	__u32 idx = 0;
	const __u64 *state = bpf_map_lookup_elem(&sw_flow_hint, &idx);
	if (!state || *state == SW_FLOW_HINT_OFF)
		return 1;
	const __u64 h = sw_flow_hint_hash(key);
	idx = sw_flow_hint_word(h, *state == SW_FLOW_HINT_GEN1, sw_knob_flow_hint_words);
	const __u64 *w = bpf_map_lookup_elem(&sw_flow_hint, &idx);
	return !w || (*w & sw_flow_hint_bit(h));
}

/* After an insert into sw_flows: mark the key in both generations (a rebuild may be filling
 * the inactive one right now). The bit is tested first so a flow's later packets do not write
 * a shared cache line. */
__noinline int flow_hint_mark(const struct sw_flow_key *key)
{
	if (!key)
		return 0;
	const __u64 h = sw_flow_hint_hash(key);
	const __u64 bit = sw_flow_hint_bit(h);
	for (__u32 gen = 0; gen < 2; gen++) {
		__u32 idx = sw_flow_hint_word(h, gen, sw_knob_flow_hint_words);
		__u64 *w = bpf_map_lookup_elem(&sw_flow_hint, &idx);
		if (w && !(*w & bit))
			__sync_fetch_and_or(w, bit);
	}
	return 0;
}

/* Flows the protected host opened itself (a SYN-ACK answered it). Kept apart from sw_flows:
 * anybody can send a SYN-ACK with any source, so a spoofed SYN-ACK flood may churn this table,
 * never the established map of flows the firewall validated. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
} sw_outbound SEC(".maps");

/* Flows of SYN-ACKs that carried no valid stamp (the host's agent does not stamp, the peer sent
 * no timestamp, or the SYN-ACK is spoofed). Within the SYN-ACK budget only, and apart from
 * sw_outbound, so a spoofed flood churns this table and nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sw_flow_key);
	__type(value, struct sw_flow);
} sw_outbound_unverified SEC(".maps");

/* Per protected host: the key of its agent's outbound SYN stamp (see synwarden_shared.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_host_key);
	__type(value, struct sw_sip_key);
} sw_outbound_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} sw_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_cpu_stats);
} sw_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_settings);
} sw_settings SEC(".maps");

/* TCP flag bits as in byte 13 of the TCP header. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Per-frame state shared by the classifier and the single exit (record()). */
/* Per frame, per CPU (XDP does not nest on a CPU): the monitor-mode state. Kept in a map value,
 * not in ctx_state on the stack, on purpose: the verifier does not track map contents, so the
 * frame's paths for monitored and other hosts stay one set of states instead of two copies of
 * the whole classifier (this halves the instructions the verifier processes). */
struct sw_frame_mode {
	__u32 monitor;      /* the host is in monitor mode */
	__u32 monitor_done; /* sw_monitor_outcome() already applied */
	__u32 would;        /* monitor: protection's reason (mode.bpf.h) */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_frame_mode);
} sw_frame_modes SEC(".maps");

struct ctx_state {
	struct xdp_md *ctx;
	struct sw_cpu_stats *stats;
	const struct sw_host *host;     /* set once the destination is known to be protected */
	const struct sw_settings *set;  /* set together with host */
	void *l3;                       /* IP header (cookie datapath) */
	__u32 l4_len;                   /* TCP bytes per the IP length fields (cookie datapath) */
	struct sw_frame_mode *mode;     /* this CPU's sw_frame_modes slot */
	struct sw_host pass_host;       /* copy of the host; protection off for allowed sources */
};

/* A decision is (reason, XDP action) packed in one register, so every branch of the
 * classifier ends in the same single exit instead of an inlined copy of it. XDP_TX always
 * means "forward to the protected host". */
#define DECIDE(reason, action) (((__u64)(reason) << 32) | (__u32)(action))
#define FORWARD(reason) DECIDE(reason, XDP_TX)
#define DROP(reason) DECIDE(reason, XDP_DROP)
#define PASS(reason) DECIDE(reason, XDP_PASS)
#define SW_ACT_REPLY 0x100 /* XDP_TX of a frame already rewritten (no forwarding MACs) */

/*
 * The single exit: forward (rewrite MACs) if the decision says XDP_TX, then count the reason
 * and record the decision. Forwarding changes only the Ethernet addresses, so VLAN tags, TTL
 * and checksums stay exactly as received: the firewall is a bump in the wire.
 */
static __always_inline int record(const struct ctx_state *s, __u64 decision)
{
	struct sw_cpu_stats *st = s->stats;
	__u32 reason = (__u32)(decision >> 32);
	__u32 action = (__u32)decision;

	if (action == SW_ACT_REPLY) {
		action = XDP_TX; /* a cookie SYN-ACK, already addressed to the client */
	} else if (action == XDP_TX) {
		struct ethhdr *eth = (void *)(long)s->ctx->data;
		if ((void *)(eth + 1) <= (void *)(long)s->ctx->data_end && s->host && s->set) {
			__builtin_memcpy(eth->h_dest, s->host->mac, ETH_ALEN);
			__builtin_memcpy(eth->h_source, s->set->fw_mac, ETH_ALEN);
		} else {
			/* Unreachable: forwarding is only decided after both lookups and the
			 * Ethernet header check. Never send an unrewritten frame back out. */
			action = XDP_DROP;
			reason = SW_R_NONE;
		}
	}
	if (reason >= SW_REASON_COUNT)
		reason = SW_R_NONE;

	__u32 len = (__u32)bpf_xdp_get_buff_len(s->ctx);
	/* Plain increments: the slot is this CPU's and XDP does not nest on a CPU. */
	st->counters[reason].packets++;
	st->counters[reason].bytes += len;
	if (s->mode->monitor) {
		__u32 would = s->mode->would;
		if (would >= SW_REASON_COUNT)
			would = SW_R_NONE;
		st->would[would]++;
	}
	st->last.reason = reason;
	st->last.action = action;
	st->last.rx_queue = s->ctx->rx_queue_index;
	st->last.frame_len = len;
	st->last.seq++;
	return (int)action;
}

/* Inserts a flow into `table` and forwards; the reason tells an operator whether learning
 * keeps up. */
static __always_inline __u64 learn_and_forward(void *table, const struct sw_flow_key *key,
					       __u32 origin, __u32 reason_ok)
{
	struct sw_flow flow = {
		.created_ns = bpf_ktime_get_ns(),
		.origin = origin,
	};
	/* BPF_ANY: the caller just missed in the map, and if another CPU inserted the same flow
	 * meanwhile, overwriting it is harmless. */
	long err = bpf_map_update_elem(table, key, &flow, BPF_ANY);
	if (err)
		return FORWARD(SW_R_FWD_LEARN_FAILED);
	if (table == (void *)&sw_flows)
		flow_hint_mark(key);
	return FORWARD(reason_ok);
}


/*
 * Hands the frame to the AF_XDP socket bound to this RX queue. bpf_redirect_map() returns the
 * low bits of its flags when the slot is empty; XDP_ABORTED (0) is that sentinel here so the
 * no-socket case is counted and resolved by the fail-open knob rather than by the kernel.
 */
static __always_inline __u64 steer(const struct ctx_state *s, __u32 reason_ok,
				   __u32 reason_missing)
{
	long r = bpf_redirect_map(&sw_xsks, s->ctx->rx_queue_index, XDP_ABORTED);
	if (r == XDP_REDIRECT)
		return DECIDE(reason_ok, XDP_REDIRECT);
	if (sw_knob_xsk_fail_open)
		return FORWARD(reason_missing);
	return DROP(reason_missing);
}

static __always_inline __u64 non_tcp(const struct sw_host *host, int protect, __u8 family,
				     __u8 proto)
{
	if (!protect)
		return FORWARD(SW_R_FWD_PASS_MODE);
	__u8 bit = SW_POLICY_FWD_OTHER;
	if ((family == SW_FAMILY_IPV4 && proto == IPPROTO_ICMP) ||
	    (family == SW_FAMILY_IPV6 && proto == IPPROTO_ICMPV6))
		bit = SW_POLICY_FWD_ICMP;
	else if (proto == IPPROTO_UDP)
		bit = SW_POLICY_FWD_UDP;
	if (host->policy & bit)
		return FORWARD(SW_R_FWD_NON_TCP);
	return DROP(SW_R_DROP_NON_TCP_POLICY);
}

#include "xdp_cookie.bpf.h"
#include "lists.bpf.h"
#include "mode.bpf.h"

/* Forwarded SYN-ACKs: a token bucket per CPU in nanoseconds of credit (no atomics, no shared
 * cache line); user space sets cost = 1e9 / per-CPU rate and burst = cost * burst packets. */
static __always_inline int synack_allowed(struct sw_token_bucket *b, const struct sw_settings *set)
{
	return swc_bucket_take(b, set->synack_cost_ns, set->synack_burst_ns);
}

/*
 * A SYN-ACK answers a SYN the protected host sent if its TSecr carries the stamp the host's agent
 * put into that SYN's TSval: the MAC of the 4-tuple and the SYN's ISN (= this ACK number − 1)
 * under the host's outbound key (docs/outbound-stamp.md). Without a key for the host or without a
 * timestamp the SYN-ACK is unverified, never rejected for that alone.
 */
static __always_inline int outbound_stamp_ok(const struct ctx_state *s, const struct sw_flow_key *key,
					     const struct tcphdr *th)
{
	struct sw_host_key hk = {};
	hk.family = key->family;
	__builtin_memcpy(hk.addr, key->daddr, sizeof(hk.addr));
	const struct sw_sip_key *k = bpf_map_lookup_elem(&sw_outbound_keys, &hk);
	if (!k)
		return 0;
	__u32 tsecr;
	const __u8 *t = (const __u8 *)th;
	/* A spoofed flood takes this path for every packet: read the layouts Linux sends (MSS,
	 * SACK_PERM or NOP NOP, TS, NOP, WS) in place; anything else through the option walk. */
	if (th->doff == 10 && (void *)(t + 40) <= (void *)(long)s->ctx->data_end && t[20] == 2 &&
	    t[21] == 4 && ((t[24] == 4 && t[25] == 2) || (t[24] == 1 && t[25] == 1)) &&
	    t[26] == 8 && t[27] == 10) {
		tsecr = ((__u32)t[32] << 24) | ((__u32)t[33] << 16) | ((__u32)t[34] << 8) | t[35];
	} else {
		const __u32 zero = 0;
		struct swc_scratch *sc = bpf_map_lookup_elem(&sw_cookie_scratch, &zero);
		if (!sc)
			return 0;
		struct swc_frame *f = &sc->frame;
		f->l4_off = (__u16)((void *)th - (void *)(long)s->ctx->data);
		f->tcp_hlen = (__u16)(th->doff * 4);
		struct swc_opts *o = &sc->opts;
		if (swc_load_and_parse(s->ctx, f, sc, o) || !o->has_ts || o->bad)
			return 0;
		tsecr = o->tsecr;
	}
	__u32 mac = sw_outbound_mac(k->k0, k->k1, key->daddr, key->saddr, key->dport, key->sport,
				    bpf_ntohl(th->ack_seq) - 1, key->family == SW_FAMILY_IPV6);
	return (tsecr & SW_OUTBOUND_STAMP_MASK) == mac;
}

static __always_inline __u64 tcp_segment(const struct ctx_state *s, struct sw_flow_key *key,
					 const struct tcphdr *th)
{
	const int protect = sw_host_judges(s->host);
	const __u8 flags = ((const __u8 *)th)[13];
	key->sport = th->source;
	key->dport = th->dest;

	if ((flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_SYN) {
		sw_mode_syn(s, key);
		if (!protect)
			return FORWARD(SW_R_FWD_PASS_MODE);
		/* A new SYN on the 4-tuple of a flow the firewall validated (or learnt) is the
		 * client reusing its port, typically while the host still holds the old
		 * connection in TIME_WAIT. Only the host's kernel can apply its TIME_WAIT rules
		 * (tcp_timewait_state_process(): recycle for a newer ISN or timestamp), and it
		 * needs the SYN itself for that: a cookie ACK would meet the TIME_WAIT socket and
		 * be answered with the old connection's ACK. The host answers with its own
		 * SYN-ACK and the client's ACK meets the map. Spoofing this needs the exact
		 * 4-tuple of a live flow, and reaches a host that rate-limits its answers. */
		if (flow_maybe_known(key) && bpf_map_lookup_elem(&sw_flows, key))
			return FORWARD(SW_R_FWD_SYN_REUSE);
		if (!swl_syn_allowed(key))
			return DROP(SW_R_DROP_SYN_BUDGET);
		return cookie_or_steer(s, key, th, 1);
	}
	if ((flags & TH_SYN) && (flags & (TH_RST | TH_FIN)))
		return protect ? DROP(SW_R_DROP_BAD_FLAGS) : FORWARD(SW_R_FWD_PASS_MODE);

	if (flow_maybe_known(key) && bpf_map_lookup_elem(&sw_flows, key))
		return FORWARD(SW_R_FWD_ESTABLISHED);

	if (flags & TH_SYN) { /* SYN-ACK: the host's own outbound connection is being answered */
		/* No outbound-table lookup first: a retransmitted SYN-ACK is verified (or charged)
		 * again like the first one, and a spoofed flood, which takes this path with every
		 * packet, costs two hash lookups less. */
		/* Learnt (in an outbound table, never the established map: see sw_outbound) so
		 * the rest of that connection is not taken for cookie ACKs. */
		if (outbound_stamp_ok(s, key, th))
			return learn_and_forward(&sw_outbound, key, SW_FLOW_SYNACK,
						 SW_R_FWD_SYNACK_VERIFIED);
		if (protect && !synack_allowed(s->mode->monitor ? &s->stats->would_synack
							  : &s->stats->synack, s->set))
			return DROP(SW_R_DROP_SYNACK_RATE);
		return learn_and_forward(&sw_outbound_unverified, key, SW_FLOW_SYNACK,
					 protect ? SW_R_FWD_SYNACK : SW_R_FWD_LEARNED);
	}
	if (bpf_map_lookup_elem(&sw_outbound, key))
		return FORWARD(SW_R_FWD_OUTBOUND);
	if (bpf_map_lookup_elem(&sw_outbound_unverified, key))
		return FORWARD(SW_R_FWD_OUTBOUND_UNVERIFIED);
	if (flags & (TH_RST | TH_FIN))
		return protect ? DROP(SW_R_DROP_UNKNOWN_RST_FIN) : FORWARD(SW_R_FWD_PASS_MODE);
	if (!(flags & TH_ACK))
		return protect ? DROP(SW_R_DROP_BAD_FLAGS) : FORWARD(SW_R_FWD_PASS_MODE);
	if (protect) {
		const __u64 handshake = sw_mode_pass_handshake(s, key);
		if (handshake)
			return handshake;
		return cookie_or_steer(s, key, th, 0);
	}
	if (sw_knob_learn_in_pass_mode)
		return learn_and_forward(&sw_flows, key, SW_FLOW_LEARNED, SW_R_FWD_LEARNED);
	return FORWARD(SW_R_FWD_PASS_MODE);
}

static __always_inline __u64 classify(struct ctx_state *s)
{
	struct cursor c = {
		.pos = (void *)(long)s->ctx->data,
		.end = (void *)(long)s->ctx->data_end,
	};
	const __u32 zero = 0;

	struct sw_flow_key key = {};
	struct sw_host_key hk = {};
	int proto = parse_l2(&c, &key);
	if (proto < 0)
		return PASS(SW_R_PASS_MALFORMED);
	s->l3 = c.pos;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (read_ipv4_addresses(&c, &key, &hk))
			return PASS(SW_R_PASS_MALFORMED);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (read_ipv6_addresses(&c, &key, &hk))
			return PASS(SW_R_PASS_MALFORMED);
	} else {
		return PASS(SW_R_PASS_NON_IP);
	}

	const struct sw_host *host = bpf_map_lookup_elem(&sw_hosts, &hk);
	if (!host)
		return PASS(SW_R_PASS_NOT_PROTECTED);
	const struct sw_settings *set = bpf_map_lookup_elem(&sw_settings, &zero);
	if (!set || !(set->flags & SW_SETTINGS_VALID))
		return PASS(SW_R_PASS_UNCONFIGURED);
	/* The frame works on a copy of the host (8 bytes), always: the source lists may turn its
	 * protection off for this frame, and one pointer type for every path keeps the verifier's
	 * state pruning effective. */
	__builtin_memcpy(&s->pass_host, host, sizeof(s->pass_host));
	host = &s->pass_host;
	s->host = host;
	s->set = set;
	__u64 listed = swl_check(s, &key);
	if (listed)
		return listed;
	const int protect = sw_host_judges(host);
	s->mode->monitor = sw_host_monitors(host);

	/* From here on the frame is for a protected host: anything malformed is dropped (the
	 * host's stack would drop it too, after the flood already crossed the wire). */
	struct l3_info l3 = {};
	enum l3_result r = key.family == SW_FAMILY_IPV4 ? parse_ipv4_rest(&c, &l3)
						       : parse_ipv6_rest(&c, &l3);
	if (r == L3_MALFORMED)
		return DROP(SW_R_DROP_MALFORMED);
	if (r == L3_EXT_TOO_LONG)
		return protect ? DROP(SW_R_DROP_IPV6_EXT_HEADERS) : FORWARD(SW_R_FWD_PASS_MODE);

	if (l3.fragment) {
		/* A fragment whose upper layer is visibly not TCP follows the non-TCP policy;
		 * TCP fragments (and fragments hiding their protocol behind more extension
		 * headers) are an evasion technique: real TCP sets DF and does PMTU discovery. */
		if (l3.proto == IPPROTO_UDP || l3.proto == IPPROTO_ICMP ||
		    l3.proto == IPPROTO_ICMPV6)
			return non_tcp(host, protect, key.family, l3.proto);
		if (!protect)
			return FORWARD(SW_R_FWD_PASS_MODE);
		if (host->policy & SW_POLICY_FWD_TCP_FRAGMENTS)
			return FORWARD(SW_R_FWD_TCP_FRAGMENT);
		return DROP(SW_R_DROP_TCP_FRAGMENT);
	}
	if (l3.proto != IPPROTO_TCP)
		return non_tcp(host, protect, key.family, l3.proto);

	const struct tcphdr *th = parse_tcp(&c, &l3);
	if (!th)
		return DROP(SW_R_DROP_MALFORMED);
	s->l4_len = l3.l4_len;
	/* Read before tcp_segment(): a SYN-ACK built in place invalidates packet pointers. */
	const __u8 tcp_flags = ((const __u8 *)th)[13];
	const __u64 d = tcp_segment(s, &key, th);
	if (!s->mode->monitor)
		return d;
	s->mode->monitor_done = 1;
	return sw_monitor_outcome(s, &key, tcp_flags, d);
}

SEC("xdp")
int sw_fastpath(struct xdp_md *ctx)
{
	const __u32 zero = 0;
	struct ctx_state s = { .ctx = ctx };
	s.stats = bpf_map_lookup_elem(&sw_stats, &zero);
	s.mode = bpf_map_lookup_elem(&sw_frame_modes, &zero);
	if (!s.stats || !s.mode)
		return XDP_PASS; /* slot 0 of an array always exists; keeps the verifier happy */
	s.mode->monitor = 0;
	s.mode->monitor_done = 0;
	s.mode->would = 0;
	__u64 d = classify(&s);
	if (s.mode->monitor && !s.mode->monitor_done)
		d = sw_monitor_outcome(&s, NULL, 0, d);
	return record(&s, d);
}
