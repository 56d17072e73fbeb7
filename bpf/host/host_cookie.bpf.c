// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * synwarden host program: tc ingress on a protected host running Linux >= 6.9, no kernel module.
 *
 * The firewall answered the client's SYN with a cookie SYN-ACK made with this host's agent keys;
 * the host never saw that SYN. When the client's ACK arrives for a listening socket, this
 * program validates the cookie with the agent's keys (the kernel's own formulas, see
 * host_cookie.bpf.h), decodes MSS from the cookie and window scale / SACK / ECN from the low
 * bits of TSecr - ts_off (cookie_timestamp_decode()), and hands the connection to the kernel
 * with bpf_sk_assign_tcp_reqsk(). The kernel then finishes it in cookie_v4_check() /
 * cookie_v6_check() through cookie_bpf_check(), which skips the "listener overflowed recently"
 * condition that makes the kernel ignore cookies it did not send itself.
 *
 * Everything else continues untouched (TC_ACT_UNSPEC, so later tc filters of other software
 * still run): traffic of other ports, ACKs of existing sockets, and ACKs that are not our
 * cookies — those may be the kernel's own syncookies, which it checks with its own secrets. The
 * program never drops: a wrong decision here must degrade to what the kernel would have done
 * without it. A handed-over ACK ends classification (TC_ACT_OK): nothing after us may redirect
 * the skb that now carries the request socket.
 *
 * Contract of the kfunc (net/core/filter.c, Linux 6.9+): attrs->mss >= the family's minimum,
 * snd/rcv_wscale <= 14 and options only if the matching sysctl allows them; the kernel derives
 * the connection's tsoff as attrs->rcv_tsecr - its TCP clock, so rcv_tsecr is the ACK's raw
 * TSecr; rcv_wscale is used as given (the kernel does not recompute it for BPF cookies), so it
 * is the window scale the firewall advertised for this host. See the kernel selftest
 * test_tcp_custom_syncookie.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "host_cookie.bpf.h"
#include "host_shared.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL"; /* kfuncs need a GPL-compatible program */

/* Kernel types the kfunc takes, declared as structs (not forward declarations) so libbpf's
 * prototype check against vmlinux BTF matches kinds. Their layout is never used here, and
 * struct bpf_tcp_req_attrs is the kfunc's ABI, checked by its attrs__sz argument. */
struct sock {
	__u8 opaque;
};
struct bpf_tcp_req_attrs {
	__u32 rcv_tsval;
	__u32 rcv_tsecr;
	__u16 mss;
	__u8 rcv_wscale;
	__u8 snd_wscale;
	__u8 ecn_ok;
	__u8 wscale_ok;
	__u8 sack_ok;
	__u8 tstamp_ok;
	__u8 usec_ts_ok;
	__u8 reserved[3];
};
_Static_assert(sizeof(struct bpf_tcp_req_attrs) == 20, "bpf_tcp_req_attrs is kernel ABI");

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff *skb, struct sock *sk,
				   struct bpf_tcp_req_attrs *attrs, int attrs__sz) __ksym;

/* Key state (struct sw_agent_state at key 0), pinned by the agent. A hash map without
 * preallocation because its updates replace the element and free the old one only after an RCU
 * grace period: a program that looked the value up keeps reading a consistent old copy while
 * the agent rotates keys. An array map would be overwritten in place under the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_agent_state);
} sw_agent_state SEC(".maps");

/* Protected listening ports, raw network order -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_HOST_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} sw_host_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_HC_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sw_host_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_host_decision);
} sw_host_last SEC(".maps");

/* msstab[] of net/ipv4/syncookies.c and net/ipv6/syncookies.c, as code: a const array would
 * land in a mergeable .rodata.cst8 section that libbpf 1.1 cannot match to its BTF. */
static __always_inline __u16 sw_cookie_mss(int ipv6, int mssind)
{
	switch (mssind & 3) {
	case 0:
		return ipv6 ? 1280 - 60 : 536;
	case 1:
		return ipv6 ? 1480 - 60 : 1300;
	case 2:
		return ipv6 ? 1500 - 60 : 1440;
	default:
		return ipv6 ? 9000 - 60 : 1460;
	}
}

#define SW_NSEC_PER_MIN (60ULL * 1000000000ULL)
#define SW_TCPOPT_EOL 0
#define SW_TCPOPT_NOP 1
#define SW_TCPOPT_TIMESTAMP 8
#define SW_TCPOLEN_TIMESTAMP 10
#define SW_TCP_MAX_OPTLEN 40

static __always_inline void sw_count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&sw_host_counters, &which);

	if (c)
		*c += 1;
}

