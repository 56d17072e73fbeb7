/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * synwarden_shared.h — the one header shared by the XDP fast path (kernel) and the C++ code that
 * owns it (user space). Every struct here is a map key or value, so its layout IS the ABI
 * between the two sides and between daemon versions adopting pinned maps: fixed-width types,
 * explicit padding, and a size assert on each. A changed layout makes XdpFastpath::load()
 * refuse the old pinned map (or recreate it on request), never misread it.
 *
 * Byte order: addresses and ports are kept in network order exactly as they appear on the
 * wire, so the fast path never swaps bytes; VLAN ids are host-order 12-bit numbers.
 */
#ifndef SYNWARDEN_SHARED_H
#define SYNWARDEN_SHARED_H

#include <linux/types.h>

#ifdef __cplusplus
#define SW_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SW_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Address family tags used in keys (not AF_INET/AF_INET6: those differ between libcs and the
 * kernel never sees them here). */
#define SW_FAMILY_IPV4 4
#define SW_FAMILY_IPV6 6

/* Maximum number of VLAN tags the parser walks (802.1Q and 802.1ad, i.e. QinQ). A frame with
 * more tags is not IP as far as the fast path is concerned and goes to the firewall's stack. */
#define SW_MAX_VLAN_TAGS 2
/* Maximum number of IPv6 extension headers walked before the TCP header. Real TCP traffic has
 * none; the bound keeps the verifier's work constant. */
#define SW_MAX_IPV6_EXT_HEADERS 6

/* ---- protected hosts: key = destination address, value = where and how to forward ---- */

struct sw_host_key {
	__u32 family;  /* SW_FAMILY_IPV4 or SW_FAMILY_IPV6 */
	__u32 addr[4]; /* network order; IPv4 uses addr[0], addr[1..3] are zero */
};
SW_STATIC_ASSERT(sizeof(struct sw_host_key) == 20, "sw_host_key layout is ABI");

enum sw_host_flags {
	/* Protection on: SYNs and unknown ACKs go to AF_XDP workers. Off: pass mode (forward and
	 * learn established flows). */
	SW_HOST_PROTECT = 1u << 0,
	/* Monitor mode (PROTECT clear): every frame is judged as protection would judge it and
	 * that reason counted in sw_cpu_stats.would, then forwarded (and learnt) as in pass mode. */
	SW_HOST_MONITOR = 1u << 1,
	/* Auto mode: the daemon flips PROTECT from the host's SYN rate. SYNs are counted in
	 * sw_host_syns; in pass the 4-tuples of forwarded SYNs go to sw_pass_syns, whose first
	 * ACK is accepted after a switch to protect (bpf/fastpath/mode.bpf.h). */
	SW_HOST_AUTO = 1u << 2,
};

/* What protection-on does with traffic that is not TCP handshake material. Pass mode forwards
 * all of it regardless of these bits. */
enum sw_host_policy {
	SW_POLICY_FWD_ICMP = 1u << 0,          /* ICMP and ICMPv6 */
	SW_POLICY_FWD_UDP = 1u << 1,           /* UDP */
	SW_POLICY_FWD_OTHER = 1u << 2,         /* any other IP protocol (GRE, ESP, SCTP, ...) */
	SW_POLICY_FWD_TCP_FRAGMENTS = 1u << 3, /* fragmented TCP (dropped by default: evasion) */
};

struct sw_host {
	__u8 mac[6]; /* the protected host's MAC: destination of forwarded frames */
	__u8 flags;  /* enum sw_host_flags */
	__u8 policy; /* enum sw_host_policy */
};
SW_STATIC_ASSERT(sizeof(struct sw_host) == 8, "sw_host layout is ABI");

/* ---- established flows: always keyed in the inbound direction (remote -> protected) ---- */

