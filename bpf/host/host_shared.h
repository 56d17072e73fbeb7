/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * host_shared.h — the ABI between the protected host's tc program (host_cookie.bpf.c) and the
 * agent that owns it (host_program.cpp). Fixed-width types, explicit padding, size asserts.
 *
 * The key state is one value in a pinned map, so an agent restart finds the keys the firewall
 * already uses and in-flight cookies stay valid. Changing struct sw_agent_state means bumping
 * SW_AGENT_STATE_VERSION, which is part of the pin name: an agent never reads a pinned value of
 * another layout.
 */
#ifndef SYNWARDEN_HOST_SHARED_H
#define SYNWARDEN_HOST_SHARED_H

#include <linux/types.h>

#ifdef __cplusplus
#define SW_HOST_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SW_HOST_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define SW_AGENT_STATE_VERSION 1
/* Pinned as <pin dir>/sw_agent_state_v1. */
#define SW_AGENT_STATE_PIN_NAME "sw_agent_state_v1"

/* siphash_key_t { u64 key[2]; }: k0 = key bytes 0..7 read little-endian. */
struct sw_sipkey {
	__u64 k0;
	__u64 k1;
};
SW_HOST_STATIC_ASSERT(sizeof(struct sw_sipkey) == 16, "sw_sipkey layout is ABI");

/* One generation of the agent's secrets: the same roles as the kernel's syncookie_secret[2],
 * syncookie6_secret[2] and the timestamp-offset key, used with the kernel's own formulas. */
struct sw_agent_keyset {
	struct sw_sipkey cookie_v4[2];
	struct sw_sipkey cookie_v6[2];
	struct sw_sipkey ts_key;       /* per-connection ts_off key (net_secret's role) */
	__u64 generation;              /* 0 = slot empty */
	__u64 created_ns;              /* CLOCK_MONOTONIC ns when generated (rotation schedule) */
	__u64 valid_until_ns;          /* CLOCK_MONOTONIC ns; 0 = no limit (the current set) */
};
SW_HOST_STATIC_ASSERT(sizeof(struct sw_agent_keyset) == 104, "sw_agent_keyset layout is ABI");

/* The single value (key 0) of the state map. Written whole by the agent with one update, so the
 * program never sees keys of one generation with settings of another. */
struct sw_agent_state {
	struct sw_agent_keyset current;
	struct sw_agent_keyset previous; /* accepted until previous.valid_until_ns */
	__u8 rcv_wscale;     /* the window scale the firewall advertises for this host */
	__u8 tcp_timestamps; /* net.ipv4.tcp_timestamps: ts_off is 0 unless it is 1 */
	__u8 pad[6];
};
SW_HOST_STATIC_ASSERT(sizeof(struct sw_agent_state) == 216, "sw_agent_state layout is ABI");

/* Per-CPU counters, one slot each. X(enum suffix, metric label, help). Append only. */
#define SW_HOST_COUNTER_LIST(X)                                                                 \
	X(ACK, "ack", "ACK without SYN/RST to a protected port")                               \
	X(PASS_SOCKET, "pass_socket", "belongs to an existing socket (established, request, timewait)") \
	X(PASS_NO_SOCKET, "pass_no_socket", "no socket for it at all; the kernel answers")      \
	X(PASS_NO_KEYS, "pass_no_keys", "no key state loaded yet")                             \
	X(PASS_MALFORMED, "pass_malformed", "headers or TCP options unreadable")                \
	X(COOKIE_INVALID, "cookie_invalid", "not a cookie of the current or previous keys")     \
	X(VALID_CURRENT, "valid_current", "cookie valid with the current keys")                 \
	X(VALID_PREVIOUS, "valid_previous", "cookie valid with the previous keys (rotation overlap)") \
	X(ASSIGNED, "assigned", "connection handed to the kernel (bpf_sk_assign_tcp_reqsk)")    \
	X(ASSIGN_FAILED, "assign_failed", "kernel refused the request (sysctl disables an option)")

#define SW_HOST_COUNTER_ENTRY(name, label, help) SW_HC_##name,
enum sw_host_counter { SW_HOST_COUNTER_LIST(SW_HOST_COUNTER_ENTRY) SW_HC_COUNT };
#undef SW_HOST_COUNTER_ENTRY

/* The last ACK each CPU handed to the kernel: what was decoded from the cookie and TSecr, and
 * what the kernel said. For operators ("what did the host accept last") and for the tests that
 * compare the program's decoding with the firewall engine's. */
struct sw_host_decision {
	__u64 seq;        /* hand-overs on this CPU so far; tells a fresh record from a stale one */
	__u64 generation; /* key generation that validated the cookie */
	__s32 kfunc_ret;  /* bpf_sk_assign_tcp_reqsk() result: 0 or -errno */
	__u32 ts_off;     /* timestamp offset subtracted from TSecr (0 without timestamps) */
	__u32 rcv_tsval;  /* the bpf_tcp_req_attrs passed, field by field */
	__u32 rcv_tsecr;
	__u16 mss;
	__u8 rcv_wscale;
	__u8 snd_wscale;
	__u8 ecn_ok;
	__u8 wscale_ok;
	__u8 sack_ok;
	__u8 tstamp_ok;
};
SW_HOST_STATIC_ASSERT(sizeof(struct sw_host_decision) == 40, "sw_host_decision layout is ABI");

#define SW_HOST_MAX_PORTS 256

#endif /* SYNWARDEN_HOST_SHARED_H */
