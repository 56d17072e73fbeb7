/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stamp_shared.h — the ABI between the outbound-stamp tc programs (host_stamp.bpf.c) and the
 * agent that owns them (stamp_program.cpp). docs/outbound-stamp.md explains the scheme.
 *
 * Both maps are pinned, so a restarted agent keeps the key the firewall knows and still restores
 * the SYN-ACKs of SYNs its predecessor stamped. A layout change bumps the version in the pin names.
 */
#ifndef SYNWARDEN_STAMP_SHARED_H
#define SYNWARDEN_STAMP_SHARED_H

#include <linux/types.h>

#ifdef __cplusplus
#define SW_STAMP_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SW_STAMP_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define SW_STAMP_KEY_PIN_NAME "sw_stamp_key_v1"
#define SW_STAMP_SYNS_PIN_NAME "sw_stamp_syns_v1"
#define SW_STAMP_COUNTERS_PIN_NAME "sw_stamp_counters"

/* Key 0 of sw_stamp_key: the MAC key (siphash_key_t layout). All zero = not set: no stamping. */
struct sw_stamp_key {
	__u64 k0;
	__u64 k1;
};
SW_STAMP_STATIC_ASSERT(sizeof(struct sw_stamp_key) == 16, "sw_stamp_key layout is ABI");

/* A connection the host opened, from the host's side. Raw network-order addresses and ports. */
struct sw_stamp_conn {
	__u32 host[4];   /* IPv4 in host[0], rest zero */
	__u32 remote[4];
	__u16 host_port;
	__u16 remote_port;
	__u8 v6;
	__u8 pad[3];     /* always zero: keys are hashed bytewise */
};
SW_STAMP_STATIC_ASSERT(sizeof(struct sw_stamp_conn) == 40, "sw_stamp_conn layout is ABI");

/* The last SYN stamped on a connection: what the SYN-ACK's TSecr is restored to. */
struct sw_stamp_syn {
	__u32 isn;       /* the SYN's sequence number, host order */
	__u32 tsval;     /* the real TSval of the connection's first SYN (retransmissions keep it) */
	__u32 stamped;   /* the TSval the latest SYN carried on the wire */
	__u32 pad;
};
SW_STAMP_STATIC_ASSERT(sizeof(struct sw_stamp_syn) == 16, "sw_stamp_syn layout is ABI");

/* Per-CPU counters. X(enum suffix, label, help). Append only. */
#define SW_STAMP_COUNTER_LIST(X)                                                                \
	X(SYN, "syn", "outbound SYN seen on egress")                                          \
	X(STAMPED, "stamped", "outbound SYN whose TSval now carries the stamp")                 \
	X(SYN_NO_TIMESTAMP, "syn_no_timestamp", "outbound SYN without a timestamp option: not stamped") \
	X(SYN_NO_KEY, "syn_no_key", "outbound SYN while no key is loaded: not stamped")         \
	X(SYNACK, "synack", "SYN-ACK to the host seen on ingress")                              \
	X(RESTORED, "restored", "SYN-ACK whose TSecr was given back the SYN's real TSval")      \
	X(SYNACK_UNKNOWN, "synack_unknown", "SYN-ACK of no stamped SYN (left as it is)")        \
	X(SYNACK_MISMATCH, "synack_mismatch", "SYN-ACK of a stamped SYN with another ACK or TSecr (left as it is)") \
	X(UNREADABLE, "unreadable", "headers or options could not be read (left as they are)")

#define SW_STAMP_COUNTER_ENTRY(name, label, help) SW_SC_##name,
enum sw_stamp_counter { SW_STAMP_COUNTER_LIST(SW_STAMP_COUNTER_ENTRY) SW_SC_COUNT };
#undef SW_STAMP_COUNTER_ENTRY

#endif /* SYNWARDEN_STAMP_SHARED_H */