struct sw_flow_key {
	__u32 saddr[4];    /* remote peer, network order (IPv4 in saddr[0]) */
	__u32 daddr[4];    /* protected host, network order (IPv4 in daddr[0]) */
	__be16 sport;      /* remote port, network order */
	__be16 dport;      /* protected port, network order */
	__u16 vlan_outer;  /* outer VLAN id (12 bits), 0 = untagged */
	__u16 vlan_inner;  /* inner VLAN id of a QinQ frame, 0 = none */
	__u8 family;       /* SW_FAMILY_IPV4 or SW_FAMILY_IPV6 */
	__u8 pad[3];       /* always zero: keys are hashed bytewise */
};
SW_STATIC_ASSERT(sizeof(struct sw_flow_key) == 44, "sw_flow_key layout is ABI");

enum sw_flow_origin {
	SW_FLOW_LEARNED = 1, /* forwarded ACK while the host was in pass mode */
	SW_FLOW_SYNACK = 2,  /* SYN-ACK answering the host's own outbound connection */
	SW_FLOW_COOKIE = 3,  /* inserted by a worker after a valid cookie ACK */
	SW_FLOW_ADMIN = 4,   /* inserted by an operator or a test */
	SW_FLOW_CONFIRMED = 5, /* the host's agent confirmed it an established socket */
};

struct sw_flow {
	__u64 created_ns; /* bpf_ktime_get_ns() / CLOCK_MONOTONIC at insertion */
	__u32 origin;     /* enum sw_flow_origin */
	__u32 reserved;
};
SW_STATIC_ASSERT(sizeof(struct sw_flow) == 16, "sw_flow layout is ABI");

/* ---- established-flow hint (map sw_flow_hint): a bitmap in front of sw_flows ----
 *
 * A SYN flood from random sources misses the established map with every SYN, and each miss is
 * a cold bucket of a table sized for a million flows (a cache and TLB miss). The hint is a
 * small bitmap, one bit per hash of a flow key, set for every flow inserted into sw_flows (by
 * the XDP program and by user space, after the insert). A clear bit proves the flow is not in
 * the map, so the lookup is skipped; a set bit may be stale (the flow left the map) or a
 * collision, and then the map decides. Bits are never cleared in place: the map holds two
 * generations, the daemon rebuilds the inactive one from a walk of sw_flows (inserts mark
 * both) and then switches (docs/flow-hint.md explains why no live flow is ever missed).
 *
 * Layout, u64 words: [0] = state (SW_FLOW_HINT_OFF: no hint, always look up; 1 + g:
 * generation g active), then generation 0's words, then generation 1's. A generation has a
 * power-of-two number of words, fixed at load (the program's sw_knob_flow_hint_words). */
#define SW_FLOW_HINT_OFF 0ull
#define SW_FLOW_HINT_GEN0 1ull
#define SW_FLOW_HINT_GEN1 2ull

/* The SplitMix64 finaliser: a 64-bit bijection whose every output bit depends on every input
 * bit. Used where a fast, non-secret spread is enough (the hint below, IPv6 flow labels). */