/* What the program needs from an ACK's headers. */
struct sw_ack {
	struct sw_conn conn;
	__u32 seq;       /* host order */
	__u32 ack_seq;   /* host order */
	__u32 opt_off;   /* offset of the TCP options from skb->data */
	__u32 opt_len;   /* 0..40 */
	__u8 flags;      /* TCP flags byte (FIN..CWR) */
};

enum sw_parse_result { SW_PARSE_OK, SW_PARSE_SKIP, SW_PARSE_SHORT };

#define SW_TCP_FLAG_FIN 0x01
#define SW_TCP_FLAG_SYN 0x02
#define SW_TCP_FLAG_RST 0x04
#define SW_TCP_FLAG_ACK 0x10

/* Reads Ethernet / IPv4 or IPv6 / TCP headers with direct packet access. SW_PARSE_SHORT means
 * the headers are not all in the linear part of the skb yet; *need is how much to pull. */
static __always_inline int sw_parse(struct __sk_buff *skb, struct sw_ack *a, __u32 *need)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;
	__u32 l3_off = sizeof(*eth), l4_off;

	if ((void *)(eth + 1) > data_end)
		return SW_PARSE_SKIP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + l3_off;

		if ((void *)(iph + 1) > data_end) {
			*need = l3_off + sizeof(*iph);
			return SW_PARSE_SHORT;
		}
		/* Fragments never carry a handshake ACK worth validating: the kernel reassembles
		 * them after tc, and a fragment's TCP header may be absent. */
		if (iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))
			return SW_PARSE_SKIP;
		l4_off = l3_off + iph->ihl * 4;
		a->conn.ipv6 = 0;
		a->conn.client[0] = iph->saddr;
		a->conn.host[0] = iph->daddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + l3_off;

		if ((void *)(ip6 + 1) > data_end) {
			*need = l3_off + sizeof(*ip6);
			return SW_PARSE_SHORT;
		}
		/* Extension headers are not walked: real handshake ACKs carry none, and the
		 * kernel still handles the rare one itself (its own cookie check). */
		if (ip6->nexthdr != IPPROTO_TCP)
			return SW_PARSE_SKIP;
		l4_off = l3_off + sizeof(*ip6);
		a->conn.ipv6 = 1;
		__builtin_memcpy(a->conn.client, &ip6->saddr, 16);
		__builtin_memcpy(a->conn.host, &ip6->daddr, 16);
	} else {
		return SW_PARSE_SKIP;
	}

	th = data + l4_off;
	if ((void *)(th + 1) > data_end) {
		*need = l4_off + sizeof(*th);
		return SW_PARSE_SHORT;
	}
	if (th->doff < 5)
		return SW_PARSE_SKIP;
	a->conn.client_port = th->source;
	a->conn.host_port = th->dest;
	a->seq = bpf_ntohl(th->seq);
	a->ack_seq = bpf_ntohl(th->ack_seq);
	a->flags = ((__u8 *)th)[13];
	a->opt_off = l4_off + sizeof(*th);
	a->opt_len = th->doff * 4 - sizeof(*th);
	return SW_PARSE_OK;
}

struct sw_ts {
	__u32 tsval;
	__u32 tsecr;
	__u8 seen;
};