static inline __u64 sw_mix64(__u64 h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

/* Not a secret hash: a chosen collision only costs its sender the lookup every SYN paid
 * before the hint existed. It mixes all of the key the flood varies (addresses, ports). The
 * hint is never pinned or adopted, so this may change between versions. */
static inline __u64 sw_flow_hint_hash(const struct sw_flow_key *k)
{
	__u64 a = ((__u64)(k->saddr[0] ^ k->saddr[1] ^ k->saddr[2] ^ k->saddr[3]) << 32) |
		  (__u64)(k->daddr[0] ^ k->daddr[1] ^ k->daddr[2] ^ k->daddr[3]);
	__u64 b = ((__u64)k->sport << 16) | (__u64)k->dport;
	return sw_mix64(a ^ (b * 0x9e3779b97f4a7c15ull));
}

/* Index (in u64 words of the map) and bit of a key's hint in generation `gen` (0 or 1);
 * `words` = words per generation, a power of two. */
static inline __u32 sw_flow_hint_word(__u64 hash, __u32 gen, __u32 words)
{
	return 1 + gen * words + (__u32)((hash >> 6) & (words - 1));
}
static inline __u64 sw_flow_hint_bit(__u64 hash)
{
	return 1ull << (hash & 63);
}

/* ---- settings: one array slot written by the daemon ---- */

enum sw_settings_flags {
	/* Set once the daemon wrote a firewall MAC; until then nothing is forwarded (frames for
	 * protected addresses go to the stack with reason PASS_UNCONFIGURED). */
	SW_SETTINGS_VALID = 1u << 0,
	/* Datapath "xdp": the program answers SYNs for protected hosts with the cookie SYN-ACK
	 * and checks unknown ACKs itself, with the host's data in sw_host_cookies (cookie.bpf.h).
	 * Clear (datapath "afxdp"): both go to the queue's AF_XDP socket. */
	SW_SETTINGS_XDP_COOKIES = 1u << 1,
};

struct sw_settings {
	__u8 fw_mac[6];        /* source MAC of forwarded frames (the firewall NIC's MAC) */
	__u16 flags;           /* enum sw_settings_flags */
	/* Key of the IPv6 flow label of cookie SYN-ACKs built in XDP: the codec's
	 * FlowLabelPolicy::kAuto with SynAckFrameParams::flow_label_seed = this value. */
	__u32 flow_label_seed;
	/* SYN-ACK forwarding token bucket, per CPU, in nanoseconds of credit: each forwarded
	 * SYN-ACK costs synack_cost_ns, credit accrues 1 ns per ns and is capped at
	 * synack_burst_ns. Cost 0 = unlimited. User space does the division (1e9 / rate) so the
	 * fast path never divides. */
	__u64 synack_cost_ns;
	__u64 synack_burst_ns;
	/* The same per CPU for cookie SYN-ACKs sent by XDP (datapath "xdp"); the worker's own
	 * bucket (synack_pps_per_queue) in the AF_XDP datapath. Cost 0 = unlimited. */
	__u64 cookie_synack_cost_ns;
	__u64 cookie_synack_burst_ns;
};
SW_STATIC_ASSERT(sizeof(struct sw_settings) == 48, "sw_settings layout is ABI");

/* ---- per-host cookie data for the XDP datapath (map sw_host_cookies) ----
 *
 * Key: struct sw_host_key (as sw_hosts). Kept apart from sw_host so the forwarding path's
 * value stays 8 bytes and the AF_XDP datapath never reads keys it does not use.
 *
 * Atomicity: the daemon replaces a host's whole value with one BPF_MAP_UPDATE_ELEM. For
 * BPF_MAP_TYPE_HASH the kernel (htab_map_update_elem) fills a fresh element, links it into the
 * bucket and then unlinks the old one, so a program that looked the host up holds a pointer to
 * either the complete old or the complete new value, never a mix. The old element is recycled
 * (preallocated maps: the per-CPU spare element; otherwise the BPF memory allocator) and may be
 * rewritten by the NEXT update of the map, so after each batch of updates the daemon waits for
 * every running XDP program to finish (synchronize_rcu(), which the kernel runs on an update of
 * a map-in-map; see XdpFastpath) before it writes again. One update per host per batch.
 */

struct sw_sip_key {
	__u64 k0; /* key bytes 0..7 read little-endian (siphash_key_t.key[0]) */
	__u64 k1;
};
SW_STATIC_ASSERT(sizeof(struct sw_sip_key) == 16, "sw_sip_key layout is ABI");

/*
 * The host clock model of the C++ engine (synwarden/clock.h, HostClock::at()) with its safety
 * margins: a sample of the host's jiffies and CLOCK_MONOTONIC ms taken when the firewall's
 * CLOCK_MONOTONIC (= bpf_ktime_get_ns()) read local_ms, extrapolated with elapsed firewall
 * time and biased backwards by count_margin_ms / ts_margin_ms plus drift_ppm of the elapsed
 * time. The program repeats HostClock::at()'s integer arithmetic, so both sides agree to the
 * millisecond for the same firewall time.
 */
struct sw_host_clock {
	__u64 jiffies;  /* host jiffies_64 at the sample */
	__u64 mono_ms;  /* host CLOCK_MONOTONIC ms at the sample */
	__u64 local_ms; /* firewall CLOCK_MONOTONIC ms when the sample was current */
	__u32 hz;       /* host CONFIG_HZ, 1..100000 */
	__u32 count_margin_ms;
	__u32 ts_margin_ms;
	__u32 drift_ppm;
};
SW_STATIC_ASSERT(sizeof(struct sw_host_clock) == 40, "sw_host_clock layout is ABI");

enum sw_ts_mode {
	SW_TS_PER_CONNECTION = 0, /* ts_off from net_secret with ports (secure_tcp_seq_and_ts_off) */
	SW_TS_PER_HOST = 1,       /* ts_off from ts_secret, addresses only (secure_tcp_ts_off) */
};

/* One generation of a host's secrets (HostSecrets + HostClock of the engine). */
struct sw_cookie_keys {
	struct sw_sip_key syncookie[2];  /* syncookie_secret[2] (IPv4) */
	struct sw_sip_key syncookie6[2]; /* syncookie6_secret[2] (IPv6) */
	struct sw_sip_key ts_key;        /* net_secret or ts_secret, per ts_mode */
	struct sw_host_clock clock;
	__u8 ts_mode;            /* enum sw_ts_mode */
	__u8 tcp_timestamps;     /* host sysctls (TcpSysctls) */
	__u8 tcp_sack;
	__u8 tcp_window_scaling;
	__u8 tcp_ecn;
	__u8 rcv_wscale;         /* window scale the host offers */
	__u16 mss;               /* MSS the host advertises over IPv4 */
	__u16 mss6;              /* ... over IPv6 */
	/* The SYN-ACK's window field (synack_window() of the engine), precomputed so the program
	 * never divides: [0] IPv4 without timestamps, [1] IPv4 with, [2] IPv6 without, [3] with. */
	__u16 window[4];
	/* Timestamp recovery of forgotten flows (userspace timestamp_recovery.h): an ACK that fails
	 * the cookie but whose TSecr - ts_off lies at most this many seconds behind the host's TCP
	 * clock (1 s ahead) is learnt and forwarded. 0 = off. Only `current`'s is used. */
	__u16 recovery_window_s;
	__u16 pad[2];
};
SW_STATIC_ASSERT(sizeof(struct sw_cookie_keys) == 144, "sw_cookie_keys layout is ABI");

enum sw_host_cookie_flags {
	SW_HC_HAS_KEYS = 1u << 0,      /* current is usable; else the fail policy applies */
	SW_HC_HAS_PREVIOUS = 1u << 1,  /* previous is checked for ACKs until previous_until_ms */
	SW_HC_FAIL_OPEN = 1u << 2,     /* without keys: forward (and learn ACK flows); else drop */
	SW_HC_PORTS_LISTED = 1u << 3,  /* only ports in sw_cookie_ports are protected */
	/* The host's agent confirms sockets (policy.socket_confirm): an unknown ACK that fails the
	 * cookie check and timestamp recovery is reported to the daemon (sw_candidates). */
	SW_HC_CONFIRM = 1u << 4,
};

struct sw_host_cookie {
	__u32 flags; /* enum sw_host_cookie_flags */
	/* The host's slot in sw_host_stats (the daemon's per-host counter slot, the same index the
	 * workers' counter areas use); SW_NO_COUNTER_SLOT or out of range = not counted. */
	__u32 counter_slot;
	__u64 previous_until_ms; /* firewall CLOCK_MONOTONIC ms; the 121 s grace of old keys */
	struct sw_cookie_keys current;
	struct sw_cookie_keys previous;
};
SW_STATIC_ASSERT(sizeof(struct sw_host_cookie) == 304, "sw_host_cookie layout is ABI");

#define SW_NO_COUNTER_SLOT 0xffffffffu

/* ---- per-host counters of the XDP cookie datapath (map sw_host_stats) ----
 *
 * A per-CPU array indexed by sw_host_cookie.counter_slot: what the AF_XDP workers count per host
 * (userspace/daemon/src/state/metrics_host_counters.h, same order, which asserts it), for the SYNs and
 * unknown ACKs the XDP program decides itself. Frames it hands to a worker are the worker's to
 * count. Two inputs (SYN, ACK), then disjoint outcomes. */
#define SW_HOST_XDP_COUNTER_LIST(X) \
	X(SYN)                      \
	X(ACK)                      \
	X(SYNACK)                   \
	X(ACK_VALID)                \
	X(ACK_INVALID)              \
	X(FORWARDED)                \
	X(RATE_LIMITED)             \
	X(DROPPED)

#define SW_HOST_XDP_COUNTER_ENTRY(name) SW_HX_##name,
enum sw_host_xdp_counter { SW_HOST_XDP_COUNTER_LIST(SW_HOST_XDP_COUNTER_ENTRY) SW_HX_COUNT };
#undef SW_HOST_XDP_COUNTER_ENTRY

struct sw_host_xdp_counters {
	__u64 value[SW_HX_COUNT]; /* enum sw_host_xdp_counter */
};
SW_STATIC_ASSERT(sizeof(struct sw_host_xdp_counters) == 64,
		 "sw_host_xdp_counters layout is ABI (one cache line per host per CPU)");

/* Key of sw_cookie_ports: a protected (host, port) of a host with SW_HC_PORTS_LISTED. */
struct sw_host_port_key {
	struct sw_host_key host;
	__be16 port; /* network order */
	__u16 pad;   /* always zero */
};
SW_STATIC_ASSERT(sizeof(struct sw_host_port_key) == 24, "sw_host_port_key layout is ABI");

/* ---- outbound SYN stamp keys (map sw_outbound_keys; docs/outbound-stamp.md) ----
 *
 * Key: struct sw_host_key. Value: the key the host's agent stamps its outbound SYNs with
 * (struct sw_sip_key). A SYN-ACK whose TSecr carries the stamp of its 4-tuple and ACK − 1 is the
 * answer to a SYN the host sent: it is forwarded without the SYN-ACK budget and its flow learnt
 * in sw_outbound; any other SYN-ACK is charged to the budget and learnt in sw_outbound_unverified.
 * A reader that sees a value half-replaced (the daemon rewrites it only when an agent's key
 * changes) merely fails one verification: that SYN-ACK takes the budgeted path.
 */

/* ---- reasons: every frame increments exactly one ---- */

/* X(enum suffix, metric label, help). The single list keeps the enum, the exported names and
 * the documentation in step. Append only: values index the per-CPU counters (adding one grows
 * sw_cpu_stats; the loader then recreates the pinned stats map, counters restart at zero). */
#define SW_REASON_LIST(X)                                                                        \
	X(NONE, "none", "no decision recorded (slot unused)")                                   \
	X(PASS_NON_IP, "pass_non_ip", "ARP, non-IP or more than two VLAN tags: firewall stack")  \
	X(PASS_NOT_PROTECTED, "pass_not_protected", "IP not for a protected address: stack")    \
	X(PASS_MALFORMED, "pass_malformed", "IP header unreadable, destination unknown: stack")  \
	X(PASS_UNCONFIGURED, "pass_unconfigured", "protected but settings not written yet")     \
	X(FWD_ESTABLISHED, "fwd_established", "segment of a flow in the established map")       \
	X(FWD_PASS_MODE, "fwd_pass_mode", "protection off: forwarded without learning")         \
	X(FWD_LEARNED, "fwd_learned", "protection off: ACK forwarded and its flow learned")     \
	X(FWD_LEARN_FAILED, "fwd_learn_failed", "forwarded, but inserting the flow failed")     \
	X(FWD_SYNACK, "fwd_synack", "SYN-ACK for the host's own connection, within rate")       \
	X(FWD_NON_TCP, "fwd_non_tcp", "non-TCP allowed by the host policy")                     \
	X(FWD_TCP_FRAGMENT, "fwd_tcp_fragment", "TCP fragment allowed by the host policy")      \
	X(XSK_SYN, "xsk_syn", "SYN redirected to the queue's AF_XDP socket")                   \
	X(XSK_ACK, "xsk_ack", "unknown ACK redirected to the queue's AF_XDP socket")           \
	X(XSK_SYN_NO_SOCKET, "xsk_syn_no_socket", "SYN to steer, no socket on the queue")       \
	X(XSK_ACK_NO_SOCKET, "xsk_ack_no_socket", "ACK to steer, no socket on the queue")       \
	X(DROP_SYNACK_RATE, "drop_synack_rate", "SYN-ACK over the forward rate limit")           \
	X(DROP_UNKNOWN_RST_FIN, "drop_unknown_rst_fin", "RST or FIN of no known flow")          \
	X(DROP_BAD_FLAGS, "drop_bad_flags", "impossible TCP flags (SYN+RST, SYN+FIN, no ACK)")  \
	X(DROP_NON_TCP_POLICY, "drop_non_tcp_policy", "non-TCP refused by the host policy")     \
	X(DROP_TCP_FRAGMENT, "drop_tcp_fragment", "fragmented TCP while protection is on")      \
	X(DROP_MALFORMED, "drop_malformed", "bad IP/TCP header or truncated frame to a host")   \
	X(DROP_IPV6_EXT_HEADERS, "drop_ipv6_ext_headers", "IPv6 extension chain too long")    \
	X(XDP_SYNACK, "xdp_synack", "SYN answered with the host's cookie SYN-ACK by XDP")       \
	X(XDP_ACK_VALID, "xdp_ack_valid", "cookie ACK valid (current keys): learned, forwarded")  \
	X(XDP_ACK_VALID_PREVIOUS, "xdp_ack_valid_previous", "cookie ACK valid with old keys")  \
	X(DROP_COOKIE_EXPIRED, "drop_cookie_expired", "cookie ACK outside the host's 2 minutes") \
	X(DROP_COOKIE_BAD, "drop_cookie_bad", "ACK of no known flow and no valid cookie")        \
	X(DROP_COOKIE_OPTION, "drop_cookie_option", "cookie names an option the host disabled") \
	X(DROP_COOKIE_SYN_RATE, "drop_cookie_syn_rate", "SYN over the XDP SYN-ACK rate limit")  \
	X(DROP_SYN_CHECKSUM, "drop_syn_checksum", "SYN with a bad IPv4 or TCP checksum")       \
	X(DROP_BAD_TCP_OPTION, "drop_bad_tcp_option", "TCP option length broken (XDP datapath)") \
	X(FWD_NO_KEYS, "fwd_no_keys", "no host keys, fail open: forwarded (ACK flows learned)")  \
	X(DROP_NO_KEYS, "drop_no_keys", "no host keys, fail closed: dropped")                   \
	X(FWD_UNPROTECTED_PORT, "fwd_unprotected_port", "port outside the host's port list")    \
	X(XSK_XDP_UNSUPPORTED, "xsk_xdp_unsupported", "XDP datapath cannot: sent to AF_XDP")    \
	X(DROP_XDP_UNSUPPORTED, "drop_xdp_unsupported", "XDP datapath cannot, no AF_XDP socket")   \
	X(FWD_SYN_REUSE, "fwd_syn_reuse", "SYN on the 4-tuple of a known flow: host decides")   \
	X(FWD_OUTBOUND, "fwd_outbound", "segment of a flow the host opened (outbound table)")    \
	X(FWD_SYNACK_VERIFIED, "fwd_synack_verified", "SYN-ACK carrying the host's SYN stamp: no budget") \
	X(FWD_OUTBOUND_UNVERIFIED, "fwd_outbound_unverified", "segment of an unstamped outbound flow") \
	X(XDP_ACK_RECOVERED, "xdp_ack_recovered", "XDP: no cookie, but TSecr fits the host clock: learnt") \
	X(FWD_MONITOR, "fwd_monitor", "monitor mode: forwarded where protection would not have")  \
	X(FWD_PASS_HANDSHAKE, "fwd_pass_handshake", "auto: first ACK of a SYN forwarded in pass mode") \
	X(DROP_DENY_HOST, "drop_deny_host", "source in the host's deny list")                  \
	X(DROP_DENY_GLOBAL, "drop_deny_global", "source in the global deny list")              \
	X(DROP_SYN_BUDGET, "drop_syn_budget", "SYN over its source prefix's SYN-ACK budget")

#define SW_REASON_ENUM_ENTRY(name, label, help) SW_R_##name,
enum sw_reason { SW_REASON_LIST(SW_REASON_ENUM_ENTRY) SW_REASON_COUNT };
#undef SW_REASON_ENUM_ENTRY

struct sw_counter {
	__u64 packets;
	__u64 bytes; /* frame bytes as received (L2 header included, FCS excluded) */
};
SW_STATIC_ASSERT(sizeof(struct sw_counter) == 16, "sw_counter layout is ABI");

/* The last decision taken on a CPU. Tests read it to see what the program decided even when the
 * kernel turned the verdict into something else (a redirect to an empty XSKMAP slot falls back);
 * operators read it to see what a CPU is doing right now. */
struct sw_decision {
	__u32 reason;   /* enum sw_reason */
	__u32 action;   /* XDP verdict returned (XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT) */
	__u32 rx_queue; /* ctx->rx_queue_index */
	__u32 frame_len;
	__u64 seq; /* decisions taken on this CPU so far; tells a fresh record from a stale one */
};
SW_STATIC_ASSERT(sizeof(struct sw_decision) == 24, "sw_decision layout is ABI");

struct sw_token_bucket {
	__u64 credit_ns;
	__u64 last_ns; /* 0 = never used: starts full */
};
SW_STATIC_ASSERT(sizeof(struct sw_token_bucket) == 16, "sw_token_bucket layout is ABI");

/* One per-CPU slot holds everything the fast path writes per frame, so a frame costs one
 * per-CPU map lookup for all its bookkeeping. */
struct sw_cpu_stats {
	struct sw_counter counters[SW_REASON_COUNT];
	struct sw_decision last;
	struct sw_token_bucket synack;
	struct sw_token_bucket cookie_synack; /* cookie SYN-ACKs sent by XDP */
	/* Monitor mode: frames per reason protection would have counted (what it would have
	 * done), and the buckets its rate limits would have drawn from (apart from the real
	 * ones, so a monitored host never spends a protected host's budget). */
	__u64 would[SW_REASON_COUNT];
	struct sw_token_bucket would_synack;
	struct sw_token_bucket would_cookie_synack;
};
SW_STATIC_ASSERT(sizeof(struct sw_cpu_stats) ==
			 SW_REASON_COUNT * (sizeof(struct sw_counter) + 8) + 24 + 16 * 4,
		 "sw_cpu_stats must have no hidden padding");

/* ---- socket-confirmation candidates (maps sw_candidates, sw_confirm_cpu) ----
 *
 * An unknown ACK to a host with SW_HC_CONFIRM that fails the cookie check and timestamp
 * recovery may be a segment of a connection the firewall forgot that carries no timestamp. Its
 * struct sw_flow_key goes into the BPF ring buffer sw_candidates, which the daemon's confirmer
 * drains to ask the host's agent (docs/flow-recovery.md). A per-CPU token bucket (cost and burst
 * fixed at load: sw_knob_candidate_cost_ns / _burst_ns) caps the reports, so a forged-ACK flood
 * reaches neither the daemon nor the agent at its own rate. Value of sw_confirm_cpu (per CPU). */
struct sw_confirm_cpu {
	struct sw_token_bucket bucket;
	__u64 reported; /* keys written into sw_candidates */
	__u64 capped;   /* candidates over the bucket: not reported */
	__u64 lost;     /* candidates within the bucket that found the ring full */
};
SW_STATIC_ASSERT(sizeof(struct sw_confirm_cpu) == 40, "sw_confirm_cpu layout is ABI");

/* ---- source allow/deny lists (maps sw_list_v4, sw_list_v6: LPM tries; bpf/README.md) ----
 *
 * One trie per source family holds every list: the key's data is the protected host's address
 * (all zero = the global lists) followed by the source prefix, so prefixlen is always the host
 * part's full width plus the source prefix length. A frame looks up its host's key first and,
 * when no prefix of that host covers the source, the global key; the longest prefix found
 * decides. A prefix that is in both lists of one scope is denied. */
struct sw_list_v4_key {
	__u32 prefixlen; /* 32 + source prefix length (0..32) */
	__u32 host;      /* protected IPv4 address, network order; 0 = global */
	__u32 src;       /* source prefix, network order, host bits zero */
};
SW_STATIC_ASSERT(sizeof(struct sw_list_v4_key) == 12, "sw_list_v4_key layout is ABI");

struct sw_list_v6_key {
	__u32 prefixlen; /* 128 + source prefix length (0..128) */
	__u32 host[4];   /* protected IPv6 address; all zero = global */
	__u32 src[4];
};
SW_STATIC_ASSERT(sizeof(struct sw_list_v6_key) == 36, "sw_list_v6_key layout is ABI");

/* Value of the list tries: which lists hold the prefix (low byte), and the entry's own key
 * prefixlen in bits 8..15 (a syscall lookup returns the longest match, not the exact key: user
 * space tells an exact hit from a covering prefix with it; the program reads the low byte). */
enum sw_list_bits {
	SW_LIST_ALLOW = 1u << 0,
	SW_LIST_DENY = 1u << 1,
	SW_LIST_BITS_MASK = 0xffu,
};
#define SW_LIST_VALUE(bits, key_prefixlen) ((__u32)(bits) | ((__u32)(key_prefixlen) << 8))

/* Per-CPU hit counters of the allow lists (map sw_list_hits, index below); deny hits are
 * reasons (DROP_DENY_HOST, DROP_DENY_GLOBAL) because they decide the frame. */
enum sw_list_hit {
	SW_LIST_HIT_ALLOW_HOST = 0,
	SW_LIST_HIT_ALLOW_GLOBAL = 1,
	SW_LIST_HIT_COUNT = 2,
};

/* ---- per-source SYN-ACK budget (maps sw_budget_cfg, sw_syn_budget) ----
 *
 * A SYN the program would answer (or hand to a worker to answer) first takes a token from the
 * bucket of its source prefix: key = sw_host_key with the source address masked by mask_v4 /
 * mask_v6 (network order, precomputed by user space: the program never shifts). Per-CPU LRU,
 * cost and burst per CPU like the other buckets (user space divides the rate over the CPUs). */
struct sw_budget_cfg {
	__u64 cost_ns;  /* 0 = no budget */
	__u64 burst_ns;
	__u32 mask_v4;
	__u32 mask_v6[4];
	/* enum sw_list_present: which list tries hold anything, so frames skip the lookups of an
	 * empty one (SourceListTable keeps it; SynBudgetTable::write preserves it). */
	__u32 lists;
};
enum sw_list_present {
	SW_LISTS_V4 = 1u << 0,
	SW_LISTS_V6 = 1u << 1,
};
SW_STATIC_ASSERT(sizeof(struct sw_budget_cfg) == 40, "sw_budget_cfg layout is ABI");

struct sw_budget {
	struct sw_token_bucket bucket;
	__u64 answered; /* SYNs let through on this CPU */
	__u64 dropped;  /* SYNs dropped over the budget on this CPU */
};
SW_STATIC_ASSERT(sizeof(struct sw_budget) == 32, "sw_budget layout is ABI");

#endif /* SYNWARDEN_SHARED_H */