static __always_inline __u32 sw_be32_at(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

/* The timestamp option of the ACK (tcp_parse_options() semantics for what we need: EOL ends,
 * NOP is one byte, a length < 2 stops parsing). Returns -1 if the options cannot be read.
 *
 * A global function: the verifier checks it once on its own instead of carrying every path
 * through the option loop into the rest of the program (which would exceed its budget). */
__noinline int sw_parse_timestamp(struct __sk_buff *skb, __u32 opt_off, __u32 opt_len,
				  struct sw_ts *ts)
{
	__u8 buf[SW_TCP_MAX_OPTLEN] = {};
	__u32 i = 0;
	int n;

	if (!skb || !ts)
		return -1;
	ts->seen = 0;
	if (opt_len == 0)
		return 0;
	if (opt_len > SW_TCP_MAX_OPTLEN)
		return -1;
	if (bpf_skb_load_bytes(skb, opt_off, buf, opt_len))
		return -1;
	/* The layout every mainstream stack sends after the handshake: NOP, NOP, TS (the kernel's
	 * tcp_parse_aligned_timestamp() fast path). */
	if (opt_len >= 12 && buf[0] == SW_TCPOPT_NOP && buf[1] == SW_TCPOPT_NOP &&
	    buf[2] == SW_TCPOPT_TIMESTAMP && buf[3] == SW_TCPOLEN_TIMESTAMP) {
		ts->tsval = sw_be32_at(&buf[4]);
		ts->tsecr = sw_be32_at(&buf[8]);
		ts->seen = 1;
		return 0;
	}
	for (n = 0; n < SW_TCP_MAX_OPTLEN; n++) {
		__u8 kind, optlen;

		if (i >= opt_len || i >= SW_TCP_MAX_OPTLEN - 1)
			break;
		kind = buf[i];
		if (kind == SW_TCPOPT_EOL)
			break;
		if (kind == SW_TCPOPT_NOP) {
			i++;
			continue;
		}
		optlen = buf[i + 1];
		if (optlen < 2 || i + optlen > opt_len)
			break;
		if (kind == SW_TCPOPT_TIMESTAMP && optlen == SW_TCPOLEN_TIMESTAMP &&
		    i <= SW_TCP_MAX_OPTLEN - SW_TCPOLEN_TIMESTAMP) {
			ts->tsval = sw_be32_at(&buf[i + 2]);
			ts->tsecr = sw_be32_at(&buf[i + 6]);
			ts->seen = 1;
		}
		i += optlen;
	}
	return 0;
}

/* Validates with one key generation; the MSS index or -1. */
static __always_inline int sw_check_keyset(const struct sw_ack *a,
					   const struct sw_agent_keyset *ks, __u32 count)
{
	if (ks->generation == 0)
		return -1;
	return sw_cookie_check(&a->conn, a->conn.ipv6 ? ks->cookie_v6 : ks->cookie_v4,
			       a->ack_seq - 1, a->seq - 1, count);
}

/* Builds the request attributes the kernel's own cookie path would derive
 * (cookie_tcp_reqsk_alloc() after cookie_timestamp_decode()). Returns the ts_off used. */
static __always_inline __u32 sw_fill_attrs(struct bpf_tcp_req_attrs *attrs, const struct sw_ack *a,
					   const struct sw_ts *ts, const struct sw_agent_state *st,
					   const struct sw_agent_keyset *ks, int mssind)
{
	__u32 options, ts_off = 0;

	attrs->mss = sw_cookie_mss(a->conn.ipv6, mssind);
	/* No timestamp: the cookie carried no options (tcp_clear_options()). With tcp_timestamps
	 * off, tcp_parse_options() does not record the ACK's timestamp either. */
	if (!ts->seen || st->tcp_timestamps == 0)
		return 0;
	attrs->tstamp_ok = 1;
	attrs->rcv_tsval = ts->tsval;
	attrs->rcv_tsecr = ts->tsecr;
	/* The firewall adds ts_off only where the kernel would (tcp_timestamps == 1), and the
	 * kernel's cookie_tcp_check() subtracts it only from a non-zero TSecr. */
	if (st->tcp_timestamps == 1 && ts->tsecr)
		ts_off = sw_ts_off(&a->conn, &ks->ts_key);
	options = (ts->tsecr - ts_off) & SW_TS_OPT_BITS;
	attrs->sack_ok = !!(options & SW_TS_OPT_SACK);
	attrs->ecn_ok = !!(options & SW_TS_OPT_ECN);
	if ((options & SW_TS_OPT_WSCALE_MASK) != SW_TS_OPT_WSCALE_MASK) {
		attrs->wscale_ok = 1;
		attrs->snd_wscale = options & SW_TS_OPT_WSCALE_MASK;
		attrs->rcv_wscale = st->rcv_wscale;
	}
	return ts_off;
}

static __always_inline void sw_record(const struct bpf_tcp_req_attrs *attrs,
				      const struct sw_agent_keyset *ks, __u32 ts_off, int ret)
{
	__u32 key = 0;
	struct sw_host_decision *d = bpf_map_lookup_elem(&sw_host_last, &key);

	if (!d)
		return;
	d->seq += 1;
	d->generation = ks->generation;
	d->kfunc_ret = ret;
	d->ts_off = ts_off;
	d->rcv_tsval = attrs->rcv_tsval;
	d->rcv_tsecr = attrs->rcv_tsecr;
	d->mss = attrs->mss;
	d->rcv_wscale = attrs->rcv_wscale;
	d->snd_wscale = attrs->snd_wscale;
	d->ecn_ok = attrs->ecn_ok;
	d->wscale_ok = attrs->wscale_ok;
	d->sack_ok = attrs->sack_ok;
	d->tstamp_ok = attrs->tstamp_ok;
}

/* Validation and hand-over for an ACK that reached a listener. Returns the tc verdict. */
static __always_inline int sw_handle_listener_ack(struct __sk_buff *skb, const struct sw_ack *a,
						  struct sock *sk)
{
	struct bpf_tcp_req_attrs attrs = {};
	const struct sw_agent_keyset *ks;
	const struct sw_agent_state *st;
	struct sw_ts ts = {};
	__u32 key = 0, count, ts_off;
	__u64 now;
	int mssind, ret;

	st = bpf_map_lookup_elem(&sw_agent_state, &key);
	if (!st) {
		sw_count(SW_HC_PASS_NO_KEYS);
		return TC_ACT_UNSPEC;
	}
	if (sw_parse_timestamp(skb, a->opt_off, a->opt_len, &ts)) {
		sw_count(SW_HC_PASS_MALFORMED);
		return TC_ACT_UNSPEC;
	}
	/* The cookie clock: CLOCK_MONOTONIC minutes. The agent reports this clock to the firewall
	 * as jiffies = monotonic ms with HZ = 1000, so the firewall's tcp_cookie_time() yields the
	 * same count with no special case. */
	now = bpf_ktime_get_ns();
	count = (__u32)(now / SW_NSEC_PER_MIN);

	ks = &st->current;
	mssind = sw_check_keyset(a, ks, count);
	if (mssind < 0) {
		ks = &st->previous;
		if (ks->valid_until_ns <= now) {
			sw_count(SW_HC_COOKIE_INVALID);
			return TC_ACT_UNSPEC;
		}
		mssind = sw_check_keyset(a, ks, count);
		if (mssind < 0) {
			sw_count(SW_HC_COOKIE_INVALID);
			return TC_ACT_UNSPEC;
		}
		sw_count(SW_HC_VALID_PREVIOUS);
	} else {
		sw_count(SW_HC_VALID_CURRENT);
	}

	ts_off = sw_fill_attrs(&attrs, a, &ts, st, ks, mssind);
	ret = bpf_sk_assign_tcp_reqsk(skb, sk, &attrs, sizeof(attrs));
	sw_record(&attrs, ks, ts_off, ret);
	if (ret) {
		/* The kernel then handles the ACK as if we had not been here. */
		sw_count(SW_HC_ASSIGN_FAILED);
		return TC_ACT_UNSPEC;
	}
	sw_count(SW_HC_ASSIGNED);
	return TC_ACT_OK;
}

SEC("tc")
int sw_host_ingress(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct sw_ack a = {};
	struct bpf_sock *skc;
	struct tcp_sock *tp;
	__u32 need = 0, tuple_len;
	int rc, verdict = TC_ACT_UNSPEC;

	rc = sw_parse(skb, &a, &need);
	if (rc == SW_PARSE_SHORT) {
		/* Headers in paged data (rare for a handshake ACK): make them linear once. */
		if (need > skb->len || bpf_skb_pull_data(skb, need))
			return TC_ACT_UNSPEC;
		rc = sw_parse(skb, &a, &need);
	}
	if (rc != SW_PARSE_OK)
		return TC_ACT_UNSPEC;
	/* The kernel's cookie paths run only for ACKs without SYN or RST (tcp_v4_cookie_check(),
	 * cookie_v4_check()). */
	if ((a.flags & (SW_TCP_FLAG_ACK | SW_TCP_FLAG_SYN | SW_TCP_FLAG_RST)) != SW_TCP_FLAG_ACK)
		return TC_ACT_UNSPEC;
	if (!bpf_map_lookup_elem(&sw_host_ports, &a.conn.host_port))
		return TC_ACT_UNSPEC;
	sw_count(SW_HC_ACK);

	if (a.conn.ipv6) {
		__builtin_memcpy(tuple.ipv6.saddr, a.conn.client, 16);
		__builtin_memcpy(tuple.ipv6.daddr, a.conn.host, 16);
		tuple.ipv6.sport = a.conn.client_port;
		tuple.ipv6.dport = a.conn.host_port;
		tuple_len = sizeof(tuple.ipv6);
	} else {
		tuple.ipv4.saddr = a.conn.client[0];
		tuple.ipv4.daddr = a.conn.host[0];
		tuple.ipv4.sport = a.conn.client_port;
		tuple.ipv4.dport = a.conn.host_port;
		tuple_len = sizeof(tuple.ipv4);
	}
	/* Established, request and timewait sockets come first in the kernel's lookup, so any
	 * ACK of a connection the host already knows stops here without hashing. */
	skc = bpf_skc_lookup_tcp(skb, &tuple, tuple_len, BPF_F_CURRENT_NETNS, 0);
	if (!skc) {
		sw_count(SW_HC_PASS_NO_SOCKET);
		return TC_ACT_UNSPEC;
	}
	if (skc->state != BPF_TCP_LISTEN) {
		sw_count(SW_HC_PASS_SOCKET);
		goto release;
	}
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp) {
		sw_count(SW_HC_PASS_SOCKET);
		goto release;
	}
	verdict = sw_handle_listener_ack(skb, &a, (struct sock *)tp);
release:
	bpf_sk_release(skc);
	return verdict;
}
